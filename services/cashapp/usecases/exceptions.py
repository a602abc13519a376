"""The exceptions worklist: list (filters, sorting, cursor pages), claim, release, reassign.

Every change is a compare-and-set on ``ExceptionItem.version`` in the UPDATE's WHERE clause, so
of two people acting on the same item the second gets ``CASHAPP_STALE_VERSION`` (409) whatever
the database: PostgreSQL re-checks the WHERE after the first commit; SQLite runs writers one at a
time (``BEGIN IMMEDIATE``). Use cases never commit; each change is audited in the same
transaction.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.models import DecisionRow, ExceptionItem, Receipt, utcnow
from services.cashapp.models_service import AppUser, Role
from shared.errors import Conflict, DomainError, NotFound, ValidationError
from shared.money import format_minor

UNRESOLVED = ("open", "claimed", "pending")
SORTS: dict[str, Any] = {"age": col(Receipt.booking_date), "amount": col(Receipt.amount_minor),
                         "id": col(ExceptionItem.id), "created": col(ExceptionItem.created_at)}


class StaleVersion(Conflict):
    code = "CASHAPP_STALE_VERSION"


class NotAssignee(DomainError):
    code = "CASHAPP_NOT_ASSIGNEE"
    status = 403


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, as the audit log records it."""

    name: str
    role: str
    request_id: str | None = None
    writeoff_limit: str | None = None


@dataclass(slots=True)
class WorklistQuery:
    """Filters of the worklist; amounts in minor units, ages in days as of ``as_of``."""

    as_of: date
    status: list[str] = field(default_factory=lambda: list(UNRESOLVED))
    customer_id: str | None = None
    currency: str | None = None
    amount_min_minor: int | None = None
    amount_max_minor: int | None = None
    min_age_days: int | None = None
    max_age_days: int | None = None
    account: str | None = None
    assignee: str | None = None
    reason: str | None = None
    sort: str = "age"
    limit: int = 50
    cursor: str | None = None


MAX_INT64 = 2**63 - 1  # BIGINT: SQLite and psycopg refuse larger ints with a driver error


def _int64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT64


def _encode_cursor(sort: str, value: Any, item_id: int) -> str:
    raw = json.dumps([sort, value.isoformat() if isinstance(value, date) else value, item_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        s, value, item_id = json.loads(raw)
        if s != sort or not _int64(item_id):
            raise ValueError("cursor of another sort order")
        key = sort.lstrip("-")
        if key == "age":
            value = date.fromisoformat(value)
        elif key == "created":
            value = _parse_dt(value)
        elif not _int64(value):
            raise ValueError("bad value")
        return value, item_id
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValidationError("invalid cursor", code="API_BAD_CURSOR") from None


def _parse_dt(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value)


def _filters(q: WorklistQuery) -> list[Any]:
    conds: list[Any] = [col(ExceptionItem.status).in_(q.status)]
    simple = ((col(DecisionRow.customer_id), q.customer_id), (col(Receipt.currency), q.currency),
              (col(Receipt.account), q.account), (col(ExceptionItem.assignee), q.assignee),
              (col(ExceptionItem.reason), q.reason))
    conds += [col == val for col, val in simple if val is not None]
    if q.amount_min_minor is not None:
        conds.append(col(Receipt.amount_minor) >= q.amount_min_minor)
    if q.amount_max_minor is not None:
        conds.append(col(Receipt.amount_minor) <= q.amount_max_minor)
    if q.min_age_days is not None:  # older than N days: booked on or before as_of - N
        conds.append(col(Receipt.booking_date) <= date.fromordinal(q.as_of.toordinal() - q.min_age_days))
    if q.max_age_days is not None:
        conds.append(col(Receipt.booking_date) >= date.fromordinal(q.as_of.toordinal() - q.max_age_days))
    return conds


def list_worklist(session: Session, q: WorklistQuery) -> tuple[list[dict], str | None]:
    """One page of exception items (keyset pagination) and the cursor of the next page."""
    desc = q.sort.startswith("-")
    key = q.sort.lstrip("-")
    if key not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)} (prefix - for descending)",
                              code="API_BAD_SORT")
    column, idc = SORTS[key], col(ExceptionItem.id)
    stmt = (select(ExceptionItem, Receipt, DecisionRow)
            .join(Receipt, col(Receipt.id) == col(ExceptionItem.receipt_id))
            .outerjoin(DecisionRow, col(DecisionRow.id) == col(ExceptionItem.decision_id))
            .where(*_filters(q)))
    if q.cursor:
        value, last = _decode_cursor(q.cursor, q.sort)
        after = (or_(column < value, and_(column == value, idc < last)) if desc
                 else or_(column > value, and_(column == value, idc > last)))
        stmt = stmt.where(after)
    order = (column.desc(), idc.desc()) if desc else (column.asc(), idc.asc())
    rows = session.execute(stmt.order_by(*order).limit(q.limit + 1)).all()
    page = [item_view(i, r, d, q.as_of) for i, r, d in rows[: q.limit]]
    nxt = None
    if len(rows) > q.limit:
        i, r, _ = rows[q.limit - 1]
        nxt = _encode_cursor(q.sort, getattr(r if key in ("age", "amount") else i,
                                             {"age": "booking_date", "amount": "amount_minor",
                                              "id": "id", "created": "created_at"}[key]), i.id)
    return page, nxt


