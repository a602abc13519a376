"""Refused ERP postings for a person: list them, look at one, send it again once fixed.

``relay_once`` turns a permanent refusal (or exhausted retries) into an outbox row ``failed``
plus an open ``posting_failure``. These functions are the shell's view of that queue (REST and
CLI share them). They never commit: the caller's unit of work does, so a requeue and its audit
entry land together or not at all.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.models_outbox import Outbox, PostingFailure
from services.cashapp.usecases.exceptions import Actor
from services.cashapp.usecases.post import requeue_failed
from shared.errors import Conflict, NotFound

FAILURE_STATUSES = ("open", "requeued")
# Fields of an allocation payload worth a column in a list; money there is already a decimal string.
SUMMARY_FIELDS = ("customer_id", "document_number", "currency", "amount")


def _summary(payload_json: str | None) -> dict[str, Any]:
    try:
        payload = json.loads(payload_json or "{}")
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    return {f: (None if payload.get(f) is None else str(payload[f])) for f in SUMMARY_FIELDS}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def failure_view(f: PostingFailure, o: Outbox | None, detail: bool = False) -> dict[str, Any]:
    """One failure as the API and CLI show it (``detail`` adds the outbox row and payload)."""
    out: dict[str, Any] = {
        "id": f.id, "outbox_id": f.outbox_id, "posting_key": f.posting_key, "kind": f.kind,
        "receipt_id": f.receipt_id, "code": f.code, "message": f.message, "status": f.status,
        "created_at": _iso(f.created_at), "resolved_at": _iso(f.resolved_at),
        "outbox_status": o.status if o else None,
    } | _summary(o.payload_json if o else None)
    if detail:
        out |= {"attempts": o.attempts if o else None, "last_error": o.last_error if o else None,
                "payload": json.loads(o.payload_json) if o else None}
    return out


def outbox_view(o: Outbox) -> dict[str, Any]:
    """One outbox row for support (no payload: that is on the failure detail)."""
    return {"id": o.id, "posting_key": o.posting_key, "kind": o.kind, "status": o.status,
            "attempts": o.attempts, "next_attempt_at": _iso(o.next_attempt_at),
            "last_error": o.last_error, "lease_owner": o.lease_owner,
            "lease_until": _iso(o.lease_until), "erp_reference": o.erp_reference,
            "created_at": _iso(o.created_at), "posted_at": _iso(o.posted_at)} | _summary(o.payload_json)


def list_failures(session: Session, status: str = "open", before_id: int | None = None,
                  limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """Failures in ``status``, newest first; answers a page and the next ``before_id`` cursor."""
    stmt = (select(PostingFailure, Outbox).join(Outbox, col(Outbox.id) == col(PostingFailure.outbox_id))
            .where(col(PostingFailure.status) == status)
            .order_by(col(PostingFailure.id).desc()).limit(limit + 1))
    if before_id is not None:
        stmt = stmt.where(col(PostingFailure.id) < before_id)
    rows = session.execute(stmt).all()
    items = [failure_view(f, o) for f, o in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


def list_outbox(session: Session, status: str | None = None, posting_key: str | None = None,
                before_id: int | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """Outbox rows, newest first, optionally of one status or key; a page and the next cursor."""
    stmt = select(Outbox).order_by(col(Outbox.id).desc()).limit(limit + 1)
    if status is not None:
        stmt = stmt.where(col(Outbox.status) == status)
    if posting_key is not None:
        stmt = stmt.where(col(Outbox.posting_key) == posting_key)
    if before_id is not None:
        stmt = stmt.where(col(Outbox.id) < before_id)
    rows = session.execute(stmt).scalars().all()
    items = [outbox_view(o) for o in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


def _load(session: Session, failure_id: int) -> tuple[PostingFailure, Outbox | None]:
    f = session.get(PostingFailure, failure_id)
    if f is None:
        raise NotFound(f"posting failure {failure_id} not found", code="ERP_FAILURE_NOT_FOUND")
    return f, session.get(Outbox, f.outbox_id)


def get_failure(session: Session, failure_id: int) -> dict[str, Any]:
    """One failure with its outbox row and payload (``ERP_FAILURE_NOT_FOUND``)."""
    return failure_view(*_load(session, failure_id), detail=True)


def open_failure_id(session: Session, posting_key: str) -> int:
    """The newest open failure of a posting key (the CLI addresses failures by key)."""
    fid = session.execute(select(col(PostingFailure.id)).where(
        col(PostingFailure.posting_key) == posting_key, col(PostingFailure.status) == "open")
        .order_by(col(PostingFailure.id).desc()).limit(1)).scalar_one_or_none()
    if fid is None:
        raise NotFound(f"no open posting failure for key {posting_key!r}",
                       code="ERP_FAILURE_NOT_FOUND")
    return int(fid)


def requeue(session: Session, failure_id: int, actor: Actor, reason: str | None = None) -> dict[str, Any]:
    """Send a refused posting again (the person fixed its cause), audited in the same transaction.

    A failure that is no longer open (requeued already, perhaps by a colleague a moment ago) is
    a ``Conflict`` ``ERP_FAILURE_NOT_OPEN``: the second click must not hide that someone else acted.
    """
    f, _ = _load(session, failure_id)
    before = failure_view(f, session.get(Outbox, f.outbox_id))
    # requeue_failed's UPDATEs re-check the status, so of two racing requeues only one counts.
    if f.status != "open" or not requeue_failed(session, f.posting_key):
        raise Conflict(f"posting failure {failure_id} is {f.status}, not open",
                       code="ERP_FAILURE_NOT_OPEN", failure_status=f.status)
    session.expire_all()  # requeue_failed updated the rows with Core statements
    after = get_failure(session, failure_id)
    audit.record(session, actor.name, actor.role, "posting.requeue", "posting_failure", failure_id,
                 before, {k: after[k] for k in before}, reason=reason, request_id=actor.request_id)
    return after
