"""``cashrecon export applications``: one CSV row per allocated document, one per exception."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models import Allocation, DecisionRow, Receipt, StatementRow
from shared.db import driver_sql
from shared.money import format_minor

APPLICATION_COLUMNS = (
    "bank_reference", "statement_account", "booking_date", "receipt_amount", "currency", "status",
    "customer_id", "document_number", "applied_amount", "residual_class", "rule", "score",
    "receipt_id", "fee_amount", "writeoff_amount", "unapplied_amount", "exception_reason", "reason",
)


_ROWS_SQL = (
    "SELECT d.id, d.receipt_id, d.status, d.customer_id, d.rule_id, d.score, d.amount_minor, "
    "d.fee_minor, d.writeoff_minor, d.unapplied_minor, d.residual_class, d.exception_reason, "
    "d.reason, r.bank_reference, r.booking_date, r.currency, s.account "
    "FROM decision d JOIN receipt r ON r.id = d.receipt_id JOIN statement s ON s.id = r.statement_id "
    "WHERE d.is_current = ? AND d.status IN ('auto', 'exception', 'manual') "
    "ORDER BY d.receipt_id, d.id"
)
_ALLOCS_SQL = ("SELECT decision_id, document_number, amount_minor FROM allocation "
               "WHERE reverses_id IS NULL ORDER BY id")


def _driver_rows(session: Session, sql: str, params: tuple = ()) -> Iterator[tuple]:
    """Rows straight from the driver's cursor, fetched in blocks (exports can be large)."""
    conn = session.connection()
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(driver_sql(conn, sql), params)
        while block := cur.fetchmany(5000):
            yield from block
    finally:
        cur.close()


def application_rows(session: Session) -> Iterator[list[Any]]:
    """Rows of the applications export (``APPLICATION_COLUMNS`` order), in receipt order."""
    allocs: dict[int, list[tuple[str, int]]] = {}
    for did, doc, amount in _driver_rows(session, _ALLOCS_SQL):
        allocs.setdefault(did, []).append((doc, amount))
    fmt = format_minor
    for (did, rid, status, cust, rule, score, amount, fee, wo, unapplied, rc, exc, reason, ref,
         booked, ccy, account) in _driver_rows(session, _ROWS_SQL, (True,)):
        booking = booked if isinstance(booked, str) else booked.isoformat()
        head = [ref or "", account, booking[:10], fmt(amount, ccy), ccy, status, cust or ""]
        tail = [rc, rule or "", f"{score:.3f}", rid, fmt(fee, ccy), fmt(wo, ccy), fmt(unapplied, ccy),
                exc or "", reason]
        for doc, applied in allocs.get(did) or (("", 0),):
            yield [*head, doc, fmt(applied, ccy), *tail]


def export_applications(engine: Engine, out: Path) -> int:
    """Write the CSV atomically (temp file + rename); returns the number of rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    n = 0
    with Session(engine) as session, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(APPLICATION_COLUMNS)
        for row in application_rows(session):
            writer.writerow(row)
            n += 1
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
