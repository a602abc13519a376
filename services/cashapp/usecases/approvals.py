"""Maker-checker around resolutions.

A resolution moving more than the approval threshold, or writing off more than the maker's own
limit, is parked as a pending :class:`Approval` (the exception item waits in status ``pending``);
a supervisor other than the maker approves it (the resolution is applied then, re-checked
against the open amounts of that moment) or rejects it (nothing moves; the item goes back to
the maker). Approvals change state by compare-and-set on their version, so two supervisors
cannot both decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.models_service import Approval, ApprovalStatus, Role, utcnow_naive
from services.cashapp.usecases.exceptions import Actor, StaleVersion, cas_item, load_item, snapshot
from services.cashapp.usecases.resolve import (
    Plan,
    Resolution,
    decision_summary,
    execute,
    load_open_item,
    plan,
)
from shared.errors import Conflict, DomainError, NotFound
from shared.money import format_minor, to_minor


class MakerIsChecker(DomainError):
    code = "CASHAPP_MAKER_IS_CHECKER"
    status = 403


@dataclass(frozen=True, slots=True)
class Limits:
    """Maker-checker thresholds in major units (converted per currency)."""

    approval_threshold: str = "10000"
    writeoff_limit_clerk: str = "50"
    writeoff_limit_supervisor: str = "1000"


def writeoff_limit(actor: Actor, limits: Limits, currency: str) -> int:
    """The actor's own write-off limit in minor units (a per-user value wins over the role's)."""
    by_role = limits.writeoff_limit_supervisor if actor.role == Role.SUPERVISOR \
        else limits.writeoff_limit_clerk
    return to_minor(actor.writeoff_limit or by_role, currency)


def needs_approval(p: Plan, actor: Actor, limits: Limits) -> str | None:
    """Why ``p`` needs a checker, or ``None``."""
    ccy = p.receipt.currency
    moved = (sum(abs(a) for _, a in p.items) if p.res.kind == "apply"
             else 0 if p.res.kind == "returned" else p.receipt.amount_minor)  # (a returned cheque: no money)
    if moved > to_minor(limits.approval_threshold, ccy):
        return f"amount {format_minor(moved, ccy)} above the approval threshold"
    if p.writeoff > writeoff_limit(actor, limits, ccy):
        return f"write-off {format_minor(p.writeoff, ccy)} above {actor.name}'s limit"
    return None


def resolve_item(session: Session, item_id: int, actor: Actor, res: Resolution,
                 expected: int | None, limits: Limits) -> dict:
    """Resolve now, or park for approval; answers what happened."""
    item, version, receipt = load_open_item(session, item_id, actor, expected)
    p = plan(session, receipt, res)
    why = needs_approval(p, actor, limits)
    if why is None:
        d = execute(session, item, version, ("open", "claimed"), p, actor, actor.name)
        return {"status": "resolved", "exception_id": item.id, "version": item.version,
                **decision_summary(d, receipt.currency)}
    before = snapshot(item)
    cas_item(session, item, version, ("open", "claimed"), status="pending", assignee=actor.name)
    moved = p.applied + p.writeoff if res.kind == "apply" else receipt.amount_minor
    appr = Approval(kind=res.kind, exception_id=item.id, payload_json=json.dumps(res.to_json()),  # type: ignore[arg-type]
                    amount_minor=moved, currency=receipt.currency, maker=actor.name)
    session.add(appr)
    session.flush()
    audit.record(session, actor.name, actor.role, "approval.request", "approval", appr.id, before,
                 {**snapshot(item), "approval_id": appr.id, "resolution": res.to_json()},
                 reason=why, request_id=actor.request_id)
    return {"status": "pending_approval", "exception_id": item.id, "version": item.version,
            "approval_id": appr.id, "why": why}


def _load(session: Session, approval_id: int, actor: Actor, expected: int | None) -> Approval:
    appr = session.get(Approval, approval_id)
    if appr is None:
        raise NotFound(f"approval {approval_id} not found", code="CASHAPP_APPROVAL_NOT_FOUND")
    if expected is not None and expected != appr.version:
        raise StaleVersion(f"approval {approval_id} is at version {appr.version}")
    if appr.status != ApprovalStatus.PENDING:
        raise Conflict(f"approval {approval_id} is already {appr.status}",
                       code="CASHAPP_APPROVAL_DECIDED")
    if appr.maker == actor.name:
        raise MakerIsChecker("the maker cannot approve or reject their own request")
    return appr


def _decide(session: Session, appr: Approval, actor: Actor, status: ApprovalStatus,
            reason: str | None) -> None:
    t = Approval.__table__  # type: ignore[attr-defined]
    res = session.execute(
        update(t).where(t.c.id == appr.id, t.c.version == appr.version,
                        t.c.status == ApprovalStatus.PENDING)
        .values(status=status, checker=actor.name, decided_at=utcnow_naive(),
                decision_reason=reason, version=t.c.version + 1))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"approval {appr.id} was decided by someone else")
    session.refresh(appr)


def approve(session: Session, approval_id: int, actor: Actor, expected: int | None = None,
            reason: str | None = None) -> dict:
    """Apply a pending resolution as its checker."""
    appr = _load(session, approval_id, actor, expected)
    _decide(session, appr, actor, ApprovalStatus.APPROVED, reason)
    res = Resolution.from_json(json.loads(appr.payload_json))
    maker = Actor(appr.maker, Role.CLERK)
    item, version, receipt = load_open_item(session, appr.exception_id, maker, None, ("pending",))
    d = execute(session, item, version, ("pending",), plan(session, receipt, res), actor, appr.maker)
    audit.record(session, actor.name, actor.role, "approval.approve", "approval", appr.id,
                 {"status": "pending"}, approval_view(appr), reason=reason,
                 request_id=actor.request_id)
    return {"approval": approval_view(appr), **decision_summary(d, receipt.currency)}


def reject(session: Session, approval_id: int, actor: Actor, expected: int | None = None,
           reason: str | None = None) -> dict:
    """Refuse a pending resolution: nothing is applied; the item returns to its maker."""
    appr = _load(session, approval_id, actor, expected)
    _decide(session, appr, actor, ApprovalStatus.REJECTED, reason)
    item = load_item(session, appr.exception_id)
    cas_item(session, item, item.version, ("pending",), status="claimed", assignee=appr.maker)
    audit.record(session, actor.name, actor.role, "approval.reject", "approval", appr.id,
                 {"status": "pending"}, approval_view(appr), reason=reason,
                 request_id=actor.request_id)
    return {"approval": approval_view(appr)}


def approval_view(a: Approval) -> dict:
    """An approval for the API (money as a decimal string)."""
    return {"id": a.id, "kind": a.kind, "exception_id": a.exception_id,
            "amount": format_minor(a.amount_minor, a.currency), "currency": a.currency,
            "maker": a.maker, "status": a.status, "checker": a.checker,
            "decided_at": a.decided_at.isoformat() if a.decided_at else None,
            "decision_reason": a.decision_reason, "version": a.version,
            "resolution": json.loads(a.payload_json)}


def list_approvals(session: Session, status: str | None, limit: int, after_id: int | None) -> list[dict]:
    """Approvals, oldest first, optionally by status."""
    stmt = select(Approval).order_by(col(Approval.id)).limit(limit)
    if status:
        stmt = stmt.where(col(Approval.status) == status)
    if after_id:
        stmt = stmt.where(col(Approval.id) > after_id)
    return [approval_view(a) for a in session.execute(stmt).scalars()]
