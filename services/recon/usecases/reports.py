"""Reports: a confirmation run's progress and the AR reports (aging, DSO, unapplied cash, KPIs).

Every report is a dict of polars frames (or plain values) computed by the pure domain from the
ledger as of a date; :mod:`services.recon.usecases.output` writes them as CSV or JSON.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, select

from services.cashapp.models import DecisionRow, ExceptionItem
from services.recon.domain import (
    DEFAULT_BUCKETS,
    aging,
    aging_total,
    as_of_snapshot,
    auto_match_rate,
    balances,
    dso,
    exceptions_by_reason,
    time_to_resolve,
    unapplied_and_on_account,
)
from services.recon.models import Confirmation, ConfirmationDifference
from services.recon.usecases import ledger
from services.recon.usecases.confirm import get_run

OPEN_AGE_DAYS: tuple[int, ...] = (30, 60, 90)
_CONF = Confirmation.__table__  # type: ignore[attr-defined]
_DIFF = ConfirmationDifference.__table__  # type: ignore[attr-defined]


def ledger_snapshot(engine: Engine, as_of: date) -> pl.DataFrame:
    """Open items of every customer as of ``as_of`` from the ledger as it is now."""
    with engine.connect() as conn:
        return as_of_snapshot(ledger.documents(conn), ledger.applications(conn), as_of)


def _age_label(days: int) -> str:
    lower = 0
    for bound in OPEN_AGE_DAYS:
        if days <= bound:
            return f"{lower}-{bound}"
        lower = bound + 1
    return f"{OPEN_AGE_DAYS[-1]}+"


def run_report(engine: Engine, run_id: int, today: date | None = None) -> dict[str, Any]:
    """Response rate, agreed / disagreed counts and values, differences by class, open ageing.

    Values are per currency in minor units. Open confirmations (no reply yet, or disagreed) are
    aged in days since the run was created, up to ``today`` (default: the current UTC date).
    """
    run = get_run(engine, run_id)
    today = today or datetime.now(UTC).date()
    created = run.created_at.date()
    with engine.connect() as conn:
        confs = list(conn.execute(select(_CONF.c.customer_id, _CONF.c.status, _CONF.c.balances_json,
                                         _CONF.c.received_at).where(_CONF.c.run_id == run_id)))
        diffs = list(conn.execute(select(_DIFF.c.difference_class, _DIFF.c.currency, _DIFF.c.difference_minor)
                                  .where(_DIFF.c.run_id == run_id, _DIFF.c.status == "open")))
    counts: Counter[str] = Counter()
    values: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ageing: Counter[str] = Counter()
    for _customer, status, bal, received in confs:
        group = {"closed": "agreed", "agreed": "agreed", "disagreed": "disagreed"}.get(status, "no_reply")
        counts[group] += 1
        counts["replied"] += received is not None
        for cur, minor in json.loads(bal).items():
            values[group][cur] += minor
        if group != "agreed":
            ageing[_age_label((today - created).days)] += 1
    by_class: dict[str, dict[str, Any]] = {}
    for cls, cur, minor in diffs:
        entry = by_class.setdefault(cls, {"count": 0, "difference_minor": defaultdict(int)})
        entry["count"] += 1
        entry["difference_minor"][cur] += minor
    total = len(confs)
    return {
        "run_id": run_id, "as_of": run.as_of.isoformat(), "customers": total,
        "replied": counts["replied"],
        "response_rate_pct": str(round(100 * counts["replied"] / total, 1)) if total else "0.0",
        "agreed": {"count": counts["agreed"], "balance_minor": dict(values["agreed"])},
        "disagreed": {"count": counts["disagreed"], "balance_minor": dict(values["disagreed"])},
        "no_reply": {"count": counts["no_reply"], "balance_minor": dict(values["no_reply"])},
        "differences_by_class": {k: {"count": v["count"], "difference_minor": dict(v["difference_minor"])}
                                 for k, v in sorted(by_class.items())},
        "open_confirmations_by_age_days": dict(sorted(ageing.items())),
    }


def aging_report(engine: Engine, as_of: date, buckets: Sequence[int] = DEFAULT_BUCKETS,
                 snapshot: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """Aging by customer and in total as of ``as_of`` (``by_customer``, ``total``)."""
    snap = snapshot if snapshot is not None else ledger_snapshot(engine, as_of)
    by_customer = aging(snap, as_of, buckets)
    return {"by_customer": by_customer, "total": aging_total(by_customer)}


def credit_sales(engine: Engine, as_of: date) -> pl.DataFrame:
    """Invoiced amounts per customer, currency and month up to ``as_of`` (DSO's credit sales)."""
    with engine.connect() as conn:
        docs = ledger.documents(conn)
    return (
        docs.filter((pl.col("document_date") <= as_of) & (pl.col("document_type") == "invoice"))
        .select("customer_id", "currency", pl.col("document_date").alias("month"),
                pl.col("amount_minor").alias("credit_sales_minor"))
    )


def dso_report(engine: Engine, as_of: date, *, months: int = 3, countback_months: int = 24,
               by_customer: bool = False) -> dict[str, pl.DataFrame]:
    """DSO (standard and count-back) per currency, or per customer and currency."""
    snap = ledger_snapshot(engine, as_of)
    by = ("customer_id", "currency") if by_customer else ("currency",)
    ar = balances(snap).select(*by, pl.col("balance_minor").alias("ar_balance_minor"))
    sales = credit_sales(engine, as_of).select(*by, "month", "credit_sales_minor")
    return {"dso": dso(ar, sales, as_of, months=months, countback_months=countback_months, by=by)}


def unapplied_report(engine: Engine, as_of: date) -> dict[str, pl.DataFrame]:
    """Unapplied cash (cash-application receipts) and on-account / credit-note balances."""
    snap = ledger_snapshot(engine, as_of)
    with engine.connect() as conn:
        cash = ledger.unapplied_receipts(conn).filter(pl.col("receipt_booking_date") <= as_of)
    return {"unapplied": unapplied_and_on_account(snap, cash)}


def decisions_frame(engine: Engine) -> pl.DataFrame:
    """The engine's first decision per receipt, with the resolution time of its exception."""
    de, ex = DecisionRow.__table__, ExceptionItem.__table__  # type: ignore[attr-defined]
    stmt = (
        select(de.c.receipt_id, de.c.created_at, de.c.rule_id, de.c.status, de.c.exception_reason,
               ex.c.status, ex.c.updated_at, ex.c.reason)
        .select_from(de.outerjoin(ex, ex.c.receipt_id == de.c.receipt_id))
        .where(de.c.created_by == "engine")
    )
    rows = []
    with engine.connect() as conn:
        for rid, created, rule, status, reason, ex_status, ex_updated, ex_reason in conn.execute(stmt):
            created = _naive(created)
            resolved = _naive(ex_updated) if ex_status == "resolved" else None
            rows.append((rid, created.date(), rule, status, reason or ex_reason, created, resolved))
    frame = pl.DataFrame(rows, orient="row", schema={
        "receipt_id": pl.Int64, "date": pl.Date, "rule_id": pl.String, "status": pl.String,
        "exception_reason": pl.String, "created_at": pl.Datetime("us"), "resolved_at": pl.Datetime("us")})
    return frame.sort("created_at", "receipt_id").unique("receipt_id", keep="first", maintain_order=True)


def _naive(value: datetime) -> datetime:
    """UTC without tzinfo: SQLite hands back naive datetimes, PostgreSQL aware ones."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def kpi_report(engine: Engine, as_of: datetime | None = None) -> dict[str, pl.DataFrame]:
    """Auto-match rate by day and by rule, open exceptions by reason and age, time to resolve."""
    frame = decisions_frame(engine)
    at = _naive(as_of or datetime.now(UTC))
    return {
        "auto_match_by_day": auto_match_rate(frame, by=("date",)),
        "auto_match_by_rule": auto_match_rate(frame, by=("rule_id",)),
        "exceptions_by_reason": exceptions_by_reason(frame, at),
        "time_to_resolve": time_to_resolve(frame, by=("exception_reason",)),
    }
