"""Tolerance boundaries, table-driven: exactly at the limit, one cent over, one cent under.

Default limits: bank charge min(25.00, 1 %), short payment min(50.00, 2 %), early-payment
discount 2 % within 10 days (1 cent rounding slack per invoice), over-payment min(100.00, 100 %).
"""

from __future__ import annotations

from datetime import date

import pytest

from services.cashapp.domain import Decision, DecisionStatus, ExceptionReason, ResidualClass
from tests.cashapp.domain.frames import docs, item, one, receipt, with_rules

DOC = "INV-2026-004512"
IBAN = "DE89370400440532013000"


def _pay_with(invoice: int, paid: int, rules_text: str = "", booked: date = date(2026, 3, 10)) -> Decision:
    d = one(
        receipt(1, paid, remittance=DOC, booking_date=booked),
        [item(1, "C1", DOC, invoice, document_date=date(2026, 3, 1))],
        rules=with_rules(rules_text),
    )
    assert d.balanced
    return d


# invoice 10,000.00: 1 % = 100.00, so the absolute 25.00 is the lower limit
# invoice  1,000.00: 1 % =  10.00 is the lower limit
@pytest.mark.parametrize(
    ("invoice", "deducted", "residual"),
    [
        (10_000_00, 25_00, ResidualClass.BANK_CHARGE),  # exactly at the absolute limit
        (10_000_00, 24_99, ResidualClass.BANK_CHARGE),  # one cent under
        (10_000_00, 25_01, ResidualClass.SHORT_PAYMENT),  # one cent over: a short payment
        (1_000_00, 10_00, ResidualClass.BANK_CHARGE),  # exactly at the percentage limit
        (1_000_00, 9_99, ResidualClass.BANK_CHARGE),
        (1_000_00, 10_01, ResidualClass.SHORT_PAYMENT),
    ],
)
def test_bank_charge_limits(invoice: int, deducted: int, residual: ResidualClass) -> None:
    d = _pay_with(invoice, invoice - deducted)
    assert d.status is DecisionStatus.AUTO and d.residual_class is residual
    if residual is ResidualClass.BANK_CHARGE:
        assert d.fee_minor == -deducted and docs(d) == {DOC: invoice} and d.applied_minor == invoice
    else:
        assert d.fee_minor == 0 and d.short_minor == deducted and docs(d) == {DOC: invoice - deducted}


@pytest.mark.parametrize(
    ("invoice", "short", "applied"),
    [
        (10_000_00, 50_00, True),  # exactly at the absolute limit
        (10_000_00, 49_99, True),
        (10_000_00, 50_01, False),
        (1_500_00, 30_00, True),  # exactly 2 %
        (1_500_00, 29_99, True),
        (1_500_00, 30_01, False),
    ],
)
def test_short_payment_limits(invoice: int, short: int, applied: bool) -> None:
    # booked after the discount window, so 2 % short is not mistaken for the 2 % discount
    d = _pay_with(invoice, invoice - short, booked=date(2026, 3, 20))
    if applied:
        assert d.status is DecisionStatus.AUTO and d.residual_class is ResidualClass.SHORT_PAYMENT
        assert docs(d) == {DOC: invoice - short} and d.short_minor == short and d.unapplied_minor == 0
    else:
        assert d.status is DecisionStatus.EXCEPTION and d.exception_reason is ExceptionReason.AMOUNT_MISMATCH


def test_short_payment_as_deduction() -> None:
    d = _pay_with(10_000_00, 10_000_00 - 40_00, '[tolerances.short_payment]\naction = "deduction"')
    assert d.residual_class is ResidualClass.DEDUCTION
    assert docs(d) == {DOC: 10_000_00} and d.writeoff_minor == -40_00 and d.short_minor == 0


