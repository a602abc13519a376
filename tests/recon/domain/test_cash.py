"""Cash around the cut-off: which receipt lands in which frame."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from services.recon.domain import CASH_COLUMNS, as_of_snapshot, cash_around_cutoff, reconcile_replies
from tests.recon.domain.helpers import CUTOFF, day

DOCS = pl.DataFrame(
    {
        "item_id": [1, 2, 3, 4, 5, 6, 7],
        "customer_id": ["C1"] * 7,
        "document_number": ["INV-1", "INV-2", "INV-3", "OA-4", "INV-5", "INV-6", "INV-7"],
        "document_type": ["invoice", "invoice", "invoice", "on_account", "invoice", "invoice", "invoice"],
        "document_date": [day(-20), day(-20), day(-20), day(-5), day(-20), day(3), day(-50)],
        "due_date": [day(10)] * 7,
        "currency": ["EUR"] * 7,
        "amount_minor": [1_000, 2_000, 3_000, -3_000, 5_000, 6_000, 2_000],
        "recorded_at": [day(-20)] * 7,
    }
)


def app(item: int, receipt: int, amount: int, effective: date, booked: date) -> dict[str, Any]:
    return {
        "item_id": item,
        "receipt_id": receipt,
        "amount_minor": amount,
        "effective_date": effective,
        "recorded_at": effective,
        "receipt_booking_date": booked,
    }


APPS = pl.DataFrame(
    [
        app(1, 10, 1_000, day(2), day(2)),  # received after the cut-off -> in transit
        app(2, 11, 2_000, day(-3), day(-3)),  # cleared just before -> cleared_before
        app(3, 12, 3_000, day(4), day(-5)),  # on-account cash applied later: held on account at cut-off
        app(4, 12, -3_000, day(4), day(-5)),
        app(5, 13, 5_000, day(6), day(-1)),  # received before, applied after -> unapplied at cut-off
        app(5, 14, 700, day(8), day(7)),  # applied and reversed after the cut-off -> nets away
        app(5, 14, -700, day(9), day(7)),
        app(6, 15, 6_000, day(5), day(5)),  # document after the cut-off: never counted
        app(7, 16, 2_000, day(-40), day(-40)),  # long before the window
    ]
)


def test_cash_is_split_by_booking_and_effective_dates() -> None:
    after, unapplied, before = cash_around_cutoff(DOCS, APPS, CUTOFF, window_days=10)
    for frame in (after, unapplied, before):
        assert frame.columns == list(CASH_COLUMNS)
    assert after.select("receipt_id", "item_id", "amount_minor").rows() == [(10, 1, 1_000)]
    assert unapplied.select("receipt_id", "item_id", "amount_minor").rows() == [(13, 5, 5_000)]
    assert before.select("receipt_id", "item_id", "amount_minor").rows() == [(11, 2, 2_000)]


def test_ledger_to_result_end_to_end() -> None:
    snap = as_of_snapshot(DOCS, APPS, CUTOFF)
    # The customer paid INV-1 (we received it on 2 Oct) and INV-5 (we held the cash unapplied)
    # before the cut-off in its books, still lists INV-2 (we cleared it on 27 Sep) and agrees on
    # INV-3; our cash on account OA-4 is not on its list.
    replies = pl.DataFrame(
        {
            "customer_id": ["C1", "C1"],
            "document_number": ["INV-2", "INV-3"],
            "document_date": [day(-20), day(-20)],
            "amount_minor": [2_000, 3_000],
            "currency": ["EUR", "EUR"],
        }
    )
    after, unapplied, before = cash_around_cutoff(DOCS, APPS, CUTOFF)
    [result] = reconcile_replies(
        snap,
        item_replies=replies,
        receipts_after_cutoff=after,
        unapplied_cash=unapplied,
        cleared_before_cutoff=before,
    )
    classes = sorted(d.difference_class.value for d in result.differences)
    assert classes == ["PAYMENT_IN_TRANSIT", "PAYMENT_IN_TRANSIT", "UNAPPLIED_CASH", "UNAPPLIED_CASH"]
    assert result.our_balance == {"EUR": 1_000 + 3_000 - 3_000 + 5_000}
