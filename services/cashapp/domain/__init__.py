"""The matching engine: pure functions over polars frames (no database, files, clock or network).

Public API::

    match(receipts, open_items, customers, accounts, rules, as_of) -> list[Decision]
    decisions_to_frame(decisions) -> pl.DataFrame
    dry_run(receipts, open_items, customers, accounts, current_decisions, new_rules, as_of) -> DryRunReport
    load_rules(text) -> RuleSet
"""

from services.cashapp.domain.allocate import ResidualClass
from services.cashapp.domain.decision import (
    Allocation,
    Decision,
    DecisionStatus,
    ExceptionReason,
    Suggestion,
    decisions_to_frame,
)
from services.cashapp.domain.dryrun import DecisionChange, DryRunReport, dry_run
from services.cashapp.domain.engine import match
from services.cashapp.domain.rules import RuleSet, load_rules

__all__ = [
    "Allocation",
    "Decision",
    "DecisionChange",
    "DecisionStatus",
    "DryRunReport",
    "ExceptionReason",
    "ResidualClass",
    "RuleSet",
    "Suggestion",
    "decisions_to_frame",
    "dry_run",
    "load_rules",
    "match",
]
