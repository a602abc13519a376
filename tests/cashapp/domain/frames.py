"""Small builders for the engine's input frames (tests only)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from services.cashapp.domain import Decision, RuleSet, match
from services.cashapp.domain.inputs import ACCOUNTS, CUSTOMERS, OPEN_ITEMS, RECEIPTS
from services.cashapp.rules import default_rules

BOOKED = date(2026, 3, 10)
AS_OF = date(2026, 3, 31)


def receipt(rid: int, amount: int, **kw: Any) -> dict[str, Any]:
    """A credit booked on ``BOOKED`` unless told otherwise."""
    row: dict[str, Any] = {c: None for c in RECEIPTS}
    row.update(
        receipt_id=rid,
        account="DE00HOUSE",
        currency="EUR",
        booking_date=BOOKED,
        value_date=BOOKED,
        amount_minor=amount,
        is_reversal=False,
    )
    row.update(kw)
    return row


def item(iid: int, cust: str, number: str, amount: int, **kw: Any) -> dict[str, Any]:
    """An open invoice (or credit note when ``amount`` is negative), fully open by default."""
    row: dict[str, Any] = {
        "item_id": iid,
        "customer_id": cust,
        "document_number": number,
        "document_type": "credit_note" if amount < 0 else "invoice",
        "document_date": date(2026, 3, 1),
        "due_date": date(2026, 3, 31),
        "currency": "EUR",
        "amount_minor": amount,
        "open_amount_minor": amount,
        "payment_reference": None,
    }
    row.update(kw)
    return row


def frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def run(
    receipts: list[dict[str, Any]],
    items: list[dict[str, Any]],
    customers: dict[str, str] | None = None,
    accounts: list[tuple[str, str, str]] | None = None,
    rules: RuleSet | None = None,
    as_of: date = AS_OF,
) -> list[Decision]:
    """``match`` over rows; ``customers`` maps id -> name (defaults to one per item's customer);
    ``accounts`` are ``(customer_id, kind, value)`` tuples from master data."""
    names = customers or {i["customer_id"]: f"Customer {i['customer_id']}" for i in items}
    cust_rows = [{"customer_id": k, "customer_name": v} for k, v in names.items()]
    acct_rows = [{"customer_id": c, "kind": k, "value": v, "source": "master"} for c, k, v in accounts or []]
    return match(
        frame(receipts, RECEIPTS),
        frame(items, OPEN_ITEMS),
        frame(cust_rows, CUSTOMERS),
        frame(acct_rows, ACCOUNTS),
        rules or default_rules(),
        as_of,
    )


def one(receipts: list[dict[str, Any]] | dict[str, Any], items: list[dict[str, Any]], **kw: Any) -> Decision:
    """The decision of a single receipt."""
    rows = receipts if isinstance(receipts, list) else [receipts]
    return run(rows, items, **kw)[0]


def docs(d: Decision) -> dict[str, int]:
    """``{document_number: amount cleared}`` of a decision."""
    return {a.document_number: a.amount_minor for a in d.allocations}


def with_rules(text: str) -> RuleSet:
    """The default rules with ``text`` (TOML) merged on top (tables replaced key by key)."""
    import tomllib

    from services.cashapp.domain.rules import RuleSet

    base = default_rules().model_dump(mode="json")
    extra = tomllib.loads(text)

    def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        for k, v in b.items():
            a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    return RuleSet.model_validate(merge(base, extra))
