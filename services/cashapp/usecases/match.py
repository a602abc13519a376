"""Apply the engine's decisions: allocations, open amounts, exceptions, learning. Idempotent.

Only receipts still ``unmatched`` (or ``held`` by an integrity break) are read, so running it
again changes nothing. The engine hands out its decisions as it makes them (those its first pass
settles first); each batch of ``batch_size`` is written in one transaction as soon as it is
decided (:mod:`match_write`), while the engine goes on (:mod:`match_behind`): by a writer process
of its own for large runs, else here with the commits behind, on a thread. A batch that fails
rolls back alone and stops the run: the batches before it stay committed, the next run decides
the rest. The open amount of every document is reduced, and every receipt moved on from
``unmatched``, with a compare-and-set, so a concurrent change to an open item or a receipt (a
second run, a clerk) stops the batch (``CASHAPP_STALE_VERSION``) instead of applying cash twice.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.pool import SingletonThreadPool
from sqlmodel import Session, col

from services.cashapp.domain.engine import match_iter
from services.cashapp.domain.rules import RuleSet
from services.cashapp.models import DecisionRow, ExceptionItem, MatchRun, Receipt, ReceiptStatus
from services.cashapp.usecases.match_behind import (
    WriterProcess,
    prepared,
    worth_writer_process,
    write_behind,
    write_inline,
)
from services.cashapp.usecases.match_write import Batch, MatchSummary, ReceiptInfo, prepare_batch, write_batch
from services.recon.cheques import match_open_deposits
from shared.db import driver_sql, unit_of_work

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
# Runs with at least this many receipts write in a process of their own (``match_behind``).
WRITER_PROCESS_MIN = 5_000


def _frame(session: Session, table: str, columns: tuple[str, ...], where: str, params: tuple,
           types: dict[str, Any]) -> pl.DataFrame:
    """Rows straight from the database into typed polars columns (no per-row objects on SQLite).

    ``types`` names the non-text columns; everything else is text. SQLite hands dates over as
    ISO text and booleans as 0/1; PostgreSQL as ``date`` and ``bool``: both end up the same.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return _frame_sqlite(conn, table, columns, where, params, types)
    return _frame_rows(conn, table, columns, where, params, types)


def _frame_rows(conn: Any, table: str, columns: tuple[str, ...], where: str, params: tuple,
                types: dict[str, Any]) -> pl.DataFrame:
    """``_frame`` from the rows of the driver's cursor."""
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


def _frame_sqlite(conn: Any, table: str, columns: tuple[str, ...], where: str, params: tuple,
                  types: dict[str, Any]) -> pl.DataFrame:
    """``_frame`` on SQLite: each column comes as one JSON array (``json_group_array``), decoded
    by polars. One statement (one snapshot, the same row order in every array), and no Python
    object per value: a third of the time of fetching the rows, for the 150,000 open items.
    """
    sql = f"SELECT {', '.join(f'json_group_array({c})' for c in columns)} FROM {table} WHERE {where}"
    cur = conn.connection.driver_connection.cursor()
    try:
        arrays = cur.execute(sql, params).fetchone()
    finally:
        cur.close()
    if arrays[0] == "[]":  # no rows (exploding an empty list would give one null)
        return pl.DataFrame({name: [] for name in columns}, schema={
            name: types.get(name, pl.Utf8) for name in columns})
    decoded = []
    for name in columns:  # one expression a column: polars decodes them side by side
        t = types.get(name, pl.Utf8)
        raw = pl.Utf8 if t == pl.Date else pl.Int64 if t == pl.Boolean else t  # as SQLite stores them
        e = pl.col(name).str.json_decode(pl.List(raw)).explode()
        if t == pl.Date:
            e = e.str.to_date("%Y-%m-%d")
        elif t == pl.Boolean:
            e = e.cast(pl.Boolean)
        decoded.append(e.alias(name))
    return pl.DataFrame({name: [text] for name, text in zip(columns, arrays, strict=True)},
                        schema=dict.fromkeys(columns, pl.Utf8)).select(decoded)


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


def run_match(engine: Engine, rules: RuleSet, as_of: date, batch_size: int = 10_000,
              writer_process_min: int = WRITER_PROCESS_MIN) -> MatchSummary:
    """Decide every unmatched receipt and apply the automatic decisions.

    ``batch_size`` decisions a transaction: each batch rewrites the pages of the open items it
    reduces, spread over the whole table, so fewer and larger batches write less (10,000 ran
    faster than 5,000 on the bench world). A run of at least ``writer_process_min`` receipts
    writes in a writer process of its own, on a machine with a second core (-1: never; see
    :mod:`match_behind`).
    """
    summary = MatchSummary()
    with _gc_paused(), ExitStack() as stack:
        with unit_of_work(engine) as session:
            # A deposit line credits cheques that are receipts of their own: linked to them, it is
            # not cash to apply again (a no-op when there are no cheques).
            match_open_deposits(session)
        in_memory = isinstance(engine.pool, SingletonThreadPool)  # SQLite in memory: one database a thread
        writer = None
        if not in_memory and worth_writer_process(_unmatched(engine), writer_process_min):
            # started now: it gets going while the engine loads and decides (match_behind)
            writer = stack.enter_context(WriterProcess(engine, write_batch))
        with Session(engine) as session:
            receipts, items, customers, accounts = load_inputs(session)
        with unit_of_work(engine) as session:
            run = MatchRun(ruleset_version=rules.version, as_of=as_of)
            session.add(run)
            session.flush()
            summary.run_id = run.id
            summary.held = _queue_held(session)
        # (tuples from whole columns: a dict a row took a tenth of the run's first second)
        columns = [receipts[c].to_list() for c in ("receipt_id", *ReceiptInfo._fields)]
        info = dict(zip(columns[0], map(ReceiptInfo._make, zip(*columns[1:], strict=True)), strict=True))
        open_now = dict(zip(items["item_id"].to_list(), items["open_amount_minor"].to_list(), strict=True))
        # The decisions the first pass settles come first: writing starts while the rest are decided.
        decisions = (match_iter(receipts, items, customers, accounts, rules, as_of, settled_first=True)
                     if receipts.height else iter(()))

        taught: set[tuple[str, str]] = set()

        def prepare(batch: list[Any]) -> Batch:
            return prepare_batch(batch, info, open_now, summary.run_id, summary, taught)

        batches = prepared(decisions, batch_size, prepare)
        if in_memory:
            summary.receipts = write_inline(engine, batches, write_batch)
        elif writer is not None:
            summary.receipts = writer.write(batches)
        else:
            summary.receipts = write_behind(engine, batches, write_batch)
        with unit_of_work(engine) as session:
            done = session.get(MatchRun, summary.run_id)
            assert done is not None
            done.receipts = summary.receipts
            done.auto, done.exceptions, done.ignored = summary.auto, summary.exceptions, summary.ignored
    return summary


@contextmanager
def _gc_paused() -> Iterator[None]:
    # The engine's frames, rows and decisions stay alive for the whole run, and writing a batch
    # makes tens of thousands of small tuples: every few hundred of them the cyclic collector
    # would walk that heap again, for nothing (the run makes no cycles worth collecting).
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _unmatched(engine: Engine) -> int:
    """How many receipts a run would decide (to choose how to write them)."""
    with Session(engine) as session:
        r = Receipt.__table__  # type: ignore[attr-defined]
        return int(session.execute(select(func.count()).where(r.c.status == ReceiptStatus.UNMATCHED)).scalar_one())


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
