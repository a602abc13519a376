"""Dry run: how would the decisions change under a new rule set? Nothing is applied (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from services.cashapp.domain.decision import Decision
from services.cashapp.domain.engine import match
from services.cashapp.domain.rules import RuleSet


@dataclass(frozen=True, slots=True)
class DecisionChange:
    """One receipt whose status, rule, customer or documents would change."""

    receipt_id: int
    status_before: str | None  # None: the receipt had no decision yet
    status_after: str
    rule_before: str | None
    rule_after: str
    customer_before: str | None
    customer_after: str | None
    documents_before: tuple[str, ...]
    documents_after: tuple[str, ...]
    exception_before: str | None
    exception_after: str | None
    reason_after: str


@dataclass(frozen=True, slots=True)
class DryRunReport:
    """Counts by status before and after, and every per-receipt change."""

    version_before: str | None
    version_after: str
    receipts: int
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    changes: tuple[DecisionChange, ...]
    unchanged: int
    decisions: tuple[Decision, ...]  # the re-scored decisions, for inspection only

    def changes_frame(self) -> pl.DataFrame:
        """The changes as a frame (documents joined with ``|``)."""
        rows = [
            {
                **{k: getattr(c, k) for k in DecisionChange.__slots__},  # type: ignore[attr-defined]
                "documents_before": "|".join(c.documents_before),
                "documents_after": "|".join(c.documents_after),
            }
            for c in self.changes
        ]
        schema: dict[str, Any] = {k: pl.Utf8 for k in DecisionChange.__slots__}  # type: ignore[attr-defined]
        schema["receipt_id"] = pl.Int64
        return pl.DataFrame(rows, schema=schema)

    def summary(self) -> str:
        """A few lines for a terminal: counts before -> after and the number of changes."""
        statuses = sorted(set(self.counts_before) | set(self.counts_after))
        lines = [f"rules {self.version_before or '-'} -> {self.version_after}: {self.receipts} receipts"]
        for s in statuses:
            lines.append(f"  {s:<10} {self.counts_before.get(s, 0):>8} -> {self.counts_after.get(s, 0):>8}")
        lines.append(f"  changed {len(self.changes)}, unchanged {self.unchanged}")
        return "\n".join(lines)


def _before(current: pl.DataFrame) -> dict[int, tuple[str, str, str | None, tuple[str, ...], str | None]]:
    out: dict[int, tuple[str, str, str | None, tuple[str, ...], str | None]] = {}
    if current.is_empty():
        return out
    cols = ["receipt_id", "status", "rule_id", "customer_id", "document_number", "exception_reason"]
    present = [c for c in cols if c in current.columns]
    frame = current.select(present).with_columns(
        [pl.lit(None, pl.Utf8).alias(c) for c in cols if c not in current.columns]
    )
    grouped = frame.group_by("receipt_id", maintain_order=True).agg(
        pl.col("status").first(),
        pl.col("rule_id").first(),
        pl.col("customer_id").first(),
        pl.col("document_number").drop_nulls().sort(),
        pl.col("exception_reason").first(),
    )
    for rid, status, rule, cust, docs, exc in grouped.iter_rows():
        out[rid] = (status, rule, cust, tuple(docs), exc)
    return out


def dry_run(
    receipts: pl.DataFrame,
    open_items: pl.DataFrame,
    customers: pl.DataFrame,
    accounts: pl.DataFrame,
    current_decisions: pl.DataFrame,
    new_rules: RuleSet,
    as_of: date,
) -> DryRunReport:
    """Re-score ``receipts`` under ``new_rules`` and compare with ``current_decisions``.

    ``current_decisions`` is the frame of :func:`decisions_to_frame` (or the stored equivalent
    with at least ``receipt_id, status, rule_id``; ``customer_id, document_number,
    exception_reason, ruleset_version`` are used when present). ``open_items`` should be the open
    items as they were before the current decisions were applied, so both sides see the same
    world. Nothing is applied: the answer only describes the difference.
    """
    after = match(receipts, open_items, customers, accounts, new_rules, as_of)
    before = _before(current_decisions)
    changes = []
    for d in after:
        docs_after = tuple(sorted(a.document_number for a in d.allocations))
        exc_after = str(d.exception_reason) if d.exception_reason else None
        old = before.get(d.receipt_id)
        now = (str(d.status), d.rule_id, d.customer_id, docs_after, exc_after)
        if old is not None and old[:4] == now[:4]:
            continue
        changes.append(
            DecisionChange(
                d.receipt_id,
                old[0] if old else None,
                now[0],
                old[1] if old else None,
                now[1],
                old[2] if old else None,
                now[2],
                old[3] if old else (),
                docs_after,
                old[4] if old else None,
                exc_after,
                d.reason,
            )
        )
    ids = {d.receipt_id for d in after}
    counts_before = Counter(v[0] for k, v in before.items() if k in ids)
    versions = (
        sorted(set(current_decisions["ruleset_version"].drop_nulls().to_list()))
        if "ruleset_version" in current_decisions.columns
        else []
    )
    return DryRunReport(
        version_before=", ".join(versions) or None,
        version_after=new_rules.version,
        receipts=len(after),
        counts_before=dict(sorted(counts_before.items())),
        counts_after=dict(sorted(Counter(str(d.status) for d in after).items())),
        changes=tuple(changes),
        unchanged=len(after) - len(changes),
        decisions=tuple(after),
    )
