"""The common case, found vectorised: exact references alone explain the amount.

A receipt qualifies when its exact hits all belong to one customer, are in the receipt's
currency and add up to the amount exactly, it has no other (fuzzy) hits, and no other receipt in
the run names any of those documents. Such a receipt would be decided by ``reference.exact`` with
the highest score whatever the order, and only weaker evidence of other receipts (a fuzzy hit, an
amount rule) could compete for its documents; so these receipts are applied first and the
engine's per-receipt loop only sees the rest. This keeps the Python work proportional to the hard cases.
"""

from __future__ import annotations

from itertools import repeat

import polars as pl

from services.cashapp.domain.allocate import ResidualClass
from services.cashapp.domain.decision import Allocation, Decision, DecisionStatus
from services.cashapp.domain.explain import SOURCE_LABELS as _SOURCES
from services.cashapp.domain.rules import RuleSet
from services.cashapp.domain.scoring import REF_EXACT

_DECIDING = ("reference.exact", "reference.fuzzy", "non_ar", "amount.exact", "amount.subset", "amount.tolerance")


def sole_exact(credits: pl.DataFrame, hits: pl.DataFrame, open_items: pl.DataFrame, rules: RuleSet) -> pl.Series:
    """Receipt ids that the exact references settle on their own (see module doc)."""
    first = next((s for s in rules.order() if s in _DECIDING), None)
    if first != "reference.exact" or hits.is_empty():
        return pl.Series("receipt_id", [], pl.Int64)
    exact = hits.filter(pl.col("match") == "exact")
    # Documents named exactly by two receipts (a duplicate or a partial payment) are decided in
    # order. A fuzzy hit of another receipt does not count: an exact reference outranks it anyway.
    shared = exact.group_by("item_id").agg(pl.col("receipt_id").n_unique().alias("n")).filter(pl.col("n") > 1)
    fuzzy = hits.filter(pl.col("match") != "exact").select("receipt_id").unique()
    per = (
        exact.join(open_items.select("item_id", "customer_id", "currency", "open_amount_minor"), on="item_id")
        .join(credits.select("receipt_id", "amount_minor", pl.col("currency").alias("rcur")), on="receipt_id")
        .with_columns(pl.col("item_id").is_in(shared["item_id"].implode()).alias("shared"))
    )
    ok = per.group_by("receipt_id").agg(
        (pl.col("customer_id").n_unique() == 1).alias("one"),
        (pl.col("currency") == pl.col("rcur")).all().alias("cur"),
        (pl.col("open_amount_minor").sum() == pl.col("amount_minor").first()).alias("sum"),
        pl.col("shared").any().alias("shared"),
    )
    ok = ok.filter(pl.col("one") & pl.col("cur") & pl.col("sum") & ~pl.col("shared"))
    ok = ok.join(fuzzy, on="receipt_id", how="anti")
    return ok["receipt_id"].sort()


def _join_words(words: pl.Expr) -> pl.Expr:
    # "a", "a and b", "a, b and c" (explain.join_words, vectorised)
    n = words.list.len()
    head = words.list.slice(0, n - 1).list.join(", ")
    return pl.when(n == 1).then(words.list.first()).otherwise(head + " and " + words.list.last())


