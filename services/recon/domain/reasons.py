"""Difference classes of a balance confirmation and the result of reconciling one reply.

The class codes are stable (stored, exported, used in reports): never rename a member's value.
Every :class:`Difference` carries ``difference_minor``, its effect on *our balance minus theirs*
in its currency, so that per currency the differences of a result always add up to the gap
between the two balances.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import polars as pl

from shared.money import format_minor


class DifferenceClass(StrEnum):
    """Why our view of a customer's balance and the customer's view differ."""

    # A receipt we booked after the cut-off that the customer shows as paid, or a receipt we
    # applied just before the cut-off that the customer has not recorded yet.
    PAYMENT_IN_TRANSIT = "PAYMENT_IN_TRANSIT"
    # Our open invoice (or deduction-free debit) is missing from the customer's list.
    INVOICE_NOT_RECORDED = "INVOICE_NOT_RECORDED"
    # Our open credit note is missing from the customer's list.
    CREDIT_NOTE_NOT_RECORDED = "CREDIT_NOTE_NOT_RECORDED"
    # Same document on both sides with a different amount.
    AMOUNT_DIFFERS = "AMOUNT_DIFFERS"
    # The customer marks the item as disputed, or does not recognise a deduction we carry open.
    DISPUTED = "DISPUTED"
    # Cash we hold unapplied (on account, or received and not yet applied) explains the difference.
    UNAPPLIED_CASH = "UNAPPLIED_CASH"
    # Anything else, including items the customer lists that we do not know.
    UNEXPLAINED = "UNEXPLAINED"


class ReplyKind(StrEnum):
    """The two reply shapes a customer can send."""

    ITEMS = "items"
    BALANCE = "balance"


@dataclass(frozen=True, slots=True)
class Difference:
    """One classified difference.

    ``our_minor`` is our open amount of the item (None when we have no such open item),
    ``their_minor`` the customer's amount (None when the customer does not list it),
    ``difference_minor`` the part of *our balance - their balance* this difference accounts for.
    ``their_line`` is the reply row (its ``line_no`` column when given, else its 0-based index).
    ``receipt_ids`` are the receipts that explain it, ``related_item_ids`` other documents
    involved (the on-account item that would pay an invoice, for example).
    """

    difference_class: DifferenceClass
    currency: str
    difference_minor: int
    our_minor: int | None = None
    their_minor: int | None = None
    item_id: int | None = None
    document_number: str | None = None
    their_document_number: str | None = None
    their_line: int | None = None
    receipt_ids: tuple[int, ...] = ()
    related_item_ids: tuple[int, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (class as its code, tuples as lists)."""
        data = asdict(self)
        data["difference_class"] = self.difference_class.value
        data["receipt_ids"] = list(self.receipt_ids)
        data["related_item_ids"] = list(self.related_item_ids)
        return data


@dataclass(frozen=True, slots=True)
class ReconResult:
    """Outcome of one customer's reply: agreed, both balances per currency, the differences."""

    customer_id: Any
    reply_kind: ReplyKind
    agreed: bool
    our_balance: dict[str, int]
    their_balance: dict[str, int]
    differences: tuple[Difference, ...] = field(default=())

    def classes(self) -> list[DifferenceClass]:
        """The difference classes in order (handy for reports and tests)."""
        return [d.difference_class for d in self.differences]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "customer_id": self.customer_id,
            "reply_kind": self.reply_kind.value,
            "agreed": self.agreed,
            "our_balance": dict(self.our_balance),
            "their_balance": dict(self.their_balance),
            "differences": [d.to_dict() for d in self.differences],
        }


DIFFERENCE_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "difference_class": pl.String(),
    "currency": pl.String(),
    "difference_minor": pl.Int64(),
    "our_minor": pl.Int64(),
    "their_minor": pl.Int64(),
    "item_id": pl.Int64(),
    "document_number": pl.String(),
    "their_document_number": pl.String(),
    "their_line": pl.Int64(),
    "receipt_ids": pl.List(pl.Int64()),
    "related_item_ids": pl.List(pl.Int64()),
    "reason": pl.String(),
}


def differences_frame(results: list[ReconResult]) -> pl.DataFrame:
    """All differences of ``results`` as one frame (:data:`DIFFERENCE_FRAME_SCHEMA`).

    ``customer_id`` is written as text so that mixed id types still make one column.
    """
    rows = [{**d.to_dict(), "customer_id": str(r.customer_id)} for r in results for d in r.differences]
    return pl.DataFrame(rows, schema=DIFFERENCE_FRAME_SCHEMA)


def money(minor: int, currency: str) -> str:
    """``"1,234.50 EUR"`` style text for reasons (sign kept)."""
    text = format_minor(abs(minor), currency)
    whole, _, frac = text.partition(".")
    grouped = f"{int(whole):,}" + (f".{frac}" if frac else "")
    return f"{'-' if minor < 0 else ''}{grouped} {currency}"


def receipts_text(receipts: list[tuple[int, date | None]]) -> str:
    """``"receipt 17 booked 2026-10-02"`` for one or several receipts."""
    parts = [f"{rid}" + (f" booked {booked.isoformat()}" if booked else "") for rid, booked in receipts]
    return ("receipt " if len(parts) == 1 else "receipts ") + ", ".join(parts)
