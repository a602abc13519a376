"""The engine's vectorised first pass: evidence for all credits, and what it settles on its own.

Reference hits (exact and one-edit), payer accounts, payer names and non-AR keywords, gathered for
every credit at once (polars joins; rapidfuzz only on blocked pairs). Receipts whose exact
references explain the amount exactly, and whose documents no other receipt names, are decided
here (``fastpath``): nothing could outrank them. Their decisions come first; the rest of the
evidence (payer names, above all) is gathered after, so a caller can begin with them.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from services.cashapp.domain.allocate import Book
from services.cashapp.domain.candidates import ReferenceNames, non_ar_flags, payer_accounts, payer_names
from services.cashapp.domain.context import Context, Evidence
from services.cashapp.domain.decision import Decision
from services.cashapp.domain.explain import Hit
from services.cashapp.domain.fastpath import fast_decisions, sole_exact
from services.cashapp.domain.references import ReferenceSearch
from services.cashapp.domain.rules import RuleSet


def first_pass(
    credits: pl.DataFrame,
    open_items: pl.DataFrame,
    customers: pl.DataFrame,
    accounts: pl.DataFrame,
    rules: RuleSet,
    early: bool = False,
) -> tuple[dict[int, Decision], Callable[[], tuple[dict[int, Evidence], Context]]]:
    """Vectorised evidence for all credits; the receipts exact references settle are decided here.

    Answers those decisions, and a function that gathers the evidence of every other credit and
    the run context whose book holds what those decisions left open. With ``early`` the decisions
    come as soon as they are made and the payer names are compared in that function; otherwise
    the names are compared while the fuzzy reference search runs (the whole pass takes less).
    """
    acc = (
        payer_accounts(credits, accounts)
        if rules.strategy("payer.account") is not None
        else pl.DataFrame(schema={"receipt_id": pl.Int64, "customer_id": pl.Utf8, "source": pl.Utf8})
    )
    # Work that does not wait for other work runs in the background (polars' threads) meanwhile:
    # the customers' names, and the fuzzy reference search once the exact hits are known.
    names_query = (
        ReferenceNames(customers, accounts, rules)
        if rules.strategy("payer.name") is not None and not customers.is_empty()
        else None
    )
    search = ReferenceSearch(credits, open_items, rules, acc)

    def names() -> pl.DataFrame:
        # Payer names are compared only where needed: no exact reference explains the amount and
        # the payer account does not name the customer.
        named = credits.filter(~pl.col("receipt_id").is_in(search.settled.implode()))
        named = named.filter(~pl.col("receipt_id").is_in(acc["receipt_id"].implode()))
        return payer_names(named, customers, accounts, rules, names_query)

    compared = None if early else names()
    found = search.result()
    fast = sole_exact(credits, found.hits, open_items, rules)
    decided, cleared = fast_decisions(fast, credits, found.hits, acc, open_items, rules.version)

    def gather() -> tuple[dict[int, Evidence], Context]:
        by_name = names() if compared is None else compared
        return _gathered(credits, open_items, rules, acc, found.hits, fast, cleared, by_name)

    return decided, gather


def _gathered(
    credits: pl.DataFrame,
    open_items: pl.DataFrame,
    rules: RuleSet,
    acc: pl.DataFrame,
    hits: pl.DataFrame,
    fast: pl.Series,
    cleared: pl.Series,
    names: pl.DataFrame,
) -> tuple[dict[int, Evidence], Context]:
    """The evidence of every credit not settled up front, and the run context."""
    book = Book(open_items.filter(~pl.col("item_id").is_in(cleared.implode())))
    rest = ~pl.col("receipt_id").is_in(fast.implode())
    book.index_amounts(credits.filter(rest).select("currency", "amount_minor"))
    ev: dict[int, Evidence] = {}
    index_of = book.index_of
    # Hits on documents the first pass cleared are fuzzy neighbours (exact ones were never cleared
    # there): nothing to offer any more.
    # (every hit is on one of ``open_items``: those not cleared are the book's)
    hits = hits.filter(rest & ~pl.col("item_id").is_in(cleared.implode()))
    for rid, item_id, m, source, token, via, key in zip(*(c.to_list() for c in hits.get_columns()), strict=True):
        _evidence(ev, rid).hits.append(Hit(index_of[item_id], m, source, token, via, key))
    for rid, cust, src in zip(*(c.to_list() for c in acc.filter(rest).get_columns()), strict=True):
        _evidence(ev, rid).accounts.append((cust, src))
    for rid, cust, score, matched in zip(
        *(names[c].to_list() for c in ("receipt_id", "customer_id", "score", "matched")), strict=True
    ):
        _evidence(ev, rid).names.append((cust, score, matched))
    flags = non_ar_flags(credits.filter(rest), rules)
    for rid, keyword in zip(flags["receipt_id"].to_list(), flags["keyword"].to_list(), strict=True):
        _evidence(ev, rid).non_ar = keyword
    return ev, Context(book, rules)


def _evidence(ev: dict[int, Evidence], rid: int) -> Evidence:
    # (not ``setdefault``: that would build an Evidence for every row only to throw most away)
    got = ev.get(rid)
    if got is None:
        got = ev[rid] = Evidence()
    return got
