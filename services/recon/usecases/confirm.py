"""Confirmation runs: snapshot per customer stored immutably, letters, verification.

``create_run`` computes the as-of snapshot from accounting dates (documents dated and
applications effective on or before the cut-off), stores its rows once in ``confirmation_item``
with a hash per customer and for the whole run, then writes the letters from the same rows.
``verify_run`` recomputes both hashes from the stored rows: a posting made later (even back-dated)
changes the ledger, never the stored rows, so verify stays ``ok``; editing a stored row fails it.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, insert, select, update
from sqlmodel import Session

from services.cashapp.models import Customer
from services.recon.domain import SNAPSHOT_COLUMNS, as_of_snapshot, balances, snapshot_hash
from services.recon.models import Confirmation, ConfirmationItem, ConfirmationRun
from services.recon.usecases import ledger
from services.recon.usecases.hashing import customer_hashes
from services.recon.usecases.letters import LetterData, write_customer, write_summary
from shared.db import unit_of_work
from shared.errors import NotFound, ValidationError
from shared.money import format_minor, to_minor

_ITEM = ConfirmationItem.__table__  # type: ignore[attr-defined]
_CONF = Confirmation.__table__  # type: ignore[attr-defined]
_BATCH = 20_000  # rows per executemany: bounded memory, few round trips


@dataclass(frozen=True, slots=True)
class RunResult:
    """What ``create_run`` did."""

    run_id: int
    as_of: date
    customers: int
    items: int
    snapshot_hash: str
    out_dir: Path | None
    letters: int


@dataclass(slots=True)
class VerifyResult:
    """``ok`` or the mismatches found (run hash, customers whose rows changed)."""

    run_id: int
    ok: bool
    expected_hash: str
    actual_hash: str
    customers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"run_id": self.run_id, "ok": self.ok, "expected_hash": self.expected_hash,
                "actual_hash": self.actual_hash, "mismatched_customers": self.customers}


def _filter(snap: pl.DataFrame, min_balance: Decimal | None, customers: list[str] | None,
            segment: str | None) -> tuple[pl.DataFrame, str]:
    """Keep the customers the run is for; returns the frame and a human filter description."""
    text = []
    if customers:
        snap = snap.filter(pl.col("customer_id").is_in(customers))
        text.append(f"customers {', '.join(customers)}")
    if segment:
        # No segment column in the customer master yet: a segment is a glob on the customer id.
        ids = [c for c in snap["customer_id"].unique().to_list() if fnmatch.fnmatchcase(c, segment)]
        snap = snap.filter(pl.col("customer_id").is_in(ids))
        text.append(f"segment {segment}")
    if min_balance is not None:
        keep = {r["customer_id"] for r in balances(snap).iter_rows(named=True)
                if abs(r["balance_minor"]) >= to_minor(min_balance, r["currency"])}
        snap = snap.filter(pl.col("customer_id").is_in(sorted(keep)))
        text.append(f"balance at least {min_balance} in any currency")
    return snap, "; ".join(text) or "all customers"


def _balances_by_customer(snap: pl.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in balances(snap).iter_rows(named=True):
        out.setdefault(str(row["customer_id"]), {})[row["currency"]] = row["balance_minor"]
    return out


def take_snapshot(engine: Engine, as_of: date) -> pl.DataFrame:
    """The as-of snapshot of every customer from the ledger as it is now."""
    with engine.connect() as conn:
        docs = ledger.documents(conn)
        apps = ledger.applications(conn)
    return as_of_snapshot(docs, apps, as_of)


def create_run(engine: Engine, as_of: date, *, min_balance: Decimal | None = None,
               customers: list[str] | None = None, segment: str | None = None,
               out_dir: Path | None = None, letters: bool = True,
               on_write: Callable[[Session, dict[str, Any]], None] | None = None) -> RunResult:
    """Create a confirmation run as of ``as_of`` and (with ``out_dir``) write its files.

    ``letters=False`` writes the CSV/JSON files and summary but no PDF (use :func:`write_letters`
    later, e.g. for a big run). Raises ``RECON_EMPTY_RUN`` when no customer has an open balance.
    ``on_write(session, summary)`` runs inside the run's transaction (the caller's audit entry
    commits with the run, or neither does).
    """
    snap, description = _filter(take_snapshot(engine, as_of), min_balance, customers, segment)
    if snap.height == 0:
        raise ValidationError(f"no customer has open items as of {as_of} ({description})", code="RECON_EMPTY_RUN")
    run_hash = snapshot_hash(snap)
    hashes = customer_hashes(snap)
    per_customer = _balances_by_customer(snap)
    with unit_of_work(engine, immediate=on_write is not None) as session:
        run = ConfirmationRun(as_of=as_of, filter_description=description, customers=len(hashes),
                              items=snap.height, snapshot_hash=run_hash,
                              out_dir=str(out_dir) if out_dir else None)
        session.add(run)
        session.flush()
        assert run.id is not None
        rows = snap.select(SNAPSHOT_COLUMNS).with_columns(pl.lit(run.id).alias("run_id")).to_dicts()
        for start in range(0, len(rows), _BATCH):
            session.execute(insert(_ITEM), rows[start:start + _BATCH])
        confs = [{"run_id": run.id, "customer_id": c, "status": "issued", "snapshot_hash": h,
                  "balances_json": json.dumps(per_customer.get(c, {}), sort_keys=True)}
                 for c, h in sorted(hashes.items())]
        for start in range(0, len(confs), _BATCH):
            session.execute(insert(_CONF), confs[start:start + _BATCH])
        run_id = run.id
        if on_write is not None:
            on_write(session, {"run_id": run_id, "as_of": as_of.isoformat(), "filter": description,
                               "customers": len(hashes), "items": snap.height, "snapshot_hash": run_hash})
    written = write_letters(engine, run_id, out_dir, pdf=letters, snapshot=snap) if out_dir else 0
    return RunResult(run_id, as_of, len(hashes), snap.height, run_hash, out_dir, written)


def stored_snapshot(engine: Engine, run_id: int, customers: list[str] | None = None) -> pl.DataFrame:
    """The stored snapshot rows of a run (:data:`SNAPSHOT_COLUMNS`)."""
    cols = [getattr(_ITEM.c, c) for c in SNAPSHOT_COLUMNS]
    stmt = select(*cols).where(_ITEM.c.run_id == run_id)
    if customers is not None:
        stmt = stmt.where(_ITEM.c.customer_id.in_(customers))
    schema = dict(zip(SNAPSHOT_COLUMNS, (pl.String, pl.Int64, pl.String, pl.String, pl.Date, pl.Date,
                                         pl.String, pl.Int64, pl.Int64), strict=True))
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(stmt)]
    return pl.DataFrame(rows, schema=schema, orient="row")


def get_run(engine: Engine, run_id: int) -> ConfirmationRun:
    """The run or ``NOT_FOUND``."""
    with unit_of_work(engine) as session:
        run = session.get(ConfirmationRun, run_id)
        if run is None:
            raise NotFound(f"confirmation run {run_id} not found", code="RECON_RUN_NOT_FOUND")
        session.expunge(run)
        return run


def write_letters(engine: Engine, run_id: int, out_dir: Path, *, pdf: bool = True,
                  customers: list[str] | None = None, snapshot: pl.DataFrame | None = None) -> int:
    """Write (or rewrite) the files of a run's customers from the stored rows; returns how many."""
    run = get_run(engine, run_id)
    snap = snapshot if snapshot is not None else stored_snapshot(engine, run_id, customers)
    with unit_of_work(engine) as session:
        cust = Customer.__table__  # type: ignore[attr-defined]
        names: dict[str, str] = {
            str(c): str(n) for c, n in session.execute(select(cust.c.customer_id, cust.c.customer_name))}
        confs = {c: (h, json.loads(b)) for c, h, b in session.execute(
            select(_CONF.c.customer_id, _CONF.c.snapshot_hash, _CONF.c.balances_json).where(_CONF.c.run_id == run_id))}
    written, paths = 0, []
    parts = snap.partition_by("customer_id", as_dict=True) if snap.height else {}
    for (customer,), part in sorted(parts.items()):
        if customer not in confs:
            continue
        data = LetterData(run_id, run.as_of, customer, names.get(customer, customer), part.to_dicts(),
                          confs[customer][1], confs[customer][0])
        letter = write_customer(out_dir, data, pdf=pdf)
        paths.append({"c": customer, "p": str(letter) if pdf else None})
        written += 1
    with unit_of_work(engine) as session:
        if paths:
            from sqlalchemy import bindparam

            session.execute(update(_CONF).where(_CONF.c.run_id == run_id,
                                                _CONF.c.customer_id == bindparam("c"))
                            .values(letter_path=bindparam("p")), paths)
    write_summary(out_dir, _summary(run, confs, written))
    return written


