"""drop the customer_id indexes that a unique constraint already leads with

``customer_account.customer_id`` is the first column of ``uq_customer_alias`` and
``open_item.customer_id`` of ``uq_open_item_doc``: lookups by customer use those indexes, and
every insert (learned payer aliases while matching, master-data loads) kept a second one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customer_account', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_account_customer_id')
    with op.batch_alter_table('open_item', schema=None) as batch_op:
        batch_op.drop_index('ix_open_item_customer_id')


def downgrade() -> None:
    with op.batch_alter_table('open_item', schema=None) as batch_op:
        batch_op.create_index('ix_open_item_customer_id', ['customer_id'], unique=False)
    with op.batch_alter_table('customer_account', schema=None) as batch_op:
        batch_op.create_index('ix_customer_account_customer_id', ['customer_id'], unique=False)
