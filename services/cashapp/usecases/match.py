"""Apply the engine's decisions: allocations, open amounts, exceptions, learning. Idempotent.

Only receipts still ``unmatched`` (or ``held`` by an integrity break) are read, so running it
again changes nothing. Each batch of decisions is written in one transaction; the open amount of
every document is reduced with a compare-and-set, so a concurrent change to an open item stops
the batch (``CASHAPP_STALE_VERSION``) instead of applying cash twice.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from services.cashapp.domain.engine import match
from services.cashapp.domain.rules import RuleSet
from services.cashapp.models import (
    Allocation,
    CustomerAccount,
    DecisionRow,
    ExceptionItem,
    MatchRun,
    Receipt,
    ReceiptStatus,
    utcnow,
)
from services.cashapp.usecases.post import enqueue_new_allocations
from services.recon.cheques import match_open_deposits
from shared.db import bulk_insert, driver_sql, unit_of_work
from shared.errors import Conflict
from shared.iban import normalize_account

RECEIPT_COLUMNS = (
    "id", "account", "currency", "booking_date", "value_date", "amount_minor", "bank_reference",
    "end_to_end_reference", "customer_reference", "counterparty_name", "counterparty_account",
    "remittance", "creditor_reference", "is_reversal",
)
ITEM_COLUMNS = (
    "id", "customer_id", "document_number", "document_type", "document_date", "due_date",
    "currency", "amount_minor", "open_amount_minor", "payment_reference",
)
HELD_REASON = "STATEMENT_INTEGRITY_BREAK"
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


def _frame(session: Session, table: str, columns: tuple[str, ...], where: str, params: tuple,
           types: dict[str, Any]) -> pl.DataFrame:
    """Rows straight from the driver's cursor into typed polars columns (no per-row objects).

    ``types`` names the non-text columns; everything else is text. SQLite hands dates over as
    ISO text and booleans as 0/1; PostgreSQL as ``date`` and ``bool``: both end up the same.
    """
    conn = session.connection()
    sql = driver_sql(conn, f"SELECT {', '.join(columns)} FROM {table} WHERE {where}")
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, params)
        rows = cur.fetchall()
    finally:
        cur.close()
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    series = []
    for name, col_values in zip(columns, values, strict=True):
        t = types.get(name, pl.Utf8)
        if t == pl.Date and any(isinstance(v, str) for v in col_values):
            s = pl.Series(name, col_values, dtype=pl.Utf8).str.to_date("%Y-%m-%d")
        elif t == pl.Boolean:
            s = pl.Series(name, [None if v is None else bool(v) for v in col_values], dtype=pl.Boolean)
        else:
            s = pl.Series(name, col_values, dtype=t)
        series.append(s)
    return pl.DataFrame(series)


_RECEIPT_TYPES = {"id": pl.Int64, "amount_minor": pl.Int64, "booking_date": pl.Date,
                  "value_date": pl.Date, "is_reversal": pl.Boolean}
_ITEM_TYPES = {"id": pl.Int64, "amount_minor": pl.Int64, "open_amount_minor": pl.Int64,
               "document_date": pl.Date, "due_date": pl.Date}


def load_inputs(session: Session, statuses: tuple[str, ...] = (ReceiptStatus.UNMATCHED,),
                restore: dict[int, int] | None = None) -> tuple[pl.DataFrame, ...]:
    """The engine's four input frames, straight from the database.

    ``restore`` (item id -> amount) adds cash back onto open amounts, to show the engine the
    documents as they were before some decisions were applied (dry runs).
    """
    marks = ", ".join("?" * len(statuses))
    receipts = _frame(session, "receipt", RECEIPT_COLUMNS, f"status IN ({marks})",
                      tuple(str(s) for s in statuses), _RECEIPT_TYPES).rename({"id": "receipt_id"})
    where = "in_snapshot = ?" if restore else "in_snapshot = ? AND open_amount_minor <> 0"
    items = _frame(session, "open_item", ITEM_COLUMNS, where, (True,), _ITEM_TYPES).rename({"id": "item_id"})
    if restore:
        back = pl.DataFrame({"item_id": list(restore), "back": list(restore.values())},
                            schema={"item_id": pl.Int64, "back": pl.Int64})
        items = (items.join(back, on="item_id", how="left")
                 .with_columns(pl.col("open_amount_minor") + pl.col("back").fill_null(0))
                 .drop("back").filter(pl.col("open_amount_minor") != 0))
    customers = _frame(session, "customer", ("customer_id", "customer_name"), "customer_id IS NOT NULL", (), {})
    accounts = _frame(session, "customer_account", ("customer_id", "kind", "value", "source"),
                      "id IS NOT NULL", (), {})
    return receipts, items, customers, accounts


def run_match(engine: Engine, rules: RuleSet, as_of: date, batch_size: int = 5000) -> MatchSummary:
    """Decide every unmatched receipt and apply the automatic decisions."""
    summary = MatchSummary()
    with unit_of_work(engine) as session:
        # A deposit line credits cheques that are receipts of their own: linked to them, it is
        # not cash to apply again (a no-op when there are no cheques).
        match_open_deposits(session)
    with Session(engine) as session:
        receipts, items, customers, accounts = load_inputs(session)
    with unit_of_work(engine) as session:
        run = MatchRun(ruleset_version=rules.version, as_of=as_of)
        session.add(run)
        session.flush()
        summary.run_id = run.id
        summary.held = _queue_held(session)
    decisions = match(receipts, items, customers, accounts, rules, as_of) if receipts.height else []
    info = {row["receipt_id"]: row for row in receipts.select(
        "receipt_id", "currency", "booking_date", "amount_minor", "counterparty_account",
        "counterparty_name", "account", "bank_reference").iter_rows(named=True)}
    open_now = dict(zip(items["item_id"].to_list(), items["open_amount_minor"].to_list(), strict=True))
    for start in range(0, len(decisions), batch_size):
        batch = decisions[start : start + batch_size]
        with unit_of_work(engine) as session:
            _apply_batch(session, batch, info, open_now, summary.run_id, summary)
    with unit_of_work(engine) as session:
        done = session.get(MatchRun, summary.run_id)
        assert done is not None
        done.receipts = len(decisions)
        done.auto, done.exceptions, done.ignored = summary.auto, summary.exceptions, summary.ignored
    summary.receipts = len(decisions)
    return summary


def _queue_held(session: Session) -> int:
    """Receipts of statements with an integrity break go to a person, never to the engine."""
    r = Receipt.__table__  # type: ignore[attr-defined]
    held = session.execute(select(r.c.id, r.c.amount_minor).where(
        r.c.status == ReceiptStatus.HELD)).all()
    if not held:
        return 0
    have = set(session.execute(select(col(ExceptionItem.receipt_id)).where(
        col(ExceptionItem.receipt_id).in_([h[0] for h in held]))).scalars())
    new = [h for h in held if h[0] not in have]
    for rid, amount in new:
        d = DecisionRow(receipt_id=rid, status="exception", exception_reason=HELD_REASON,
                        reason="the statement's balances do not add up; check it before applying",
                        amount_minor=amount, unapplied_minor=amount)
        session.add(d)
        session.flush()
        session.add(ExceptionItem(receipt_id=rid, decision_id=d.id, reason=HELD_REASON))
    return len(new)


def _apply_batch(session: Session, batch: list[Any], info: dict[int, dict], open_now: dict[int, int],
                 run_id: int | None, summary: MatchSummary) -> None:
    """Write one batch of decisions through the driver: the matcher's hot path."""
    now = utcnow()
    conn = session.connection()
    deltas: Counter[int] = Counter()
    for d in batch:
        for a in d.allocations:
            deltas[a.item_id] += a.amount_minor
    _reduce_open_amounts(conn, deltas, open_now)
    ids = _insert_decisions(conn, [_decision_row(d, info[d.receipt_id], run_id, now) for d in batch])
    allocs: list[tuple] = []
    excs: list[tuple] = []
    statuses: list[tuple] = []
    learned: list[tuple[str, dict]] = []
    for d, did in zip(batch, ids, strict=True):
        rec = info[d.receipt_id]
        statuses.append((_receipt_status(d), d.receipt_id, _UNMATCHED))
        summary.by_rule[d.rule_id or "-"] = summary.by_rule.get(d.rule_id or "-", 0) + 1
        if d.status == "auto":
            summary.auto += 1
            ccy = rec["currency"]
            summary.applied_minor[ccy] = summary.applied_minor.get(ccy, 0) + d.applied_minor
            allocs += [(did, d.receipt_id, a.item_id, a.customer_id, a.document_number, ccy,
                        a.amount_minor, rec["booking_date"], now) for a in d.allocations]
            if (d.rule_id or "").startswith(LEARN_FROM_RULES) and d.customer_id:
                learned.append((d.customer_id, rec))
        elif d.status == "exception":
            summary.exceptions += 1
            excs.append((d.receipt_id, did, d.exception_reason or "NO_CANDIDATE", "open", 1, now, now))
        else:
            summary.ignored += 1
    if allocs:
        # Same transaction as the allocations: the ERP hears of every one of them, exactly once.
        enqueue_new_allocations(session, _insert_allocations(conn, allocs, info))
    bulk_insert(conn, ExceptionItem.__table__, _EXCEPTION_COLUMNS, excs)  # type: ignore[attr-defined]
    conn.exec_driver_sql(driver_sql(
        conn, "UPDATE receipt SET status = ?, version = version + 1 WHERE id = ? AND status = ?"), statuses)
    learn_aliases(session, learned)


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


