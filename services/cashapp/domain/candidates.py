"""Who paid: customers behind each receipt's payer account and payer name; non-AR credits.

All vectorised. Accounts are an exact join on the normalised IBAN / account number (master data
and accounts learned from earlier confirmed applications). Names are compared after
normalisation (legal forms, transliteration): exact joins first, then ``rapidfuzz`` over blocked
pairs only: a payer name is compared with the customer names that share a rare 4-letter word
prefix with it or that equal it but for one word (so a typo in one word still meets the name),
never with all customers. The closest few get a closer look for abbreviated words ("Logi." for
"Logistik") and names the bank cut off.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl
from rapidfuzz import fuzz, process

from services.cashapp.domain.normalize import account_expr, cut_legal_forms, name_expr, normalize_account
from services.cashapp.domain.rules import RuleSet

ACCOUNT_SCHEMA = {"receipt_id": pl.Int64, "customer_id": pl.Utf8, "source": pl.Utf8}
NAME_SCHEMA = {"receipt_id": pl.Int64, "customer_id": pl.Utf8, "score": pl.Float64, "matched": pl.Utf8, "via": pl.Utf8}
NON_AR_SCHEMA = {"receipt_id": pl.Int64, "keyword": pl.Utf8}
# Banks cut payer names at 27, 35 or 70 characters; a long name that is the start of a customer's
# name is that customer, slightly discounted.
_TRUNCATED_MIN = 20
_TRUNCATED_FACTOR = 0.97
# Abbreviated words ("Logi." for "Logistik") are written out before comparing, slightly discounted.
_ABBREV_MIN = 3
_ABBREV_FACTOR = 0.97
# Pairs below this plain similarity are not worth a closer look.
_PREFILTER = 60.0
# Names of up to this many words also get "all words but one" blocking keys.
_DROP_ONE_MAX_WORDS = 6


def payer_accounts(receipts: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """``receipt_id, customer_id, source`` for every receipt whose payer account is known."""
    known = (
        accounts.filter(pl.col("kind") == "iban")
        .select("customer_id", account_expr(pl.col("value")).alias("acct"), "source")
        .filter(pl.col("acct") != "")
        .sort("customer_id", "source")
        .unique(["acct", "customer_id"], keep="first", maintain_order=True)
    )
    payers = receipts.select("receipt_id", account_expr(pl.col("counterparty_account")).alias("acct"))
    payers = payers.filter(pl.col("acct") != "")
    return payers.join(known, on="acct").select("receipt_id", "customer_id", "source").sort("receipt_id", "customer_id")


class ReferenceNames:
    """The customers' normalised names and aliases and their blocking keys, worked out in the
    background (polars' threads) from construction on: pass it to :func:`payer_names` (``ref``)."""

    def __init__(self, customers: pl.DataFrame, accounts: pl.DataFrame, rules: RuleSet) -> None:
        legal, stop = rules.names.legal_forms, rules.names.stopwords
        names = pl.concat(
            [
                customers.lazy().select(
                    "customer_id", pl.col("customer_name").alias("raw"), pl.lit("customer").alias("via")
                ),
                accounts.lazy()
                .filter(pl.col("kind") == "name")
                .select("customer_id", pl.col("value").alias("raw"), pl.lit("alias").alias("via")),
            ]
        ).drop_nulls("raw")
        # Lazily: the optimiser computes name_expr's shared parts once (eager evaluation repeats them).
        names = names.with_columns(name_expr(pl.col("raw"), legal, stop).alias("norm")).filter(pl.col("norm") != "")
        # The names numbered in sorted order (see _pairs), their blocking keys, and how many names share
        # each key; one query (the names are worked out once), told apart by ``part``.
        rkeys = _block_keys(names.select("norm").unique().sort("norm").with_row_index("id"))
        keyed = rkeys.join(rkeys.group_by("key").agg(pl.len().alias("f")), on="key")
        self._query = pl.concat(
            [names.with_columns(pl.lit(0).alias("part")), keyed.with_columns(pl.lit(1).alias("part"))],
            how="diagonal",
        ).collect(background=True)

    def fetch(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """``customer_id, raw, via, norm`` of every name, and ``id, key, f`` of the blocking keys."""
        both = self._query.fetch_blocking()
        names = both.filter(pl.col("part") == 0).select("customer_id", "raw", "via", "norm")
        return names, both.filter(pl.col("part") == 1).select("id", "key", "f")


def _reference_names(names: pl.DataFrame) -> pl.DataFrame:
    return names.sort("customer_id", "via").unique(["norm", "customer_id"], keep="first", maintain_order=True)


def _block_keys(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Blocking keys of each name (``id, norm`` in, ``id, key`` out): the first four letters of each
    word (whole word when shorter), and the name without one of its words (``~summit`` for ``smumit
    technologies`` and ``summit technologies`` alike), so a typo in one word still meets the name
    through the others; and the whole name the same way, so a name with one word more meets it."""
    words = frame.select("id", pl.col("norm").str.split(" ").alias("w"))
    prefixes = words.select("id", pl.col("w").list.eval(pl.element().str.slice(0, 4)).alias("key")).explode("key")
    multi = (
        words.filter(pl.col("w").list.len().is_between(2, _DROP_ONE_MAX_WORDS))
        .with_columns(pl.int_ranges(0, pl.col("w").list.len()).alias("i"))
        .explode("i")
    )
    rest = pl.concat_list(pl.col("w").list.slice(0, pl.col("i")), pl.col("w").list.slice(pl.col("i") + 1))
    drop_one = multi.select("id", ("~" + rest.list.join(" ")).alias("key"))
    # The whole name under the same kind of key: it meets the names that are it plus one word
    # (a payer name with the start of a legal form the bank cut off, a customer's extra word).
    whole = words.filter(pl.col("w").list.len() < _DROP_ONE_MAX_WORDS).select(
        "id", ("~" + pl.col("w").list.join(" ")).alias("key"))
    keys = pl.concat([prefixes, drop_one, whole])
    return keys.filter(pl.col("key").str.len_chars() >= 2).unique()


class _Pairs(NamedTuple):
    """Blocked (payer, name) pairs, unique, sorted by (payer, name): ``payers[pid[k]], names[nid[k]]``."""

    payers: list[str]  # payer names, sorted
    names: list[str]  # reference names, sorted
    pid: list[int]
    nid: list[int]


def _pairs(payer_norms: pl.DataFrame, ref: pl.DataFrame, keyed: pl.DataFrame, max_freq: int,
           cut_forms: frozenset[str] = frozenset()) -> _Pairs:
    # ``keyed``: ``id, key, f`` of the reference names (see ReferenceNames). Names are numbered in
    # sorted order, so pairs of numbers sort like pairs of names (cheaply).
    names = ref.select("norm").unique().sort("norm")
    payers = payer_norms.select("norm").unique().sort("norm").with_row_index("id")
    # A payer name whose last word looks like the start of a legal form the bank cut off gets the
    # keys of the name without it as well: with a typo in another word, it still meets the name.
    last = pl.col("norm").str.extract(r" ([a-z0-9]+)$")
    heads = payers.filter(last.is_in(list(cut_forms))).select("id", pl.col("norm").str.replace(r" [a-z0-9]+$", ""))
    # Keys shared by many names (like "tech" or "hand") say little and cost much: not used.
    rkeys = keyed.filter(pl.col("f") <= max_freq).select("id", "key")
    pkeys = _block_keys(pl.concat([payers, heads]).lazy()).unique().collect()
    both = pkeys.rename({"id": "pid"}).join(rkeys, on="key")
    # One integer per (payer, name) pair, in the order of the pair: unique and sorted cheaply.
    pair = (pl.col("pid").cast(pl.UInt64) * (1 << 32) + pl.col("id").cast(pl.UInt64)).alias("pair")
    ids = both.select(pair).unique().sort("pair")["pair"]
    return _Pairs(
        payers["norm"].to_list(), names["norm"].to_list(), (ids // (1 << 32)).to_list(), (ids % (1 << 32)).to_list()
    )


def expand_abbreviations(payer: str, name: str) -> str:
    """Payer words that are the start of one of ``name``'s words, written out (``logi`` -> ``logistik``).

    Banks and payers shorten long words ("Logi.", "Indu.", "Tech."); only words of at least three
    letters are expanded, and only to a word of the name being compared.
    """
    words = name.split()
    out = []
    for w in payer.split():
        if len(w) >= _ABBREV_MIN and w in name:  # cheap test first; most words are not abbreviations
            w = next((n for n in words if len(n) > len(w) and n.startswith(w)), w)
        out.append(w)
    return " ".join(out)


def name_similarity(a: str, b: str) -> float:
    """Similarity (0..100) of two normalised names: the better of the plain and the word-sorted
    comparison (a typo can change the sorted word order; a reordered name needs sorting)."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


def _pair_score(p: str, norm: str, plain: float) -> float:
    score = plain
    expanded = expand_abbreviations(p, norm)
    if expanded != p:
        score = max(score, name_similarity(expanded, norm) * _ABBREV_FACTOR)
    return score


def _score_pairs(pairs: _Pairs, cutoff: float, auto: float, top_k: int, exact: set[str],
                 cut_forms: frozenset[str] = frozenset()) -> pl.DataFrame:
    # rapidfuzz's process.cdist needs numpy, which this project does not depend on; extract() runs
    # the scorer over one payer's blocked candidates in C++ and keeps the best ``top_k`` for a
    # closer look (abbreviations, truncated names). Words are sorted once up front, so plain
    # ``ratio`` on them is ``token_sort_ratio`` without re-sorting per pair. A payer whose name is
    # exactly a customer's only needs its near-identical rivals (for ambiguity), not a closer look.
    # ``pairs`` is unique and sorted by (pnorm, norm) (see _pairs): each payer's candidates are one
    # run of rows, in name order, so that ties at the top-k boundary break the same way on every run.
    out_p: list[str] = []
    out_n: list[str] = []
    out_s: list[float] = []
    ratio, extract = fuzz.ratio, process.extract
    # Each name with its words sorted (names are ASCII: the same order as polars' string sort).
    names, pid = pairs.names, pairs.pid
    names_sorted = [" ".join(sorted(n.split(" "))) for n in names]
    bounds = [i for i in range(1, len(pid)) if pid[i] != pid[i - 1]]
    for lo, hi in zip([0, *bounds], [*bounds, len(pid)], strict=True):
        if lo == hi:
            continue
        p, ps = pairs.payers[pid[lo]], " ".join(sorted(pairs.payers[pid[lo]].split(" ")))
        nids = pairs.nid[lo:hi]
        norms, sorted_norms = [names[k] for k in nids], [names_sorted[k] for k in nids]
        known = p in exact
        plain: dict[int, float] = {}
        for query, choices in ((p, norms), (ps, sorted_norms)):
            floor = auto if known else _PREFILTER
            for _, sim, k in extract(query, choices, scorer=ratio, score_cutoff=floor, limit=top_k):
                plain[k] = max(plain.get(k, 0.0), sim)
        best = {norms[k]: sim if sim >= auto else _pair_score(p, norms[k], sim) for k, sim in plain.items()}
        if not known and len(p) >= _TRUNCATED_MIN and max(best.values(), default=0.0) < auto:
            # A name the bank cut off is the start of the customer's name: compare equal lengths.
            cut = [n[: len(p)] if len(n) > len(p) else "" for n in norms]
            for _, sim, k in extract(p, cut, scorer=ratio, score_cutoff=cutoff, limit=top_k):
                best[norms[k]] = max(best.get(norms[k], 0.0), sim * _TRUNCATED_FACTOR)
            head, _, last = p.rpartition(" ")
            if head and last in cut_forms:
                # ... cut off inside its legal form ("Lt", "Limi", "Incorpora"): the rest is the name.
                for _, sim, k in extract(head, norms, scorer=ratio, score_cutoff=cutoff, limit=top_k):
                    best[norms[k]] = max(best.get(norms[k], 0.0), sim * _TRUNCATED_FACTOR)
        for norm, sc in best.items():
            if sc >= cutoff:
                out_p.append(p)
                out_n.append(norm)
                out_s.append(round(sc, 2))
    return pl.DataFrame(
        {"pnorm": out_p, "norm": out_n, "score": out_s}, schema={"pnorm": pl.Utf8, "norm": pl.Utf8, "score": pl.Float64}
    )


def payer_names(
    receipts: pl.DataFrame,
    customers: pl.DataFrame,
    accounts: pl.DataFrame,
    rules: RuleSet,
    ref: ReferenceNames | None = None,
) -> pl.DataFrame:
    """``receipt_id, customer_id, score (0..100), matched, via`` for payer names like a customer's.

    Only scores at or above the strategy's ``suggest_cutoff`` are kept, at most
    ``max_candidates`` customers per receipt, best first (ties by customer id).
    """
    cfg = rules.strategy("payer.name")
    if cfg is None or receipts.is_empty() or customers.is_empty():
        return pl.DataFrame(schema=NAME_SCHEMA)
    legal, stop = rules.names.legal_forms, rules.names.stopwords
    payers = (
        receipts.lazy()
        .select("receipt_id", name_expr(pl.col("counterparty_name"), legal, stop).alias("pnorm"))
        .filter(pl.col("pnorm").str.len_chars() >= 2)
        .collect()
    )
    all_names, keyed = (ref if ref is not None else ReferenceNames(customers, accounts, rules)).fetch()
    ref_names = _reference_names(all_names)
    uniq = payers.select(pl.col("pnorm").alias("norm")).unique()
    cut_forms = cut_legal_forms(legal)
    pairs = _pairs(uniq, ref_names, keyed, cfg.max_token_frequency, cut_forms)
    exact = uniq.join(ref_names.select("norm").unique(), on="norm").select(
        pl.col("norm").alias("pnorm"), "norm", pl.lit(100.0).alias("score")
    )
    scored = pl.concat(
        [
            exact,
            _score_pairs(pairs, cfg.suggest_cutoff, cfg.auto_cutoff, cfg.max_compared, set(exact["pnorm"].to_list()),
                         cut_forms)
            if pairs.pid
            else exact.clear(),
        ]
    )
    scored = scored.filter(pl.col("score") >= cfg.suggest_cutoff)
    per_customer = (
        scored.join(ref_names, on="norm")
        .sort("pnorm", "customer_id", "score", "via", descending=[False, False, True, False])
        .unique(["pnorm", "customer_id"], keep="first", maintain_order=True)
        .sort("pnorm", "score", "customer_id", descending=[False, True, False])
        .group_by("pnorm", maintain_order=True)
        .head(cfg.max_candidates)
    )
    out = payers.join(per_customer, on="pnorm").select(
        "receipt_id", "customer_id", "score", pl.col("raw").alias("matched"), "via"
    )
    return out.sort("receipt_id", "score", "customer_id", descending=[False, True, False])


def non_ar_flags(receipts: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """``receipt_id, keyword`` for credits that look like interest, tax refunds, intercompany ..."""
    cfg = rules.strategy("non_ar")
    if cfg is None or receipts.is_empty():
        return pl.DataFrame(schema=NON_AR_SCHEMA)
    frames = []
    if cfg.keywords:
        pattern = "(?i)(?:" + "|".join(f"(?:{k})" for k in cfg.keywords) + ")"
        text = pl.concat_str([pl.col("remittance"), pl.col("counterparty_name")], separator=" ", ignore_nulls=True)
        frames.append(
            receipts.select(
                "receipt_id", text.str.extract(f"({pattern})", 1).str.to_uppercase().alias("keyword")
            ).drop_nulls("keyword")
        )
    if cfg.accounts:
        own = [normalize_account(a) for a in cfg.accounts]
        acct = account_expr(pl.col("counterparty_account"))
        frames.append(
            receipts.filter(acct.is_in(own)).select("receipt_id", pl.lit("INTERCOMPANY ACCOUNT").alias("keyword"))
        )
    if not frames:
        return pl.DataFrame(schema=NON_AR_SCHEMA)
    return pl.concat(frames).unique("receipt_id", keep="first", maintain_order=True).sort("receipt_id")
