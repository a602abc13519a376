"""Days sales outstanding, standard and count-back, in exact integer / Decimal arithmetic.

* Standard: ``AR balance / credit sales of the period x days in the period``.
* Count-back: walk back month by month from the as-of date, taking each month's credit sales off
  the AR balance; every month fully consumed adds its days, the month where the balance runs out
  adds the consumed fraction of its days. It reads seasonality the standard method averages away.

Results are Decimal days rounded half-up to one decimal; an AR balance of zero or less gives 0.0
(a negative DSO means nothing); no credit sales in the period (standard) or a sales history too
short to absorb the balance (count-back) gives None: undefined rather than a made-up number.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Hashable, Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from services.recon.domain.frames import Kind, ReconInputError, require, require_not_null

_ZERO = Decimal("0.0")


def round_ratio(numerator: int, denominator: int, places: int = 1) -> Decimal:
    """``numerator / denominator`` rounded half away from zero to ``places`` decimals, exactly.

    Integer arithmetic only (no float, no Decimal context precision to run out of).
    """
    if denominator <= 0:
        raise ReconInputError("ratio with a denominator of zero or less", code="RECON_BAD_RATIO")
    scaled, rest = divmod(abs(numerator) * 10**places, denominator)
    if 2 * rest >= denominator:
        scaled += 1
    return Decimal(-scaled if numerator < 0 else scaled).scaleb(-places)


def dso_standard(ar_balance_minor: int, credit_sales_minor: int, days: int) -> Decimal | None:
    """Standard DSO: ``ar_balance / credit_sales * days`` (one decimal; None without sales)."""
    if days <= 0:
        raise ReconInputError(f"DSO period must have days, got {days}", code="RECON_BAD_PERIOD")
    if ar_balance_minor <= 0:
        return _ZERO
    if credit_sales_minor <= 0:
        return None
    return round_ratio(ar_balance_minor * days, credit_sales_minor)


def dso_countback(ar_balance_minor: int, monthly_sales: Sequence[tuple[int, int]]) -> Decimal | None:
    """Count-back DSO over ``monthly_sales``: ``(days, credit_sales_minor)`` newest month first.

    A month with no (or negative, net of credit notes) sales is consumed whole: the balance
    cannot come from it. Returns None when the history ends before the balance is used up.
    """
    remaining = ar_balance_minor
    if remaining <= 0:
        return _ZERO
    full_days = 0
    for days, sales in monthly_sales:
        if sales > 0 and remaining <= sales:
            # full_days + days * remaining / sales, as one fraction so rounding happens once.
            return round_ratio(full_days * sales + days * remaining, sales)
        full_days += days
        remaining -= max(sales, 0)
    return None


def month_periods(as_of: date, months: int) -> list[tuple[date, int]]:
    """``months`` periods ending at ``as_of``, newest first: (first day of month, days counted).

    The as-of month counts only its days up to ``as_of`` (its sales are assumed to be to date).
    """
    out = []
    year, month, days = as_of.year, as_of.month, as_of.day
    for _ in range(months):
        out.append((date(year, month, 1), days))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        days = calendar.monthrange(year, month)[1]
    return out


def dso(
    ar_balances: pl.DataFrame,
    credit_sales: pl.DataFrame,
    as_of: date,
    *,
    months: int = 3,
    countback_months: int = 24,
    by: Sequence[str] = ("currency",),
) -> pl.DataFrame:
    """Standard and count-back DSO per group (default per currency; add ``customer_id`` to ``by``).

    ``ar_balances``: ``by`` columns + ``ar_balance_minor`` (summed per group). ``credit_sales``:
    ``by`` columns + ``month`` (any date in the month) + ``credit_sales_minor``. Standard DSO
    uses the ``months`` periods ending at ``as_of``, count-back up to ``countback_months``.
    Output: ``by`` columns, ``ar_balance_minor``, ``credit_sales_minor`` (standard period),
    ``period_days``, ``dso_standard_days``, ``dso_countback_days`` (Decimal, one place).
    """
    keys = list(by)
    if months <= 0 or countback_months <= 0:
        raise ReconInputError("DSO needs at least one month", code="RECON_BAD_PERIOD")
    ar = require(ar_balances, "ar_balances", {**dict.fromkeys(keys, Kind.ANY), "ar_balance_minor": Kind.INT})
    sales = require(
        credit_sales,
        "credit_sales",
        {**dict.fromkeys(keys, Kind.ANY), "month": Kind.DATE, "credit_sales_minor": Kind.INT},
    )
    require_not_null(ar, "ar_balances", ["ar_balance_minor"])
    require_not_null(sales, "credit_sales", ["month", "credit_sales_minor"])
    balance: dict[tuple[Hashable, ...], int] = defaultdict(int)
    for row in ar.group_by(keys).agg(pl.col("ar_balance_minor").sum()).iter_rows():
        balance[tuple(row[:-1])] += row[-1]
    by_month: dict[tuple[Hashable, ...], dict[date, int]] = defaultdict(dict)
    monthly = (
        sales.with_columns(pl.col("month").dt.truncate("1mo"))
        .group_by([*keys, "month"])
        .agg(pl.col("credit_sales_minor").sum())
    )
    for row in monthly.iter_rows():
        by_month[tuple(row[:-2])][row[-2]] = row[-1]
    periods = month_periods(as_of, max(months, countback_months))
    standard, period_days = periods[:months], sum(d for _, d in periods[:months])
    rows = []
    for group in sorted(set(balance) | set(by_month), key=repr):
        history = [(days, by_month[group].get(start, 0)) for start, days in periods]
        period_sales = sum(s for _, s in history[: len(standard)])
        rows.append(
            (
                *group,
                balance[group],
                period_sales,
                period_days,
                dso_standard(balance[group], period_sales, period_days),
                dso_countback(balance[group], history[:countback_months]),
            )
        )
    schema: dict[str, pl.DataType] = {k: ar.schema[k] for k in keys}
    schema |= {
        "ar_balance_minor": pl.Int64(),
        "credit_sales_minor": pl.Int64(),
        "period_days": pl.Int64(),
        "dso_standard_days": pl.Decimal(38, 1),
        "dso_countback_days": pl.Decimal(38, 1),
    }
    return pl.DataFrame(rows, schema=schema, orient="row").sort(keys)
