"""Database tables of the cash-application service (SQLModel).

Money columns are integer minor units (``*_minor``) beside a currency: SQLite stores NUMERIC as a
float, so no table ever holds money in anything but an integer. Timestamps are UTC (``*_at``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _money(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, nullable=nullable)


class IntegrityStatus(StrEnum):
    OK = "ok"  # opening + lines = closing, and opening = previous closing
    UNCHECKED = "unchecked"  # the format carries no opening/closing booked balance (OFX, MT942)
    BALANCE_MISMATCH = "balance_mismatch"
    CONTINUITY_BREAK = "continuity_break"


class ReceiptStatus(StrEnum):
    UNMATCHED = "unmatched"  # waiting for the matcher
    HELD = "held"  # its statement has an integrity break: a person must look first
    APPLIED = "applied"
    PARTIAL = "partial"  # partly applied, rest unapplied on account
    EXCEPTION = "exception"  # queued for a person
    IGNORED = "ignored"  # debits, reversals, zero amounts: never applied to invoices


class ImportFile(SQLModel, table=True):
    __tablename__ = "import_file"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True, index=True)
    file_name: str = Field(max_length=255)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    source_format: str = Field(max_length=32)
    status: str = Field(max_length=16)  # imported | duplicate
    statements_count: int = 0
    statements_skipped: int = 0
    lines_count: int = 0
    lines_skipped: int = 0
    credit_total_minor: int = Field(default=0, sa_column=_money())
    debit_total_minor: int = Field(default=0, sa_column=_money())
    imported_at: datetime = Field(default_factory=utcnow)


class FileRejection(SQLModel, table=True):
    """A file that was refused (quarantined); kept so nothing disappears silently."""

    __tablename__ = "file_rejection"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, index=True)
    file_name: str = Field(max_length=255)
    reason_code: str = Field(max_length=64)
    message: str = Field(sa_column=Column(Text, nullable=False))
    rejected_at: datetime = Field(default_factory=utcnow)


class StatementRow(SQLModel, table=True):
    __tablename__ = "statement"
    __table_args__ = (
        UniqueConstraint("account", "statement_key", "key_date", name="uq_statement_identity"),
    )
    id: int | None = Field(default=None, primary_key=True)
    import_file_id: int = Field(foreign_key="import_file.id", index=True)
    source_format: str = Field(max_length=32)
    account: str = Field(max_length=64, index=True)
    currency: str = Field(max_length=3)
    statement_key: str = Field(max_length=200)
    statement_ref: str | None = Field(default=None, max_length=100)
    sequence: str | None = Field(default=None, max_length=100)
    key_date: date
    statement_date: date | None = None
    from_date: date | None = None
    to_date: date | None = None
    opening_minor: int | None = Field(default=None, sa_column=_money(nullable=True))
    closing_minor: int | None = Field(default=None, sa_column=_money(nullable=True))
    balances_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    content_hash: str = Field(max_length=64)
    integrity_status: str = Field(max_length=32)
    integrity_detail: str | None = Field(default=None, sa_column=Column(Text))
    held: bool = False
    lines_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)


# Cheques are the bank lines of cheque logs (``services.recon.cheques``). Written out as a literal in
# the queries that look for them: a partial index serves a query only when its condition is there
# as such (a bound parameter is not).
CHEQUE_CODE = "CHEQUE"
CHEQUE_WHERE = f"transaction_code = '{CHEQUE_CODE}'"


class Receipt(SQLModel, table=True):
    """Every bank line. Credits are receipts for the matcher; debits are kept and ignored."""

    __tablename__ = "receipt"
    __table_args__ = (
        Index("ix_receipt_status_date", "status", "booking_date"),
        # Cheques only (a partial index: other bank lines never enter it, and their inserts stay
        # as cheap): deposit matching looks them up by account and date on every match run.
        Index("ix_receipt_cheque", "account", "currency", "booking_date",
              sqlite_where=text(CHEQUE_WHERE), postgresql_where=text(CHEQUE_WHERE)),
    )
    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="statement.id", index=True)
    line_key: str = Field(max_length=64, unique=True)
    account: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    booking_date: date
    value_date: date | None = None
    amount_minor: int = Field(sa_column=_money())
    bank_reference: str | None = Field(default=None, max_length=200, index=True)
    end_to_end_reference: str | None = Field(default=None, max_length=200)
    customer_reference: str | None = Field(default=None, max_length=200)
    transaction_code: str | None = Field(default=None, max_length=64)
    counterparty_name: str | None = Field(default=None, max_length=300)
    counterparty_account: str | None = Field(default=None, max_length=64)
    counterparty_bic: str | None = Field(default=None, max_length=16)
    remittance: str | None = Field(default=None, sa_column=Column(Text))
    creditor_reference: str | None = Field(default=None, max_length=64)
    creditor_reference_type: str | None = Field(default=None, max_length=16)
    is_reversal: bool = False
    raw: str = Field(default="", sa_column=Column(Text, nullable=False))
    extra_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default=ReceiptStatus.UNMATCHED, max_length=16)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    customer_id: str = Field(primary_key=True, max_length=64)
    customer_name: str = Field(max_length=300)
    updated_at: datetime = Field(default_factory=utcnow)


class CustomerAccount(SQLModel, table=True):
    """A payer identity of a customer: a bank account (IBAN/number) or a payer-name alias."""

    __tablename__ = "customer_account"
    __table_args__ = (UniqueConstraint("customer_id", "kind", "value_norm", name="uq_customer_alias"),)
    id: int | None = Field(default=None, primary_key=True)
    # looked up by customer through uq_customer_alias (customer_id first): no index of its own
    customer_id: str = Field(foreign_key="customer.customer_id", max_length=64)
    kind: str = Field(max_length=8)  # iban | name
    value: str = Field(max_length=300)
    value_norm: str = Field(max_length=300, index=True)
    source: str = Field(max_length=8)  # master | learned
    created_at: datetime = Field(default_factory=utcnow)


class OpenItem(SQLModel, table=True):
    """An open invoice or credit note from the ERP extract. Amounts signed: credit notes < 0."""

    __tablename__ = "open_item"
    __table_args__ = (
        UniqueConstraint("customer_id", "document_number", "document_type", name="uq_open_item_doc"),
    )
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(max_length=64)  # indexed first in uq_open_item_doc
    document_number: str = Field(max_length=100, index=True)
    document_type: str = Field(max_length=16)  # invoice | credit_note
    document_date: date
    due_date: date
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_column=_money())
    erp_open_minor: int = Field(sa_column=_money())  # open amount as the last ERP extract said
    open_amount_minor: int = Field(sa_column=_money())  # after our own applications
    payment_reference: str | None = Field(default=None, max_length=100)
    in_snapshot: bool = True  # False: absent from the latest extract (cleared in the ERP)
    load_id: int = 0
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow)


class MasterDataLoad(SQLModel, table=True):
    __tablename__ = "master_data_load"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # customers | open_items
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    rows: int = 0
    loaded_at: datetime = Field(default_factory=utcnow)


class MatchRun(SQLModel, table=True):
    __tablename__ = "match_run"
    id: int | None = Field(default=None, primary_key=True)
    ruleset_version: str = Field(max_length=64)
    as_of: date
    receipts: int = 0
    auto: int = 0
    exceptions: int = 0
    ignored: int = 0
    started_at: datetime = Field(default_factory=utcnow)


class DecisionRow(SQLModel, table=True):
    """The engine's (or a person's) decision for one receipt, with its explanation."""

    __tablename__ = "decision"
    id: int | None = Field(default=None, primary_key=True)
    receipt_id: int = Field(foreign_key="receipt.id", index=True)
    run_id: int | None = Field(default=None, foreign_key="match_run.id", index=True)
    status: str = Field(max_length=16)  # auto | exception | ignored | manual
    customer_id: str | None = Field(default=None, max_length=64)
    rule_id: str | None = Field(default=None, max_length=64)
    ruleset_version: str | None = Field(default=None, max_length=64)
    score: float = 0.0  # a confidence in 0..1, not money
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    exception_reason: str | None = Field(default=None, max_length=64)
    amount_minor: int = Field(sa_column=_money())
    applied_minor: int = Field(default=0, sa_column=_money())
    fee_minor: int = Field(default=0, sa_column=_money())
    writeoff_minor: int = Field(default=0, sa_column=_money())
    unapplied_minor: int = Field(default=0, sa_column=_money())
    short_minor: int = Field(default=0, sa_column=_money())
    residual_class: str = Field(default="none", max_length=32)
    suggestions_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    is_current: bool = True
    created_by: str = Field(default="engine", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Allocation(SQLModel, table=True):
    """Money of a receipt applied to one document. Never deleted: undone by a reversal row."""

    __tablename__ = "allocation"
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    receipt_id: int = Field(foreign_key="receipt.id", index=True)
    item_id: int = Field(foreign_key="open_item.id", index=True)
    customer_id: str = Field(max_length=64)
    document_number: str = Field(max_length=100)
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_column=_money())  # negative on a reversal row
    reverses_id: int | None = Field(default=None, foreign_key="allocation.id")
    effective_date: date
    posted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ExceptionItem(SQLModel, table=True):
    """A receipt queued for a person, with the engine's suggestions."""

    __tablename__ = "exception_item"
    id: int | None = Field(default=None, primary_key=True)
    receipt_id: int = Field(foreign_key="receipt.id", unique=True)
    decision_id: int | None = Field(default=None, foreign_key="decision.id")
    status: str = Field(default="open", max_length=16)  # open | claimed | resolved
    reason: str = Field(max_length=64)
    assignee: str | None = Field(default=None, max_length=64)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
