"""Write one batch of the engine's decisions through the driver: the matcher's hot path.

A batch is first turned into rows (``prepare_batch``: everything but the ids the database gives),
then written in the caller's transaction (``write_batch``): open amounts reduced and receipts
moved on from ``unmatched`` (both with a compare-and-set), decisions, allocations with their
outbox rows, exceptions, and the payer aliases a confirmed application teaches.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session

from services.cashapp.models import Allocation, CustomerAccount, DecisionRow, ExceptionItem, ReceiptStatus, utcnow
from services.cashapp.usecases.post import allocation_json_parts, allocation_json_with_ids, enqueue_allocation_json
from shared.db import bulk_insert, driver_sql
from shared.errors import Conflict
from shared.iban import normalize_account

LEARN_FROM_RULES = ("reference",)  # only a document reference confirms who paid


@dataclass(slots=True)
class MatchSummary:
    run_id: int | None = None
    receipts: int = 0
    auto: int = 0
    exceptions: int = 0
    ignored: int = 0
    held: int = 0
    applied_minor: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def auto_rate(self) -> float:
        applicable = self.auto + self.exceptions
        return self.auto / applicable if applicable else 0.0


class ReceiptInfo(NamedTuple):
    """What writing a receipt's decision needs of the receipt itself."""

    amount_minor: int
    currency: str
    booking_date: Any  # date
    account: str
    bank_reference: str | None
    counterparty_account: str | None
    counterparty_name: str | None


@dataclass(slots=True)
class Batch:
    """One batch of decisions as rows, made before its transaction: all but the new ids.

    ``allocations`` and ``exceptions`` start with the index of their decision in the batch, which
    the decision's id replaces once it is written.
    """

    now: datetime
    open_items: list[tuple[int, int, int]]  # (open amount after, item id, open amount before)
    decisions: list[tuple]
    allocations: list[tuple]
    payloads: list[tuple[str, str]]  # allocation_json_parts, one per allocation
    exceptions: list[tuple[int, int, str]]
    statuses: list[tuple[str, int, str]]
    aliases: list[tuple[str, str, str, str]]


def prepare_batch(batch: list[Any], info: dict[int, ReceiptInfo], open_now: dict[int, int], run_id: int | None,
                  summary: MatchSummary, taught: set[tuple[str, str]] | None = None) -> Batch:
    """The rows of a batch of decisions, without touching the database; counts them in ``summary``.

    ``info`` holds the receipts' columns by id; ``open_now`` the open amounts as the batches before
    left them, and is updated for this one (the compare-and-set of ``write_batch`` checks them).
    ``taught``: the (kind, normalised value) of the aliases the batches before offered, updated for
    this one. Each of those is in the database once its batch is written (learned, or known
    already), so a later batch leaves them out. It need not see them: on PostgreSQL a batch is
    written while the one before is still committing, and the same alias would collide with it.
    """
    now = utcnow()
    deltas: dict[int, int] = {}
    for d in batch:
        for a in d.allocations:
            deltas[a.item_id] = deltas.get(a.item_id, 0) + a.amount_minor
    opens = []
    for item_id, delta in deltas.items():
        before = open_now[item_id]
        opens.append((before - delta, item_id, before))
        open_now[item_id] = before - delta
    out = Batch(now, opens, [], [], [], [], [], [])
    learned: list[tuple[str, ReceiptInfo]] = []
    by_rule, applied = summary.by_rule, summary.applied_minor
    for i, d in enumerate(batch):
        rid = d.receipt_id
        rec = info[rid]
        out.decisions.append(_decision_row(d, rec, run_id, now))
        out.statuses.append((_receipt_status(d), rid, _UNMATCHED))
        by_rule[d.rule_id or "-"] = by_rule.get(d.rule_id or "-", 0) + 1
        if d.status == "auto":
            summary.auto += 1
            ccy, booked = rec.currency, rec.booking_date
            applied[ccy] = applied.get(ccy, 0) + d.applied_minor
            for a in d.allocations:
                out.allocations.append((i, rid, a.item_id, a.customer_id, a.document_number, ccy,
                                        a.amount_minor, booked, now))
                out.payloads.append(allocation_json_parts(
                    a.amount_minor, ccy, rec.account, rec.bank_reference, a.customer_id,
                    a.document_number, booked, a.item_id, rid))
            if (d.rule_id or "").startswith(LEARN_FROM_RULES) and d.customer_id:
                learned.append((d.customer_id, rec))
        elif d.status == "exception":
            summary.exceptions += 1
            out.exceptions.append((i, rid, str(d.exception_reason or "NO_CANDIDATE")))
        else:
            summary.ignored += 1
    out.aliases = _aliases_of(learned)
    if taught is not None:
        keys = {(kind, norm) for _, kind, _, norm in out.aliases}
        out.aliases = [a for a in out.aliases if (a[1], a[3]) not in taught]
        taught |= keys
    return out


