"""Fuzzy reference hits: tokens one edit (typo, transposition, dropped character) away from a document.

Found by joining one-deletion variants of both sides (a pair at distance one always shares a
variant) as 64-bit integers, filtered on amounts and customers before any string is touched, and
confirmed pair by pair with ``rapidfuzz``'s OSA distance. The search runs in polars' own threads
while the engine works on (see :class:`FuzzySearch`).
"""

from __future__ import annotations

import polars as pl
from polars.lazyframe.in_process import InProcessQuery
from rapidfuzz.distance import OSA

from services.cashapp.domain.normalize import qrr_valid, rf_valid
from services.cashapp.domain.rules import ReferenceFuzzy, RuleSet

HIT_SCHEMA = {
    "receipt_id": pl.Int64,
    "item_id": pl.Int64,
    "match": pl.Utf8,
    "source": pl.Utf8,
    "token": pl.Utf8,
    "via": pl.Utf8,
    "key": pl.Utf8,
}


_NUMERIC_MAX = 17  # digit strings up to this long: (value, length) fits one 64-bit integer
_NUMERIC_OR_EMPTY = r"^[0-9]{0,17}$"
_POW10 = pl.Series([10**k for k in range(_NUMERIC_MAX)], dtype=pl.UInt64)
_BATCH = 2000  # keys in a group worth passes of their own


def _code(text: pl.Expr) -> pl.Expr:
    # A 64-bit code of a string: (value, length) for short digit strings (exact, no hashing), a
    # hash otherwise. Equal strings get equal codes; a collision only costs a verification.
    value = text.str.to_integer(strict=False).fill_null(0).cast(pl.UInt64)  # "" is (0, 0)
    numeric = value * 32 + text.str.len_chars().cast(pl.UInt64)
    return pl.when(text.str.contains(_NUMERIC_OR_EMPTY)).then(numeric).otherwise(text.hash(seed=_SEED))


