"""Item-level reconciliation of a customer's open-item list against our as-of snapshot.

Order of work (each step only sees what the previous left):

1. pair the two lists (:mod:`services.recon.domain.matching`);
2. pairs: a disputed line is ``DISPUTED``; equal amounts agree; a gap exactly paid by receipts
   after the cut-off (or cleared just before it, the other way round) is ``PAYMENT_IN_TRANSIT``,
   exactly covered by unapplied cash ``UNAPPLIED_CASH``, else ``AMOUNT_DIFFERS``;
3. lines only the customer has: disputed, cleared by us just before the cut-off, a payment of
   theirs we received after it, else ``UNEXPLAINED``;
4. items only we have (:mod:`services.recon.domain.unlisted`).

Every difference carries its share of *our balance - theirs*; a gap nothing accounts for would
be added as ``UNEXPLAINED`` (a safety net the tests show never fires for item lists).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import polars as pl

from services.recon.domain.balance import compare_balance, reconcile_balance
from services.recon.domain.cashbook import Books, CashEntry, receipt_refs
from services.recon.domain.matching import Ours, Theirs, match_items, read_ours, read_theirs
from services.recon.domain.reasons import (
    Difference,
    DifferenceClass,
    ReconResult,
    ReplyKind,
    money,
    receipts_text,
)
from services.recon.domain.unlisted import explain_unlisted

# compare_balance / reconcile_balance live in balance.py and are re-exported here so that both
# reply shapes are reached from one module.
__all__ = ["compare_balance", "compare_items", "reconcile_balance", "reconcile_items"]

C = DifferenceClass


def compare_items(
    snapshot_items: pl.DataFrame,
    reply_items: pl.DataFrame,
    receipts_after_cutoff: pl.DataFrame | None,
    unapplied_cash: pl.DataFrame | None,
    *,
    cleared_before_cutoff: pl.DataFrame | None = None,
) -> list[Difference]:
    """Classified differences between our open items of one customer and its list.

    ``snapshot_items``: that customer's snapshot rows (``item_id, document_number,
    document_type, document_date, currency, open_minor``). ``reply_items``: ``document_number,
    document_date, amount_minor, currency`` in our sign (positive = owed to us) and optionally
    ``disputed`` (bool), ``note``, ``line_no``. The three cash frames have
    :data:`~services.recon.domain.cash.CASH_COLUMNS` and hold this customer's rows (None = none).
    Returns differences in the order pairs, their lines, our items.
    """
    books = Books.from_frames(receipts_after_cutoff, unapplied_cash, cleared_before_cutoff)
    return differences_of(read_ours(snapshot_items), read_theirs(reply_items), books)


def differences_of(ours: list[Ours], theirs: list[Theirs], books: Books) -> list[Difference]:
    """The comparison itself, on already-read items (used per customer by the batch)."""
    matched = match_items(ours, theirs)
    diffs = [d for o, t in matched.pairs if (d := _pair(o, t, books)) is not None]
    diffs += [_theirs_only(t, books) for t in matched.theirs_left]
    diffs += explain_unlisted(matched.ours_left, books)
    return diffs + _gap(diffs, _sum(ours, "open_minor"), _sum(theirs, "amount"))


def reconcile_items(
    customer_id: Any,
    snapshot_items: pl.DataFrame,
    reply_items: pl.DataFrame,
    receipts_after_cutoff: pl.DataFrame | None = None,
    unapplied_cash: pl.DataFrame | None = None,
    *,
    cleared_before_cutoff: pl.DataFrame | None = None,
) -> ReconResult:
    """:func:`compare_items` wrapped in a :class:`ReconResult` with both balances per currency.

    ``agreed`` is true exactly when there is no difference (balances are then equal as well).
    """
    books = Books.from_frames(receipts_after_cutoff, unapplied_cash, cleared_before_cutoff)
    return items_result(customer_id, read_ours(snapshot_items), read_theirs(reply_items), books)


def items_result(customer_id: Any, ours: list[Ours], theirs: list[Theirs], books: Books) -> ReconResult:
    """:func:`differences_of` wrapped in a :class:`ReconResult`."""
    diffs = differences_of(ours, theirs, books)
    return ReconResult(
        customer_id,
        ReplyKind.ITEMS,
        not diffs,
        _sum(ours, "open_minor"),
        _sum(theirs, "amount"),
        tuple(diffs),
    )


def _sum(rows: list[Ours] | list[Theirs], attr: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[r.currency] += getattr(r, attr)
    return dict(sorted(totals.items()))


def _gap(diffs: list[Difference], ours: dict[str, int], theirs: dict[str, int]) -> list[Difference]:
    """Safety net: an UNEXPLAINED difference for any balance gap the differences do not cover."""
    covered: dict[str, int] = defaultdict(int)
    for d in diffs:
        covered[d.currency] += d.difference_minor
    out = []
    for currency in sorted(set(ours) | set(theirs)):
        rest = ours.get(currency, 0) - theirs.get(currency, 0) - covered[currency]
        if rest:
            out.append(
                Difference(
                    C.UNEXPLAINED,
                    currency,
                    rest,
                    reason=f"balance gap of {money(rest, currency)} not explained by any item",
                )
            )
    return out


def _pair_diff(
    cls: DifferenceClass, o: Ours, t: Theirs, reason: str, cash: list[CashEntry] | None = None
) -> Difference:
    return Difference(
        cls,
        o.currency,
        o.open_minor - t.amount,
        our_minor=o.open_minor,
        their_minor=t.amount,
        item_id=o.item_id,
        document_number=o.number,
        their_document_number=t.number,
        their_line=t.line,
        receipt_ids=tuple(r for r, _ in receipt_refs(cash or [])),
        reason=reason,
    )


def _pair(o: Ours, t: Theirs, books: Books) -> Difference | None:
    gap = o.open_minor - t.amount
    if gap == 0 and not t.disputed:
        return None
    both = (
        f"{o.number}: we show {money(o.open_minor, o.currency)}, the customer {money(t.amount, t.currency)}"
    )
    if t.disputed:
        return _pair_diff(
            C.DISPUTED, o, t, f"the customer disputes {both}" + (f" ({t.note})" if t.note else "")
        )
    if gap > 0 and (cash := books.after.take_item_exact(o.item_id, o.currency, gap)):
        return _pair_diff(
            C.PAYMENT_IN_TRANSIT,
            o,
            t,
            f"{both}; {receipts_text(receipt_refs(cash))} after the cut-off pays the difference",
            cash,
        )
    if gap > 0 and (cash := books.unapplied.take_item_exact(o.item_id, o.currency, gap)):
        return _pair_diff(
            C.UNAPPLIED_CASH,
            o,
            t,
            f"{both}; {receipts_text(receipt_refs(cash))} held unapplied covers the difference",
            cash,
        )
    if gap < 0 and (cash := books.before.take_item_exact(o.item_id, o.currency, -gap)):
        return _pair_diff(
            C.PAYMENT_IN_TRANSIT,
            o,
            t,
            f"{both}; {receipts_text(receipt_refs(cash))} applied just before the cut-off"
            " is not yet in the customer's books",
            cash,
        )
    return _pair_diff(C.AMOUNT_DIFFERS, o, t, f"{both} (difference {money(gap, o.currency)})")


def _their_diff(
    cls: DifferenceClass, t: Theirs, reason: str, cash: list[CashEntry] | None = None
) -> Difference:
    return Difference(
        cls,
        t.currency,
        -t.amount,
        their_minor=t.amount,
        their_document_number=t.number,
        their_line=t.line,
        receipt_ids=tuple(r for r, _ in receipt_refs(cash or [])),
        reason=reason,
    )


def _theirs_only(t: Theirs, books: Books) -> Difference:
    listed = f"the customer lists {t.number or 'a line without number'} ({money(t.amount, t.currency)})"
    if t.disputed:
        return _their_diff(C.DISPUTED, t, f"{listed} as disputed" + (f" ({t.note})" if t.note else ""))
    if t.amount > 0 and (cash := books.before.take_number_exact(t.number, t.currency, t.amount)):
        return _their_diff(
            C.PAYMENT_IN_TRANSIT,
            t,
            f"{listed}; we cleared it with {receipts_text(receipt_refs(cash))} just before the cut-off",
            cash,
        )
    if t.amount < 0 and (
        cash := books.after.take_receipt_exact(t.currency, -t.amount, unassigned_only=False)
    ):
        return _their_diff(
            C.PAYMENT_IN_TRANSIT,
            t,
            f"{listed}, a payment we received after the cut-off as {receipts_text(receipt_refs(cash))}",
            cash,
        )
    if t.amount < 0 and (
        cash := books.unapplied.take_receipt_exact(t.currency, -t.amount, unassigned_only=False)
    ):
        return _their_diff(
            C.UNAPPLIED_CASH,
            t,
            f"{listed}, a payment we hold unapplied as {receipts_text(receipt_refs(cash))}",
            cash,
        )
    return _their_diff(C.UNEXPLAINED, t, f"{listed}, which is not open on our side")
