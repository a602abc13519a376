"""Cash-application KPIs from the decisions of the matching engine.

Input ``decisions``: ``date`` (Date), ``rule_id`` (text, null for exceptions), ``status`` (text),
``exception_reason`` (text, null when none), ``created_at`` and ``resolved_at`` (naive UTC
datetimes; ``resolved_at`` null while open). A decision is automatic when its status is one of
``auto_statuses`` (default ``"auto"``); every other decision went to a person and is an exception.

Rates are Decimal percentages and durations Decimal hours, both rounded half-up to one decimal
with integer arithmetic, so the figures are the same on every run and platform.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import polars as pl

from services.recon.domain.dso import round_ratio
from services.recon.domain.frames import Kind, ReconInputError, require

DECISION_COLUMNS: dict[str, Kind] = {
    "date": Kind.DATE,
    "rule_id": Kind.TEXT,
    "status": Kind.TEXT,
    "exception_reason": Kind.TEXT,
    "created_at": Kind.DATETIME,
    "resolved_at": Kind.DATETIME,
}
DEFAULT_AGE_DAYS: tuple[int, ...] = (1, 3, 7, 30)
UNSPECIFIED = "UNSPECIFIED"
_DEC = pl.Decimal(38, 1)


def _read(decisions: pl.DataFrame) -> pl.DataFrame:
    return require(decisions, "decisions", DECISION_COLUMNS)


def _is_auto(auto_statuses: Sequence[str]) -> pl.Expr:
    return pl.col("status").is_in(list(auto_statuses))


def _decimals(values: list[Decimal | None]) -> pl.Series:
    return pl.Series(values=values, dtype=_DEC)


def auto_match_rate(
    decisions: pl.DataFrame, *, by: Sequence[str] = ("date",), auto_statuses: Sequence[str] = ("auto",)
) -> pl.DataFrame:
    """Automatic decisions as a share of all decisions, per ``by`` group.

    ``by=("date",)``: the daily rate. ``by=("rule_id",)``: each rule's share of *all* decisions
    (the rules' rates add up to the overall rate). ``by=("date", "rule_id")``: the same per day.
    Output: ``by`` columns, ``decision_count`` (the denominator), ``auto_count``,
    ``auto_rate_pct``. By rule only rules that applied something appear.
    """
    frame = _read(decisions)
    keys = list(by)
    unknown = [k for k in keys if k not in frame.columns]
    if unknown or not keys:
        raise ReconInputError(f"cannot group decisions by {keys!r}", code="RECON_BAD_INPUT")
    outer = [k for k in keys if k != "rule_id"]
    totals = (
        frame.group_by(outer).agg(pl.len().cast(pl.Int64).alias("decision_count"))
        if outer
        else frame.select(pl.len().cast(pl.Int64).alias("decision_count"))
    )
    autos = (
        frame.filter(_is_auto(auto_statuses)).group_by(keys).agg(pl.len().cast(pl.Int64).alias("auto_count"))
    )
    if "rule_id" in keys:
        joined = autos.join(totals, on=outer, how="left") if outer else autos.join(totals, how="cross")
    else:
        joined = totals.join(autos, on=keys, how="left").with_columns(pl.col("auto_count").fill_null(0))
    joined = joined.select(*keys, "decision_count", "auto_count").sort(keys, nulls_last=True)
    rates = [
        round_ratio(a * 100, t) for a, t in zip(joined["auto_count"], joined["decision_count"], strict=True)
    ]
    return joined.with_columns(_decimals(list(rates)).alias("auto_rate_pct"))


def _age_labels(age_days: Sequence[int]) -> list[str]:
    bounds = list(age_days)
    if not bounds or any(b <= 0 for b in bounds) or any(b >= c for b, c in itertools.pairwise(bounds)):
        raise ReconInputError(
            f"age buckets must be increasing positive days, got {bounds!r}", code="RECON_BAD_BUCKETS"
        )
    labels = [f"<{bounds[0]}d"]
    labels += [f"{lo}-{hi}d" for lo, hi in itertools.pairwise(bounds)]
    return [*labels, f">={bounds[-1]}d"]


def exceptions_by_reason(
    decisions: pl.DataFrame,
    as_of: datetime,
    *,
    age_days: Sequence[int] = DEFAULT_AGE_DAYS,
    auto_statuses: Sequence[str] = ("auto",),
) -> pl.DataFrame:
    """Exceptions open at ``as_of`` by reason and age (``as_of - created_at``).

    Age buckets are half-open day ranges: with ``(1, 3, 7, 30)`` the labels are ``<1d``,
    ``1-3d``, ``3-7d``, ``7-30d``, ``>=30d``. A null reason is reported as ``UNSPECIFIED``.
    Output (long, non-empty cells only): ``exception_reason, age_bucket, bucket_order,
    open_count``, sorted by reason and bucket order.
    """
    labels = _age_labels(age_days)
    frame = _read(decisions)
    open_at = (pl.col("created_at") <= as_of) & (
        pl.col("resolved_at").is_null() | (pl.col("resolved_at") > as_of)
    )
    age = pl.lit(as_of) - pl.col("created_at")
    order = pl.sum_horizontal([(age >= pl.duration(days=d)).cast(pl.Int8) for d in age_days]).cast(pl.Int64)
    return (
        frame.filter(~_is_auto(auto_statuses) & open_at)
        .select(pl.col("exception_reason").fill_null(UNSPECIFIED), order.alias("bucket_order"))
        .group_by("exception_reason", "bucket_order")
        .agg(pl.len().cast(pl.Int64).alias("open_count"))
        .with_columns(
            pl.col("bucket_order").replace_strict(list(range(len(labels))), labels).alias("age_bucket")
        )
        .select("exception_reason", "age_bucket", "bucket_order", "open_count")
        .sort("exception_reason", "bucket_order")
    )


def _median_p90(seconds: list[int]) -> tuple[Decimal, Decimal]:
    """Median (mean of the two middle values for an even count) and nearest-rank p90, in hours."""
    n = len(seconds)
    mid = n // 2
    median = round_ratio(seconds[mid] * 2 if n % 2 else seconds[mid - 1] + seconds[mid], 7200)
    rank = -(-9 * n // 10)  # ceil(0.9 n), 1-based
    return median, round_ratio(seconds[rank - 1], 3600)


def time_to_resolve(
    decisions: pl.DataFrame, *, by: Sequence[str] = (), auto_statuses: Sequence[str] = ("auto",)
) -> pl.DataFrame:
    """Hours from creation to resolution of resolved exceptions: median and p90 per ``by`` group.

    ``by=()`` gives one overall row; ``by=("exception_reason",)`` one per reason (null reasons as
    ``UNSPECIFIED``). Output: ``by`` columns, ``resolved_count``, ``median_hours``, ``p90_hours``.
    """
    frame = _read(decisions)
    keys = list(by)
    resolved = frame.filter(~_is_auto(auto_statuses) & pl.col("resolved_at").is_not_null()).with_columns(
        pl.col("exception_reason").fill_null(UNSPECIFIED),
        (pl.col("resolved_at") - pl.col("created_at"))
        .dt.total_seconds()
        .clip(lower_bound=0)
        .alias("seconds"),
    )
    if keys:
        grouped = resolved.group_by(keys).agg(pl.col("seconds").sort()).sort(keys)
    else:
        grouped = resolved.select(pl.col("seconds").sort().implode()).filter(pl.col("seconds").list.len() > 0)
    stats = [_median_p90(list(s)) for s in grouped["seconds"].to_list()]
    return grouped.select(
        *keys,
        pl.col("seconds").list.len().cast(pl.Int64).alias("resolved_count"),
    ).with_columns(
        _decimals([m for m, _ in stats]).alias("median_hours"),
        _decimals([p for _, p in stats]).alias("p90_hours"),
    )
