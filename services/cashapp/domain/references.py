"""Reference hits: which open documents each receipt's texts point at (vectorised, pure).

Candidates come from three places, all normalised to the same keys as the documents:

* n-grams of adjacent tokens (up to ``references.ngram_max``), so ``INV-2026-00 4512`` (a number
  wrapped across MT940 lines) still glues back to ``2026004512``; after the first token every
  token of an n-gram must contain a digit, which keeps the candidate count small;
* each short structured field as a whole (creditor / end-to-end / customer reference);
* the named scheme patterns of the rule set (RF and QRR references are checked by their check
  digits; a valid one is never fuzzy-matched, a broken one is a typo worth a fuzzy look).

Exact hits are one polars join against the documents' numbers and payment references. Fuzzy hits
(one edit, transposition or dropped character) are found only for receipts whose exact hits do not
already explain the amount, by joining one-deletion variants of both sides (a pair at distance one
always shares a variant) and confirming each pair with ``rapidfuzz`` OSA distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from services.cashapp.domain.fuzzy import HIT_SCHEMA, FuzzySearch
from services.cashapp.domain.normalize import (
    TOKEN_RE,
    compact_expr,
    compact_text_expr,
    group_part_expr,
    grouped_text_expr,
    prefix_strip_pattern,
    rf_valid_prefix,
)
from services.cashapp.domain.rules import RuleSet

__all__ = ["HIT_SCHEMA", "ReferenceHits", "ReferenceSearch", "document_keys", "receipt_keys", "reference_hits"]
# Structured fields first: when one document is found twice, the explanation names the better source.
_SOURCE_RANK = {"creditor_reference": 0, "remittance": 1, "end_to_end_reference": 2, "customer_reference": 3}


def _key_filter(col: str, min_len: int) -> pl.Expr:
    return (pl.col(col).str.len_chars() >= min_len) & pl.col(col).str.contains(r"[0-9]")


def document_keys(open_items: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """``key, item_id, via`` for document numbers and payment references (a document number and
    its payment reference may give the same key twice; hits are made unique later)."""
    return _document_keys_plan(open_items, rules).collect()


def _document_keys_plan(open_items: pl.DataFrame, rules: RuleSet) -> pl.LazyFrame:
    prefixes = rules.references.strip_prefixes
    frames = []
    for col in ("document_number", "payment_reference"):
        both = open_items.lazy().select(
            "item_id", pl.col(col).alias("text"), compact_text_expr(pl.col(col), prefixes).alias("k1")
        )
        frames.append(both.select("item_id", pl.col("k1").alias("key"), pl.lit(col).alias("via")))
        # The grouped key only where it differs (numbers in one piece have just one key). A text of
        # one piece (only A-Z, a-z, 0-9) never has another usable grouped key: it is the compact key,
        # or empty when the text is only prefix words; so only the other texts are looked at.
        both = both.filter(pl.col("text").str.contains(r"[^A-Za-z0-9]")).with_columns(
            grouped_text_expr(pl.col("text"), prefixes).alias("k2")
        )
        frames.append(
            both.filter(pl.col("k2") != pl.col("k1")).select(
                "item_id", pl.col("k2").alias("key"), pl.lit(col).alias("via")
            )
        )
    keys = pl.concat(frames).drop_nulls("key")
    return keys.filter(_key_filter("key", rules.references.min_key_length)).select("key", "item_id", "via")


def _heads(dkeys: pl.DataFrame) -> list[str]:
    # Letters some document numbers start with once prefixes are dropped ("CN" of CN-2026-0001):
    # the only letter-only words a reference n-gram may start with.
    return dkeys["key"].str.extract(r"^([A-Z]+)[0-9]", 1).drop_nulls().unique().sort().to_list()


def _texts(receipts: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    fields = list(rules.references.fields)
    ignore = [v.upper() for v in rules.references.ignore_values]
    return (
        receipts.select("receipt_id", *fields)
        .unpivot(index="receipt_id", on=fields, variable_name="source", value_name="text")
        .drop_nulls("text")
        .with_columns(pl.col("text").str.to_uppercase())
        .filter(~pl.col("text").str.strip_chars().is_in(ignore))
        .with_row_index("tid")
    )


def _ngram_keys(texts: pl.DataFrame, rules: RuleSet, heads: list[str]) -> pl.DataFrame:
    prefixes = rules.references.strip_prefixes
    strip = prefix_strip_pattern(prefixes)
    n_max = rules.references.ngram_max
    tok = (
        texts.select("tid", "receipt_id", "source", pl.col("text").str.extract_all(TOKEN_RE).alias("t"))
        .explode("t")
        .drop_nulls("t")
        .with_columns(d=pl.col("t").str.contains(r"[0-9]"))
    )
    # Only words that can be part of a kept n-gram (a start or a word with a digit) need their part
    # of the grouped key; the others keep null (they never reach a kept n-gram).
    used = tok["d"] | tok["t"].is_in(heads)
    parts = tok["t"].filter(used).to_frame().select(group_part_expr(pl.col("t"), prefixes)).to_series()
    tok = tok.with_columns(pl.Series("p", [None] * tok.height, dtype=pl.Utf8).scatter(used.arg_true(), parts))
    shifted = []
    for k in range(1, n_max):
        same = pl.col("tid").shift(-k) == pl.col("tid")
        shifted += [
            pl.when(same & pl.col("d").shift(-k)).then(pl.col("t").shift(-k)).alias(f"t{k}"),
            pl.when(same).then(pl.col("p").shift(-k)).alias(f"p{k}"),
        ]
    tok = tok.with_columns(shifted)
    outs = [
        tok.filter(pl.col("d")).select(
            "receipt_id", "source", pl.col("t").alias("raw"), pl.lit(None, pl.Utf8).alias("g")
        )
    ]
    # An n-gram starts with a word containing a digit or with a known letter head; every further
    # word contains a digit.
    start = pl.col("d") | pl.col("t").is_in(heads)
    for n in range(2, n_max + 1):
        raw = pl.concat_str([pl.col("t")] + [pl.col(f"t{k}") for k in range(1, n)])
        raw = pl.when(start).then(raw)
        grouped = pl.concat_str(
            [pl.col("p")] + [pl.col(f"p{k}") for k in range(1, n)], separator="-", ignore_nulls=True
        )
        outs.append(tok.select("receipt_id", "source", raw.alias("raw"), grouped.alias("g")).drop_nulls("raw"))
    grams = pl.concat(outs)
    grams = grams.with_columns(k1=pl.col("raw").str.replace(strip, "$1").str.strip_chars_start("0"))
    return grams.unpivot(index=["receipt_id", "source"], on=["k1", "g"], value_name="key").select(
        "receipt_id", "source", "key"
    )


def _whole_field_keys(texts: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    # A short structured field is often the reference itself; glue it whole.
    prefixes = rules.references.strip_prefixes
    toks = texts.select("receipt_id", "source", pl.col("text").str.extract_all(TOKEN_RE).alias("toks"))
    return toks.filter(pl.col("toks").list.len().is_between(2, 8)).select(
        "receipt_id", "source", compact_expr(pl.col("toks"), prefixes).alias("key")
    )


def _scheme_keys(texts: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    strip = prefix_strip_pattern(rules.references.strip_prefixes)
    frames = []
    for scheme in rules.references.schemes:
        found = (
            texts.select("receipt_id", "source", pl.col("text").str.extract_all(scheme.pattern).alias("m"))
            .explode("m")
            .drop_nulls("m")
            .with_columns(pl.col("m").str.replace_all(r"[^A-Z0-9]", ""))
        )
        if scheme.kind == "rf":
            # The pattern may run on into the next word; the check digits say where the reference ends.
            fixed = {m: rf_valid_prefix(m) for m in found["m"].unique().to_list()}
            found = found.with_columns(pl.col("m").replace_strict(fixed, default=None, return_dtype=pl.Utf8))
            found = found.drop_nulls("m")
            payload = found.select("receipt_id", "source", pl.col("m").str.slice(4).str.strip_chars_start("0"))
            frames.append(payload.rename({"m": "key"}))
        key = pl.col("m") if scheme.kind != "document" else pl.col("m").str.replace(strip, "$1")
        frames.append(found.select("receipt_id", "source", key.str.strip_chars_start("0").alias("key")))
    if not frames:
        return pl.DataFrame(schema={"receipt_id": pl.Int64, "source": pl.Utf8, "key": pl.Utf8})
    return pl.concat(frames)


def receipt_keys(receipts: pl.DataFrame, rules: RuleSet, heads: list[str] | None = None) -> pl.DataFrame:
    """Candidate keys per receipt: ``receipt_id, source, key`` (a key may repeat across sources).

    ``heads``: letter-only words a document number may start with (see :func:`document_keys`).
    """
    texts = _texts(receipts, rules)
    return _receipt_keys(texts, rules, heads or [], [_whole_field_keys(texts, rules), _scheme_keys(texts, rules)])


def _receipt_keys(texts: pl.DataFrame, rules: RuleSet, heads: list[str], others: list[pl.DataFrame]) -> pl.DataFrame:
    # ``others``: the keys that do not depend on ``heads`` (whole fields, schemes), worked out earlier.
    keys = pl.concat([_ngram_keys(texts, rules, heads), *others])
    return keys.drop_nulls("key").filter(_key_filter("key", rules.references.min_key_length))


def _first_by_source(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    # One row per ``by``, from the best source (structured fields first), deterministically.
    rank = pl.col("source").replace_strict(_SOURCE_RANK, default=9, return_dtype=pl.Int8)
    return (
        frame.with_columns(rank.alias("_r"))
        .sort([*by, "_r", "key"])
        .unique(subset=by, keep="first", maintain_order=True)
        .drop("_r")
    )


def _exact_hits(rkeys: pl.DataFrame, dkeys: pl.DataFrame) -> pl.DataFrame:
    return rkeys.join(dkeys, on="key", how="inner").select(
        "receipt_id",
        "item_id",
        pl.lit("exact").alias("match"),
        "source",
        pl.col("key").alias("token"),
        "via",
        "key",
    )


def _settled(receipts: pl.DataFrame, exact: pl.DataFrame, open_items: pl.DataFrame) -> pl.Series:
    # Receipts whose exact hits explain the amount exactly (one document of that amount, or all of
    # them together) need no fuzzy search and no payer-name comparison. Everything else gets a
    # fuzzy look, including receipts whose typo happens to hit another existing document with a
    # near amount (a "short payment" on someone else's invoice is a typo more often than not).
    total = pl.col("open_amount_minor").sum()
    hit = (
        exact.unique(["receipt_id", "item_id"])
        .join(open_items.select("item_id", "open_amount_minor"), on="item_id")
        .join(receipts.select("receipt_id", "amount_minor"), on="receipt_id")
        .group_by("receipt_id")
        .agg(
            (pl.col("open_amount_minor") == pl.col("amount_minor")).any().alias("one"),
            (total == pl.col("amount_minor").first()).alias("all"),
        )
        .filter(pl.col("one") | pl.col("all"))
    )
    return hit["receipt_id"].sort()


@dataclass(frozen=True, slots=True)
class ReferenceHits:
    """Hits per receipt and document, and the receipts whose exact hits already explain the amount."""

    hits: pl.DataFrame  # receipt_id, item_id, match (exact|fuzzy), source, token, via, key
    settled: pl.Series  # receipt ids: no fuzzy search or payer-name comparison needed


class ReferenceSearch:
    """:func:`reference_hits` in two steps: the exact hits and ``settled`` are known on construction
    while the fuzzy search runs on in the background (polars' threads); :meth:`result` completes it.
    """

    def __init__(
        self, receipts: pl.DataFrame, open_items: pl.DataFrame, rules: RuleSet, payers: pl.DataFrame | None = None
    ) -> None:
        self.settled = pl.Series("receipt_id", [], pl.Int64)
        self._frames: list[pl.DataFrame] = []
        self._fuzzy: FuzzySearch | None = None
        exact_on = rules.strategy("reference.exact") is not None
        fuzzy_on = rules.strategy("reference.fuzzy") is not None
        if receipts.is_empty() or open_items.is_empty() or not (exact_on or fuzzy_on):
            return
        dkeys = document_keys(open_items, rules)
        rkeys = receipt_keys(receipts, rules, _heads(dkeys))
        exact = _exact_hits(rkeys, dkeys)
        if exact_on:
            self.settled = _settled(receipts, exact, open_items)
            self._frames.append(exact)
        if fuzzy_on:
            todo = rkeys.filter(~pl.col("receipt_id").is_in(self.settled.implode()))
            leads = exact.join(open_items.select("item_id", "customer_id"), on="item_id").select(
                "receipt_id", "customer_id"
            )
            if payers is not None:
                leads = pl.concat([leads, payers.select("receipt_id", "customer_id")])
            self._fuzzy = FuzzySearch(
                _first_by_source(todo, ["receipt_id", "key"]), dkeys, rules, receipts, open_items, leads.unique()
            )

    def result(self) -> ReferenceHits:
        """All hits (see :func:`reference_hits`)."""
        frames = self._frames + ([self._fuzzy.hits()] if self._fuzzy is not None else [])
        if not frames:
            return ReferenceHits(pl.DataFrame(schema=HIT_SCHEMA), self.settled)
        hits = pl.concat([f.cast(HIT_SCHEMA) for f in frames])  # type: ignore[arg-type]
        rank = pl.col("source").replace_strict(_SOURCE_RANK, default=9, return_dtype=pl.Int8)
        hits = (
            hits.with_columns((pl.col("match") == "fuzzy").alias("_f"), rank.alias("_r"))
            .sort("receipt_id", "item_id", "_f", "_r", "token")
            .unique(subset=["receipt_id", "item_id"], keep="first", maintain_order=True)
            .drop("_f", "_r")
        )
        return ReferenceHits(hits, self.settled)


def reference_hits(
    receipts: pl.DataFrame, open_items: pl.DataFrame, rules: RuleSet, payers: pl.DataFrame | None = None
) -> ReferenceHits:
    """All reference hits, one row per receipt and document (an exact hit beats a fuzzy one; a
    structured field beats the remittance). ``token`` is the key as found in the text, ``key`` the
    document's key it matched. ``payers`` (``receipt_id, customer_id`` of known payer accounts)
    lets fuzzy hits on those customers' documents through whatever their amount. Sorted by
    receipt and item for determinism.
    """
    return ReferenceSearch(receipts, open_items, rules, payers).result()
