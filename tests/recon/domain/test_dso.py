"""DSO, standard and count-back, with worked examples and exact rounding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from services.recon.domain import (
    ReconInputError,
    dso,
    dso_countback,
    dso_standard,
    month_periods,
    round_ratio,
)


def test_standard_worked_example() -> None:
    # 300,000.00 AR over 90 days of 900,000.00 credit sales -> 30.0 days.
    assert dso_standard(30_000_000, 90_000_000, 90) == Decimal("30.0")
    # 1/3 of 92 days = 30.666.. -> 30.7
    assert dso_standard(1, 3, 92) == Decimal("30.7")


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [
        (1, 20, "0.1"),
        (1, 21, "0.0"),
        (-1, 20, "-0.1"),
        (5, 4, "1.3"),
        (0, 7, "0.0"),
        (10**30 + 5, 10**29, "10.0"),
    ],
)
def test_round_ratio_is_half_away_from_zero(num: int, den: int, expected: str) -> None:
    assert round_ratio(num, den) == Decimal(expected)
    assert str(round_ratio(num, den)) == expected


def test_standard_edge_cases() -> None:
    assert dso_standard(0, 1_000, 30) == Decimal("0.0")
    assert dso_standard(-500, 1_000, 30) == Decimal("0.0")
    assert dso_standard(500, 0, 30) is None
    with pytest.raises(ReconInputError):
        dso_standard(500, 1_000, 0)


def test_countback_worked_example() -> None:
    # AR 250: September (30 d) sales 100, August (31 d) sales 100, July (31 d) sales 200.
    # 30 + 31 + 31 * 50/200 = 68.75 -> 68.8
    assert dso_countback(250, [(30, 100), (31, 100), (31, 200)]) == Decimal("68.8")
    # Exactly one month of sales.
    assert dso_countback(100, [(30, 100), (31, 100)]) == Decimal("30.0")
    # A month without sales is consumed whole.
    assert dso_countback(150, [(30, 0), (31, 300)]) == Decimal("45.5")


def test_countback_edge_cases() -> None:
    assert dso_countback(0, [(30, 100)]) == Decimal("0.0")
    assert dso_countback(1_000, [(30, 100), (31, 100)]) is None
    assert dso_countback(50, [(30, -20), (31, 100)]) == Decimal("45.5")


def test_month_periods_count_the_as_of_month_to_date() -> None:
    assert month_periods(date(2026, 3, 15), 3) == [
        (date(2026, 3, 1), 15),
        (date(2026, 2, 1), 28),
        (date(2026, 1, 1), 31),
    ]
    assert month_periods(date(2024, 1, 31), 2) == [(date(2024, 1, 1), 31), (date(2023, 12, 1), 31)]


def test_dso_frame_per_currency_and_customer() -> None:
    ar = pl.DataFrame(
        {"customer_id": ["A", "A", "B"], "currency": ["EUR", "EUR", "EUR"], "ar_balance_minor": [150, 100, 0]}
    )
    sales = pl.DataFrame(
        {
            "customer_id": ["A", "A", "A", "B", "A"],
            "currency": ["EUR"] * 5,
            "month": [
                date(2026, 9, 10),
                date(2026, 8, 1),
                date(2026, 7, 31),
                date(2026, 9, 1),
                date(2026, 10, 1),
            ],
            "credit_sales_minor": [100, 100, 200, 50, 999],  # October is after the as-of date
        }
    )
    result = dso(ar, sales, date(2026, 9, 30), months=3, by=("customer_id", "currency"))
    assert result.columns == [
        "customer_id",
        "currency",
        "ar_balance_minor",
        "credit_sales_minor",
        "period_days",
        "dso_standard_days",
        "dso_countback_days",
    ]
    a, b = result.iter_rows(named=True)
    assert (a["ar_balance_minor"], a["credit_sales_minor"], a["period_days"]) == (250, 400, 92)
    assert a["dso_standard_days"] == Decimal("57.5")  # 250 / 400 * 92
    assert a["dso_countback_days"] == Decimal("68.8")
    assert (b["dso_standard_days"], b["dso_countback_days"]) == (Decimal("0.0"), Decimal("0.0"))
    per_currency = dso(ar.drop("customer_id"), sales.drop("customer_id"), date(2026, 9, 30))
    assert per_currency["credit_sales_minor"].to_list() == [450]
    assert per_currency.schema["dso_standard_days"] == pl.Decimal(38, 1)


def test_dso_frame_without_sales_is_undefined_not_zero() -> None:
    ar = pl.DataFrame({"currency": ["USD"], "ar_balance_minor": [10]})
    sales = pl.DataFrame(schema={"currency": pl.String, "month": pl.Date, "credit_sales_minor": pl.Int64})
    row = dso(ar, sales, date(2026, 9, 30)).row(0, named=True)
    assert row["dso_standard_days"] is None and row["dso_countback_days"] is None
