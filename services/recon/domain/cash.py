"""Cash around the cut-off: the receipts that explain most confirmation differences.

Three frames with the same columns (:data:`CASH_COLUMNS`), one row per receipt and document it
was (later) applied to, ``item_id`` null when the receipt is still unapplied:

* ``receipts_after_cutoff``: cash booked *after* the cut-off. The customer paid before the
  cut-off in its books, we received it later: payment in transit.
* ``unapplied_cash``: cash booked on or before the cut-off that was not applied to any document
  on the cut-off (applied later, or never). It is *not* in the snapshot, so it must not repeat cash
  already held as ``on_account`` documents (those are in the snapshot and are used directly).
* ``cleared_before_cutoff``: applications effective on or before the cut-off of receipts booked
  within a window before it. The customer may not have recorded that payment yet and still lists
  the document: payment in transit the other way round.

:func:`cash_around_cutoff` builds them from the ledger; receipts that exist only in cash
application (unapplied bank lines of an identified customer) are appended by the caller with
``item_id`` and ``document_number`` null.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

import polars as pl

from services.recon.domain.frames import Kind, require

CASH_COLUMNS: dict[str, Kind] = {
    "customer_id": Kind.ANY,
    "receipt_id": Kind.INT,
    "item_id": Kind.INT,
    "document_number": Kind.TEXT,
    "currency": Kind.TEXT,
    "amount_minor": Kind.INT,
    "receipt_booking_date": Kind.DATE,
}
_CASH_APPLICATION_COLUMNS: dict[str, Kind] = {
    "item_id": Kind.INT,
    "receipt_id": Kind.INT,
    "amount_minor": Kind.INT,
    "effective_date": Kind.DATE,
    "receipt_booking_date": Kind.DATE,
}
_DOC_COLUMNS: dict[str, Kind] = {
    "item_id": Kind.INT,
    "customer_id": Kind.ANY,
    "document_number": Kind.TEXT,
    "document_type": Kind.TEXT,
    "document_date": Kind.DATE,
    "currency": Kind.TEXT,
}


class CashAroundCutoff(NamedTuple):
    """The three cash frames compared against a reply (see the module docstring)."""

    receipts_after_cutoff: pl.DataFrame
    unapplied_cash: pl.DataFrame
    cleared_before_cutoff: pl.DataFrame


def empty_cash(customer_dtype: pl.DataType | None = None) -> pl.DataFrame:
    """A cash frame with no rows and the :data:`CASH_COLUMNS` schema."""
    return pl.DataFrame(
        schema={
            "customer_id": customer_dtype or pl.String(),
            "receipt_id": pl.Int64,
            "item_id": pl.Int64,
            "document_number": pl.String,
            "currency": pl.String,
            "amount_minor": pl.Int64,
            "receipt_booking_date": pl.Date,
        }
    )


def cash_around_cutoff(
    documents: pl.DataFrame,
    applications: pl.DataFrame,
    cutoff: date,
    *,
    window_days: int = 10,
) -> CashAroundCutoff:
    """Split the ledger's applications around ``cutoff`` into the three cash frames.

    Only applications to documents dated on or before the cut-off count (later documents are not
    in any confirmation). Applications to ``on_account`` documents are left out, and so is a
    receipt held on account at the cut-off from ``unapplied_cash``: that cash is already an open
    on-account item of the snapshot. Reversals net out per receipt and document; pairs that net
    to zero are dropped.
    """
    docs = require(documents, "documents", _DOC_COLUMNS)
    apps = require(applications, "applications", _CASH_APPLICATION_COLUMNS)
    docs = docs.filter(pl.col("document_date") <= cutoff).select(_DOC_COLUMNS.keys())
    joined = apps.join(docs, on="item_id", how="inner")
    on_account = pl.col("document_type") == "on_account"
    held_on_account = joined.filter(on_account).get_column("receipt_id").unique()
    rows = joined.filter(~on_account)

    after = rows.filter((pl.col("effective_date") > cutoff) & (pl.col("receipt_booking_date") > cutoff))
    unapplied = rows.filter(
        (pl.col("effective_date") > cutoff)
        & (pl.col("receipt_booking_date") <= cutoff)
        & ~pl.col("receipt_id").is_in(held_on_account.implode())
    )
    since = cutoff - timedelta(days=window_days)
    before = rows.filter((pl.col("effective_date") <= cutoff) & (pl.col("receipt_booking_date") > since))
    return CashAroundCutoff(_net(after), _net(unapplied), _net(before))


def _net(rows: pl.DataFrame) -> pl.DataFrame:
    """Sum reversals into their applications: one row per receipt and document, non-zero."""
    keys = ["customer_id", "receipt_id", "item_id", "document_number", "currency"]
    return (
        rows.group_by(keys)
        .agg(
            pl.col("amount_minor").sum(),
            pl.col("receipt_booking_date").min(),
        )
        .filter(pl.col("amount_minor") != 0)
        .select(CASH_COLUMNS.keys())
        .sort(["customer_id", "receipt_booking_date", "receipt_id", "item_id"])
    )
