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
from shared.money import format_minor

APPLICATION_COLUMNS = (
    "bank_reference", "statement_account", "booking_date", "receipt_amount", "currency", "status",
    "customer_id", "document_number", "applied_amount", "residual_class", "rule", "score",
    "receipt_id", "fee_amount", "writeoff_amount", "unapplied_amount", "exception_reason", "reason",
)


def application_rows(session: Session) -> Iterator[dict[str, Any]]:
    """Rows of the applications export, in receipt order."""
    d, r, s = (m.__table__ for m in (DecisionRow, Receipt, StatementRow))  # type: ignore[union-attr]
    a = Allocation.__table__  # type: ignore[attr-defined]
    q = (select(d, r.c.bank_reference, r.c.booking_date, r.c.currency, s.c.account)
         .join(r, r.c.id == d.c.receipt_id).join(s, s.c.id == r.c.statement_id)
         .where(d.c.is_current.is_(True), d.c.status.in_(("auto", "exception", "manual")))
         .order_by(d.c.receipt_id, d.c.id))
    allocs: dict[int, list[Any]] = {}
    for row in session.execute(select(a.c.decision_id, a.c.document_number, a.c.amount_minor)
                               .where(a.c.reverses_id.is_(None)).order_by(a.c.id)):
        allocs.setdefault(row.decision_id, []).append(row)
    for row in session.execute(q):
        ccy = row.currency
        base = {
            "bank_reference": row.bank_reference or "", "statement_account": row.account,
            "booking_date": row.booking_date.isoformat(),
            "receipt_amount": format_minor(row.amount_minor, ccy), "currency": ccy,
            "status": row.status, "customer_id": row.customer_id or "",
            "residual_class": row.residual_class, "rule": row.rule_id or "",
            "score": f"{row.score:.3f}", "receipt_id": row.receipt_id,
            "fee_amount": format_minor(row.fee_minor, ccy),
            "writeoff_amount": format_minor(row.writeoff_minor, ccy),
            "unapplied_amount": format_minor(row.unapplied_minor, ccy),
            "exception_reason": row.exception_reason or "", "reason": row.reason,
        }
        docs = allocs.get(row.id) or [None]
        for al in docs:
            yield {**base, "document_number": al.document_number if al else "",
                   "applied_amount": format_minor(al.amount_minor if al else 0, ccy)}


def export_applications(engine: Engine, out: Path) -> int:
    """Write the CSV atomically (temp file + rename); returns the number of rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    n = 0
    with Session(engine) as session, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=APPLICATION_COLUMNS)
        writer.writeheader()
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
