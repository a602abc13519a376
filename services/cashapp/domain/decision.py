"""What the engine answers: one :class:`Decision` per receipt, and its flat export frame."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from services.cashapp.domain.allocate import ResidualClass


class DecisionStatus(StrEnum):
    AUTO = "auto"  # applied by the engine on its own
    EXCEPTION = "exception"  # queued for a person, with suggestions
    IGNORED = "ignored"  # not a customer receipt (debit, reversal)


class ExceptionReason(StrEnum):
    """Stable codes for why a receipt was not applied automatically."""

    UNKNOWN_PAYER = "UNKNOWN_PAYER"  # no usable reference, payer not recognised
    NON_AR = "NON_AR"  # interest, tax refund, intercompany ... not a customer payment
    AMBIGUOUS = "AMBIGUOUS"  # two or more candidates too close to choose
    NO_CANDIDATE = "NO_CANDIDATE"  # customer known, but no open item fits the amount
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"  # documents referenced, amount outside every tolerance
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"  # documents referenced are in another currency
    ALREADY_CLEARED = "ALREADY_CLEARED"  # referenced documents were cleared earlier in this run
    LOW_CONFIDENCE = "LOW_CONFIDENCE"  # a candidate exists but its score is below the auto threshold


@dataclass(frozen=True, slots=True)
class Allocation:
    """One document cleared by a receipt: ``amount_minor`` is how much it is cleared by."""

    item_id: int
    document_number: str
    customer_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A ranked proposal for a clerk (never applied by the engine)."""

    customer_id: str | None
    item_ids: tuple[int, ...]
    document_numbers: tuple[str, ...]
    amounts: tuple[int, ...]
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one receipt.

    Invariant: ``applied_minor + fee_minor + writeoff_minor + unapplied_minor == amount_minor``.
    ``fee_minor`` is the bank charge borne (negative), ``writeoff_minor`` a discount taken or a
    deduction (negative) or a small over-payment written off (positive), ``unapplied_minor`` what
    stays on account (>= 0). ``short_minor`` is what a short payment left open on the documents
    (information only, not part of the invariant).
    """

    receipt_id: int
    status: DecisionStatus
    currency: str
    amount_minor: int
    customer_id: str | None
    allocations: tuple[Allocation, ...]
    applied_minor: int
    fee_minor: int
    writeoff_minor: int
    unapplied_minor: int
    residual_class: ResidualClass
    short_minor: int
    rule_id: str
    ruleset_version: str
    score: float
    reason: str
    exception_reason: ExceptionReason | None = None
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def balanced(self) -> bool:
        """True when the allocation invariant holds."""
        total = self.applied_minor + self.fee_minor + self.writeoff_minor + self.unapplied_minor
        return total == self.amount_minor and self.applied_minor == sum(a.amount_minor for a in self.allocations)


FRAME_SCHEMA = {
    "receipt_id": pl.Int64,
    "status": pl.Utf8,
    "currency": pl.Utf8,
    "receipt_amount_minor": pl.Int64,
    "customer_id": pl.Utf8,
    "item_id": pl.Int64,
    "document_number": pl.Utf8,
    "document_customer_id": pl.Utf8,
    "allocated_minor": pl.Int64,
    "applied_minor": pl.Int64,
    "fee_minor": pl.Int64,
    "writeoff_minor": pl.Int64,
    "unapplied_minor": pl.Int64,
    "short_minor": pl.Int64,
    "residual_class": pl.Utf8,
    "rule_id": pl.Utf8,
    "ruleset_version": pl.Utf8,
    "score": pl.Float64,
    "reason": pl.Utf8,
    "exception_reason": pl.Utf8,
    "suggestions": pl.Utf8,
}


def _suggestion_text(s: Suggestion) -> str:
    docs = ", ".join(s.document_numbers) or "no document"
    return f"{s.customer_id or '?'}: {docs} ({s.score:.2f})"


def decisions_to_frame(decisions: Iterable[Decision]) -> pl.DataFrame:
    """One row per allocation (receipt-level columns repeated); a receipt without allocations
    (exception, ignored) is one row with null item and document. ``suggestions`` is a short text
    (``C1: INV-1 (0.85) | C2: INV-9 (0.80)``) for exports; the structured form stays on the Decision.
    """
    rows: list[tuple[object, ...]] = []
    for d in decisions:
        head = (d.receipt_id, str(d.status), d.currency, d.amount_minor, d.customer_id)
        tail = (
            d.applied_minor,
            d.fee_minor,
            d.writeoff_minor,
            d.unapplied_minor,
            d.short_minor,
            str(d.residual_class),
            d.rule_id,
            d.ruleset_version,
            d.score,
            d.reason,
            str(d.exception_reason) if d.exception_reason else None,
            " | ".join(_suggestion_text(s) for s in d.suggestions) or None,
        )
        if not d.allocations:
            rows.append((*head, None, None, None, None, *tail))
        for a in d.allocations:
            rows.append((*head, a.item_id, a.document_number, a.customer_id, a.amount_minor, *tail))
    return pl.DataFrame(rows, schema=FRAME_SCHEMA, orient="row")
