"""Request and response schemas of the reconciliation REST endpoints (money: decimal strings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Cell = str | int | float | bool | None  # one value of a report row (dates and money are strings)
Row = dict[str, Cell]
ByCurrency = dict[str, str]  # currency -> decimal string


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunCreate(BaseModel):
    """What a confirmation run covers; no filter means every customer with an open balance."""

    model_config = ConfigDict(extra="forbid")
    as_of: date = Field(description="Cut-off date: documents and applications dated on or before it")
    min_balance: str | None = Field(None, max_length=32, pattern=r"^-?\d{1,15}(\.\d{1,4})?$",
                                    description="Only customers owing at least this (any currency)")
    customers: list[str] | None = Field(None, max_length=10_000,
                                        description="Only these customer ids")
    segment: str | None = Field(None, min_length=1, max_length=64,
                                description="Glob on the customer id, e.g. `EU-*`")


class RunPublic(_Out):
    id: int
    as_of: date
    filter: str
    customers: int
    items: int
    snapshot_hash: str
    status: str
    created_at: datetime


class RunPage(_Out):
    items: list[RunPublic]
    next_after_id: int | None


class GroupFigures(_Out):
    count: int
    balance: ByCurrency


class ClassFigures(_Out):
    count: int
    difference: ByCurrency


class RunReport(_Out):
    run_id: int
    as_of: date
    customers: int
    replied: int
    response_rate_pct: str
    agreed: GroupFigures
    disagreed: GroupFigures
    no_reply: GroupFigures
    differences_by_class: dict[str, ClassFigures]
    open_confirmations_by_age_days: dict[str, int]


class RunVerify(_Out):
    run_id: int
    ok: bool
    expected_hash: str
    actual_hash: str
    mismatched_customers: list[str]


class ReplyLoaded(_Out):
    run_id: int
    kind: str
    rows: int
    agreed: list[str]
    disagreed: list[str]
    differences_by_class: dict[str, int]


class AgingReport(_Out):
    as_of: date
    buckets: list[int]
    by_customer: list[Row] | None = None
    total: list[Row]


class DsoReport(_Out):
    as_of: date
    months: int
    by_customer: bool
    dso: list[Row]


class UnappliedReport(_Out):
    as_of: date
    unapplied: list[Row]


class KpiReport(_Out):
    auto_match_by_day: list[Row]
    auto_match_by_rule: list[Row]
    exceptions_by_reason: list[Row]
    time_to_resolve: list[Row]


def money_by_currency(values: dict[str, int]) -> ByCurrency:
    """Minor units per currency as decimal strings."""
    from shared.money import format_minor

    return {cur: format_minor(minor, cur) for cur, minor in sorted(values.items())}


def humanise_run_report(report: dict[str, Any]) -> dict[str, Any]:
    """``run_report`` with its minor-unit figures written as decimal strings."""
    out = dict(report)
    for key in ("agreed", "disagreed", "no_reply"):
        out[key] = {"count": report[key]["count"],
                    "balance": money_by_currency(report[key]["balance_minor"])}
    out["differences_by_class"] = {
        cls: {"count": v["count"], "difference": money_by_currency(v["difference_minor"])}
        for cls, v in report["differences_by_class"].items()}
    return out