@dataclass(slots=True)
class _NewAllocation:
    """An allocation just written, with what its ERP posting needs (``allocation_payload``)."""

    id: int
    decision_id: int
    receipt_id: int
    item_id: int
    customer_id: str
    document_number: str
    currency: str
    amount_minor: int
    effective_date: date
    account: str
    bank_reference: str | None
    reverses_id: int | None = None


def _insert_allocations(conn: Any, rows: list[tuple], info: dict[int, dict]) -> list[_NewAllocation]:
    """Insert the batch's allocations and give them back with their ids, in insertion order."""
    before = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM allocation").scalar_one()
    bulk_insert(conn, Allocation.__table__, _ALLOCATION_COLUMNS, rows)  # type: ignore[attr-defined]
    lo, hi = min(r[0] for r in rows), max(r[0] for r in rows)
    ids: dict[tuple[int, int], list[int]] = {}
    for aid, did, iid in conn.exec_driver_sql(driver_sql(
            conn, "SELECT id, decision_id, item_id FROM allocation WHERE id > ? AND decision_id BETWEEN ? AND ? "
            "ORDER BY id"), (before, lo, hi)):
        ids.setdefault((did, iid), []).append(aid)
    out = []
    for did, rid, iid, cid, doc, ccy, amount, eff, _ in rows:
        rec = info[rid]
        out.append(_NewAllocation(ids[(did, iid)].pop(0), did, rid, iid, cid, doc, ccy, amount, eff,
                                  rec["account"], rec["bank_reference"]))
    return out


