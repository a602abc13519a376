"""Aging buckets at their boundaries, custom buckets and totals."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.recon.domain import ReconInputError, aging, aging_buckets, aging_total, unapplied_and_on_account

AS_OF = date(2026, 9, 30)


def items(*rows: tuple[str, int | None, int, str]) -> pl.DataFrame:
    """Rows ``(customer, days past due | None for no due date, open_minor, currency)``."""
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "currency": [r[3] for r in rows],
            "due_date": [None if r[1] is None else AS_OF - timedelta(days=r[1]) for r in rows],
            "document_date": [AS_OF - timedelta(days=45) for _ in rows],
            "open_minor": [r[2] for r in rows],
        },
        schema={
            "customer_id": pl.String,
            "currency": pl.String,
            "due_date": pl.Date,
            "document_date": pl.Date,
            "open_minor": pl.Int64,
        },
    )


@pytest.mark.parametrize(
    ("days_past_due", "column"),
    [
        (-10, "current_minor"),
        (0, "current_minor"),
        (1, "days_1_30_minor"),
        (30, "days_1_30_minor"),
        (31, "days_31_60_minor"),
        (60, "days_31_60_minor"),
        (61, "days_61_90_minor"),
        (90, "days_61_90_minor"),
        (91, "days_over_90_minor"),
        (400, "days_over_90_minor"),
    ],
)
def test_default_bucket_boundaries(days_past_due: int, column: str) -> None:
    row = aging(items(("C1", days_past_due, 1_234, "EUR")), AS_OF).row(0, named=True)
    buckets = [b.column for b in aging_buckets()]
    assert {c: row[c] for c in buckets} == {c: (1_234 if c == column else 0) for c in buckets}
    assert row["total_minor"] == 1_234
    assert row["overdue_minor"] == (0 if column == "current_minor" else 1_234)


def test_labels_and_custom_buckets() -> None:
    assert [b.label for b in aging_buckets()] == ["current", "1-30", "31-60", "61-90", "90+"]
    custom = aging_buckets([5, 15])
    assert [(b.column, b.label) for b in custom] == [
        ("current_minor", "current"),
        ("days_6_15_minor", "6-15"),
        ("days_over_15_minor", "15+"),
    ]
    row = aging(items(("C1", 5, 1, "EUR"), ("C1", 6, 10, "EUR"), ("C1", 16, 100, "EUR")), AS_OF, [5, 15]).row(
        0, named=True
    )
    assert (row["current_minor"], row["days_6_15_minor"], row["days_over_15_minor"]) == (1, 10, 100)


@pytest.mark.parametrize("bad", [[], [30, 30], [60, 30], [-1, 30], [0.5, 30], [True, 30]])
def test_bad_buckets_are_refused(bad: list[object]) -> None:
    with pytest.raises(ReconInputError) as err:
        aging_buckets(bad)  # type: ignore[arg-type]
    assert err.value.code == "RECON_BAD_BUCKETS"


def test_by_customer_and_currency_with_credits_and_missing_due_date() -> None:
    frame = items(
        ("C1", 10, 5_000, "EUR"),
        ("C1", 10, -1_000, "EUR"),  # credit note netted in its bucket
        ("C1", None, 700, "EUR"),  # no due date: aged from the document date (45 days)
        ("C1", 100, 9_000, "USD"),
        ("C2", -5, 300, "EUR"),
    )
    by_customer = aging(frame, AS_OF)
    rows = {(r["customer_id"], r["currency"]): r for r in by_customer.iter_rows(named=True)}
    assert rows[("C1", "EUR")]["days_1_30_minor"] == 4_000
    assert rows[("C1", "EUR")]["days_31_60_minor"] == 700
    assert rows[("C1", "EUR")]["item_count"] == 3
    assert rows[("C1", "USD")]["days_over_90_minor"] == 9_000
    assert rows[("C2", "EUR")]["current_minor"] == 300
    total = {r["currency"]: r for r in aging_total(by_customer).iter_rows(named=True)}
    assert total["EUR"]["total_minor"] == 5_000
    assert total["EUR"]["customer_count"] == 2
    assert total["USD"]["item_count"] == 1


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B"]), st.integers(-50, 500), st.integers(-(10**9), 10**9)),
        max_size=40,
    )
)
def test_buckets_always_add_up_to_the_total(rows: list[tuple[str, int, int]]) -> None:
    frame = items(*[(c, d, v, "EUR") for c, d, v in rows])
    result = aging(frame, AS_OF)
    columns = [b.column for b in aging_buckets()]
    for r in result.iter_rows(named=True):
        assert sum(r[c] for c in columns) == r["total_minor"]
    assert result["total_minor"].sum() == sum(v for _, _, v in rows)
    assert result.schema["total_minor"] == pl.Int64


def test_unapplied_and_on_account_per_customer() -> None:
    snap = pl.DataFrame(
        {
            "customer_id": ["C1", "C1", "C1", "C2", "C3"],
            "currency": ["EUR", "EUR", "EUR", "EUR", "EUR"],
            "document_type": ["invoice", "on_account", "credit_note", "invoice", "on_account"],
            "open_minor": [5_000, -1_200, -300, 700, -50],
        }
    )
    receipts = pl.DataFrame(
        {"customer_id": ["C2", "C4"], "currency": ["EUR", "USD"], "amount_minor": [900, 10]}
    )
    result = unapplied_and_on_account(snap, receipts)
    assert result.rows() == [
        ("C1", "EUR", -1_200, -300, 0),
        ("C2", "EUR", 0, 0, 900),
        ("C3", "EUR", -50, 0, 0),
        ("C4", "USD", 0, 0, 10),
    ]
    assert unapplied_and_on_account(snap).rows() == [("C1", "EUR", -1_200, -300, 0), ("C3", "EUR", -50, 0, 0)]
