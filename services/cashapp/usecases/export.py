"""``cashrecon export applications``: one CSV row per allocated document, one per exception."""

from __future__ import annotations

import csv
import gc
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models import Allocation, DecisionRow, Receipt, StatementRow
from shared.db import driver_sql
from shared.money import minor_formatter

APPLICATION_COLUMNS = (
    "bank_reference", "statement_account", "booking_date", "receipt_amount", "currency", "status",
    "customer_id", "document_number", "applied_amount", "residual_class", "rule", "score",
    "receipt_id", "fee_amount", "writeoff_amount", "unapplied_amount", "exception_reason", "reason",
)


_ROWS_SQL = (
    "SELECT d.id, d.receipt_id, d.status, d.customer_id, d.rule_id, d.score, d.amount_minor, "
    "d.fee_minor, d.writeoff_minor, d.unapplied_minor, d.residual_class, d.exception_reason, "
    "d.reason, r.bank_reference, r.booking_date, r.currency, r.statement_id "
    "FROM decision d JOIN receipt r ON r.id = d.receipt_id "
    "WHERE d.is_current = ? AND d.status IN ('auto', 'exception', 'manual') "
    "ORDER BY d.receipt_id, d.id"
)
_ACCOUNTS_SQL = "SELECT id, account FROM statement"
_BLOCK = 5000
_ALLOCS_SQL = ("SELECT decision_id, document_number, amount_minor FROM allocation "
               "WHERE reverses_id IS NULL ORDER BY id")


def _driver_blocks(session: Session, sql: str, params: tuple = ()) -> Iterator[list[tuple]]:
    """Rows straight from the driver's cursor, in blocks (exports can be large)."""
    conn = session.connection()
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(driver_sql(conn, sql), params)
        while block := cur.fetchmany(_BLOCK):
            yield block
    finally:
        cur.close()


def csv_field(value: str | None) -> str:
    """``value`` as ``csv.writer`` (default dialect) writes it: ``None`` empty, and quoted, with
    quotes doubled, when it holds a comma, a quote, CR or LF."""
    if value is None:
        return ""
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


class _Dates(dict[Any, str]):
    """Booking dates as written (``YYYY-MM-DD``; SQLite returns text, PostgreSQL ``date``)."""

    def __missing__(self, booked: Any) -> str:
        text = self[booked] = (booked if isinstance(booked, str) else booked.isoformat())[:10]
        return text


class _Scores(dict[Any, str]):
    """``f"{score:.3f}"`` memoised (scores repeat). Only for non-zero scores: ``0.0 == -0.0``
    would share one entry although they format differently."""

    def __missing__(self, score: Any) -> str:
        text = self[score] = f"{score:.3f}"
        return text


class _Currencies(dict[Any, tuple[Callable[[int], str], str]]):
    """Per currency: its ``format_minor`` and its formatted 0 (fee, write-off and unapplied
    amounts nearly always are)."""

    def __missing__(self, currency: str) -> tuple[Callable[[int], str], str]:
        fmt = minor_formatter(currency)
        entry = self[currency] = (fmt, fmt(0))
        return entry


_PRE_SEPARATORS = len(APPLICATION_COLUMNS) - 2  # commas between the fields before the reason