def _receipt_status(d: Any) -> str:
    if d.status == "auto":
        return ReceiptStatus.PARTIAL if d.unapplied_minor > 0 else ReceiptStatus.APPLIED
    if d.status == "exception":
        return ReceiptStatus.EXCEPTION
    return ReceiptStatus.IGNORED


def _reduce_open_amounts(conn: Any, deltas: Counter[int], open_now: dict[int, int]) -> None:
    if not deltas:
        return
    params = []
    for item_id, delta in deltas.items():
        before = open_now[item_id]
        params.append((before - delta, item_id, before))
        open_now[item_id] = before - delta
    result = conn.exec_driver_sql(driver_sql(
        conn, "UPDATE open_item SET open_amount_minor = ?, version = version + 1 "
        "WHERE id = ? AND open_amount_minor = ?"), params)
    if result.rowcount is not None and result.rowcount >= 0 and result.rowcount != len(params):
        raise Conflict("open items changed while matching; run match again",
                       code="CASHAPP_STALE_VERSION")


def _insert_decisions(conn: Any, rows: list[tuple]) -> list[int]:
    """Insert the decision rows and give their ids in the same order.

    A plain executemany, then one range read of this run's new rows: SQLite executes an
    ordered INSERT ... RETURNING one row at a time, which dominated the whole match.
    """
    if not rows:
        return []
    before = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM decision").scalar_one()
    bulk_insert(conn, DecisionRow.__table__, _DECISION_COLUMNS, rows)  # type: ignore[attr-defined]
    by_receipt = dict(conn.exec_driver_sql(driver_sql(
        conn, "SELECT receipt_id, id FROM decision WHERE id > ? AND run_id = ?"), (before, rows[0][1])).all())
    return [by_receipt[r[0]] for r in rows]


def _decision_row(d: Any, rec: dict, run_id: int | None, now: Any) -> tuple:
    return (
        d.receipt_id, run_id, d.status, d.customer_id, d.rule_id, d.ruleset_version, float(d.score),
        d.reason, d.exception_reason, rec["amount_minor"], d.applied_minor, d.fee_minor,
        d.writeoff_minor, d.unapplied_minor, d.short_minor, str(d.residual_class),
        json.dumps([_plain(s) for s in d.suggestions], default=str) if d.suggestions else "[]",
        True, "engine", now,
    )


def _plain(obj: Any) -> Any:
    try:
        return asdict(obj)
    except TypeError:
        return obj


def _alias_norm(kind: str, value: str) -> str:
    return normalize_account(value) if kind == "iban" else " ".join(value.upper().split())


def learn_aliases(session: Session, learned: list[tuple[str, dict]]) -> int:
    """Remember payer accounts and names of confirmed applications as the customer's aliases.

    An account already known for another customer is not learned (a payment factory or parent
    company paying for several customers must stay ambiguous).
    """
    if not learned:
        return 0
    wanted = [(cid, kind, value, _alias_norm(kind, value)) for cid, rec in learned
              for kind, value in (("iban", rec.get("counterparty_account")),
                                  ("name", rec.get("counterparty_name"))) if value]
    norms = sorted({w[3] for w in wanted})
    known: dict[tuple[str, str], set[str]] = {}
    conn = session.connection()
    for i in range(0, len(norms), 900):  # only the aliases in question, not the whole table
        part = norms[i : i + 900]
        sql = ("SELECT customer_id, kind, value_norm FROM customer_account WHERE value_norm IN ("
               + ", ".join("?" * len(part)) + ")")
        for cid, kind, norm in conn.exec_driver_sql(driver_sql(conn, sql), tuple(part)):
            known.setdefault((kind, norm), set()).add(cid)
    rows = []
    for cid, kind, value, norm in wanted:
        owners = known.setdefault((kind, norm), set())
        if owners:  # known already, for this customer or (ambiguously) for another
            continue
        owners.add(cid)
        rows.append((cid, kind, value[:300], norm[:300], "learned"))
    return bulk_insert(conn, CustomerAccount.__table__,  # type: ignore[attr-defined]
                       ("customer_id", "kind", "value", "value_norm", "source"), rows)
