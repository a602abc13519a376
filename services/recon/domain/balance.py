"""Reconciliation of a confirmed balance (no item list) against our as-of snapshot.

Per currency the gap is *our balance - the confirmed balance*. Without the customer's items only
an exact explanation is accepted, tried in this order:

* gap > 0 (we show more): receipts after the cut-off (one receipt, or all of them) ->
  ``PAYMENT_IN_TRANSIT``; unapplied cash (one or all) -> ``UNAPPLIED_CASH``; open invoices with
  exactly the gap -> ``INVOICE_NOT_RECORDED``; open deductions -> ``DISPUTED``;
* gap < 0 (they show more): receipts we applied just before the cut-off (one or all) ->
  ``PAYMENT_IN_TRANSIT``; open credit notes with exactly the gap -> ``CREDIT_NOTE_NOT_RECORDED``;
  cash on account (one item or all) -> ``UNAPPLIED_CASH``;
* anything else, or a disputed reply row -> ``UNEXPLAINED`` / ``DISPUTED`` for the whole gap.

A currency we hold but the customer did not confirm counts as confirmed at zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import polars as pl

from services.recon.domain.cashbook import Books, CashBook, CashEntry, receipt_refs
from services.recon.domain.frames import Kind, require, require_not_null
from services.recon.domain.matching import Ours, read_ours
from services.recon.domain.reasons import (
    Difference,
    DifferenceClass,
    ReconResult,
    ReplyKind,
    money,
    receipts_text,
)

C = DifferenceClass
CONFIRMED_COLUMNS: dict[str, Kind] = {"currency": Kind.TEXT, "confirmed_balance_minor": Kind.INT}
CONFIRMED_OPTIONAL: dict[str, Kind] = {"disputed": Kind.BOOL, "note": Kind.TEXT, "line_no": Kind.INT}


def check_confirmed(confirmed: pl.DataFrame) -> pl.DataFrame:
    """Validate confirmed-balance rows once (required and optional columns)."""
    present = {c: k for c, k in CONFIRMED_OPTIONAL.items() if c in confirmed.columns}
    frame = require(confirmed, "confirmed", {**CONFIRMED_COLUMNS, **present})
    require_not_null(frame, "confirmed", CONFIRMED_COLUMNS)
    return frame


def confirmed_from_rows(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Confirmed balance per currency (rows of one currency added up; disputed if any row is)."""
    out: dict[str, dict[str, Any]] = {}
    for index, r in enumerate(rows):
        prior = out.get(r["currency"])
        line = r.get("line_no")
        out[r["currency"]] = {
            "amount": r["confirmed_balance_minor"] + (prior["amount"] if prior else 0),
            "disputed": bool(r.get("disputed")) or bool(prior and prior["disputed"]),
            "note": r.get("note") or (prior["note"] if prior else None),
            "line": (prior["line"] if prior else (index if line is None else line)),
        }
    return out


def compare_balance(
    snapshot_items: pl.DataFrame,
    confirmed: pl.DataFrame,
    receipts_after_cutoff: pl.DataFrame | None,
    unapplied_cash: pl.DataFrame | None,
    *,
    cleared_before_cutoff: pl.DataFrame | None = None,
) -> list[Difference]:
    """Classified differences between our balance of one customer and its confirmed balance.

    ``confirmed``: ``currency, confirmed_balance_minor`` (our sign: positive = owed to us) and
    optionally ``disputed``, ``note``, ``line_no``; several rows of one currency are added up.
    Other inputs as in :func:`services.recon.domain.compare.compare_items`. At most one
    difference per currency, carrying the whole gap.
    """
    books = Books.from_frames(receipts_after_cutoff, unapplied_cash, cleared_before_cutoff)
    theirs = confirmed_from_rows(check_confirmed(confirmed).iter_rows(named=True))
    return balance_differences_of(read_ours(snapshot_items), theirs, books)


def balance_differences_of(
    ours: list[Ours], theirs: dict[str, dict[str, Any]], books: Books
) -> list[Difference]:
    """The comparison itself, on already-read items and confirmed balances."""
    our_totals = _totals(ours)
    diffs = []
    for currency in sorted(set(our_totals) | set(theirs)):
        row = theirs.get(currency, {"amount": 0, "disputed": False, "note": None, "line": None})
        gap = our_totals.get(currency, 0) - row["amount"]
        base = {
            "currency": currency,
            "difference_minor": gap,
            "our_minor": our_totals.get(currency, 0),
            "their_minor": row["amount"] if currency in theirs else None,
            "their_line": row["line"],
        }
        confirms = money(row["amount"], currency)
        both = f"we show {money(base['our_minor'], currency)}, the customer confirms {confirms}"
        if row["disputed"]:
            note = f" ({row['note']})" if row["note"] else ""
            diffs.append(
                Difference(C.DISPUTED, reason=f"the customer disputes the balance: {both}{note}", **base)
            )
        elif gap:
            items = [o for o in ours if o.currency == currency]
            diffs.append(_explain_gap(gap, currency, items, books, base, both))
    return diffs