def write_batch(session: Session, b: Batch) -> None:
    """Write a prepared batch through the driver, in the caller's transaction (never commits)."""
    conn = session.connection()
    _reduce_open_amounts(conn, b.open_items)
    _leave_unmatched(conn, b.statuses)
    ids = _insert_decisions(conn, b.decisions)
    now = b.now
    if b.allocations:
        rows = [(ids[i], *rest) for i, *rest in b.allocations]
        aids = _insert_allocations(conn, rows)
        # Same transaction as the allocations: the ERP hears of every one of them, exactly once.
        enqueue_allocation_json(session, [(aid, None, allocation_json_with_ids(aid, r[0], parts))
                                          for aid, r, parts in zip(aids, rows, b.payloads, strict=True)])
    bulk_insert(conn, ExceptionItem.__table__, _EXCEPTION_COLUMNS,  # type: ignore[attr-defined]
                [(rid, ids[i], why, "open", 1, now, now) for i, rid, why in b.exceptions])
    _learn(conn, b.aliases)


_UNMATCHED = str(ReceiptStatus.UNMATCHED)
_ALLOCATION_COLUMNS = ("decision_id", "receipt_id", "item_id", "customer_id", "document_number",
                       "currency", "amount_minor", "effective_date", "created_at")
_EXCEPTION_COLUMNS = ("receipt_id", "decision_id", "reason", "status", "version", "created_at", "updated_at")
_DECISION_COLUMNS = (
    "receipt_id", "run_id", "status", "customer_id", "rule_id", "ruleset_version", "score", "reason",
    "exception_reason", "amount_minor", "applied_minor", "fee_minor", "writeoff_minor",
    "unapplied_minor", "short_minor", "residual_class", "suggestions_json", "is_current",
    "created_by", "created_at",
)


def _fetch(conn: Any, sql: str, params: tuple) -> list[tuple]:
    """Rows of a query straight from the driver's cursor (no result objects per row)."""
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(driver_sql(conn, sql), params)
        return cur.fetchall()
    finally:
        cur.close()


def _insert_allocations(conn: Any, rows: list[tuple]) -> list[int]:
    """Insert the batch's allocations and give their ids, in insertion order."""
    before = _fetch(conn, "SELECT COALESCE(MAX(id), 0) FROM allocation", ())[0][0]
    bulk_insert(conn, Allocation.__table__, _ALLOCATION_COLUMNS, rows)  # type: ignore[attr-defined]
    lo, hi = rows[0][0], rows[-1][0]  # decision ids grow along the batch
    where = "FROM allocation WHERE id > ? AND decision_id BETWEEN ? AND ?"
    ids = _new_ids(conn, where, (before, lo, hi), len(rows))
    if ids is not None:
        return ids
    by_key: dict[tuple[int, int], list[int]] = {}
    for aid, did, iid in _fetch(conn, f"SELECT id, decision_id, item_id {where} ORDER BY id", (before, lo, hi)):
        by_key.setdefault((did, iid), []).append(aid)
    return [by_key[(r[0], r[2])].pop(0) for r in rows]


def _new_ids(conn: Any, where: str, params: tuple, n: int) -> list[int] | None:
    """The ids of the ``n`` rows just inserted, when they are the only new ones and contiguous.

    One executemany numbers its rows in insertion order (SQLite: the largest rowid plus one;
    PostgreSQL: the sequence, one row after the other): ``n`` new rows whose ids span exactly ``n``
    are ours, in order. Otherwise (someone else's rows in between) None: read them back by key.
    """
    count, lo, hi = _fetch(conn, f"SELECT COUNT(*), MIN(id), MAX(id) {where}", params)[0]
    return list(range(lo, hi + 1)) if count == n and n and hi - lo + 1 == n else None


def _receipt_status(d: Any) -> str:
    if d.status == "auto":
        return ReceiptStatus.PARTIAL if d.unapplied_minor > 0 else ReceiptStatus.APPLIED
    if d.status == "exception":
        return ReceiptStatus.EXCEPTION
    return ReceiptStatus.IGNORED


def _reduce_open_amounts(conn: Any, params: list[tuple[int, int, int]]) -> None:
    if not params:
        return
    result = conn.exec_driver_sql(driver_sql(
        conn, "UPDATE open_item SET open_amount_minor = ?, version = version + 1 "
        "WHERE id = ? AND open_amount_minor = ?"), params)
    if result.rowcount is not None and result.rowcount >= 0 and result.rowcount != len(params):
        raise Conflict("open items changed while matching; run match again",
                       code="CASHAPP_STALE_VERSION")


