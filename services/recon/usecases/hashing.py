"""The domain's snapshot hash for every customer of a snapshot in one pass.

Calling :func:`services.recon.domain.snapshot_hash` once per customer costs about a millisecond
of polars overhead each, twenty seconds over 20,000 customers. This builds the same canonical rows
with one polars expression for the whole snapshot and feeds each customer's sorted rows to its own
SHA-256. It must stay byte-identical to the domain's hash: a test compares the two per customer.
"""

from __future__ import annotations

import hashlib

import polars as pl

from services.recon.domain import SNAPSHOT_COLUMNS
from services.recon.domain.snapshot import _HASH_VERSION

_HEADER = f"{_HASH_VERSION}\n{','.join(SNAPSHOT_COLUMNS)}\n".encode()


def _row_expr() -> pl.Expr:
    """``<byte length>:<text>`` per field (``~`` for null), concatenated: the domain's row text."""
    fields = []
    for column in SNAPSHOT_COLUMNS:
        text = pl.col(column).cast(pl.String)
        fields.append(pl.concat_str([text.str.len_bytes().cast(pl.String), pl.lit(":"), text]).fill_null("~"))
    return pl.concat_str(fields).alias("row")


def customer_hashes(snapshot: pl.DataFrame) -> dict[str, str]:
    """``{customer id as text: snapshot_hash of that customer's rows}``."""
    if snapshot.height == 0:
        return {}
    rows = snapshot.select(pl.col("customer_id").cast(pl.String).alias("customer"), _row_expr()).sort(
        "customer", "row"
    )
    out: dict[str, str] = {}
    current: str | None = None
    digest = hashlib.sha256()
    for customer, row in zip(rows["customer"].to_list(), rows["row"].to_list(), strict=True):
        if customer != current:
            if current is not None:
                out[current] = digest.hexdigest()
            current, digest = customer, hashlib.sha256(_HEADER)
        digest.update(row.encode())
        digest.update(b"\n")
    if current is not None:
        out[current] = digest.hexdigest()
    return out
