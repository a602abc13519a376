"""Confirmed-balance replies: one difference per currency, classified only on exact evidence."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from services.recon.domain import DifferenceClass, compare_balance, reconcile_balance
from tests.recon.domain.helpers import cash, ours

C = DifferenceClass
SNAP = ours(
    (1, "INV-1", 10_000),
    (2, "INV-2", 25_000),
    (3, "CN-3", -4_000),
    (4, "DED-4", 1_500),
    (5, "OA-5", -2_200),
    (6, "INV-6", 9_000, "USD"),
)
EUR = 10_000 + 25_000 - 4_000 + 1_500 - 2_200  # 30,300


def confirmed(*rows: tuple[Any, ...]) -> pl.DataFrame:
    """Rows ``(currency, amount[, disputed])``."""
    return pl.DataFrame(
        [
            {"currency": r[0], "confirmed_balance_minor": r[1], "disputed": r[2] if len(r) > 2 else False}
            for r in rows
        ],
        schema={"currency": pl.String, "confirmed_balance_minor": pl.Int64, "disputed": pl.Boolean},
    )


CASES: dict[str, tuple[pl.DataFrame, dict[str, Any], list[DifferenceClass]]] = {
    "agreed": (confirmed(("EUR", EUR), ("USD", 9_000)), {}, []),
    "in transit: one receipt after the cut-off": (
        confirmed(("EUR", EUR - 25_000), ("USD", 9_000)),
        {"receipts_after_cutoff": cash((70, 2, "INV-2", 25_000))},
        [C.PAYMENT_IN_TRANSIT],
    ),
    "in transit: all receipts after the cut-off together": (
        confirmed(("EUR", EUR - 35_000), ("USD", 9_000)),
        {"receipts_after_cutoff": cash((70, 2, "INV-2", 25_000), (71, 1, "INV-1", 10_000))},
        [C.PAYMENT_IN_TRANSIT],
    ),
    "in transit, reverse: cleared just before the cut-off": (
        confirmed(("EUR", EUR + 6_000), ("USD", 9_000)),
        {"cleared_before_cutoff": cash((60, 9, "INV-9", 6_000, -1))},
        [C.PAYMENT_IN_TRANSIT],
    ),
    "unapplied cash": (
        confirmed(("EUR", EUR - 3_300), ("USD", 9_000)),
        {"unapplied_cash": cash((80, None, None, 3_300, -4))},
        [C.UNAPPLIED_CASH],
    ),
    "cash on account": (confirmed(("EUR", EUR + 2_200), ("USD", 9_000)), {}, [C.UNAPPLIED_CASH]),
    "invoice not recorded": (confirmed(("EUR", EUR - 10_000), ("USD", 9_000)), {}, [C.INVOICE_NOT_RECORDED]),
    "credit note not recorded": (
        confirmed(("EUR", EUR + 4_000), ("USD", 9_000)),
        {},
        [C.CREDIT_NOTE_NOT_RECORDED],
    ),
    "deduction still open": (confirmed(("EUR", EUR - 1_500), ("USD", 9_000)), {}, [C.DISPUTED]),
    "disputed by the reply": (confirmed(("EUR", EUR, True), ("USD", 9_000)), {}, [C.DISPUTED]),
    "unexplained": (confirmed(("EUR", EUR - 1), ("USD", 9_000)), {}, [C.UNEXPLAINED]),
    "a currency not confirmed counts as zero": (confirmed(("EUR", EUR)), {}, [C.INVOICE_NOT_RECORDED]),
    "a currency we do not hold": (
        confirmed(("EUR", EUR), ("USD", 9_000), ("GBP", 100)),
        {},
        [C.UNEXPLAINED],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_balance_reply_classes(name: str) -> None:
    reply, cash_frames, expected = CASES[name]
    diffs = compare_balance(
        SNAP,
        reply,
        cash_frames.get("receipts_after_cutoff"),
        cash_frames.get("unapplied_cash"),
        cleared_before_cutoff=cash_frames.get("cleared_before_cutoff"),
    )
    assert [d.difference_class for d in diffs] == expected


def test_every_class_reachable_from_a_balance_reply() -> None:
    assert {c for _, _, e in CASES.values() for c in e} == set(DifferenceClass) - {C.AMOUNT_DIFFERS}


def test_result_carries_balances_and_the_whole_gap() -> None:
    result = reconcile_balance("C1", SNAP, confirmed(("EUR", EUR - 10_000)))
    assert not result.agreed
    assert result.our_balance == {"EUR": EUR, "USD": 9_000}
    assert result.their_balance == {"EUR": EUR - 10_000}
    by_currency = {d.currency: d for d in result.differences}
    assert by_currency["EUR"].difference_minor == 10_000
    assert by_currency["EUR"].item_id == 1
    assert by_currency["USD"].difference_minor == 9_000
    assert by_currency["USD"].their_minor is None


def test_rows_of_one_currency_add_up() -> None:
    result = reconcile_balance("C1", SNAP, confirmed(("EUR", 30_000), ("EUR", 300), ("USD", 9_000)))
    assert result.agreed
    assert result.their_balance == {"EUR": EUR, "USD": 9_000}
