"""Response schemas of the REST API (``XPublic``); money is a decimal string everywhere.

Models forbid extra fields, so an answer that drifts from its documented shape fails in tests
instead of reaching clients undocumented.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Out):
    """RFC 9457 problem details with this API's stable ``code`` (plus code-specific members)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None


class Health(_Out):
    status: str


class UserPublic(_Out):
    id: int
    name: str
    role: str
    active: bool
    writeoff_limit: str | None
    created_at: datetime


class UserWithKey(UserPublic):
    api_key: str | None  # shown once; ``null`` when an idempotent replay answers


class UserPage(_Out):
    items: list[UserPublic]
    next_after_id: int | None


class Me(_Out):
    id: int
    name: str
    role: str
    writeoff_limit: str | None


class ReceiptPublic(_Out):
    id: int
    statement_id: int
    account: str
    currency: str
    amount: str
    booking_date: date
    value_date: date | None
    bank_reference: str | None
    end_to_end_reference: str | None
    counterparty_name: str | None
    counterparty_account: str | None
    remittance: str | None
    status: str
    version: int


class ReceiptPage(_Out):
    items: list[ReceiptPublic]
    next_before_id: int | None


class DecisionPublic(_Out):
    id: int
    status: str
    customer_id: str | None
    rule_id: str | None
    ruleset_version: str | None
    score: float
    reason: str
    exception_reason: str | None
    residual_class: str
    amount: str
    applied: str
    fee: str
    writeoff: str
    unapplied: str
    short: str
    is_current: bool
    created_by: str
    suggestions: list[Any]


class AllocationPublic(_Out):
    id: int
    decision_id: int
    open_item_id: int
    customer_id: str
    document_number: str
    amount: str
    reverses_id: int | None
    effective_date: date


class ReceiptDetail(ReceiptPublic):
    decision: DecisionPublic | None
    history: list[DecisionPublic]
    allocations: list[AllocationPublic]


class StatementPublic(_Out):
    id: int
    import_file_id: int
    source_format: str
    account: str
    currency: str
    statement_ref: str | None
    sequence: str | None
    statement_date: date | None
    from_date: date | None
    to_date: date | None
    opening: str | None
    closing: str | None
    integrity_status: str
    integrity_detail: str | None
    held: bool
    lines_count: int
    created_at: datetime


class ImportFilePublic(_Out):
    name: str
    sha256: str
    imported_at: datetime


class StatementDetail(StatementPublic):
    balances: list[Any]
    file: ImportFilePublic | None


class StatementPage(_Out):
    items: list[StatementPublic]
    next_before_id: int | None


class UploadResult(_Out):
    path: str
    status: str
    reason: str | None
    message: str | None
    format: str | None
    statements: int
    statements_skipped: int
    lines: int
    lines_skipped: int
    lines_updated: int = 0  # cheque-log lines that changed a known cheque's status
    held_statements: int
    sha256: str | None
    currency: str | None
    credit_total: str | None
    debit_total: str | None
    totals: dict[str, dict[str, str]]


class ExceptionPublic(_Out):
    id: int
    status: str
    reason: str
    assignee: str | None
    version: int
    age_days: int
    receipt: ReceiptPublic
    decision: DecisionPublic | None


class ExceptionPage(_Out):
    items: list[ExceptionPublic]
    next_cursor: str | None


class ExceptionState(_Out):
    id: int
    status: str
    assignee: str | None
    version: int
    decision_id: int | None
    reason: str


class DecisionSummary(_Out):
    decision_id: int
    decision_status: str
    reason: str
    amount: str
    applied: str
    fee: str
    writeoff: str
    unapplied: str


class _DecisionSummary(_Out):
    """The new decision of a resolution (money as decimal strings)."""

    decision_id: int | None = None
    decision_status: str | None = None
    reason: str | None = None
    amount: str | None = None
    applied: str | None = None
    fee: str | None = None
    writeoff: str | None = None
    unapplied: str | None = None


class ResolveResult(_DecisionSummary):
    """``resolved`` (with the new decision) or ``pending_approval`` (with the approval)."""

    status: str
    exception_id: int
    version: int
    approval_id: int | None = None
    why: str | None = None


class ApprovalPublic(_Out):
    id: int
    kind: str
    exception_id: int
    amount: str
    currency: str
    maker: str
    status: str
    checker: str | None
    decided_at: datetime | None
    decision_reason: str | None
    version: int
    resolution: dict[str, Any]


class ApprovalPage(_Out):
    items: list[ApprovalPublic]
    next_after_id: int | None


class ApprovalOutcome(_DecisionSummary):
    approval: ApprovalPublic


class RulesPublic(_Out):
    source: str
    version: str
    rules: dict[str, Any]


class RuleVersionPublic(_Out):
    id: int
    version: str
    sha256: str
    created_by: str
    created_at: datetime


class RuleVersionPage(_Out):
    items: list[RuleVersionPublic]


class RuleUploadResult(_Out):
    id: int
    version: str
    sha256: str


class DryRunReport(_Out):
    model_config = ConfigDict(extra="allow")  # the report's shape belongs to the dry-run use case
    version: str


class AuditEntry(_Out):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    entity: str
    entity_id: str
    before_json: str
    after_json: str
    reason: str | None
    request_id: str | None
    prev_hash: str
    hash: str


class AuditPage(_Out):
    items: list[AuditEntry]
    next_after_seq: int | None


class AuditVerify(_Out):
    ok: bool
    first_broken_seq: int | None
    entries: int
