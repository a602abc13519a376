"""Reading a customer's reply file: a confirmed balance or its own list of open items.

Balance reply columns: ``customer_id, currency, confirmed_balance`` (optional ``disputed``,
``note``). Item reply columns: ``customer_id, document_number, document_date, amount, currency``
(optional ``disputed``, ``note``). Amounts in our sign: positive = the customer owes us. Every
bad row is reported with its line number and nothing is loaded (``RECON_BAD_REPLY_ROWS``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from shared.errors import DomainError, ValidationError
from shared.money import parse_decimal, to_minor

BALANCE_COLUMNS = ("customer_id", "currency", "confirmed_balance")
ITEM_COLUMNS = ("customer_id", "document_number", "document_date", "amount", "currency")
MAX_ERRORS_SHOWN = 20
_TRUE = {"1", "y", "yes", "true", "x", "disputed"}
_FALSE = {"", "0", "n", "no", "false"}


@dataclass(frozen=True, slots=True)
class ReplyFile:
    """A validated reply: its kind, the rows for the domain and the raw rows by line."""

    kind: str  # balance | items
    frame: pl.DataFrame
    raw: list[tuple[int, dict[str, str]]]


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _rows(text: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str] | None]]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower().replace(" ", "_") for h in (reader.fieldnames or [])]
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str] | None]]:
        for row in reader:
            if None in row:
                yield reader.line_num, None
            elif any((v or "").strip() for v in row.values()):
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}

    return header, rows()


def _flag(value: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"disputed {value!r} is not yes/no")


def _money(value: str, currency: str, column: str) -> int:
    if not value:
        raise ValueError(f"{column} is empty")
    try:
        return to_minor(parse_decimal(value), currency)
    except (DomainError, ArithmeticError, ValueError) as exc:
        raise ValueError(f"{column} {value!r} is not an amount in {currency}") from exc


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isalpha():
        raise ValueError(f"currency {value!r} is not an ISO 4217 code")
    return value.upper()


def _balance_row(row: dict[str, str], line: int) -> dict[str, Any]:
    cur = _currency(row["currency"])
    return {"customer_id": row["customer_id"], "currency": cur,
            "confirmed_balance_minor": _money(row["confirmed_balance"], cur, "confirmed_balance"),
            "disputed": _flag(row.get("disputed", "")), "note": row.get("note") or None, "line_no": line}


def _item_row(row: dict[str, str], line: int) -> dict[str, Any]:
    cur = _currency(row["currency"])
    if not row["document_number"]:
        raise ValueError("document_number is empty")
    try:
        day = date.fromisoformat(row["document_date"])
    except ValueError as exc:
        raise ValueError(f"document_date {row['document_date']!r} is not YYYY-MM-DD") from exc
    return {"customer_id": row["customer_id"], "document_number": row["document_number"], "document_date": day,
            "amount_minor": _money(row["amount"], cur, "amount"), "currency": cur,
            "disputed": _flag(row.get("disputed", "")), "note": row.get("note") or None, "line_no": line}


_SCHEMAS: dict[str, dict[str, Any]] = {
    "balance": {"customer_id": pl.String, "currency": pl.String, "confirmed_balance_minor": pl.Int64,
                "disputed": pl.Boolean, "note": pl.String, "line_no": pl.Int64},
    "items": {"customer_id": pl.String, "document_number": pl.String, "document_date": pl.Date,
              "amount_minor": pl.Int64, "currency": pl.String, "disputed": pl.Boolean, "note": pl.String,
              "line_no": pl.Int64},
}


def read_reply(data: bytes, file_name: str, known_customers: set[str]) -> ReplyFile:
    """Parse and validate a reply file; ``ValidationError`` with ``errors`` lists every bad line."""
    header, rows = _rows(_decode(data))
    if all(c in header for c in BALANCE_COLUMNS):
        kind, convert = "balance", _balance_row
    elif all(c in header for c in ITEM_COLUMNS):
        kind, convert = "items", _item_row
    else:
        raise ValidationError(
            f"{file_name}: header must have {', '.join(BALANCE_COLUMNS)} or {', '.join(ITEM_COLUMNS)}",
            code="RECON_BAD_REPLY_HEADER", columns=header)
    errors: list[dict[str, object]] = []
    out: list[dict[str, Any]] = []
    raw: list[tuple[int, dict[str, str]]] = []
    for line, row in rows:
        try:
            if row is None:
                raise ValueError("more fields than the header")
            if row["customer_id"] not in known_customers:
                raise ValueError(f"customer {row['customer_id']!r} is not in this confirmation run")
            out.append(convert(row, line))
            raw.append((line, row))
        except ValueError as exc:
            errors.append({"line": line, "reason": str(exc)})
    if not out and not errors:
        errors.append({"line": 1, "reason": "no data rows"})
    if errors:
        shown = "; ".join(f"line {e['line']}: {e['reason']}" for e in errors[:MAX_ERRORS_SHOWN])
        raise ValidationError(f"{len(errors)} bad row(s) in {file_name}, nothing loaded: {shown}",
                              code="RECON_BAD_REPLY_ROWS", errors=errors)
    return ReplyFile(kind, pl.DataFrame(out, schema=_SCHEMAS[kind]), raw)