def _totals(ours: list[Ours]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for o in ours:
        totals[o.currency] += o.open_minor
    return dict(totals)


def _cash_explains(book: CashBook, currency: str, amount: int) -> list[CashEntry]:
    return book.take_receipt_exact(currency, amount, unassigned_only=False) or book.take_all_if_total(
        currency, amount, unassigned_only=False
    )


def _items_explain(items: list[Ours], types: set[str], gap: int) -> list[Ours]:
    """One item of ``types`` with exactly the gap, else all of them if they sum to it."""
    chosen = [o for o in items if o.doc_type in types]
    single = [o for o in chosen if o.open_minor == gap]
    if single:
        return single[:1]
    return chosen if chosen and sum(o.open_minor for o in chosen) == gap else []


def _explain_gap(
    gap: int, currency: str, items: list[Ours], books: Books, base: dict[str, Any], both: str
) -> Difference:
    def found(
        cls: DifferenceClass, why: str, cash: list[CashEntry] | None = None, docs: list[Ours] | None = None
    ) -> Difference:
        docs = docs or []
        ids = tuple(o.item_id for o in docs)
        return Difference(
            cls,
            reason=f"{both}; {why}",
            receipt_ids=tuple(r for r, _ in receipt_refs(cash or [])),
            item_id=ids[0] if len(ids) == 1 else None,
            document_number=docs[0].number if len(ids) == 1 else None,
            related_item_ids=ids if len(ids) > 1 else (),
            **base,
        )

    def names(docs: list[Ours]) -> str:
        return ", ".join(o.number for o in docs)

    if gap > 0:
        if cash := _cash_explains(books.after, currency, gap):
            return found(C.PAYMENT_IN_TRANSIT, f"{receipts_text(receipt_refs(cash))} after the cut-off", cash)
        if cash := _cash_explains(books.unapplied, currency, gap):
            return found(C.UNAPPLIED_CASH, f"{receipts_text(receipt_refs(cash))} held unapplied", cash)
        if docs := _items_explain(items, {"invoice", "debit_note", "interest"}, gap):
            return found(
                C.INVOICE_NOT_RECORDED,
                f"open invoice(s) {names(docs)} not recorded by the customer",
                docs=docs,
            )
        if docs := _items_explain(items, {"deduction"}, gap):
            return found(C.DISPUTED, f"deduction(s) {names(docs)} still open on our side", docs=docs)
    else:
        if cash := _cash_explains(books.before, currency, -gap):
            return found(
                C.PAYMENT_IN_TRANSIT,
                f"{receipts_text(receipt_refs(cash))} applied just before the cut-off",
                cash,
            )
        if docs := _items_explain(items, {"credit_note"}, gap):
            return found(
                C.CREDIT_NOTE_NOT_RECORDED,
                f"credit note(s) {names(docs)} not recorded by the customer",
                docs=docs,
            )
        if docs := _items_explain(items, {"on_account"}, gap):
            return found(C.UNAPPLIED_CASH, f"cash on account {names(docs)} not applied", docs=docs)
    return Difference(C.UNEXPLAINED, reason=f"{both}; no receipt or document explains the difference", **base)


def reconcile_balance(
    customer_id: Any,
    snapshot_items: pl.DataFrame,
    confirmed: pl.DataFrame,
    receipts_after_cutoff: pl.DataFrame | None = None,
    unapplied_cash: pl.DataFrame | None = None,
    *,
    cleared_before_cutoff: pl.DataFrame | None = None,
) -> ReconResult:
    """:func:`compare_balance` wrapped in a :class:`ReconResult` (agreed when no difference)."""
    books = Books.from_frames(receipts_after_cutoff, unapplied_cash, cleared_before_cutoff)
    theirs = confirmed_from_rows(check_confirmed(confirmed).iter_rows(named=True))
    return balance_result(customer_id, read_ours(snapshot_items), theirs, books)


def balance_result(
    customer_id: Any, ours: list[Ours], theirs: dict[str, dict[str, Any]], books: Books
) -> ReconResult:
    """:func:`balance_differences_of` wrapped in a :class:`ReconResult`."""
    diffs = balance_differences_of(ours, theirs, books)
    our_totals = dict(sorted(_totals(ours).items()))
    their_totals = {c: r["amount"] for c, r in sorted(theirs.items())}
    return ReconResult(customer_id, ReplyKind.BALANCE, not diffs, our_totals, their_totals, tuple(diffs))