def _line_blocks(session: Session) -> Iterator[list[str]]:
    """The export's CSV lines (``APPLICATION_COLUMNS`` order, ``\\r\\n``-terminated), in blocks.

    Byte for byte what ``csv.writer`` writes for the rows, built without it (its per-field work
    was most of the export's time). The fields before the reason are joined as they are and the
    result checked: with exactly the separators it was given and no quote, CR or LF, none of them
    needed quoting, so it is the writer's text; otherwise it is rebuilt field by field with
    ``csv_field``. ``None`` is written empty, as the writer does. Statement accounts come from
    one look-up table rather than a join per row (a receipt's statement always exists: it is a
    foreign key; a row without one is left out, as the join did).
    """
    allocs: dict[int, list[tuple]] = {}
    get = allocs.get
    for block in _driver_blocks(session, _ALLOCS_SQL):
        for alloc in block:  # (decision_id, document_number, amount_minor), in id order
            got = get(alloc[0])
            if got is None:
                allocs[alloc[0]] = [alloc]
            else:
                got.append(alloc)
    accounts = {sid: account for block in _driver_blocks(session, _ACCOUNTS_SQL)
                for sid, account in block}
    none = ((None, "", 0),)
    currencies, dates, scores = _Currencies(), _Dates(), _Scores()
    for block in _driver_blocks(session, _ROWS_SQL, (True,)):
        lines: list[str] = []
        add = lines.append
        for (did, rid, status, cust, rule, score, amount, fee, wo, unapplied, rc, exc, reason, ref,
             booked, ccy, statement) in block:
            account = accounts.get(statement)
            if account is None:
                continue
            fmt, zero = currencies[ccy]
            amt, booking, sc = fmt(amount), dates[booked], scores[score] if score else f"{score:.3f}"
            fee = zero if fee == 0 else fmt(fee)
            wo = zero if wo == 0 else fmt(wo)
            unapplied = zero if unapplied == 0 else fmt(unapplied)
            reason = csv_field(reason)
            for _, doc, applied in get(did) or none:
                fields = (ref or "", account, booking, amt, ccy or "", status or "", cust or "",
                          doc or "", amt if applied == amount else zero if applied == 0 else fmt(applied),
                          rc or "", rule or "", sc, str(rid), fee, wo, unapplied, exc or "")
                pre = ",".join(fields)
                if pre.count(",") != _PRE_SEPARATORS or '"' in pre or "\n" in pre or "\r" in pre:
                    pre = ",".join(map(csv_field, fields))
                add(f"{pre},{reason}\r\n")
        yield lines
        if len(scores) > 10_000:  # bound the memory of very large exports
            scores.clear()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off (restoring its state after).

    An export allocates a tuple per fetched row and keeps a list per allocated decision, but
    makes no reference cycles: the collector's passes over those objects cost about a fifth of
    the export's time and would free nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def export_applications(engine: Engine, out: Path) -> int:
    """Write the CSV atomically (temp file + rename); returns the number of rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    n = 0
    with (_gc_paused(), Session(engine) as session,
          tmp.open("w", newline="", encoding="utf-8") as fh):
        csv.writer(fh).writerow(APPLICATION_COLUMNS)
        for lines in _line_blocks(session):
            fh.write("".join(lines))
            n += len(lines)
    os.replace(tmp, out)
    return n


def decision_frames(session: Session) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Current decisions as polars frames keyed like a bank statement line.

    ``(decisions, suggestions)``: one row per allocated document (``bank_reference,
    statement_account, status, customer_id, document_number, applied_amount_minor,
    residual_class, rule, score``) and one row per ranked suggestion (``bank_reference,
    statement_account, rank, document_numbers``): the shapes ``shared.synth.evaluate`` reads.
    """
    d, r, s = (m.__table__ for m in (DecisionRow, Receipt, StatementRow))  # type: ignore[union-attr]
    a = Allocation.__table__  # type: ignore[attr-defined]
    q = (select(r.c.bank_reference, s.c.account, d.c.status, d.c.customer_id, a.c.document_number,
                a.c.amount_minor, d.c.residual_class, d.c.rule_id, d.c.score, d.c.suggestions_json)
         .join(r, r.c.id == d.c.receipt_id).join(s, s.c.id == r.c.statement_id)
         .outerjoin(a, (a.c.decision_id == d.c.id) & a.c.reverses_id.is_(None))
         .where(d.c.is_current.is_(True)))
    rows, sugg, seen = [], [], set()
    for ref, acct, status, cust, doc, amt, rc, rule, score, sj in session.execute(q):
        rows.append((ref, acct, status, cust, doc, amt, rc, rule, score))
        if (ref, acct) not in seen:
            seen.add((ref, acct))
            for rank, sg in enumerate(json.loads(sj or "[]")[:3], start=1):
                sugg.append((ref, acct, rank, list(sg.get("document_numbers") or [])))
    decisions = pl.DataFrame(rows, orient="row", schema={
        "bank_reference": pl.Utf8, "statement_account": pl.Utf8, "status": pl.Utf8,
        "customer_id": pl.Utf8, "document_number": pl.Utf8, "applied_amount_minor": pl.Int64,
        "residual_class": pl.Utf8, "rule": pl.Utf8, "score": pl.Float64})
    suggestions = pl.DataFrame(sugg, orient="row", schema={
        "bank_reference": pl.Utf8, "statement_account": pl.Utf8, "rank": pl.Int64,
        "document_numbers": pl.List(pl.Utf8)})
    return decisions, suggestions
