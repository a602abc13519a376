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
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlmodel import Session, col

from services.cashapp.domain.engine import match
from services.cashapp.domain.rules import RuleSet
from services.cashapp.models import (
    Allocation,
    Customer,
    CustomerAccount,
    DecisionRow,
    ExceptionItem,
    MatchRun,
    OpenItem,
    Receipt,
    ReceiptStatus,
    utcnow,
)
from services.cashapp.usecases.post import enqueue_decisions
from services.recon.cheques import match_open_deposits
from shared.db import unit_of_work
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


def _frame(session: Session, table: Any, columns: tuple[str, ...], where: Any) -> pl.DataFrame:
    rows = session.execute(select(*(table.c[c] for c in columns)).where(where)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=list(columns), orient="row",
                        infer_schema_length=None)


def load_inputs(session: Session, statuses: tuple[str, ...] = (ReceiptStatus.UNMATCHED,),
                restore: dict[int, int] | None = None) -> tuple[pl.DataFrame, ...]:
    """The engine's four input frames, straight from the database.

    ``restore`` (item id -> amount) adds cash back onto open amounts, to show the engine the
    documents as they were before some decisions were applied (dry runs).
    """
    r, o = Receipt.__table__, OpenItem.__table__  # type: ignore[attr-defined]
    receipts = _frame(session, r, RECEIPT_COLUMNS, r.c.status.in_(statuses))
    receipts = _typed(receipts.rename({"id": "receipt_id"}), {
        "receipt_id": pl.Int64, "amount_minor": pl.Int64, "booking_date": pl.Date,
        "value_date": pl.Date, "is_reversal": pl.Boolean})
    where = o.c.in_snapshot.is_(True)
    if not restore:
        where = where & (o.c.open_amount_minor != 0)
    items = _typed(_frame(session, o, ITEM_COLUMNS, where).rename({"id": "item_id"}), {
        "item_id": pl.Int64, "amount_minor": pl.Int64, "open_amount_minor": pl.Int64,
        "document_date": pl.Date, "due_date": pl.Date})
    if restore:
        back = pl.DataFrame({"item_id": list(restore), "back": list(restore.values())},
                            schema={"item_id": pl.Int64, "back": pl.Int64})
        items = (items.join(back, on="item_id", how="left")
                 .with_columns(pl.col("open_amount_minor") + pl.col("back").fill_null(0))
                 .drop("back").filter(pl.col("open_amount_minor") != 0))
    c, a = Customer.__table__, CustomerAccount.__table__  # type: ignore[attr-defined]
    customers = _frame(session, c, ("customer_id", "customer_name"), c.c.customer_id.is_not(None))
    accounts = _frame(session, a, ("customer_id", "kind", "value", "source"), a.c.id.is_not(None))
    return receipts, items, _utf8(customers), _utf8(accounts)


def _utf8(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.all().cast(pl.Utf8))


def _typed(df: pl.DataFrame, types: dict[str, Any]) -> pl.DataFrame:
    casts = [pl.col(c).cast(t) for c, t in types.items()]
    rest = [pl.col(c).cast(pl.Utf8) for c in df.columns if c not in types]
    return df.with_columns(casts + rest)


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
        "counterparty_name").iter_rows(named=True)}
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
    now = utcnow()
    deltas: Counter[int] = Counter()
    for d in batch:
        for a in d.allocations:
            deltas[a.item_id] += a.amount_minor
    _reduce_open_amounts(session, deltas, open_now)
    decision_rows = [_decision_row(d, info[d.receipt_id], run_id, now) for d in batch]
    ids = _insert_returning_ids(session, decision_rows)
    allocs, excs, statuses, learned = [], [], [], []
    for d, did in zip(batch, ids, strict=True):
        rec = info[d.receipt_id]
        status = _receipt_status(d)
        statuses.append({"rid": d.receipt_id, "new_status": status})
        summary.by_rule[d.rule_id or "-"] = summary.by_rule.get(d.rule_id or "-", 0) + 1
        if d.status == "auto":
            summary.auto += 1
            ccy = rec["currency"]
            summary.applied_minor[ccy] = summary.applied_minor.get(ccy, 0) + d.applied_minor
            allocs += [{"decision_id": did, "receipt_id": d.receipt_id, "item_id": a.item_id,
                        "customer_id": a.customer_id, "document_number": a.document_number,
                        "currency": ccy, "amount_minor": a.amount_minor,
                        "effective_date": rec["booking_date"], "created_at": now}
                       for a in d.allocations]
            if (d.rule_id or "").startswith(LEARN_FROM_RULES) and d.customer_id:
                learned.append((d.customer_id, rec))
        elif d.status == "exception":
            summary.exceptions += 1
            excs.append({"receipt_id": d.receipt_id, "decision_id": did,
                         "reason": d.exception_reason or "NO_CANDIDATE", "status": "open",
                         "version": 1, "created_at": now, "updated_at": now})
        else:
            summary.ignored += 1
    if allocs:
        session.connection().execute(insert(Allocation.__table__), allocs)  # type: ignore[attr-defined]
        # Same transaction as the allocations: the ERP hears of every one of them, exactly once.
        enqueue_decisions(session, [did for d, did in zip(batch, ids, strict=True)
                                    if d.status == "auto"])
    if excs:
        session.connection().execute(insert(ExceptionItem.__table__), excs)  # type: ignore[attr-defined]
    r = Receipt.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        update(r).where(r.c.id == bindparam("rid"), r.c.status == ReceiptStatus.UNMATCHED)
        .values(status=bindparam("new_status"), version=r.c.version + 1), statuses)
    learn_aliases(session, learned)


