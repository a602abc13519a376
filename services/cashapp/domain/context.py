"""Per-receipt state shared by the strategies: the receipt, its evidence, the run context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from services.cashapp.domain.allocate import Book, Fit, Tolerance
from services.cashapp.domain.decision import ExceptionReason
from services.cashapp.domain.explain import Hit
from services.cashapp.domain.rules import (
    AmountExact,
    AmountSubset,
    AmountTolerance,
    NonAr,
    PayerName,
    ReferenceFuzzy,
    RuleSet,
)
from services.cashapp.domain.scoring import Candidate


@dataclass(slots=True)
class Receipt:
    receipt_id: int
    amount: int
    currency: str
    booked: date
    payer_name: str | None
    payer_account: str | None


@dataclass(slots=True)
class Evidence:
    """What the vectorised phase found for one receipt, plus notes made while evaluating it."""

    hits: list[Hit] = field(default_factory=list)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (customer, master|learned)
    names: list[tuple[str, float, str]] = field(default_factory=list)  # (customer, similarity, name)
    non_ar: str | None = None
    notes: set[ExceptionReason] = field(default_factory=set)
    # The customers the amount rules look at (amount_rules._customers), once worked out.
    who: list[tuple[str, float, Callable[[], str]]] | None = None


class Context:
    """Run-wide state shared by the strategies: the book, the rules, resolved settings."""

    def __init__(self, book: Book, rules: RuleSet) -> None:
        self.book = book
        self.rules = rules
        # Settings resolved once per run (the per-receipt loop reads them tens of thousands of times).
        self.fuzzy_cfg: ReferenceFuzzy = rules.settings(ReferenceFuzzy)
        self.exact_cfg: AmountExact = rules.settings(AmountExact)
        self.subset_cfg: AmountSubset = rules.settings(AmountSubset)
        self.tolerance_cfg: AmountTolerance = rules.settings(AmountTolerance)
        self.non_ar_cfg: NonAr = rules.settings(NonAr)
        name_cfg = rules.enabled(PayerName)
        self.name_cutoff: float = name_cfg.auto_cutoff if name_cfg else 100.0
        self._tol: dict[str, Tolerance] = {}
        self.order: list[str] = rules.order()
        after = self.order[self.order.index("reference.exact") + 1 :] if "reference.exact" in self.order else []
        self.fuzzy_after_exact = "reference.fuzzy" in after

    def tol(self, currency: str) -> Tolerance:
        """Tolerances resolved for ``currency`` (cached)."""
        if currency not in self._tol:
            self._tol[currency] = Tolerance(currency, self.rules)
        return self._tol[currency]


def candidate(
    rule: str, score: float, cust: str | None, fit: Fit, why: Callable[[], str], rank: int, auto_ok: bool = True
) -> Candidate:
    items = tuple([i for i, _ in fit.allocations])
    amounts = tuple([a for _, a in fit.allocations])
    return Candidate(rule, round(score, 4), cust, items, amounts, why, fit=fit, auto_ok=auto_ok, rank=rank)


def suggestion(
    rule: str,
    score: float,
    cust: str | None,
    book: Book,
    idxs: list[int],
    why: Callable[[], str],
    rank: int,
    hint: ExceptionReason | None,
) -> Candidate:
    return Candidate(
        rule,
        round(score, 4),
        cust,
        tuple(idxs),
        tuple([book.open[i] for i in idxs]),
        why,
        auto_ok=False,
        hint=hint,
        rank=rank,
    )


def text(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
