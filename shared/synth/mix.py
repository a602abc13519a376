"""The receipt scenario mix: names, expected outcomes, default weights and deduction ranges.

Weights are integers in per-mille of all receipts. Counts per scenario are derived exactly with
largest-remainder rounding (:func:`shared.money.split_minor`), so a world of a given size always
holds the same number of receipts of each scenario, and any scenario with weight >= 10 appears in
a world of 100 receipts or more.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """What the engine should do with a receipt."""

    APPLY = "apply"  # the engine should apply it automatically, exactly as in the truth
    EXCEPTION = "exception"  # a person has to look at it
    IGNORE = "ignore"  # debits: never applied to invoices


class Residual(StrEnum):
    """Class of the difference between a receipt and the open amounts of its documents."""

    NONE = "none"
    BANK_CHARGE = "bank_charge"
    SHORT_PAYMENT = "short_payment"
    DISCOUNT = "early_payment_discount"
    OVERPAYMENT = "over_payment"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of receipt in the mix, with its expected outcome and default weight."""

    name: str
    outcome: Outcome
    weight: int  # per mille, default mix
    has_reference: bool  # carries a usable document / payment reference
    description: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "exact_docnum",
        Outcome.APPLY,
        240,
        True,
        "exact document number in the remittance, varied prefix / case / separators",
    ),
    Scenario(
        "erp_number", Outcome.APPLY, 70, True, "numeric ERP number written with or without its leading zeros"
    ),
    Scenario("rf_reference", Outcome.APPLY, 60, True, "ISO 11649 RF creditor reference"),
    Scenario("qrr_reference", Outcome.APPLY, 30, True, "Swiss 27-digit QR reference (CHF)"),
    Scenario(
        "e2e_reference",
        Outcome.APPLY,
        40,
        True,
        "end-to-end reference carries the document number, remittance says nothing",
    ),
    Scenario(
        "fuzzy_reference",
        Outcome.APPLY,
        40,
        True,
        "document number with one digit swapped / dropped / mistyped, amount equal",
    ),
    Scenario("multi_invoice", Outcome.APPLY, 60, True, "several invoices listed in one payment"),
    Scenario("multi_with_credit_note", Outcome.APPLY, 25, True, "several invoices with a credit note netted"),
    Scenario(
        "third_party",
        Outcome.APPLY,
        20,
        True,
        "someone else pays for the customer quoting the document number",
    ),
    Scenario("bank_charges", Outcome.APPLY, 30, True, "referenced payment with bank charges deducted"),
    Scenario("short_payment", Outcome.APPLY, 20, True, "referenced payment short within tolerance"),
    Scenario(
        "early_discount",
        Outcome.APPLY,
        30,
        True,
        "referenced payment less the early-payment discount, inside its window",
    ),
    Scenario("overpayment", Outcome.APPLY, 15, True, "referenced payment a few units too high"),
    Scenario(
        "iban_unique_amount",
        Outcome.APPLY,
        80,
        False,
        "no reference; known payer IBAN; one open item with that amount",
    ),
    Scenario(
        "iban_subset_sum",
        Outcome.APPLY,
        30,
        False,
        "no reference; known payer IBAN; exactly one subset of open items sums to it",
    ),
    Scenario(
        "name_unique_amount",
        Outcome.APPLY,
        50,
        False,
        "no reference; payer IBAN not in master data; payer name variant; unique amount",
    ),
    Scenario(
        "ambiguous_amount",
        Outcome.EXCEPTION,
        20,
        False,
        "no reference; the customer has two open items with this amount",
    ),
    Scenario("unknown_payer", Outcome.EXCEPTION, 30, False, "no reference, unknown name and account"),
    Scenario("non_ar_interest", Outcome.EXCEPTION, 10, False, "credit interest from the bank"),
    Scenario("non_ar_tax_refund", Outcome.EXCEPTION, 10, False, "tax refund"),
    Scenario("non_ar_intercompany", Outcome.EXCEPTION, 15, False, "transfer from a group company"),
    Scenario("debit", Outcome.IGNORE, 75, False, "outgoing payment; never applied"),
)

SCENARIO_BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}
DEFAULT_MIX: dict[str, int] = {s.name: s.weight for s in SCENARIOS}


@dataclass(frozen=True, slots=True)
class Deductions:
    """Ranges of the differences the generator creates, in minor units (of any currency).

    The engine's default tolerances must accept these for the truth to be reachable, and must
    tell them apart: bank charges 0.50-15.00 and at most 1 % of the open amount; short payments
    25.01-50.00 (above any bank-charge limit up to 25.00) and at most 1 %; early-payment discount
    exactly ``discount_pct`` % of the invoice amount (rounded half up) paid within
    ``discount_days`` days of the document date; over-payments 1.00-50.00 (left on account).
    """

    charge_min: int = 50
    charge_max: int = 1_500
    charge_max_permille: int = 10
    short_min: int = 2_501
    short_max: int = 5_000
    short_max_permille: int = 10
    discount_pct: int = 2
    discount_days: int = 10
    over_min: int = 100
    over_max: int = 5_000


def discount_minor(amount_minor: int, pct: int) -> int:
    """``pct`` % of ``amount_minor`` rounded half up, in integer arithmetic."""
    return (amount_minor * pct + 50) // 100


def validate_mix(mix: dict[str, int]) -> dict[str, int]:
    """The mix with unknown names refused and negative weights rejected (missing names -> 0)."""
    unknown = sorted(set(mix) - set(SCENARIO_BY_NAME))
    if unknown:
        raise ValueError(f"unknown scenarios in mix: {', '.join(unknown)}")
    if any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("scenario weights must be >= 0 and not all zero")
    return {s.name: int(mix.get(s.name, 0)) for s in SCENARIOS}
