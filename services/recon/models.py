"""Database tables of the reconciliation service (SQLModel).

A confirmation run stores its snapshot rows (``confirmation_item``) once and never updates them:
the hash in ``confirmation_run`` (whole run) and ``confirmation`` (one customer) is recomputed
from those rows by ``recon verify``. Money is integer minor units beside a currency.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.cashapp.models import utcnow


def _money(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, nullable=nullable)


class RunStatus(StrEnum):
    ISSUED = "issued"  # letters written, waiting for replies
    CLOSED = "closed"  # every confirmation closed


class ConfirmationStatus(StrEnum):
    ISSUED = "issued"
    AGREED = "agreed"
    DISAGREED = "disagreed"
    CLOSED = "closed"


class ReplyKindDb(StrEnum):
    BALANCE = "balance"
    ITEMS = "items"


class ConfirmationRun(SQLModel, table=True):
    """One quarter-end (or ad hoc) confirmation run: the cut-off and which customers it covers."""

    __tablename__ = "confirmation_run"
    id: int | None = Field(default=None, primary_key=True)
    as_of: date
    filter_description: str = Field(default="all customers", sa_column=Column(Text, nullable=False))
    customers: int = 0
    items: int = 0
    snapshot_hash: str = Field(max_length=64)
    status: str = Field(default=RunStatus.ISSUED, max_length=16)
    out_dir: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class ConfirmationItem(SQLModel, table=True):
    """One open item of the stored snapshot. Written once with the run, never updated."""

    __tablename__ = "confirmation_item"
    __table_args__ = (Index("ix_confirmation_item_run_customer", "run_id", "customer_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="confirmation_run.id")
    customer_id: str = Field(max_length=64)
    item_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    document_number: str = Field(max_length=100)
    document_type: str = Field(max_length=16)
    document_date: date
    due_date: date | None = None
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_column=_money())
    open_minor: int = Field(sa_column=_money())


class Confirmation(SQLModel, table=True):
    """The confirmation sent to one customer of a run, and where its reply stands."""

    __tablename__ = "confirmation"
    __table_args__ = (UniqueConstraint("run_id", "customer_id", name="uq_confirmation_customer"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="confirmation_run.id", index=True)
    customer_id: str = Field(max_length=64)
    status: str = Field(default=ConfirmationStatus.ISSUED, max_length=16)
    snapshot_hash: str = Field(max_length=64)
    balances_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    letter_path: str | None = Field(default=None, sa_column=Column(Text))
    received_at: datetime | None = None
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ConfirmationReply(SQLModel, table=True):
    """One line of a customer's reply, as read (kept for audit and re-reconciliation)."""

    __tablename__ = "confirmation_reply"
    __table_args__ = (Index("ix_confirmation_reply_run_customer", "run_id", "customer_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="confirmation_run.id")
    customer_id: str = Field(max_length=64)
    kind: str = Field(max_length=8)  # balance | items
    line_no: int
    raw_json: str = Field(sa_column=Column(Text, nullable=False))
    file_name: str = Field(default="", max_length=255)
    received_at: datetime = Field(default_factory=utcnow)


class ConfirmationDifference(SQLModel, table=True):
    """A classified difference of a disagreed confirmation, worked like an exception."""

    __tablename__ = "confirmation_difference"
    __table_args__ = (Index("ix_confirmation_difference_run_customer", "run_id", "customer_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="confirmation_run.id")
    customer_id: str = Field(max_length=64)
    difference_class: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    difference_minor: int = Field(sa_column=_money())
    our_minor: int | None = Field(default=None, sa_column=_money(nullable=True))
    their_minor: int | None = Field(default=None, sa_column=_money(nullable=True))
    item_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    document_number: str | None = Field(default=None, max_length=100)
    their_line: int | None = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=16)  # open | resolved
    created_at: datetime = Field(default_factory=utcnow)


RECON_TABLES = [
    ConfirmationRun.__table__,  # type: ignore[attr-defined]
    ConfirmationItem.__table__,  # type: ignore[attr-defined]
    Confirmation.__table__,  # type: ignore[attr-defined]
    ConfirmationReply.__table__,  # type: ignore[attr-defined]
    ConfirmationDifference.__table__,  # type: ignore[attr-defined]
]


class CustomerFlag(SQLModel, table=True):
    """A warning on a customer for credit control (a returned cheque, ...). Never deleted."""

    __tablename__ = "customer_flag"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(max_length=64, index=True)
    flag: str = Field(max_length=32)
    receipt_id: int | None = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    cleared_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


RECON_TABLES.append(CustomerFlag.__table__)  # type: ignore[attr-defined]
