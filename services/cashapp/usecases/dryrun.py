"""Dry run of a new rule set over the stored receipts. Reads only; applies nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from services.cashapp.domain.dryrun import dry_run
from services.cashapp.domain.rules import RuleSet
from services.cashapp.models import Allocation, DecisionRow, ReceiptStatus
from services.cashapp.usecases.match import load_inputs

RESCORED = (ReceiptStatus.UNMATCHED, ReceiptStatus.APPLIED, ReceiptStatus.PARTIAL,
            ReceiptStatus.EXCEPTION)


def _current_decisions(session: Session) -> pl.DataFrame:
    d, a = DecisionRow.__table__, Allocation.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(d.c.receipt_id, d.c.status, d.c.rule_id, d.c.customer_id, a.c.document_number,
               d.c.exception_reason, d.c.ruleset_version)
        .outerjoin(a, a.c.decision_id == d.c.id).where(d.c.is_current.is_(True))).all()
    cols = ["receipt_id", "status", "rule_id", "customer_id", "document_number",
            "exception_reason", "ruleset_version"]
    schema = {c: pl.Utf8 for c in cols} | {"receipt_id": pl.Int64}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def dry_run_report(engine: Engine, rules: RuleSet, as_of: date) -> dict[str, Any]:
    """Re-score every stored, decidable receipt under ``rules`` against the open items as they
    were before the current decisions, and report the differences (for CLI and API)."""
    with Session(engine) as session:
        a = Allocation.__table__  # type: ignore[attr-defined]
        applied = {item: total for item, total in session.execute(
            select(a.c.item_id, func.sum(a.c.amount_minor)).group_by(a.c.item_id))}
        receipts, items, customers, accounts = load_inputs(
            session, RESCORED, restore={int(k): int(v) for k, v in applied.items()})
        current = _current_decisions(session)
    report = dry_run(receipts, items, customers, accounts, current, rules, as_of)
    return {
        "ruleset_before": report.version_before, "ruleset_after": report.version_after,
        "receipts": report.receipts, "before": report.counts_before, "after": report.counts_after,
        "changed": len(report.changes), "unchanged": report.unchanged,
        "changes": [
            {"receipt_id": c.receipt_id,
             "before": (f"{c.status_before or '-'} {c.rule_before or ''} "
                        f"{'|'.join(c.documents_before)}").strip(),
             "after": f"{c.status_after} {c.rule_after} {'|'.join(c.documents_after)}".strip(),
             "customer_before": c.customer_before, "customer_after": c.customer_after,
             "reason_after": c.reason_after}
            for c in report.changes],
    }
