"""Tables of the running service: users, audit log, idempotency keys, approvals, rule versions.

Registered on ``SQLModel.metadata`` like ``models.py``; ``shared.db.import_models`` must import
this module so Alembic sees them. Money stays integer minor units; timestamps are aware UTC
(``*_at``); SQLite and PostgreSQL hand back the very same value (the audit hash depends on it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow_naive() -> datetime:
    """Now in UTC (aware: SQLModel's UTC column type hands it back the same on both databases)."""
    return datetime.now(UTC)


class Role(StrEnum):
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"  # reads everything, changes nothing
    ADMIN = "admin"  # manages users and rules, never applies cash


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AppUser(SQLModel, table=True):
    """A person or system calling the API. Only a salted hash of the key is kept."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(max_length=16)
    key_id: str = Field(max_length=32, unique=True, index=True)  # public prefix: O(1) lookup
    key_salt: str = Field(max_length=64)
    key_hash: str = Field(max_length=64)
    # Decimal string in major units, converted with each receipt's currency; None = role default
    writeoff_limit: str | None = Field(default=None, max_length=32)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow_naive)


class AuditLog(SQLModel, table=True):
    """Append-only, hash-chained record of every state change."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True, index=True))
    at: datetime = Field(default_factory=utcnow_naive)
    actor: str = Field(max_length=64)
    role: str = Field(max_length=16)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=64)
    before_json: str = Field(default="null", sa_column=Column(Text, nullable=False))
    after_json: str = Field(default="null", sa_column=Column(Text, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    request_id: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class IdempotencyKey(SQLModel, table=True):
    """The stored answer to a state-changing request, replayed for the same key and body."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_name", "key", name="uq_idempotency_user_key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_name: str = Field(max_length=64)
    key: str = Field(max_length=200)
    method: str = Field(max_length=8)
    path: str = Field(max_length=300)
    body_hash: str = Field(max_length=64)
    status_code: int
    response_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow_naive)


class Approval(SQLModel, table=True):
    """Maker-checker: a resolution waiting for a supervisor other than its maker."""

    __tablename__ = "approval"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    exception_id: int = Field(foreign_key="exception_item.id", index=True)
    payload_json: str = Field(sa_column=Column(Text, nullable=False))
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    maker: str = Field(max_length=64)
    status: str = Field(default=ApprovalStatus.PENDING, max_length=16, index=True)
    checker: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow_naive)


class RuleSetVersion(SQLModel, table=True):
    """A rule set uploaded over the API; the newest one is the active one."""

    __tablename__ = "rule_set_version"
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=64, unique=True)
    toml: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow_naive)


SERVICE_TABLES = [AppUser.__table__, AuditLog.__table__, IdempotencyKey.__table__,  # type: ignore[attr-defined]
                  Approval.__table__, RuleSetVersion.__table__]  # type: ignore[attr-defined]