def _summary(run: ConfirmationRun, confs: dict[str, tuple[str, dict[str, int]]], written: int) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for _, bal in confs.values():
        for cur, minor in bal.items():
            totals[cur] = totals.get(cur, 0) + minor
    return {
        "run_id": run.id, "as_of": run.as_of.isoformat(), "filter": run.filter_description,
        "customers": run.customers, "items": run.items, "snapshot_hash": run.snapshot_hash,
        "files_written": written,
        "balance_by_currency": {c: format_minor(v, c) for c, v in sorted(totals.items())},
    }


def verify_run(engine: Engine, run_id: int) -> VerifyResult:
    """Recompute the run's and every customer's hash from the stored rows and compare."""
    run = get_run(engine, run_id)
    snap = stored_snapshot(engine, run_id)
    actual = snapshot_hash(snap)
    with engine.connect() as conn:
        stored = {str(c): str(h) for c, h in conn.execute(
            select(_CONF.c.customer_id, _CONF.c.snapshot_hash).where(_CONF.c.run_id == run_id))}
    now = customer_hashes(snap)
    bad = sorted(c for c in set(stored) | set(now) if stored.get(c) != now.get(c))
    return VerifyResult(run_id, actual == run.snapshot_hash and not bad, run.snapshot_hash, actual, bad)