# 2 % of 10,000.00 = 200.00, document dated 2026-03-01, window 10 days
@pytest.mark.parametrize(
    ("booked", "discount", "residual"),
    [
        (date(2026, 3, 11), 200_00, ResidualClass.EARLY_PAYMENT_DISCOUNT),  # last day of the window
        (date(2026, 3, 10), 200_00, ResidualClass.EARLY_PAYMENT_DISCOUNT),
        (date(2026, 3, 12), 200_00, None),  # one day late: not a discount (and too much to be short)
        (date(2026, 3, 5), 200_01, ResidualClass.EARLY_PAYMENT_DISCOUNT),  # rounding slack: one cent
        (date(2026, 3, 5), 199_99, ResidualClass.EARLY_PAYMENT_DISCOUNT),
        (date(2026, 3, 5), 200_02, None),
        (date(2026, 3, 5), 199_98, None),
    ],
)
def test_early_payment_discount_window_and_amount(booked: date, discount: int, residual: ResidualClass | None) -> None:
    d = _pay_with(10_000_00, 10_000_00 - discount, booked=booked)
    if residual is None:
        assert d.status is DecisionStatus.EXCEPTION
    else:
        assert d.status is DecisionStatus.AUTO and d.residual_class is residual
        assert docs(d) == {DOC: 10_000_00} and d.writeoff_minor == -discount


# over-payment limit: min(100.00, 100 % of the documents)
@pytest.mark.parametrize(
    ("invoice", "extra", "applied"),
    [
        (1_000_00, 100_00, True),  # exactly at the absolute limit
        (1_000_00, 99_99, True),
        (1_000_00, 100_01, False),
        (50_00, 50_00, True),  # exactly 100 % of the document
        (50_00, 49_99, True),
        (50_00, 50_01, False),
    ],
)
def test_over_payment_limits(invoice: int, extra: int, applied: bool) -> None:
    d = _pay_with(invoice, invoice + extra)
    if applied:
        assert d.status is DecisionStatus.AUTO and d.residual_class is ResidualClass.OVER_PAYMENT
        assert docs(d) == {DOC: invoice} and d.unapplied_minor == extra
    else:
        assert d.status is DecisionStatus.EXCEPTION and d.exception_reason is ExceptionReason.AMOUNT_MISMATCH


@pytest.mark.parametrize(
    ("extra", "residual", "writeoff", "unapplied"),
    [
        (5_00, ResidualClass.WRITE_OFF, 5_00, 0),
        (4_99, ResidualClass.WRITE_OFF, 4_99, 0),
        (5_01, ResidualClass.OVER_PAYMENT, 0, 5_01),
    ],
)
def test_small_over_payment_written_off(extra: int, residual: ResidualClass, writeoff: int, unapplied: int) -> None:
    d = _pay_with(1_000_00, 1_000_00 + extra, '[tolerances.over_payment]\naction = "write_off"')
    assert d.residual_class is residual and d.writeoff_minor == writeoff and d.unapplied_minor == unapplied


def test_per_currency_limit_override() -> None:
    text = '[tolerances.bank_charge]\nby_currency = { EUR = "5.00" }'
    assert _pay_with(10_000_00, 10_000_00 - 5_00, text).residual_class is ResidualClass.BANK_CHARGE
    assert _pay_with(10_000_00, 10_000_00 - 5_01, text).residual_class is ResidualClass.SHORT_PAYMENT


@pytest.mark.parametrize(
    ("paid", "status", "residual"),
    [
        (10_000_00 - 25_00, DecisionStatus.AUTO, ResidualClass.BANK_CHARGE),  # payer known, no reference
        (10_000_00 - 200_00, DecisionStatus.AUTO, ResidualClass.EARLY_PAYMENT_DISCOUNT),
        (10_000_00 - 40_00, DecisionStatus.EXCEPTION, ResidualClass.NONE),  # short without a reference
        (10_000_00 + 40_00, DecisionStatus.EXCEPTION, ResidualClass.NONE),  # over without a reference
    ],
)
def test_tolerances_without_a_reference(paid: int, status: DecisionStatus, residual: ResidualClass) -> None:
    items = [item(1, "C1", DOC, 10_000_00, document_date=date(2026, 3, 5)), item(2, "C1", "INV-2", 3_000_00)]
    d = one(receipt(1, paid, counterparty_account=IBAN), items, accounts=[("C1", "iban", IBAN)])
    assert d.status is status and d.residual_class is residual and d.balanced
    if status is DecisionStatus.AUTO:
        assert d.rule_id == "amount.tolerance"


def test_two_items_within_tolerance_without_reference_are_ambiguous() -> None:
    items = [item(1, "C1", "INV-1", 1_000_00), item(2, "C1", "INV-2", 1_000_05)]
    d = one(receipt(1, 997_00, counterparty_account=IBAN), items, accounts=[("C1", "iban", IBAN)])
    assert d.status is DecisionStatus.EXCEPTION and d.exception_reason is ExceptionReason.AMBIGUOUS
