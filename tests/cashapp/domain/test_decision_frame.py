"""The flat export frame: one row per allocated document, one row per exception."""

from __future__ import annotations

from services.cashapp.domain import decisions_to_frame
from tests.cashapp.domain.frames import item, receipt, run


def test_one_row_per_allocation_and_per_exception() -> None:
    items = [item(1, "C1", "INV-2026-004512", 1000_00), item(2, "C1", "INV-2026-004513", 500_00)]
    decisions = run(
        [
            receipt(1, 1500_00, remittance="INV-2026-004512 INV-2026-004513"),
            receipt(2, 123_00, counterparty_name="Nobody"),
            receipt(3, -1_00),
        ],
        items,
    )
    f = decisions_to_frame(decisions)
    assert f["receipt_id"].to_list() == [1, 1, 2, 3]
    assert f["document_number"].to_list() == ["INV-2026-004512", "INV-2026-004513", None, None]
    assert f["allocated_minor"].to_list() == [1000_00, 500_00, None, None]
    assert f["status"].to_list() == ["auto", "auto", "exception", "ignored"]
    assert f["exception_reason"].to_list() == [None, None, "UNKNOWN_PAYER", None]
    assert f["applied_minor"].to_list()[:2] == [1500_00, 1500_00]
    row = f.row(0, named=True)
    assert row["rule_id"] == "reference.exact" and row["ruleset_version"] == "2026.1" and row["score"] == 1.0
    assert row["residual_class"] == "none" and row["customer_id"] == "C1"


def test_empty() -> None:
    f = decisions_to_frame([])
    assert f.height == 0 and "document_number" in f.columns
