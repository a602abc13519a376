"""Our open items that the customer's list does not show.

For each debit (invoice, deduction ...) in date order, in this order of preference:

* receipts after the cut-off applied to it: ``PAYMENT_IN_TRANSIT`` for what they pay;
* unapplied cash later applied to it: ``UNAPPLIED_CASH``;
* if neither touched it: one receipt after the cut-off not yet applied with exactly its amount
  (transit), one unapplied receipt or one open cash-on-account item with exactly its amount;
* a part left after partial payments: ``UNEXPLAINED`` (a short payment the customer thinks settled).

Then the invoices still unexplained, per currency, are tried together against one receipt, all
unapplied receipts, or all cash on account (one payment for several invoices without remittance).
What is left gets its class from the document type: invoice -> ``INVOICE_NOT_RECORDED``, credit
note -> ``CREDIT_NOTE_NOT_RECORDED``, deduction -> ``DISPUTED`` (the customer does not accept what
it deducted), cash on account -> ``UNAPPLIED_CASH``, anything else ``UNEXPLAINED``.
"""

from __future__ import annotations

from collections import defaultdict

from services.recon.domain.cashbook import Books, CashEntry, receipt_refs
from services.recon.domain.matching import Ours
from services.recon.domain.reasons import Difference, DifferenceClass, money, receipts_text

C = DifferenceClass
ON_ACCOUNT = "on_account"
# Debit document types treated as invoices; a debit note or an interest invoice is an invoice to
# the customer's payables clerk.
INVOICE_TYPES = frozenset({"invoice", "debit_note", "interest"})


def _diff(
    cls: DifferenceClass,
    o: Ours,
    amount: int,
    reason: str,
    cash: list[CashEntry] | None = None,
    related: tuple[int, ...] = (),
) -> Difference:
    return Difference(
        cls,
        o.currency,
        amount,
        our_minor=o.open_minor,
        item_id=o.item_id,
        document_number=o.number,
        receipt_ids=tuple(r for r, _ in receipt_refs(cash or [])),
        related_item_ids=related,
        reason=reason,
    )


def _label(o: Ours) -> str:
    return f"{o.number or f'item {o.item_id}'} ({money(o.open_minor, o.currency)})"


def _pays(paid: int, o: Ours) -> str:
    return "pays it" if paid == o.open_minor else f"pays {money(paid, o.currency)} of it"


def explain_unlisted(ours_left: list[Ours], books: Books) -> list[Difference]:
    """Differences for our open items missing from the customer's list (see module docstring)."""
    cash_items = [o for o in ours_left if o.doc_type == ON_ACCOUNT and o.open_minor < 0]
    cash_ids = {o.item_id for o in cash_items}
    explains: dict[int, list[Ours]] = defaultdict(list)  # on-account item -> invoices it would pay
    diffs: list[Difference] = []
    pending: list[Ours] = []
    for o in ours_left:
        if o.item_id in cash_ids:
            continue
        if o.open_minor <= 0:
            diffs.append(_by_type(o))
            continue
        found, rest = _explain_debit(o, books, cash_items, explains)
        diffs += found
        if rest == o.open_minor:
            pending.append(o)
        elif rest:
            diffs.append(
                _diff(
                    C.UNEXPLAINED,
                    o,
                    rest,
                    f"{_label(o)}: {money(rest, o.currency)} left after the receipts is not explained",
                )
            )
    diffs += _explain_together(pending, books, cash_items, explains)
    diffs += [_on_account(o, explains.get(o.item_id, [])) for o in cash_items]
    return diffs


def _explain_debit(
    o: Ours, books: Books, cash_items: list[Ours], explains: dict[int, list[Ours]]
) -> tuple[list[Difference], int]:
    out: list[Difference] = []
    rest = o.open_minor
    if cash := books.after.take_item_up_to(o.item_id, o.currency, rest):
        paid = sum(e.amount for e in cash)
        rest -= paid
        out.append(
            _diff(
                C.PAYMENT_IN_TRANSIT,
                o,
                paid,
                f"{_label(o)} is not on the customer's list; {receipts_text(receipt_refs(cash))}"
                f" after the cut-off {_pays(paid, o)}",
                cash,
            )
        )
    if rest and (cash := books.unapplied.take_item_up_to(o.item_id, o.currency, rest)):
        paid = sum(e.amount for e in cash)
        rest -= paid
        out.append(
            _diff(
                C.UNAPPLIED_CASH,
                o,
                paid,
                f"{_label(o)} is not on the customer's list; {receipts_text(receipt_refs(cash))}"
                f" received by the cut-off but applied later {_pays(paid, o)}",
                cash,
            )
        )
    if rest != o.open_minor:
        return out, rest
    if cash := books.after.take_receipt_exact(o.currency, rest, unassigned_only=True):
        return [
            _diff(
                C.PAYMENT_IN_TRANSIT,
                o,
                rest,
                f"{_label(o)} is not on the customer's list; {receipts_text(receipt_refs(cash))}"
                " after the cut-off has exactly its amount",
                cash,
            )
        ], 0
    if cash := books.unapplied.take_receipt_exact(o.currency, rest, unassigned_only=True):
        return [
            _diff(
                C.UNAPPLIED_CASH,
                o,
                rest,
                f"{_label(o)} is not on the customer's list; {receipts_text(receipt_refs(cash))}"
                " held unapplied has exactly its amount",
                cash,
            )
        ], 0
    hit = next(
        (
            c
            for c in cash_items
            if c.item_id not in explains and c.currency == o.currency and c.open_minor == -rest
        ),
        None,
    )
    if hit is not None:
        explains[hit.item_id].append(o)
        return [
            _diff(
                C.UNAPPLIED_CASH,
                o,
                rest,
                f"{_label(o)} is not on the customer's list; cash on account {_label(hit)}"
                " has exactly its amount",
                related=(hit.item_id,),
            )
        ], 0
    return out, rest


