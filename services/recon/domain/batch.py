"""Reconcile all replies of a confirmation run in one call.

Every frame is validated once and read once into per-customer lists; the comparison then runs on
plain objects. Per-customer polars calls would cost a fraction of a millisecond each, which adds up
to many seconds over thousands of replies. Customer ids are compared as text, so an integer id in
the snapshot meets the same id read as text from a reply file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import polars as pl

from services.recon.domain.balance import balance_result, check_confirmed, confirmed_from_rows
from services.recon.domain.cashbook import Books, CashBook, check_cash
from services.recon.domain.compare import items_result
from services.recon.domain.frames import Kind, require
from services.recon.domain.matching import check_ours, check_theirs, ours_from_rows, theirs_from_rows
from services.recon.domain.reasons import ReconResult

_KEY = "__customer_key"
Rows = dict[str, list[dict[str, Any]]]


def _group(frame: pl.DataFrame | None, keys: set[str], check: Callable[[pl.DataFrame], pl.DataFrame]) -> Rows:
    """Rows of ``frame`` for the customers in ``keys``, grouped by customer id as text."""
    grouped: Rows = defaultdict(list)
    if frame is None or frame.height == 0:
        return grouped
    checked = check(require(frame, "frame", {"customer_id": Kind.ANY}))
    keyed = checked.with_columns(pl.col("customer_id").cast(pl.String).alias(_KEY)).filter(
        pl.col(_KEY).is_in(pl.Series(sorted(keys), dtype=pl.String).implode())
    )
    for row in keyed.iter_rows(named=True):
        grouped[row[_KEY]].append(row)
    return grouped


def _cash_check(name: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda frame: check_cash(frame, name)


def reconcile_replies(
    snapshot: pl.DataFrame,
    *,
    item_replies: pl.DataFrame | None = None,
    balance_replies: pl.DataFrame | None = None,
    receipts_after_cutoff: pl.DataFrame | None = None,
    unapplied_cash: pl.DataFrame | None = None,
    cleared_before_cutoff: pl.DataFrame | None = None,
) -> list[ReconResult]:
    """One :class:`ReconResult` per customer and reply kind, ordered by customer id (as text).

    ``item_replies`` and ``balance_replies`` carry ``customer_id`` plus the columns of
    :func:`~services.recon.domain.compare.compare_items` /
    :func:`~services.recon.domain.balance.compare_balance`; all rows of one customer form one
    reply. A customer who sent both gets both results. Customers without a reply get none.
    """
    keys: set[str] = set()
    for frame in (item_replies, balance_replies):
        if frame is not None and frame.height:
            keys |= set(require(frame, "replies", {"customer_id": Kind.ANY})["customer_id"].cast(pl.String))
    items = _group(item_replies, keys, check_theirs)
    confirmed = _group(balance_replies, keys, check_confirmed)
    ours = _group(snapshot, keys, check_ours)
    cash = [
        _group(frame, keys, _cash_check(name))
        for name, frame in (
            ("receipts_after_cutoff", receipts_after_cutoff),
            ("unapplied_cash", unapplied_cash),
            ("cleared_before_cutoff", cleared_before_cutoff),
        )
    ]

    def books(key: str) -> Books:
        after, unapplied, before = (CashBook.from_rows(rows.get(key, [])) for rows in cash)
        return Books(after, unapplied, before)

    results = [
        items_result(
            rows[0]["customer_id"], ours_from_rows(ours.get(key, [])), theirs_from_rows(rows), books(key)
        )
        for key, rows in items.items()
    ]
    results += [
        balance_result(
            rows[0]["customer_id"], ours_from_rows(ours.get(key, [])), confirmed_from_rows(rows), books(key)
        )
        for key, rows in confirmed.items()
    ]
    return sorted(results, key=lambda r: (str(r.customer_id), r.reply_kind.value))