def _reasons(hits: pl.DataFrame, docs: pl.DataFrame, payers: pl.DataFrame) -> pl.DataFrame:
    """``receipt_id, reason`` worded exactly like the per-receipt path (explain.hits_phrase & co)."""
    labels = pl.col("source").replace_strict(_SOURCES, default=pl.col("source"), return_dtype=pl.Utf8)
    what = (
        pl.when(pl.col("via") == "document_number")
        .then(pl.col("document_number"))
        .otherwise("payment reference of " + pl.col("document_number"))
    )
    found = (
        hits.join(docs, on="item_id")
        .sort("receipt_id", "item_id")
        .with_row_index("_o")
        .with_columns(what.alias("what"), labels.alias("where"))
        .group_by("receipt_id", "where", maintain_order=True)
        .agg(pl.col("what"), pl.col("_o").first())
        .with_columns((_join_words(pl.col("what")) + " found in " + pl.col("where")).alias("phrase"))
        .sort("_o")
        .group_by("receipt_id", maintain_order=True)
        .agg(pl.col("phrase").str.join("; "))
    )
    per = (
        hits.join(docs, on="item_id")
        .group_by("receipt_id")
        .agg(pl.col("customer_id").first(), pl.len().alias("n"), (pl.col("open_amount_minor") < 0).any().alias("cn"))
    )
    note = pl.when(pl.col("n") == 1).then(pl.lit("amount equal")).otherwise(
        pl.format("amount equal to the sum of {} documents", pl.col("n"))
    ) + pl.when(pl.col("cn")).then(pl.lit(" (credit notes netted)")).otherwise(pl.lit(""))
    learned = pl.when(pl.col("own_source") == "learned").then(pl.lit(" (learned from an earlier application)"))
    own = pl.col("customer_id") == pl.col("doc_c")
    who = (
        payers.join(per.select("receipt_id", pl.col("customer_id").alias("doc_c")), on="receipt_id")
        .sort("receipt_id", "customer_id")
        .group_by("receipt_id", maintain_order=True)
        .agg(
            pl.col("customer_id").unique(maintain_order=True).alias("payers"),
            own.any().alias("own"),
            pl.col("source").filter(own).first().alias("own_source"),
            pl.col("doc_c").first(),
        )
    )
    payer = (
        pl.when(pl.col("own"))
        .then("payer IBAN known for customer " + pl.col("doc_c") + learned.otherwise(pl.lit("")))
        .when(pl.col("payers").is_not_null())
        .then("paid by a third party (payer IBAN belongs to " + _join_words(pl.col("payers")) + ")")
    )
    return (
        found.join(per.with_columns(note.alias("note")), on="receipt_id")
        .join(who, on="receipt_id", how="left")
        .select(
            "receipt_id", pl.concat_str(["phrase", "note", payer], separator="; ", ignore_nulls=True).alias("reason")
        )
    )


def fast_decisions(
    fast: pl.Series,
    credits: pl.DataFrame,
    hits: pl.DataFrame,
    payers: pl.DataFrame,
    open_items: pl.DataFrame,
    version: str,
) -> tuple[dict[int, Decision], pl.Series]:
    """Decisions for the receipts of :func:`sole_exact`, built from frames (no per-receipt search),
    and the ids of the documents they clear in full. Allocations come in the book's order (due
    date, number) and reasons read exactly like the per-receipt path's.
    """
    if fast.is_empty():
        return {}, pl.Series("item_id", [], pl.Int64)
    mine = pl.col("receipt_id").is_in(fast.implode())
    docs = open_items.select("item_id", "customer_id", "document_number", "open_amount_minor", "due_date")
    mine_hits = hits.filter(mine).select("receipt_id", "item_id", "source", "via")
    flat = (
        mine_hits.join(docs, on="item_id")
        .sort("receipt_id", "due_date", "document_number", "item_id", nulls_last=True)
        .select("receipt_id", "item_id", "document_number", "open_amount_minor", "customer_id")
    )
    heads = credits.filter(mine).select("receipt_id", "amount_minor", "currency")
    head = {rid: (amount, cur) for rid, amount, cur in zip(*(c.to_list() for c in heads.get_columns()), strict=True)}
    reasons = _reasons(mine_hits, docs.drop("due_date"), payers.filter(mine))
    why = dict(zip(reasons["receipt_id"].to_list(), reasons["reason"].to_list(), strict=True))
    # Consecutive rows of one receipt (sorted) are its allocations; its customer is the first row's.
    runs = (
        flat.select("receipt_id", "customer_id")
        .with_row_index("start")
        .group_by("receipt_id", maintain_order=True)
        .agg(pl.col("start").first(), pl.len().alias("n"), pl.col("customer_id").first())
    )
    items, numbers, opens = (flat[c].to_list() for c in ("item_id", "document_number", "open_amount_minor"))
    out: dict[int, Decision] = {}
    auto, none = DecisionStatus.AUTO, ResidualClass.NONE
    for rid, start, n, cust in zip(*(c.to_list() for c in runs.get_columns()), strict=True):
        if rid not in head or rid not in why:
            continue
        end = start + n
        allocs = tuple(map(Allocation, items[start:end], numbers[start:end], repeat(cust, n), opens[start:end]))
        amount, cur = head[rid]
        out[rid] = Decision(
            rid,
            auto,
            cur,
            amount,
            cust,
            allocs,
            amount,
            0,
            0,
            0,
            none,
            0,
            "reference.exact",
            version,
            REF_EXACT,
            why[rid],
        )
    return out, flat["item_id"]