def _leave_unmatched(conn: Any, statuses: list[tuple[str, int, str]]) -> None:
    """Each receipt of the batch from ``unmatched`` to its new status, or the batch stops.

    A receipt no longer unmatched was decided meanwhile by someone else (a second match run, a
    clerk): deciding it again would apply its cash twice (``CASHAPP_STALE_VERSION``).
    """
    if not statuses:
        return
    result = conn.exec_driver_sql(driver_sql(
        conn, "UPDATE receipt SET status = ?, version = version + 1 WHERE id = ? AND status = ?"), statuses)
    if result.rowcount is not None and result.rowcount >= 0 and result.rowcount != len(statuses):
        raise Conflict("receipts changed while matching; run match again", code="CASHAPP_STALE_VERSION")


def _insert_decisions(conn: Any, rows: list[tuple]) -> list[int]:
    """Insert the decision rows and give their ids in the same order.

    A plain executemany, then the new ids read back (``_new_ids``; by receipt when not
    contiguous): SQLite executes an ordered INSERT ... RETURNING one row at a time, which
    dominated the whole match.
    """
    if not rows:
        return []
    before = _fetch(conn, "SELECT COALESCE(MAX(id), 0) FROM decision", ())[0][0]
    bulk_insert(conn, DecisionRow.__table__, _DECISION_COLUMNS, rows)  # type: ignore[attr-defined]
    where, params = "FROM decision WHERE id > ? AND run_id = ?", (before, rows[0][1])
    ids = _new_ids(conn, where, params, len(rows))
    if ids is not None:
        return ids
    by_receipt = dict(_fetch(conn, f"SELECT receipt_id, id {where}", params))
    return [by_receipt[r[0]] for r in rows]


def _decision_row(d: Any, rec: ReceiptInfo, run_id: int | None, now: Any) -> tuple:
    return (
        # (plain values only: a batch unpickled in the writer process imports no engine module)
        d.receipt_id, run_id, str(d.status), d.customer_id, d.rule_id, d.ruleset_version, float(d.score),
        d.reason, None if d.exception_reason is None else str(d.exception_reason), rec.amount_minor,
        d.applied_minor, d.fee_minor,
        d.writeoff_minor, d.unapplied_minor, d.short_minor, str(d.residual_class),
        json.dumps([_plain(s) for s in d.suggestions], default=str) if d.suggestions else "[]",
        True, "engine", now,
    )


def _plain(obj: Any) -> Any:
    suggestion, names = _suggestion_fields()
    if type(obj) is suggestion:  # flat (primitives and tuples of them): what asdict gives, 4x faster
        return {name: getattr(obj, name) for name in names}
    try:
        return asdict(obj)
    except TypeError:
        return obj


@functools.cache
def _suggestion_fields() -> tuple[type, tuple[str, ...]]:
    # (imported here: a writer process, which only writes, never loads the engine and polars)
    from services.cashapp.domain.decision import Suggestion

    return Suggestion, tuple(f.name for f in fields(Suggestion))


def _alias_norm(kind: str, value: str) -> str:
    return normalize_account(value) if kind == "iban" else " ".join(value.upper().split())


def _aliases_of(learned: list[tuple[str, ReceiptInfo]]) -> list[tuple[str, str, str, str]]:
    """(customer, kind, value, normalised value) of the payer's account and name, in order."""
    norms: dict[tuple[str, str], str] = {}  # a payer pays many documents: normalised once
    out = []
    for cid, rec in learned:
        for kind, value in (("iban", rec.counterparty_account), ("name", rec.counterparty_name)):
            if value:
                norm = norms.get((kind, value))
                if norm is None:
                    norm = norms[(kind, value)] = _alias_norm(kind, value)
                out.append((cid, kind, value, norm))
    return out


def _learn(conn: Any, wanted: list[tuple[str, str, str, str]]) -> int:
    """Remember payer accounts and names of confirmed applications as the customer's aliases.

    An account already known for another customer is not learned (a payment factory or parent
    company paying for several customers must stay ambiguous).
    """
    if not wanted:
        return 0
    norms = sorted({w[3] for w in wanted})
    known: dict[tuple[str, str], set[str]] = {}
    for i in range(0, len(norms), 900):  # only the aliases in question, not the whole table
        part = tuple(norms[i : i + 900])
        sql = ("SELECT customer_id, kind, value_norm FROM customer_account WHERE value_norm IN ("
               + ", ".join("?" * len(part)) + ")")
        for cid, kind, norm in _fetch(conn, sql, part):
            known.setdefault((kind, norm), set()).add(cid)
    rows = []
    for cid, kind, value, norm in wanted:
        key = (kind, norm)
        if key in known:  # known already, for this customer or (ambiguously) for another
            continue
        known[key] = {cid}
        rows.append((cid, kind, value[:300], norm[:300], "learned"))
    return bulk_insert(conn, CustomerAccount.__table__,  # type: ignore[attr-defined]
                       ("customer_id", "kind", "value", "value_norm", "source"), rows)
