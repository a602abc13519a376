"""``cashrecon export applications``: one CSV row per allocated document, one per exception."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    d, r, s = (m.__table__ for m in (DecisionRow, Receipt, StatementRow))  # type: ignore[attr-defined]
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