def money_fields(obj: Any, currency: str) -> Any:
    """Replace ``*_minor`` integers by decimal strings without the suffix (JSON edge)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k.endswith("_minor") and isinstance(v, int) and not isinstance(v, bool):
                out[k.removesuffix("_minor")] = format_minor(v, currency)
            else:
                out[k] = money_fields(v, currency)
        return out
    if isinstance(obj, list):
        return [money_fields(v, currency) for v in obj]
    return obj


def decision_view(d: DecisionRow | None, currency: str) -> dict | None:
    """A decision with its explanation and suggestions, money as decimal strings."""
    if d is None:
        return None
    try:
        suggestions = json.loads(d.suggestions_json or "[]")
    except json.JSONDecodeError:
        suggestions = []
    return {
        "id": d.id, "status": d.status, "customer_id": d.customer_id, "rule_id": d.rule_id,
        "ruleset_version": d.ruleset_version, "score": d.score, "reason": d.reason,
        "exception_reason": d.exception_reason, "residual_class": d.residual_class,
        "amount": format_minor(d.amount_minor, currency),
        "applied": format_minor(d.applied_minor, currency),
        "fee": format_minor(d.fee_minor, currency),
        "writeoff": format_minor(d.writeoff_minor, currency),
        "unapplied": format_minor(d.unapplied_minor, currency),
        "short": format_minor(d.short_minor, currency), "is_current": d.is_current,
        "created_by": d.created_by, "suggestions": money_fields(suggestions, currency),
    }


def receipt_view(r: Receipt) -> dict:
    """A receipt's fields for the API (money as a decimal string)."""
    return {
        "id": r.id, "statement_id": r.statement_id, "account": r.account, "currency": r.currency,
        "amount": format_minor(r.amount_minor, r.currency), "booking_date": r.booking_date,
        "value_date": r.value_date, "bank_reference": r.bank_reference,
        "end_to_end_reference": r.end_to_end_reference, "counterparty_name": r.counterparty_name,
        "counterparty_account": r.counterparty_account, "remittance": r.remittance,
        "status": r.status, "version": r.version,
    }


def item_view(i: ExceptionItem, r: Receipt, d: DecisionRow | None, as_of: date) -> dict:
    """An exception item with its receipt, decision, reason and suggestions."""
    return {
        "id": i.id, "status": i.status, "reason": i.reason, "assignee": i.assignee,
        "version": i.version, "age_days": (as_of - r.booking_date).days,
        "receipt": receipt_view(r), "decision": decision_view(d, r.currency),
    }


def get_item(session: Session, item_id: int, as_of: date) -> dict:
    """One exception item with everything a clerk needs to decide."""
    item = load_item(session, item_id)
    r = session.get(Receipt, item.receipt_id)
    assert r is not None
    d = session.get(DecisionRow, item.decision_id) if item.decision_id else None
    return item_view(item, r, d, as_of)


