"""As-of snapshot of open items: what each customer owed us at a cut-off date.

The snapshot is computed from accounting dates only (``document_date`` of documents,
``effective_date`` of applications), so it answers "what was open on the cut-off" the same way
whether a posting was entered on time or back-dated later. Immutability of an *issued*
confirmation comes from storing the snapshot and its :func:`snapshot_hash`; ``recorded_by`` lets a
caller reproduce the ledger as it was known on a given day (for example the run date), which is how
a later back-dated posting is shown not to change an issued confirmation.

Sign convention: ``amount_minor`` of a document is signed (invoices and deductions positive,
credit notes and cash on account negative); an application's ``amount_minor`` is what it clears
in the document's own sign (clearing a -50.00 credit note is -5000) and a reversal is the same row
with the opposite sign. Open amount = document amount - sum of applications.
"""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl

from services.recon.domain.frames import Kind, ReconInputError, require, require_not_null

DOCUMENT_COLUMNS: dict[str, Kind] = {
    "item_id": Kind.INT,
    "customer_id": Kind.ANY,
    "document_number": Kind.TEXT,
    "document_type": Kind.TEXT,
    "document_date": Kind.DATE,
    "due_date": Kind.DATE,
    "currency": Kind.TEXT,
    "amount_minor": Kind.INT,
}
APPLICATION_COLUMNS: dict[str, Kind] = {
    "item_id": Kind.INT,
    "amount_minor": Kind.INT,
    "effective_date": Kind.DATE,
}
RECORDED_AT: dict[str, Kind] = {"recorded_at": Kind.DATE}

# Column order of a snapshot; also the canonical order hashed by snapshot_hash.
SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "item_id",
    "document_number",
    "document_type",
    "document_date",
    "due_date",
    "currency",
    "amount_minor",
    "open_minor",
)
BALANCE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "currency",
    "balance_minor",
    "debit_minor",
    "credit_minor",
    "item_count",
)
_HASH_VERSION = "cashrecon-snapshot-v1"


def as_of_snapshot(
    documents: pl.DataFrame,
    applications: pl.DataFrame,
    cutoff: date,
    *,
    recorded_by: date | None = None,
) -> pl.DataFrame:
    """Open items as of ``cutoff``: one row per document with a non-zero open amount.

    Takes documents with ``document_date <= cutoff`` and subtracts applications with
    ``effective_date <= cutoff``. With ``recorded_by``, rows whose ``recorded_at`` is later are
    ignored too (the ledger as known on that day). Returns :data:`SNAPSHOT_COLUMNS`, sorted by
    customer, currency, due date and item id. Raises ``RECON_BAD_INPUT`` on a missing or mistyped
    column, a null key, date or amount, or a duplicate ``item_id``.
    """
    doc_spec = {**DOCUMENT_COLUMNS, **(RECORDED_AT if recorded_by else {})}
    app_spec = {**APPLICATION_COLUMNS, **(RECORDED_AT if recorded_by else {})}
    docs = require(documents, "documents", doc_spec)
    apps = require(applications, "applications", app_spec)
    require_not_null(
        docs, "documents", ["item_id", "customer_id", "document_date", "currency", "amount_minor"]
    )
    require_not_null(apps, "applications", ["item_id", "amount_minor", "effective_date"])
    if docs.get_column("item_id").is_duplicated().any():
        raise ReconInputError("documents: duplicate item_id", frame="documents", column="item_id")

    doc_filter = pl.col("document_date") <= cutoff
    app_filter = pl.col("effective_date") <= cutoff
    if recorded_by is not None:
        doc_filter &= pl.col("recorded_at") <= recorded_by
        app_filter &= pl.col("recorded_at") <= recorded_by
    applied = (
        apps.lazy()
        .filter(app_filter)
        .group_by("item_id")
        .agg(pl.col("amount_minor").sum().alias("applied_minor"))
    )
    return (
        docs.lazy()
        .filter(doc_filter)
        .select(DOCUMENT_COLUMNS.keys())
        .join(applied, on="item_id", how="left")
        .with_columns((pl.col("amount_minor") - pl.col("applied_minor").fill_null(0)).alias("open_minor"))
        .filter(pl.col("open_minor") != 0)
        .select(SNAPSHOT_COLUMNS)
        .sort(["customer_id", "currency", "due_date", "item_id"], nulls_last=True)
        .collect()
    )


def balances(snapshot: pl.DataFrame) -> pl.DataFrame:
    """Balance per customer and currency of a snapshot (:data:`BALANCE_COLUMNS`).

    ``balance_minor`` is the signed sum of open amounts; ``debit_minor`` / ``credit_minor`` split
    it into what the customer owes (positive items) and what we owe back (credits, cash on
    account, negative); ``item_count`` counts open items.
    """
    snap = require(
        snapshot, "snapshot", {"customer_id": Kind.ANY, "currency": Kind.TEXT, "open_minor": Kind.INT}
    )
    open_ = pl.col("open_minor")
    return (
        snap.lazy()
        .group_by(["customer_id", "currency"])
        .agg(
            open_.sum().alias("balance_minor"),
            open_.filter(open_ > 0).sum().alias("debit_minor"),
            open_.filter(open_ < 0).sum().alias("credit_minor"),
            pl.len().cast(pl.Int64).alias("item_count"),
        )
        .sort(["customer_id", "currency"])
        .collect()
    )


def snapshot_hash(snapshot: pl.DataFrame) -> str:
    """SHA-256 (hex) of a canonical serialisation of the snapshot's :data:`SNAPSHOT_COLUMNS`.

    Independent of row order and of extra columns; every field is written as
    ``<byte length>:<text>`` (``~`` for null) so no value can imitate a separator. The id types
    are written as text, so ``customer_id`` 42 and ``"42"`` hash the same. Recompute it on the
    stored rows to prove an issued confirmation was not changed.
    """
    missing = [c for c in SNAPSHOT_COLUMNS if c not in snapshot.columns]
    if missing:
        raise ReconInputError(f"snapshot: missing column {missing[0]!r}", frame="snapshot", column=missing[0])
    fields = []
    for column in SNAPSHOT_COLUMNS:
        text = pl.col(column).cast(pl.String)
        # concat_str is null when the value is null; "~" cannot be confused with "<n>:<text>".
        fields.append(pl.concat_str([text.str.len_bytes().cast(pl.String), pl.lit(":"), text]).fill_null("~"))
    rows = snapshot.select(pl.concat_str(fields).alias("row")).sort("row").get_column("row")
    digest = hashlib.sha256()
    digest.update(f"{_HASH_VERSION}\n{','.join(SNAPSHOT_COLUMNS)}\n".encode())
    for row in rows.to_list():
        digest.update(row.encode())
        digest.update(b"\n")
    return digest.hexdigest()