def _variants(keys: pl.Series) -> pl.LazyFrame:
    """``v, row``: for each key (by its row number) a 64-bit code (see _code) of the key as it is and
    of each of its one-deletion variants. Joins on integers are several times faster than on strings,
    and every pair found is verified by its edit distance afterwards, so a collision cannot make a
    false hit. Digit keys (most document numbers) get their variants by integer arithmetic.

    Large groups of keys (one length of digits; keys with two or more letters) get one pass per
    deleted position with constants; the few others one pass over a row per key and position.
    """
    frame = (
        pl.DataFrame({"s": keys})
        .with_row_index("row")
        .with_columns(pl.col("s").str.len_chars().alias("n"), pl.col("s").str.count_matches(r"[^0-9]").alias("nd"))
    )
    s, n, nd, i, x = pl.col("s"), pl.col("n"), pl.col("nd"), pl.col("i"), pl.col("x")
    digits = frame.filter((nd == 0) & (n <= _NUMERIC_MAX)).with_columns(s.str.to_integer().cast(pl.UInt64).alias("x"))
    big = sorted(k for k, count in digits.group_by("n").len().iter_rows() if count >= _BATCH)
    parts = [digits.lazy().select((x * 32 + n.cast(pl.UInt64)).alias("v"), "row")]
    for length in big:
        same = digits.lazy().filter(n == length)
        for k in range(length):
            # deleting the digit at k (from the left): the digits before it move down one place
            low = 10 ** (length - k - 1)
            parts.append(same.select((((x // (low * 10)) * low + x % low) * 32 + (length - 1)).alias("v"), "row"))
    rest = _exploded(digits.filter(~n.is_in(big)))
    low_at = pl.lit(_POW10).gather(n - i - 1)
    parts.append(
        rest.select((((x // (low_at * 10)) * low_at + x % low_at) * 32 + (n - 1).cast(pl.UInt64)).alias("v"), "row")
    )
    # With two or more other characters no variant is a digit string: hashes only.
    for group, code in (
        (frame.filter(nd >= 2), lambda e: e.hash(seed=_SEED)),
        (frame.filter((nd == 1) | ((nd == 0) & (n > _NUMERIC_MAX))), _code),
    ):
        parts.append(group.lazy().select(code(s).alias("v"), "row"))
        if group.height >= _BATCH:
            for k in range(int(group["n"].max() or 0)):  # type: ignore[arg-type]
                parts.append(
                    group.lazy().filter(n > k).select(code(s.str.slice(0, k) + s.str.slice(k + 1)).alias("v"), "row")
                )
        else:
            parts.append(_exploded(group).select(code(s.str.slice(0, i) + s.str.slice(i + 1)).alias("v"), "row"))
    return pl.concat(parts)


def _exploded(frame: pl.DataFrame) -> pl.LazyFrame:
    # One row per key and position ``i`` (0 .. n - 1).
    return (
        frame.lazy()
        .with_columns(pl.int_ranges(0, pl.col("n"), dtype=pl.UInt32).alias("i"))
        .explode("i")
        .drop_nulls("i")
    )


def _codes(*columns: pl.Series) -> list[pl.Series]:
    # Dense integer codes for the strings of the columns, one code space for all (null stays null):
    # integers compare and join far cheaper than strings.
    ranked = pl.concat([c.rename("x") for c in columns]).cast(pl.Categorical).to_physical()
    out, at = [], 0
    for c in columns:
        out.append(ranked.slice(at, len(c)))
        at += len(c)
    return out


_SEED = 20260101  # any fixed seed: the same within a run is all the joins need


def _fuzzy_candidates(rkeys: pl.DataFrame, dkeys: pl.DataFrame, rules: RuleSet) -> tuple[pl.DataFrame, pl.DataFrame]:
    cfg = rules.settings(ReferenceFuzzy)
    cands = rkeys.filter(
        ~pl.col("key").str.contains("-")
        & (pl.col("key").str.len_chars() >= cfg.min_length)
        & (pl.col("key").str.count_matches(r"[0-9]") >= cfg.min_digits)
    )
    # A reference whose check digits hold is exactly what the payer meant: never fuzzy-match it.
    maybe = cands.select(pl.col("key").unique()).filter(
        pl.col("key").str.starts_with("RF") | pl.col("key").str.contains(r"^[0-9]{20,27}$")
    )
    checked = [k for k in maybe["key"].to_list() if _check_digits_hold(k)]
    docs = dkeys.filter(~pl.col("key").str.contains("-"))
    # One edit changes the length by at most one: block both sides by length.
    doc_lens = _near(docs["key"].str.len_chars().unique().to_list())
    cands = cands.filter(~pl.col("key").is_in(checked) & pl.col("key").str.len_chars().is_in(doc_lens))
    cand_lens = _near(cands["key"].str.len_chars().unique().to_list())
    return cands, docs.filter(pl.col("key").str.len_chars().is_in(cand_lens))


class FuzzySearch:
    """One-edit hits that can lead somewhere: the document's open amount is within 10 % of the
    receipt (same currency), or its customer is one the receipt already points at (``leads``:
    ``receipt_id, customer_id`` from the payer account or other exact hits). Dense numbering gives
    every token dozens of one-edit neighbours; only these few are kept.

    The pairs are searched in the background (polars' own threads) from construction on; the
    caller works on meanwhile and asks for :meth:`hits` when it needs them.
    """

    def __init__(
        self,
        rkeys: pl.DataFrame,
        dkeys: pl.DataFrame,
        rules: RuleSet,
        receipts: pl.DataFrame,
        open_items: pl.DataFrame,
        leads: pl.DataFrame,
    ) -> None:
        self._cap = rules.settings(ReferenceFuzzy).max_hits_per_token
        self._query: InProcessQuery | None = None
        cands, docs = _fuzzy_candidates(rkeys, dkeys, rules)
        if cands.is_empty() or docs.is_empty():
            return
        items = open_items.select("item_id", "customer_id", pl.col("currency").alias("dcur"), "open_amount_minor")
        self._doc = doc = docs.rename({"key": "dkey"}).join(items, on="item_id")
        self._cand = cand = cands.join(receipts.select("receipt_id", "currency", "amount_minor"), on="receipt_id")
        # Pairs of rows (cand, doc) sharing a variant, filtered on integers first: the document's
        # amount is near the receipt's in the same currency, or its customer is one the receipt
        # points at.
        cand_cur, doc_cur = _codes(cand["currency"], doc["dcur"])
        doc_cust, lead_cust = (c.cast(pl.Int64) for c in _codes(doc["customer_id"], leads["customer_id"]))
        rids = pl.concat([cand["receipt_id"], leads["receipt_id"]]).rank("dense").cast(pl.Int64)
        cand_rid, lead_rid = rids.head(cand.height), rids.tail(leads.height)
        ci, di = pl.col("row"), pl.col("row_d")
        amount, opened = pl.lit(cand["amount_minor"]).gather(ci), pl.lit(doc["open_amount_minor"]).gather(di)
        near = (pl.lit(cand_cur).gather(ci) == pl.lit(doc_cur).gather(di)) & ((opened - amount).abs() * 10 <= amount)
        # (receipt, customer) pairs as one integer each
        width = max(doc_cust.max() or 0, lead_cust.max() or 0) + 1  # type: ignore[operator]
        pair = pl.lit(cand_rid).gather(ci) * width + pl.lit(doc_cust).gather(di)
        lead = pair.is_in((lead_rid * width + lead_cust).drop_nulls().implode())
        query = (
            _variants(cand["key"])
            .join(_variants(doc["dkey"]), on="v", suffix="_d")
            .select("row", "row_d")
            .filter(near.fill_null(False) | lead.fill_null(False))
        )
        self._query = query.collect(background=True)

    def hits(self) -> pl.DataFrame:
        """The hits (``HIT_SCHEMA`` columns), once the background search is done."""
        if self._query is None:
            return pl.DataFrame(schema=HIT_SCHEMA)
        both = self._query.fetch_blocking()
        cand, doc = self._cand, self._doc
        ci, di = both["row"], both["row_d"]
        pairs = (
            pl.DataFrame(
                {
                    "receipt_id": cand["receipt_id"].gather(ci),
                    "source": cand["source"].gather(ci),
                    "key": cand["key"].gather(ci),
                    "dkey": doc["dkey"].gather(di),
                    "item_id": doc["item_id"].gather(di),
                    "via": doc["via"].gather(di),
                }
            )
            .filter(pl.col("key") != pl.col("dkey"))
            .unique(["receipt_id", "key", "item_id"], keep="first", maintain_order=True)
        )
        verified = [(a, b) for a, b in pairs.select("key", "dkey").unique().iter_rows() if OSA.distance(a, b) == 1]
        close = pl.DataFrame(verified, schema={"key": pl.Utf8, "dkey": pl.Utf8}, orient="row")
        hits = pairs.join(close, on=["key", "dkey"])
        # Too many plausible neighbours for one token: it says little; drop it.
        hits = hits.filter(pl.len().over("receipt_id", "key") <= self._cap)
        return hits.select(
            "receipt_id",
            "item_id",
            pl.lit("fuzzy").alias("match"),
            "source",
            pl.col("key").alias("token"),
            "via",
            pl.col("dkey").alias("key"),
        )


def _near(lengths: list[int]) -> list[int]:
    return sorted({n + d for n in lengths for d in (-1, 0, 1)})


def _check_digits_hold(key: str) -> bool:
    if key.startswith("RF"):
        return rf_valid(key)
    return key.isdigit() and 20 <= len(key) <= 27 and qrr_valid(key.zfill(27))