def load_item(session: Session, item_id: int, *, lock: bool = False) -> ExceptionItem:
    """The item or ``CASHAPP_EXCEPTION_NOT_FOUND``.

    ``lock`` takes the row lock first (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``
    already serialises writers), so a second clerk waits for the first one's commit and then sees
    the new version (409 stale) instead of racing on the documents.
    """
    item = session.get(ExceptionItem, item_id, with_for_update=lock, populate_existing=lock)
    if item is None:
        raise NotFound(f"exception {item_id} not found", code="CASHAPP_EXCEPTION_NOT_FOUND")
    return item


def snapshot(item: ExceptionItem) -> dict:
    """The audited state of an item."""
    return {"status": item.status, "assignee": item.assignee, "version": item.version,
            "decision_id": item.decision_id, "reason": item.reason}


def check_version(item: ExceptionItem, expected: int | None) -> int:
    """The version to compare against; a client's stale ``If-Match`` fails fast."""
    if expected is not None and expected != item.version:
        raise StaleVersion(f"exception {item.id} is at version {item.version}, not {expected}",
                           current_version=item.version)
    return item.version


def cas_item(session: Session, item: ExceptionItem, version: int, statuses: tuple[str, ...],
             **values: Any) -> None:
    """Compare-and-set the item: only from ``version`` and one of ``statuses``; else 409."""
    t = ExceptionItem.__table__  # type: ignore[attr-defined]
    res = session.execute(
        update(t).where(t.c.id == item.id, t.c.version == version, t.c.status.in_(statuses))
        .values(version=t.c.version + 1, updated_at=utcnow(), **values))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"exception {item.id} was changed by someone else; reload it")
    session.refresh(item)


def claim(session: Session, item_id: int, actor: Actor, expected: int | None = None) -> ExceptionItem:
    """Take an open item for yourself."""
    item = load_item(session, item_id)
    if item.status == "claimed" and item.assignee == actor.name and expected is None:
        return item  # claiming your own item again changes nothing
    version = check_version(item, expected)
    if item.status != "open":
        raise Conflict(f"exception {item_id} is {item.status}"
                       + (f" by {item.assignee}" if item.assignee else ""),
                       code="CASHAPP_NOT_OPEN", status_now=item.status)
    before = snapshot(item)
    cas_item(session, item, version, ("open",), status="claimed", assignee=actor.name)
    _audit(session, actor, "exception.claim", item, before)
    return item


def release(session: Session, item_id: int, actor: Actor, expected: int | None = None) -> ExceptionItem:
    """Give a claimed item back to the queue (its assignee or a supervisor)."""
    item = load_item(session, item_id)
    version = check_version(item, expected)
    if item.status != "claimed":
        raise Conflict(f"exception {item_id} is {item.status}", code="CASHAPP_NOT_CLAIMED")
    if item.assignee != actor.name and actor.role != Role.SUPERVISOR:
        raise NotAssignee("only the assignee or a supervisor may release it")
    before = snapshot(item)
    cas_item(session, item, version, ("claimed",), status="open", assignee=None)
    _audit(session, actor, "exception.release", item, before)
    return item


def reassign(session: Session, item_id: int, actor: Actor, assignee: str,
             expected: int | None = None) -> ExceptionItem:
    """Give an unresolved item to another clerk or supervisor."""
    item = load_item(session, item_id)
    version = check_version(item, expected)
    user = session.execute(select(AppUser).where(col(AppUser.name) == assignee)).scalar_one_or_none()
    if user is None or not user.active or user.role not in (Role.CLERK, Role.SUPERVISOR):
        raise ValidationError(f"{assignee!r} is not an active clerk or supervisor",
                              code="CASHAPP_BAD_ASSIGNEE")
    before = snapshot(item)
    cas_item(session, item, version, ("open", "claimed"), status="claimed", assignee=assignee)
    _audit(session, actor, "exception.reassign", item, before)
    return item


def _audit(session: Session, actor: Actor, action: str, item: ExceptionItem, before: dict,
           reason: str | None = None) -> None:
    audit.record(session, actor.name, actor.role, action, "exception_item", item.id, before,
                 snapshot(item), reason=reason, request_id=actor.request_id)
