"""Exactly-once ERP posting, first half: the outbox, written with the business change.

Use cases call ``enqueue_posting`` (or the allocation helpers) inside their own transaction (it
never commits), so a posting exists if and only if its business effect does. The relay that sends
the rows to the ERP is :mod:`services.cashapp.usecases.relay`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import String, and_, cast, exists, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from services.cashapp.models import Allocation, Receipt, utcnow
from services.cashapp.models_outbox import (
    Outbox,
    OutboxKind,
    OutboxStatus,
    PostingFailure,
)
from shared.db import bulk_insert
from shared.errors import Conflict, ValidationError
from shared.money import format_minor

log = logging.getLogger(__name__)

ALLOCATION_KEY_PREFIX = "alloc-"

_O = Outbox.__table__  # type: ignore[attr-defined]
_A = Allocation.__table__  # type: ignore[attr-defined]
_R = Receipt.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------- enqueue (inside a caller's UoW)

def enqueue_posting(session: Session, kind: str, posting_key: str, payload: dict[str, Any]) -> bool:
    """Add a posting to the outbox in the caller's transaction (never commits).

    Returns False when the key exists already with the same content (idempotent re-enqueue);
    the same key with different content is a ``Conflict`` (``ERP_POSTING_KEY_REUSED``).
    """
    try:
        kind = OutboxKind(kind)
    except ValueError as exc:
        raise ValidationError(f"unknown posting kind {kind!r}", code="ERP_POSTING_KIND") from exc
    _refuse_floats(payload, "payload")
    body = _canonical(payload)
    inserted = _insert_ignore(session, [_outbox_row(kind, posting_key, body)])
    if inserted:
        return True
    have = session.execute(select(_O.c.kind, _O.c.payload_json).where(
        _O.c.posting_key == posting_key)).one()
    if (have.kind, have.payload_json) != (str(kind), body):
        raise Conflict(f"posting key {posting_key!r} already holds a different posting",
                       code="ERP_POSTING_KEY_REUSED")
    return False


def enqueue_allocations(session: Session, decision_id: int) -> int:
    """One posting per allocation of a decision (``alloc-<id>``); reversal rows post as reversals."""
    return _enqueue_allocation_rows(session, _A.c.decision_id == decision_id)


def enqueue_decisions(session: Session, decision_ids: Sequence[int]) -> int:
    """``enqueue_allocations`` for many decisions at once (the matcher's batches).

    One range query over the batch (its ids are close together) filtered to the given ids, instead
    of thousands of bound parameters.
    """
    ids = set(decision_ids)
    if not ids:
        return 0
    where = _A.c.decision_id.between(min(ids), max(ids))
    return _enqueue_allocation_rows(session, where, keep=lambda r: r.decision_id in ids)


def enqueue_new_allocations(session: Session, rows: Sequence[Any]) -> int:
    """Outbox rows for allocations just written in this transaction, built from memory.

    ``rows`` carry the attributes ``allocation_payload`` reads (the allocation's own columns plus
    the receipt's ``account`` and ``bank_reference``). Written straight through the driver; a key
    already present is left alone, as in every other enqueue.
    """
    return enqueue_allocation_json(session, [(r.id, r.reverses_id, allocation_json(r)) for r in rows])


def enqueue_allocation_json(session: Session, rows: Sequence[tuple[int, int | None, str]]) -> int:
    """``enqueue_new_allocations`` for payloads built already: (allocation id, reverses id, json).

    The matcher builds most of each payload before its transaction (``allocation_json_parts``).
    """
    now = utcnow()
    out = [(f"{ALLOCATION_KEY_PREFIX}{aid}", _APPLICATION if rev is None else _REVERSAL, body, _PENDING, 0, now, now)
           for aid, rev, body in rows]
    return bulk_insert(session.connection(), _O, _OUTBOX_COLUMNS, out, on_conflict_ignore="posting_key")


_APPLICATION, _REVERSAL = str(OutboxKind.APPLICATION), str(OutboxKind.REVERSAL)
_PENDING = OutboxStatus.PENDING.value
_OUTBOX_COLUMNS = ("posting_key", "kind", "payload_json", "status", "attempts", "next_attempt_at",
                   "created_at")


def enqueue_allocation_ids(session: Session, allocation_ids: Sequence[int]) -> int:
    """``alloc-<id>`` postings for these allocations (a returned cheque's reversal rows)."""
    ids = list(allocation_ids)
    return _enqueue_allocation_rows(session, _A.c.id.in_(ids)) if ids else 0


def enqueue_missing_allocations(session: Session) -> int:
    """Backstop: enqueue every unposted allocation that has no outbox row yet (idempotent)."""
    key = literal(ALLOCATION_KEY_PREFIX) + cast(_A.c.id, String)
    missing = ~exists().where(_O.c.posting_key == key)
    return _enqueue_allocation_rows(session, and_(_A.c.posted_at.is_(None), missing))


def allocation_payload(row: Any) -> dict[str, Any]:
    """The ERP document of one allocation; money as a decimal string."""
    doc = {
        "allocation_id": row.id, "decision_id": row.decision_id, "receipt_id": row.receipt_id,
        "item_id": row.item_id, "customer_id": row.customer_id,
        "document_number": row.document_number, "currency": row.currency,
        "amount": format_minor(row.amount_minor, row.currency),
        "effective_date": row.effective_date.isoformat(), "bank_account": row.account,
        "bank_reference": row.bank_reference,
    }
    if row.reverses_id is not None:
        doc["reverses_posting_key"] = f"{ALLOCATION_KEY_PREFIX}{row.reverses_id}"
    return doc


def allocation_json(row: Any) -> str:
    """``_canonical(allocation_payload(row))``, written out directly (the matcher's hot path).

    Same bytes: keys in sorted order, no spaces, non-ASCII kept; a test holds the two together.
    """
    return allocation_json_with_ids(row.id, row.decision_id, allocation_json_parts(
        row.amount_minor, row.currency, row.account, row.bank_reference, row.customer_id,
        row.document_number, row.effective_date, row.item_id, row.receipt_id, row.reverses_id))


def allocation_json_parts(amount_minor: int, currency: str, account: str | None, bank_reference: str | None,
                          customer_id: str, document_number: str, effective_date: date, item_id: int,
                          receipt_id: int, reverses_id: int | None = None) -> tuple[str, str]:
    """``allocation_json`` but for its two ids, which the database gives only once it is written.

    The JSON between the values of ``allocation_id`` and ``decision_id``, and what follows the
    latter; ``allocation_json_with_ids`` puts the ids in. (The amount and the date are digits,
    signs, dots and dashes only: nothing to escape.)
    """
    e = _encode_str
    head = _HEAD % (format_minor(amount_minor, currency), "null" if account is None else e(account),
                    "null" if bank_reference is None else e(bank_reference),
                    "null" if currency is None else e(currency), "null" if customer_id is None else e(customer_id))
    rev = "" if reverses_id is None else f',"reverses_posting_key":"{ALLOCATION_KEY_PREFIX}{reverses_id}"'
    tail = _TAIL % ("null" if document_number is None else e(document_number), effective_date.isoformat(),
                    item_id, receipt_id, rev)
    return head, tail


_HEAD = ',"amount":"%s","bank_account":%s,"bank_reference":%s,"currency":%s,"customer_id":%s,"decision_id":'
_TAIL = ',"document_number":%s,"effective_date":"%s","item_id":%d,"receipt_id":%d%s}'


def allocation_json_with_ids(allocation_id: int, decision_id: int, parts: tuple[str, str]) -> str:
    return f'{{"allocation_id":{allocation_id}{parts[0]}{decision_id}{parts[1]}'


def requeue_failed(session: Session, posting_key: str) -> bool:
    """A person fixed the cause of a refused posting: send it again (in the caller's UoW)."""
    res = session.connection().execute(update(_O).where(
        _O.c.posting_key == posting_key, _O.c.status == OutboxStatus.FAILED).values(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow()))
    f = PostingFailure.__table__  # type: ignore[attr-defined]
    session.connection().execute(update(f).where(f.c.posting_key == posting_key, f.c.status == "open")
                                 .values(status="requeued", resolved_at=utcnow()))
    return res.rowcount == 1


def _enqueue_allocation_rows(session: Session, where: Any,
                             keep: Callable[[Any], bool] | None = None) -> int:
    rows = session.execute(
        select(_A.c.id, _A.c.decision_id, _A.c.receipt_id, _A.c.item_id, _A.c.customer_id,
               _A.c.document_number, _A.c.currency, _A.c.amount_minor, _A.c.reverses_id,
               _A.c.effective_date, _R.c.account, _R.c.bank_reference)
        .join(_R, _R.c.id == _A.c.receipt_id).where(where).order_by(_A.c.id)).all()
    out = []
    for r in rows:
        if keep is not None and not keep(r):
            continue
        kind = OutboxKind.APPLICATION if r.reverses_id is None else OutboxKind.REVERSAL
        out.append(_outbox_row(kind, f"{ALLOCATION_KEY_PREFIX}{r.id}", _canonical(allocation_payload(r))))
    return _insert_ignore(session, out)


def _outbox_row(kind: str, key: str, body: str) -> dict[str, Any]:
    now = utcnow()
    return {"posting_key": key, "kind": str(kind), "payload_json": body,
            "status": OutboxStatus.PENDING.value, "attempts": 0, "next_attempt_at": now,
            "created_at": now}


def _insert_ignore(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose key is new; a concurrent insert of the same key is not an error."""
    if not rows:
        return 0
    keys = [r["posting_key"] for r in rows]
    have = set(session.execute(select(_O.c.posting_key).where(_O.c.posting_key.in_(keys))).scalars())
    fresh = [r for r in rows if r["posting_key"] not in have]
    if not fresh:
        return 0
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(_O) if dialect == "postgresql" else sqlite.insert(_O)
    session.connection().execute(ins.on_conflict_do_nothing(index_elements=["posting_key"]), fresh)
    return len(fresh)


_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]  # ensure_ascii=False


def _canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _refuse_floats(value: Any, where: str) -> None:
    """Money travels as decimal strings: a float in a payload is a bug at the caller."""
    if isinstance(value, float):
        raise ValidationError(f"{where} is a float; send money as a decimal string",
                              code="ERP_PAYLOAD_FLOAT")
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_floats(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _refuse_floats(v, f"{where}[{i}]")
