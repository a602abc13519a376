"""Small builders for reconciliation-domain tests: our items, replies and cash frames."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

CUTOFF = date(2026, 9, 30)


def day(offset: int) -> date:
    """The cut-off shifted by ``offset`` days."""
    return CUTOFF + timedelta(days=offset)


SNAP_SCHEMA = {
    "customer_id": pl.String,
    "item_id": pl.Int64,
    "document_number": pl.String,
    "document_type": pl.String,
    "document_date": pl.Date,
    "due_date": pl.Date,
    "currency": pl.String,
    "amount_minor": pl.Int64,
    "open_minor": pl.Int64,
}
REPLY_SCHEMA = {
    "customer_id": pl.String,
    "document_number": pl.String,
    "document_date": pl.Date,
    "amount_minor": pl.Int64,
    "currency": pl.String,
    "disputed": pl.Boolean,
    "note": pl.String,
}
CASH_SCHEMA = {
    "customer_id": pl.String,
    "receipt_id": pl.Int64,
    "item_id": pl.Int64,
    "document_number": pl.String,
    "currency": pl.String,
    "amount_minor": pl.Int64,
    "receipt_booking_date": pl.Date,
}
_TYPE_BY_PREFIX = {"INV": "invoice", "CN": "credit_note", "DED": "deduction", "OA": "on_account"}


def ours(*rows: tuple[Any, ...], customer: str = "C1") -> pl.DataFrame:
    """Snapshot rows ``(item_id, number, open_minor[, currency[, doc offset]])``; type from prefix."""
    out = []
    for row in rows:
        item_id, number, open_ = row[:3]
        currency = row[3] if len(row) > 3 else "EUR"
        offset = row[4] if len(row) > 4 else -10
        out.append(
            {
                "customer_id": customer,
                "item_id": item_id,
                "document_number": number,
                "document_type": _TYPE_BY_PREFIX[number.split("-")[0]],
                "document_date": day(offset),
                "due_date": day(offset + 30),
                "currency": currency,
                "amount_minor": open_,
                "open_minor": open_,
            }
        )
    return pl.DataFrame(out, schema=SNAP_SCHEMA)


def reply(*rows: tuple[Any, ...], customer: str = "C1") -> pl.DataFrame:
    """Reply lines ``(number, amount[, disputed[, currency[, doc offset]]])``."""
    out = []
    for row in rows:
        number, amount = row[:2]
        out.append(
            {
                "customer_id": customer,
                "document_number": number,
                "document_date": day(row[4] if len(row) > 4 else -10),
                "amount_minor": amount,
                "currency": row[3] if len(row) > 3 else "EUR",
                "disputed": row[2] if len(row) > 2 else False,
                "note": "quality claim" if len(row) > 2 and row[2] else None,
            }
        )
    return pl.DataFrame(out, schema=REPLY_SCHEMA)


def cash(*rows: tuple[Any, ...], customer: str = "C1") -> pl.DataFrame:
    """Cash rows ``(receipt_id, item_id | None, number | None, amount[, booked offset[, currency]])``."""
    out = []
    for row in rows:
        receipt_id, item_id, number, amount = row[:4]
        out.append(
            {
                "customer_id": customer,
                "receipt_id": receipt_id,
                "item_id": item_id,
                "document_number": number,
                "currency": row[5] if len(row) > 5 else "EUR",
                "amount_minor": amount,
                "receipt_booking_date": day(row[4] if len(row) > 4 else 2),
            }
        )
    return pl.DataFrame(out, schema=CASH_SCHEMA)
