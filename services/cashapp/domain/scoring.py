"""Scores and the choice between candidates.

A score (0..1, never money) says how sure a candidate is. The constants below are the base scores
of each kind of evidence; strategy settings in the rule set can override the amount-rule bases and
the fuzzy factors. The rule set's ``scoring.auto`` threshold (default 0.90) decides what is applied
automatically, and ``scoring.ambiguity_margin`` (default 0.05) what counts as "too close": when a
different candidate scores within the margin of the best, nothing is applied (``AMBIGUOUS``).

Base scores (documented in the README):

==========================================  =====
exact reference, amount equal               1.00
exact reference, payment covers a unique    0.96
subset of the documents mentioned
exact reference, discount or bank charge    0.97
exact reference, short payment              0.95
exact reference, over-payment on account    0.94
exact reference plus a unique completion    0.93
from the customer's other open items
paid from another customer's account and    x 0.95
fitting only within a tolerance
exact reference, amount does not fit        0.60 (suggestion only)
fuzzy reference                             x factor (0.93, or 0.98 when the payer account
                                            belongs to the same customer); a tolerance fit
                                            without that account x 0.92 more (suggestion);
                                            a tolerance fit on a token that is itself another
                                            open document's number x 0.95 more
payer account + unique exact amount         amount.exact score (0.95)
payer account + unique exact subset         amount.subset score (0.92)
payer account + unique item in tolerance    amount.tolerance score (0.91)
payer name                                  x name factor (1.0 at 100 %, 0.95 at the
                                            auto cut-off, below it 0.8 x similarity)
customer known only from a reference        x 0.90 (suggestion level)
only open item with that amount anywhere    0.50 (suggestion only)
==========================================  =====
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from services.cashapp.domain.allocate import Fit
from services.cashapp.domain.decision import ExceptionReason

REF_EXACT = 1.00
REF_TOLERANCE = 0.97
REF_SUBSET = 0.96
REF_SHORT = 0.95
REF_OVER = 0.94
REF_COMPLETION = 0.93
REF_MISMATCH = 0.60
REF_CURRENCY = 0.50
REF_CUSTOMER_FACTOR = 0.90
# A reference paid by someone else's account that fits only within a tolerance (or over-paid).
THIRD_PARTY_TOLERANCE_FACTOR = 0.95
# A fuzzy hit fitting only within a tolerance, with no payer account to confirm it: suggestion level.
WEAK_TOLERANCE_FACTOR = 0.92
# A fuzzy hit whose token is itself another open document's number, fitting only within a
# tolerance, is less convincing (with an exact amount it stands as it is).
FUZZY_SHADOWED_FACTOR = 0.95
GLOBAL_UNIQUE = 0.50
GLOBAL_MANY = 0.35
NAME_AT_CUTOFF = 0.95
NAME_BELOW_CUTOFF = 0.80
_EPS = 1e-9  # the margin is inclusive; floats must not make 0.95 - 0.05 miss 0.90


def name_factor(similarity: float, auto_cutoff: float) -> float:
    """Weight of a payer-name match (similarity 0..100) in a candidate's score."""
    if similarity >= 100.0:
        return 1.0
    if similarity >= auto_cutoff:
        span = max(100.0 - auto_cutoff, 1e-9)
        return NAME_AT_CUTOFF + (1.0 - NAME_AT_CUTOFF) * (similarity - auto_cutoff) / span
    return NAME_BELOW_CUTOFF * similarity / 100.0


@dataclass(slots=True)
class Candidate:
    """One way to explain a receipt: documents (book indexes), how the amount fits, the evidence."""

    rule_id: str
    score: float
    customer_id: str | None
    items: tuple[int, ...]
    amounts: tuple[int, ...]
    why: Callable[[], str]  # the reason, built only for the winner and the suggestions shown
    fit: Fit | None = None
    auto_ok: bool = True
    hint: ExceptionReason | None = None
    rank: int = 0  # position of the strategy in the rule order (earlier wins a merge)

    @property
    def reason(self) -> str:
        """The plain-language reason for a clerk."""
        return self.why()

    @property
    def key(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return self.items, self.amounts


@dataclass(slots=True)
class Outcome:
    """Result of :func:`pick`: a winner to apply, or rivals that are too close (ambiguous)."""

    winner: Candidate | None = None
    rivals: list[Candidate] = field(default_factory=list)


def rank_candidates(cands: list[Candidate]) -> list[Candidate]:
    """Distinct candidates, best first; the same documents proposed twice keep the best proposal."""
    if len(cands) == 1:
        return list(cands)
    best: dict[tuple[tuple[int, ...], tuple[int, ...]], Candidate] = {}
    for c in cands:
        key = (c.items, c.amounts)
        seen = best.get(key)
        if seen is None or (c.score, -c.rank) > (seen.score, -seen.rank):
            best[key] = c
    return sorted(best.values(), key=lambda c: (-c.score, c.rank, c.customer_id or "", c.items))


def pick(cands: list[Candidate], auto: float, margin: float) -> Outcome | None:
    """Decide whether the candidates so far settle the receipt.

    ``None``: keep looking (no candidate reaches ``auto``). An outcome with a winner: apply it.
    An outcome with rivals and no winner: two or more candidates are too close, stop (AMBIGUOUS).
    Candidates with ``auto_ok`` False never win but still count as rivals.
    """
    if len(cands) == 1:  # (the common case, without ranking)
        only = cands[0]
        return Outcome(winner=only) if only.score >= auto and only.auto_ok else None
    if not cands or max([c.score for c in cands]) < auto:
        return None  # the best distinct candidate scores the best score
    ranked = rank_candidates(cands)
    top = ranked[0]
    close = [c for c in ranked[1:] if c.score >= top.score - margin - _EPS]
    if close:
        return Outcome(rivals=[top, *close])
    if not top.auto_ok:
        return None
    return Outcome(winner=top)
