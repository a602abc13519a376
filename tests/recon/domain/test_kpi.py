"""Cash-application KPIs: auto-match rate, exceptions by reason and age, time to resolve."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from services.recon.domain import ReconInputError, auto_match_rate, exceptions_by_reason, time_to_resolve

NOW = datetime(2026, 10, 10, 12, 0)
SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "rule_id": pl.String(),
    "status": pl.String(),
    "exception_reason": pl.String(),
    "created_at": pl.Datetime("us"),
    "resolved_at": pl.Datetime("us"),
}


def decision(
    day: int,
    status: str,
    rule: str | None = None,
    reason: str | None = None,
    age_h: float = 0,
    resolved_after_h: float | None = None,
) -> dict[str, Any]:
    created = NOW - timedelta(hours=age_h)
    return {
        "date": date(2026, 10, day),
        "rule_id": rule,
        "status": status,
        "exception_reason": reason,
        "created_at": created,
        "resolved_at": None if resolved_after_h is None else created + timedelta(hours=resolved_after_h),
    }


DECISIONS = pl.DataFrame(
    [
        decision(1, "auto", "reference"),
        decision(1, "auto", "reference"),
        decision(1, "auto", "amount"),
        decision(1, "exception", None, "UNKNOWN_PAYER", age_h=200, resolved_after_h=2),
        decision(2, "auto", "reference"),
        decision(2, "exception", None, "UNKNOWN_PAYER", age_h=30),
        decision(2, "exception", None, "AMBIGUOUS", age_h=10, resolved_after_h=5),
        decision(2, "exception", None, None, age_h=24 * 40),
        decision(3, "exception", None, "AMBIGUOUS", age_h=2, resolved_after_h=1),
    ],
    schema=SCHEMA,
)


def test_auto_match_rate_by_day() -> None:
    result = auto_match_rate(DECISIONS)
    assert result.columns == ["date", "decision_count", "auto_count", "auto_rate_pct"]
    assert result.rows() == [
        (date(2026, 10, 1), 4, 3, Decimal("75.0")),
        (date(2026, 10, 2), 4, 1, Decimal("25.0")),
        (date(2026, 10, 3), 1, 0, Decimal("0.0")),
    ]


def test_auto_match_rate_by_rule_adds_up_to_the_overall_rate() -> None:
    result = auto_match_rate(DECISIONS, by=("rule_id",))
    assert result.rows() == [("amount", 9, 1, Decimal("11.1")), ("reference", 9, 3, Decimal("33.3"))]
    per_day = auto_match_rate(DECISIONS, by=("date", "rule_id"))
    assert per_day.filter(pl.col("date") == date(2026, 10, 1)).select("rule_id", "auto_rate_pct").rows() == [
        ("amount", Decimal("25.0")),
        ("reference", Decimal("50.0")),
    ]


def test_exceptions_open_by_reason_and_age() -> None:
    result = exceptions_by_reason(DECISIONS, NOW)
    assert result.rows() == [
        ("UNKNOWN_PAYER", "1-3d", 1, 1),
        ("UNSPECIFIED", ">=30d", 4, 1),
    ]
    # Earlier, the exceptions resolved since were still open.
    earlier = exceptions_by_reason(DECISIONS, NOW - timedelta(hours=1, minutes=30))
    assert ("AMBIGUOUS", "<1d", 0, 1) in earlier.rows()


def test_time_to_resolve_median_and_p90() -> None:
    overall = time_to_resolve(DECISIONS)
    # Resolved after 2, 5 and 1 hours: median 2.0, p90 (nearest rank 3 of 3) 5.0.
    assert overall.rows() == [(3, Decimal("2.0"), Decimal("5.0"))]
    by_reason = time_to_resolve(DECISIONS, by=("exception_reason",))
    assert by_reason.rows() == [
        ("AMBIGUOUS", 2, Decimal("3.0"), Decimal("5.0")),
        ("UNKNOWN_PAYER", 1, Decimal("2.0"), Decimal("2.0")),
    ]


def test_time_to_resolve_with_nothing_resolved_is_empty() -> None:
    only_auto = DECISIONS.filter(pl.col("status") == "auto")
    assert time_to_resolve(only_auto).height == 0


def test_p90_uses_the_nearest_rank() -> None:
    rows = [decision(1, "exception", None, "X", age_h=100, resolved_after_h=h) for h in range(1, 11)]
    result = time_to_resolve(pl.DataFrame(rows, schema=SCHEMA))
    assert result.rows() == [(10, Decimal("5.5"), Decimal("9.0"))]


def test_bad_grouping_and_buckets_are_refused() -> None:
    with pytest.raises(ReconInputError):
        auto_match_rate(DECISIONS, by=("nope",))
    with pytest.raises(ReconInputError):
        exceptions_by_reason(DECISIONS, NOW, age_days=(3, 1))
    with pytest.raises(ReconInputError, match="created_at"):
        auto_match_rate(DECISIONS.with_columns(pl.col("created_at").cast(pl.String)))
