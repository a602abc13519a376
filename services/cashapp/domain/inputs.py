"""Input frames: check required columns, add optional ones as nulls, fix dtypes (pure)."""

from __future__ import annotations

import polars as pl

from shared.errors import ValidationError

RECEIPTS: dict[str, pl.DataType] = {
    "receipt_id": pl.Int64(),
    "account": pl.Utf8(),
    "currency": pl.Utf8(),
    "booking_date": pl.Date(),
    "value_date": pl.Date(),
    "amount_minor": pl.Int64(),
    "bank_reference": pl.Utf8(),
    "end_to_end_reference": pl.Utf8(),
    "customer_reference": pl.Utf8(),
    "counterparty_name": pl.Utf8(),
    "counterparty_account": pl.Utf8(),
    "remittance": pl.Utf8(),
    "creditor_reference": pl.Utf8(),
    "is_reversal": pl.Boolean(),
}
OPEN_ITEMS: dict[str, pl.DataType] = {
    "item_id": pl.Int64(),
    "customer_id": pl.Utf8(),
    "document_number": pl.Utf8(),
    "document_type": pl.Utf8(),
    "document_date": pl.Date(),
    "due_date": pl.Date(),
    "currency": pl.Utf8(),
    "amount_minor": pl.Int64(),
    "open_amount_minor": pl.Int64(),
    "payment_reference": pl.Utf8(),
}
CUSTOMERS: dict[str, pl.DataType] = {"customer_id": pl.Utf8(), "customer_name": pl.Utf8()}
ACCOUNTS: dict[str, pl.DataType] = {
    "customer_id": pl.Utf8(),
    "kind": pl.Utf8(),
    "value": pl.Utf8(),
    "source": pl.Utf8(),
}
_REQUIRED = {
    "receipts": ("receipt_id", "currency", "amount_minor"),
    "open_items": ("item_id", "customer_id", "document_number", "currency", "open_amount_minor"),
    "customers": ("customer_id", "customer_name"),
    "accounts": ("customer_id", "kind", "value"),
}


def _conform(name: str, frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    missing = [c for c in _REQUIRED[name] if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{name} frame lacks column(s): {', '.join(missing)}",
            code="MATCH_INPUT_INVALID",
            frame=name,
            missing=missing,
        )
    cols = []
    for col, dtype in schema.items():
        expr = pl.col(col) if col in frame.columns else pl.lit(None)
        cols.append(expr.cast(dtype).alias(col))
    try:
        return frame.select(cols)
    except pl.exceptions.PolarsError as exc:
        raise ValidationError(
            f"{name} frame has a column of the wrong type: {exc}", code="MATCH_INPUT_INVALID", frame=name
        ) from exc


def prepare_inputs(
    receipts: pl.DataFrame, open_items: pl.DataFrame, customers: pl.DataFrame, accounts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Frames with exactly the documented columns and dtypes.

    Optional columns absent from the input become nulls; ``is_reversal`` null means False,
    ``document_type`` null means invoice, ``amount_minor`` null means the open amount, ``source``
    null means master. Items with nothing open (0) are dropped: they cannot be applied. Duplicate
    ``receipt_id`` or ``item_id`` values are refused (``MATCH_INPUT_INVALID``).
    """
    r = _conform("receipts", receipts, RECEIPTS).with_columns(
        pl.col("is_reversal").fill_null(False), pl.col("currency").str.to_uppercase()
    )
    o = (
        _conform("open_items", open_items, OPEN_ITEMS)
        .with_columns(
            pl.col("document_type").fill_null("invoice").str.to_lowercase(),
            pl.col("amount_minor").fill_null(pl.col("open_amount_minor")),
            pl.col("currency").str.to_uppercase(),
            pl.col("document_number").fill_null(""),
        )
        .filter(pl.col("open_amount_minor").fill_null(0) != 0)
    )
    c = _conform("customers", customers, CUSTOMERS)
    a = _conform("accounts", accounts, ACCOUNTS).with_columns(
        pl.col("source").fill_null("master"), pl.col("kind").str.to_lowercase()
    )
    for name, frame, key in (("receipts", r, "receipt_id"), ("open_items", o, "item_id")):
        if frame[key].null_count() or frame[key].n_unique() != frame.height:
            raise ValidationError(f"{name}.{key} must be unique and not null", code="MATCH_INPUT_INVALID", frame=name)
    return r, o, c, a
