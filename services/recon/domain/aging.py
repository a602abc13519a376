"""Accounts-receivable aging by customer and in total, per currency, with configurable buckets.

Days past due = ``as_of - due_date`` (the document date when an item has no due date). With
buckets ``(0, 30, 60, 90)`` an item is *current* up to 0 days past due, then 1-30, 31-60, 61-90 and
90+ (more than 90). Credit notes and cash on account are aged by their own due date like any
other item, so each bucket holds the signed net of what fell due in it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from services.recon.domain.frames import Kind, ReconInputError, require, require_not_null

DEFAULT_BUCKETS: tuple[int, ...] = (0, 30, 60, 90)
AGING_INPUT: dict[str, Kind] = {
    "customer_id": Kind.ANY,
    "currency": Kind.TEXT,
    "due_date": Kind.DATE,
    "document_date": Kind.DATE,
    "open_minor": Kind.INT,
}


@dataclass(frozen=True, slots=True)
class Bucket:
    """One aging column: its frame column name, a human label and the inclusive day range."""

    column: str
    label: str
    first_day: int | None  # None = no lower bound (current includes not yet due)
    last_day: int | None  # None = no upper bound


def aging_buckets(buckets: Sequence[int] = DEFAULT_BUCKETS) -> list[Bucket]:
    """The buckets for ``buckets`` (strictly increasing, non-negative day thresholds).

    ``(0, 30, 60, 90)`` gives ``current_minor`` "current", ``days_1_30_minor`` "1-30", ...,
    ``days_over_90_minor`` "90+". Raises ``RECON_BAD_BUCKETS`` otherwise.
    """
    bounds = list(buckets)
    if (
        not bounds
        or any(isinstance(b, bool) or not isinstance(b, int) or b < 0 for b in bounds)
        or any(b >= c for b, c in itertools.pairwise(bounds))
    ):
        raise ReconInputError(
            f"aging buckets must be increasing non-negative whole days, got {bounds!r}",
            code="RECON_BAD_BUCKETS",
        )
    out = [Bucket("current_minor", "current", None, bounds[0])]
    for lo, hi in itertools.pairwise(bounds):
        out.append(Bucket(f"days_{lo + 1}_{hi}_minor", f"{lo + 1}-{hi}", lo + 1, hi))
    out.append(Bucket(f"days_over_{bounds[-1]}_minor", f"{bounds[-1]}+", bounds[-1] + 1, None))
    return out


def aging(open_items: pl.DataFrame, as_of: date, buckets: Sequence[int] = DEFAULT_BUCKETS) -> pl.DataFrame:
    """Aging per customer and currency of ``open_items`` (e.g. a snapshot) as of ``as_of``.

    Input columns: ``customer_id, currency, due_date, document_date, open_minor``. Output:
    ``customer_id, currency``, one Int64 column per bucket (:func:`aging_buckets`),
    ``total_minor`` (= sum of the buckets), ``overdue_minor`` (everything past current) and
    ``item_count``; sorted by customer and currency.
    """
    spec = aging_buckets(buckets)
    items = require(open_items, "open_items", AGING_INPUT)
    require_not_null(items, "open_items", ["customer_id", "currency", "open_minor"])
    days = (pl.lit(as_of) - pl.coalesce("due_date", "document_date")).dt.total_days()
    # Bucket index = number of thresholds the item is past: 0 = current ... len(buckets) = last.
    index = pl.sum_horizontal([(days > b).cast(pl.Int8) for b in buckets]).alias("bucket")
    open_ = pl.col("open_minor")
    return (
        items.lazy()
        .select("customer_id", "currency", "open_minor", index)
        .group_by(["customer_id", "currency"])
        .agg(
            *[open_.filter(pl.col("bucket") == i).sum().alias(b.column) for i, b in enumerate(spec)],
            open_.sum().alias("total_minor"),
            open_.filter(pl.col("bucket") > 0).sum().alias("overdue_minor"),
            pl.len().cast(pl.Int64).alias("item_count"),
        )
        .sort(["customer_id", "currency"])
        .collect()
    )


def aging_total(aging_by_customer: pl.DataFrame) -> pl.DataFrame:
    """Totals per currency of an :func:`aging` frame, plus ``customer_count``."""
    money = [c for c in aging_by_customer.columns if c.endswith("_minor")]
    return (
        aging_by_customer.group_by("currency")
        .agg(
            *[pl.col(c).sum() for c in money],
            pl.col("item_count").sum(),
            pl.col("customer_id").n_unique().cast(pl.Int64).alias("customer_count"),
        )
        .select("currency", *money, "item_count", "customer_count")
        .sort("currency")
    )


def unapplied_and_on_account(
    open_items: pl.DataFrame, unapplied_receipts: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Cash and credits a customer could use, per customer and currency.

    From ``open_items`` (a snapshot): ``on_account_minor`` (open cash on account) and
    ``credit_note_minor`` (open credit notes), both in ledger sign (negative). From
    ``unapplied_receipts`` (``customer_id, currency, amount_minor``; receipts not applied and not
    in the ledger, e.g. cash application's unapplied bank lines): ``unapplied_receipts_minor``,
    positive as received. Customers with none of the three are left out.
    """
    items = require(
        open_items,
        "open_items",
        {"customer_id": Kind.ANY, "currency": Kind.TEXT, "document_type": Kind.TEXT, "open_minor": Kind.INT},
    )
    open_ = pl.col("open_minor")
    credits = items.group_by("customer_id", "currency").agg(
        open_.filter(pl.col("document_type") == "on_account").sum().alias("on_account_minor"),
        open_.filter(pl.col("document_type") == "credit_note").sum().alias("credit_note_minor"),
    )
    if unapplied_receipts is not None and unapplied_receipts.height:
        cash = require(
            unapplied_receipts,
            "unapplied_receipts",
            {"customer_id": Kind.ANY, "currency": Kind.TEXT, "amount_minor": Kind.INT},
        )
        received = cash.group_by("customer_id", "currency").agg(
            pl.col("amount_minor").sum().alias("unapplied_receipts_minor")
        )
        credits = credits.join(received, on=["customer_id", "currency"], how="full", coalesce=True)
    else:
        credits = credits.with_columns(pl.lit(0, pl.Int64).alias("unapplied_receipts_minor"))
    money = ["on_account_minor", "credit_note_minor", "unapplied_receipts_minor"]
    return (
        credits.with_columns(pl.col(money).fill_null(0))
        .filter(pl.any_horizontal(pl.col(money) != 0))
        .select("customer_id", "currency", *money)
        .sort("customer_id", "currency")
    )
