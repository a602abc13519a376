"""Append-only, hash-chained audit log.

Each row's hash is ``sha256(prev_hash + canonical JSON of the row)``, so changing, deleting or
re-ordering any row breaks the chain from that row on; :func:`verify` names the first broken
``seq``. Appends are serialised (PostgreSQL advisory lock; SQLite's single writer) so the chain
never forks when two requests write at the same moment.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from services.cashapp.models_service import AuditLog, utcnow_naive

GENESIS = "0" * 64
_LOCK_KEY = 0x63617368  # "cash": the advisory lock id serialising audit appends on PostgreSQL
CSV_FIELDS = ("seq", "at", "actor", "role", "action", "entity", "entity_id", "before_json",
              "after_json", "reason", "request_id", "prev_hash", "hash")


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return str(obj)
    return str(obj)


def canonical(value: Any) -> str:
    """Stable JSON: sorted keys, no whitespace, dates as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default,
                      ensure_ascii=False)


def _at_text(at: datetime) -> str:
    # naive values are UTC (SQLite without an offset); the text is the same on both databases
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(prev_hash: str, row: AuditLog) -> str:
    """The chain hash of ``row`` given the hash of the row before it."""
    body = canonical({
        "seq": row.seq, "at": _at_text(row.at), "actor": row.actor, "role": row.role,
        "action": row.action, "entity": row.entity, "entity_id": row.entity_id,
        "before": row.before_json, "after": row.after_json, "reason": row.reason,
        "request_id": row.request_id,
    })
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def record(session: Session, actor: str, role: str, action: str, entity: str, entity_id: Any,
           before: Any = None, after: Any = None, reason: str | None = None,
           request_id: str | None = None) -> AuditLog:
    """Append one audit row in the caller's transaction (it commits or rolls back with it)."""
    _lock(session)
    last = session.execute(
        select(col(AuditLog.seq), col(AuditLog.hash)).order_by(col(AuditLog.seq).desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row = AuditLog(seq=seq, at=utcnow_naive(), actor=actor[:64], role=str(role)[:16],
                   action=action[:64], entity=entity[:64], entity_id=str(entity_id)[:64],
                   before_json=canonical(before), after_json=canonical(after), reason=reason,
                   request_id=(request_id or None) and request_id[:64], prev_hash=prev, hash="")
    row.hash = row_hash(prev, row)
    session.add(row)
    session.flush()
    return row


def rows(session: Session, batch: int = 1000) -> Iterator[AuditLog]:
    """Every row in ``seq`` order, read in batches (the log can be large)."""
    after = 0
    while True:
        page = session.execute(select(AuditLog).where(col(AuditLog.seq) > after)
                               .order_by(col(AuditLog.seq)).limit(batch)).scalars().all()
        if not page:
            return
        yield from page
        after = page[-1].seq


def verify(session: Session) -> int | None:
    """The ``seq`` of the first row whose link is broken, or ``None`` when the chain is intact.

    A row is broken when its hash does not match its content, its ``prev_hash`` is not the hash
    of the row before it, or a sequence number is missing (a deleted row).
    """
    prev, expected_seq = GENESIS, 1
    for row in rows(session):
        if row.seq != expected_seq or row.prev_hash != prev or row_hash(prev, row) != row.hash:
            return min(row.seq, expected_seq)
        prev, expected_seq = row.hash, row.seq + 1
    return None


def count(session: Session) -> int:
    """How many rows the log holds."""
    return int(session.execute(select(func.count()).select_from(AuditLog)).scalar_one())


def csv_row(row: AuditLog) -> list[str]:
    """One exported line, in :data:`CSV_FIELDS` order."""
    values = {f: getattr(row, f) for f in CSV_FIELDS}
    values["at"] = _at_text(row.at)
    return ["" if values[f] is None else str(values[f]) for f in CSV_FIELDS]


def export_csv(session: Session, out: TextIO) -> int:
    """Write the whole log as CSV (header first) to ``out``; answers the number of rows."""
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    n = 0
    for row in rows(session):
        writer.writerow(csv_row(row))
        n += 1
    return n