def _receipt_status(d: Any) -> str:
    if d.status == "auto":
        return ReceiptStatus.PARTIAL if d.unapplied_minor > 0 else ReceiptStatus.APPLIED
    if d.status == "exception":
        return ReceiptStatus.EXCEPTION
    return ReceiptStatus.IGNORED


def _reduce_open_amounts(session: Session, deltas: Counter[int], open_now: dict[int, int]) -> None:
    if not deltas:
        return
    o = OpenItem.__table__  # type: ignore[attr-defined]
    params = []
    for item_id, delta in deltas.items():
        before = open_now[item_id]
        params.append({"iid": item_id, "before": before, "after": before - delta})
        open_now[item_id] = before - delta
    stmt = (update(o).where(o.c.id == bindparam("iid"), o.c.open_amount_minor == bindparam("before"))
            .values(open_amount_minor=bindparam("after"), version=o.c.version + 1))
    result = session.connection().execute(stmt, params)
    if result.rowcount is not None and result.rowcount >= 0 and result.rowcount != len(params):
        raise Conflict("open items changed while matching; run match again",
                       code="CASHAPP_STALE_VERSION")


def _insert_returning_ids(session: Session, rows: list[dict]) -> list[int]:
    """Insert the decision rows and give their ids in the same order.

    A plain executemany, then one look-up by (run, receipt): SQLite executes an ordered
    INSERT ... RETURNING one row at a time, which dominated the whole match.
    """
    t = DecisionRow.__table__  # type: ignore[attr-defined]
    if not rows:
        return []
    conn = session.connection()
    conn.execute(insert(t), rows)
    run_id = rows[0]["run_id"]
    receipt_ids = [r["receipt_id"] for r in rows]
    by_receipt: dict[int, int] = {}
    for i in range(0, len(receipt_ids), 900):
        by_receipt.update(conn.execute(select(t.c.receipt_id, t.c.id).where(
            t.c.run_id == run_id, t.c.receipt_id.in_(receipt_ids[i : i + 900]))).tuples().all())
    return [by_receipt[rid] for rid in receipt_ids]


def _decision_row(d: Any, rec: dict, run_id: int | None, now: Any) -> dict:
    return {
        "receipt_id": d.receipt_id, "run_id": run_id, "status": d.status,
        "customer_id": d.customer_id, "rule_id": d.rule_id, "ruleset_version": d.ruleset_version,
        "score": float(d.score), "reason": d.reason, "exception_reason": d.exception_reason,
        "amount_minor": rec["amount_minor"], "applied_minor": d.applied_minor,
        "fee_minor": d.fee_minor, "writeoff_minor": d.writeoff_minor,
        "unapplied_minor": d.unapplied_minor, "short_minor": d.short_minor,
        "residual_class": str(d.residual_class),
        "suggestions_json": json.dumps([_plain(s) for s in d.suggestions], default=str),
        "is_current": True, "created_by": "engine", "created_at": now,
    }


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
    a = CustomerAccount.__table__  # type: ignore[attr-defined]
    wanted = [(cid, kind, value, _alias_norm(kind, value)) for cid, rec in learned
              for kind, value in (("iban", rec.get("counterparty_account")),
                                  ("name", rec.get("counterparty_name"))) if value]
    norms = sorted({w[3] for w in wanted})
    known: dict[tuple[str, str], set[str]] = {}
    for i in range(0, len(norms), 900):  # only the aliases in question, not the whole table
        for cid, kind, norm in session.execute(select(a.c.customer_id, a.c.kind, a.c.value_norm)
                                               .where(a.c.value_norm.in_(norms[i : i + 900]))):
            known.setdefault((kind, norm), set()).add(cid)
    rows, now = [], utcnow()
    for cid, kind, value, norm in wanted:
        owners = known.setdefault((kind, norm), set())
        if owners:  # known already, for this customer or (ambiguously) for another
            continue
        owners.add(cid)
        rows.append({"customer_id": cid, "kind": kind, "value": value[:300],
                     "value_norm": norm[:300], "source": "learned", "created_at": now})
    if rows:
        session.connection().execute(insert(CustomerAccount.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)
