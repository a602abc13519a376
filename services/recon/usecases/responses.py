"""Loading customer replies of a confirmation run and reconciling them with the stored snapshot.

All in one transaction: the reply rows, the confirmation statuses and the classified
differences are stored together or not at all. Agreed customers are closed; the others become
``disagreed`` with their differences open in ``confirmation_difference`` (the cash-application
``exception_item`` is one per receipt and cannot hold a customer's differences). A later reply of
the same customer supersedes the earlier differences (kept, status ``superseded``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, insert, select, update
from sqlmodel import Session

from services.cashapp.models import utcnow
from services.recon.domain import ReconResult, cash_around_cutoff, empty_cash, reconcile_replies
from services.recon.models import Confirmation, ConfirmationDifference, ConfirmationReply
from services.recon.usecases import ledger
from services.recon.usecases.confirm import get_run, stored_snapshot
from services.recon.usecases.reply_file import read_reply
from shared.db import unit_of_work

_CONF = Confirmation.__table__  # type: ignore[attr-defined]
_DIFF = ConfirmationDifference.__table__  # type: ignore[attr-defined]
_REPLY = ConfirmationReply.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class LoadResult:
    """What a reply file did to the run."""

    run_id: int
    kind: str
    rows: int
    agreed: list[str] = field(default_factory=list)
    disagreed: list[str] = field(default_factory=list)
    differences: dict[str, int] = field(default_factory=dict)
    results: list[ReconResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"run_id": self.run_id, "kind": self.kind, "rows": self.rows, "agreed": self.agreed,
                "disagreed": self.disagreed, "differences_by_class": self.differences,
                "results": [r.to_dict() for r in self.results]}


def cash_frames(engine: Engine, cutoff: date, customers: list[str]) -> tuple[pl.DataFrame, ...]:
    """The three cash frames of the domain for ``customers``, with cash-application unapplied cash."""
    with engine.connect() as conn:
        docs = ledger.documents(conn, customers)
        apps = ledger.applications(conn, customers).filter(pl.col("receipt_id").is_not_null())
        loose = ledger.unapplied_receipts(conn).filter(pl.col("customer_id").is_in(customers))
    cash = cash_around_cutoff(docs, apps, cutoff)
    booked = pl.col("receipt_booking_date")
    after = pl.concat([cash.receipts_after_cutoff, loose.filter(booked > cutoff)])
    unapplied = pl.concat([cash.unapplied_cash, loose.filter(booked <= cutoff)])
    before = cash.cleared_before_cutoff if cash.cleared_before_cutoff.height else empty_cash()
    return after, unapplied, before


def load_responses(engine: Engine, run_id: int, path: Path,
                   on_write: Callable[[Session, LoadResult], None] | None = None) -> LoadResult:
    """Read ``path`` (balance or item reply), reconcile every customer in it, store the outcome.

    ``on_write(session, outcome)`` runs inside the storing transaction (the caller's audit entry).
    """
    run = get_run(engine, run_id)
    with engine.connect() as conn:
        known = {str(c) for (c,) in conn.execute(select(_CONF.c.customer_id).where(_CONF.c.run_id == run_id))}
    reply = read_reply(path.read_bytes(), path.name, known)
    customers = sorted(set(reply.frame["customer_id"].to_list()))
    snap = stored_snapshot(engine, run_id, customers)
    after, unapplied, before = cash_frames(engine, run.as_of, customers)
    kwargs = {"item_replies": reply.frame} if reply.kind == "items" else {"balance_replies": reply.frame}
    results = reconcile_replies(snap, receipts_after_cutoff=after, unapplied_cash=unapplied,
                                cleared_before_cutoff=before, **kwargs)
    outcome = LoadResult(run_id, reply.kind, len(reply.raw), results=results)
    _store(engine, run_id, reply.kind, path.name, reply.raw, results, outcome, on_write)
    return outcome


def _store(engine: Engine, run_id: int, kind: str, file_name: str, raw: list[tuple[int, dict[str, str]]],
           results: list[ReconResult], outcome: LoadResult,
           on_write: Callable[[Session, LoadResult], None] | None = None) -> None:
    now = utcnow()
    with unit_of_work(engine, immediate=on_write is not None) as session:
        session.execute(insert(_REPLY), [
            {"run_id": run_id, "customer_id": row["customer_id"], "kind": kind, "line_no": line,
             "raw_json": json.dumps(row, sort_keys=True), "file_name": file_name[:255], "received_at": now}
            for line, row in raw])
        counts: Counter[str] = Counter()
        for result in results:
            customer = str(result.customer_id)
            session.execute(update(_DIFF).where(_DIFF.c.run_id == run_id, _DIFF.c.customer_id == customer,
                                                _DIFF.c.status == "open").values(status="superseded"))
            status = "closed" if result.agreed else "disagreed"
            session.execute(update(_CONF).where(_CONF.c.run_id == run_id, _CONF.c.customer_id == customer)
                            .values(status=status, received_at=now, closed_at=now if result.agreed else None))
            (outcome.agreed if result.agreed else outcome.disagreed).append(customer)
            rows = [_difference_row(run_id, customer, d.to_dict(), now) for d in result.differences]
            counts.update(r["difference_class"] for r in rows)
            if rows:
                session.execute(insert(_DIFF), rows)
        outcome.differences = dict(sorted(counts.items()))
        if on_write is not None:
            on_write(session, outcome)


def _difference_row(run_id: int, customer: str, d: dict[str, Any], now: Any) -> dict[str, Any]:
    return {"run_id": run_id, "customer_id": customer, "difference_class": d["difference_class"],
            "currency": d["currency"], "difference_minor": d["difference_minor"], "our_minor": d["our_minor"],
            "their_minor": d["their_minor"], "item_id": d["item_id"],
            "document_number": d["document_number"] or d["their_document_number"],
            "their_line": d["their_line"], "reason": d["reason"], "status": "open", "created_at": now}
