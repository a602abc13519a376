"""Amount rules within the identified customer(s), and suggestions by amount alone.

Each strategy answers a list of :class:`~services.cashapp.domain.scoring.Candidate`; the engine
calls them in the rule order and stops as soon as :func:`~services.cashapp.domain.scoring.pick`
settles the receipt. Only the residue reaches these functions per receipt; every lookup is a dict
index on the :class:`~services.cashapp.domain.allocate.Book` (no scans over all open items).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from services.cashapp.domain.allocate import (
    Fit,
    ResidualClass,
    find_subsets,
    fit_exact,
    fit_short,
)
from services.cashapp.domain.context import Context, Evidence, Receipt, candidate, suggestion
from services.cashapp.domain.explain import (
    account_phrase,
    documents,
    name_phrase,
)
from services.cashapp.domain.scoring import (
    GLOBAL_MANY,
    GLOBAL_UNIQUE,
    REF_CUSTOMER_FACTOR,
    Candidate,
    name_factor,
)

_COMPLETION_MAX_SIZE = 3
_SAFE_SHORT = frozenset({"early_payment_discount", "bank_charge"})


# --- amount rules within the customer ---------------------------------------------------------------


def customers(r: Receipt, ev: Evidence, ctx: Context) -> list[tuple[str, float, str]]:
    """Customers the amount rules look at: ``(customer, weight, phrase)``.

    The payer account decides when known; otherwise payer-name matches; customers of documents
    named in the texts come last, at suggestion weight.
    """
    return [(cust, weight, phrase()) for cust, weight, phrase in _customers(r, ev, ctx)]


def _customers(r: Receipt, ev: Evidence, ctx: Context) -> list[tuple[str, float, Callable[[], str]]]:
    # :func:`customers` with the phrases left to be written (only the winner's and the suggestions'
    # are ever read), worked out once per receipt: it depends on the evidence only, not on the book's
    # open amounts.
    if ev.who is not None:
        return ev.who
    out: list[tuple[str, float, Callable[[], str]]] = []
    if ev.accounts:
        for cust, src in ev.accounts:
            out.append((cust, 1.0, partial(account_phrase, cust, src)))
    else:
        for cust, sim, name in ev.names:
            out.append((cust, name_factor(sim, ctx.name_cutoff), partial(name_phrase, r.payer_name, name, cust, sim)))
    seen = {c for c, _, _ in out}
    book = ctx.book
    for h in ev.hits:
        cust = book.customer[h.idx]
        if h.match == "exact" and cust not in seen and book.currency[h.idx] == r.currency:
            seen.add(cust)
            out.append((cust, REF_CUSTOMER_FACTOR, partial(_mentioned, cust, book.number[h.idx])))
    ev.who = out
    return out


def _mentioned(cust: str, number: str) -> str:
    return f"customer {cust} from {number} mentioned"


def amount_exact(r: Receipt, ev: Evidence, ctx: Context, rank: int) -> list[Candidate]:
    """A customer's open item with exactly the amount paid (unique, or it is a tie)."""
    cfg = ctx.exact_cfg
    book = ctx.book
    out = []
    for cust, weight, phrase in _customers(r, ev, ctx):
        for i in book.with_open(cust, r.currency, r.amount):
            fit = Fit(ResidualClass.NONE, ((i, r.amount),), note="amount equal")

            def why(i: int = i, phrase: Callable[[], str] = phrase) -> str:
                return f"{book.number[i]} is the open item with exactly the amount paid; {phrase()}"

            out.append(candidate("amount.exact", cfg.score * weight, cust, fit, why, rank))
    return out


def amount_subset(r: Receipt, ev: Evidence, ctx: Context, rank: int) -> list[Candidate]:
    """A unique set of a customer's open items (credit notes netted) summing to the amount."""
    cfg = ctx.subset_cfg
    book = ctx.book
    out = []
    for cust, weight, phrase in _customers(r, ev, ctx):
        items = book.open_of(cust, r.currency)
        negative = sum(book.open[i] for i in items if book.open[i] < 0)
        pool = [i for i in items if book.open[i] < 0 or book.open[i] <= r.amount - negative]
        truncated = len(pool) > cfg.max_items
        pool = pool[: cfg.max_items]
        if len(pool) < 2:
            continue
        res = find_subsets([book.open[i] for i in pool], r.amount, cfg.max_size, cfg.max_nodes, min_size=2)
        proven = res.exhausted and not truncated
        for sol in res.solutions:
            fit = fit_exact(book, [pool[k] for k in sol], r.amount, r.currency)
            if fit is None:
                continue

            def why(fit: Fit = fit, phrase: Callable[[], str] = phrase, proven: bool = proven) -> str:
                docs = documents(book, [i for i, _ in fit.allocations])
                unique = "the only combination" if proven else "a combination (search capped, not proven unique)"
                return f"{docs}: {unique} of open items matching the amount; {fit.note}; {phrase()}"

            out.append(candidate("amount.subset", cfg.score * weight, cust, fit, why, rank, auto_ok=proven))
    return out


def amount_tolerance(r: Receipt, ev: Evidence, ctx: Context, rank: int) -> list[Candidate]:
    """A customer's single open item the amount fits within a tolerance (bank charge, discount)."""
    cfg = ctx.tolerance_cfg
    kinds = frozenset(cfg.kinds)
    book, tol = ctx.book, ctx.tol(r.currency)
    out = []
    for cust, weight, phrase in _customers(r, ev, ctx):
        for i in book.open_of(cust, r.currency):
            if book.open[i] <= r.amount:
                continue
            fit = fit_short(book, [i], r.amount, tol, r.booked, kinds)
            if fit:

                def why(i: int = i, fit: Fit = fit, phrase: Callable[[], str] = phrase) -> str:
                    return f"{book.number[i]} is the open item within tolerance of the amount; {fit.note}; {phrase()}"

                out.append(candidate("amount.tolerance", cfg.score * weight, cust, fit, why, rank))
    return out


def global_amount(r: Receipt, ctx: Context, rank: int, limit: int = 3) -> list[Candidate]:
    """Suggestions only: open items of any customer with exactly the amount paid."""
    book = ctx.book
    idxs = book.anywhere_with_open(r.currency, r.amount)
    score = GLOBAL_UNIQUE if len(idxs) == 1 else GLOBAL_MANY
    where = "the only open item" if len(idxs) == 1 else f"one of {len(idxs)} open items"
    out = []
    for i in idxs[:limit]:

        def why(i: int = i) -> str:
            return f"{book.number[i]} of customer {book.customer[i]} is {where} with exactly this amount"

        out.append(suggestion("amount.global", score, book.customer[i], book, [i], why, rank, None))
    return out