def _explain_together(
    pending: list[Ours], books: Books, cash_items: list[Ours], explains: dict[int, list[Ours]]
) -> list[Difference]:
    by_currency: dict[str, list[Ours]] = defaultdict(list)
    for o in pending:
        (by_currency[o.currency] if o.doc_type in INVOICE_TYPES else by_currency["\0other"]).append(o)
    out = [_by_type(o) for o in by_currency.pop("\0other", [])]
    for currency, items in by_currency.items():
        out += _together(currency, items, books, cash_items, explains)
    return out


def _together(
    currency: str, items: list[Ours], books: Books, cash_items: list[Ours], explains: dict[int, list[Ours]]
) -> list[Difference]:
    total = sum(o.open_minor for o in items)
    names = ", ".join(o.number for o in items)
    if len(items) > 1:
        for book, cls, what in (
            (books.after, C.PAYMENT_IN_TRANSIT, "after the cut-off"),
            (books.unapplied, C.UNAPPLIED_CASH, "held unapplied"),
        ):
            cash = book.take_receipt_exact(currency, total, unassigned_only=True) or book.take_all_if_total(
                currency, total, unassigned_only=True
            )
            if cash:
                paid = money(total, currency)
                text = f"{receipts_text(receipt_refs(cash))} {what} pays {names} together ({paid})"
                return [
                    _diff(cls, o, o.open_minor, f"{_label(o)} is not on the customer's list; {text}", cash)
                    for o in items
                ]
        free = [c for c in cash_items if c.currency == currency and c.item_id not in explains]
        if free and sum(c.open_minor for c in free) == -total:
            related = tuple(c.item_id for c in free)
            for c in free:
                explains[c.item_id] += items
            return [
                _diff(
                    C.UNAPPLIED_CASH,
                    o,
                    o.open_minor,
                    f"{_label(o)} is not on the customer's list; cash on account pays {names} together",
                    related=related,
                )
                for o in items
            ]
    return [_by_type(o) for o in items]


def _on_account(o: Ours, pays: list[Ours]) -> Difference:
    if pays:
        tail = f" and would clear {', '.join(p.number or str(p.item_id) for p in pays)}"
    else:
        tail = " and is not applied to any document"
    return _diff(
        C.UNAPPLIED_CASH,
        o,
        o.open_minor,
        f"we hold cash on account {_label(o)}{tail}",
        related=tuple(p.item_id for p in pays),
    )


def _by_type(o: Ours) -> Difference:
    label = _label(o)
    if o.doc_type == "credit_note":
        return _diff(
            C.CREDIT_NOTE_NOT_RECORDED,
            o,
            o.open_minor,
            f"credit note {label} is open on our side but missing from the customer's list",
        )
    if o.doc_type == "deduction":
        return _diff(
            C.DISPUTED, o, o.open_minor, f"deduction {label} taken by the customer is still open on our side"
        )
    if o.doc_type == ON_ACCOUNT:
        return _on_account(o, [])
    if o.doc_type in INVOICE_TYPES and o.open_minor > 0:
        dated = f", dated {o.doc_date.isoformat()}" if o.doc_date else ""
        label = f"{o.number or f'item {o.item_id}'} ({money(o.open_minor, o.currency)}{dated})"
        return _diff(
            C.INVOICE_NOT_RECORDED,
            o,
            o.open_minor,
            f"invoice {label} is open on our side but missing from the customer's list",
        )
    return _diff(
        C.UNEXPLAINED,
        o,
        o.open_minor,
        f"{o.doc_type or 'document'} {label} is open on our side but missing from the customer's list",
    )
