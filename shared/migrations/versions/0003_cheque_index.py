"""a partial index on the cheques among the bank lines

Deposit matching runs on every match: it read every cheque ever stored, and each deposit line
looked for its cheques with a scan of all bank lines. ``ix_receipt_cheque`` holds the cheques
only (``transaction_code = 'CHEQUE'``), by account, currency and booking date.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_WHERE = sa.text("transaction_code = 'CHEQUE'")


def upgrade() -> None:
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.create_index('ix_receipt_cheque', ['account', 'currency', 'booking_date'], unique=False,
                              sqlite_where=_WHERE, postgresql_where=_WHERE)


def downgrade() -> None:
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.drop_index('ix_receipt_cheque', sqlite_where=_WHERE, postgresql_where=_WHERE)
