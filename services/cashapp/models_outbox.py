"""Tables of the ERP posting outbox: one row per posting, written in the business transaction.

A relay (``services.cashapp.usecases.relay.relay_once``) sends due rows through an ERP adapter and
marks them posted. Exactly once end to end rests on two things: the unique ``posting_key`` here
(one row per business effect) and the ERP de-duplicating by that key (sent as ``Idempotency-Key``),
because a relay can always die between "the ERP accepted" and "we marked it".

Money lives in ``payload_json`` as decimal strings; no column holds money. Timestamps are aware UTC
(``*_at``), like every other table.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from services.cashapp.models import utcnow


class OutboxKind(StrEnum):
    APPLICATION = "application"
    REVERSAL = "reversal"
    WRITE_OFF = "write_off"
    ON_ACCOUNT = "on_account"
    REFUND = "refund"
    NON_AR = "non_ar"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by lease_owner until lease_until; reclaimable after that
    POSTED = "posted"  # the ERP acknowledged it (or said it already had it)
    FAILED = "failed"  # the ERP refused it for good: a person must look (posting_failure)


class Outbox(SQLModel, table=True):
    """A posting waiting for (or done with) the ERP."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    posting_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=16)
    payload_json: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_until: datetime | None = None
    erp_reference: str | None = Field(default=None, max_length=200)  # the ERP's document id / file
    created_at: datetime = Field(default_factory=utcnow)
    posted_at: datetime | None = None


class PostingFailure(SQLModel, table=True):
    """A posting the ERP refused for good, queued for a person.

    Not an ``ExceptionItem``: that table allows one item per receipt (``receipt_id`` unique, not
    null), and a refused posting may belong to a receipt that already has an item, or to none.
    """

    __tablename__ = "posting_failure"
    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    posting_key: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=16)
    receipt_id: int | None = Field(default=None, index=True)
    code: str = Field(max_length=64)
    message: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=16)  # open | requeued
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
