"""``match``: one decision per receipt, deterministic, pure.

1. Vectorised over all receipts at once (polars joins; rapidfuzz only on blocked pairs): reference
   hits (exact and one-edit), payer accounts, payer names, non-AR keywords.
2. Receipts whose exact references explain the amount exactly, and whose documents no other
   receipt names, are decided right there (``fastpath``): nothing could outrank them.
3. Every other credit, in (booking date, receipt id) order, goes through the strategies in rule
   order (the first that settles the receipt wins; exact and fuzzy references are judged together
   unless the exact one fits exactly) against a :class:`Book` of what is still open, so a document
   cleared by one receipt is never applied again by a later one in the same run.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Iterator
from datetime import date

import polars as pl

from services.cashapp.domain.allocate import ResidualClass
from services.cashapp.domain.amount_rules import amount_exact, amount_subset, amount_tolerance, global_amount
from services.cashapp.domain.context import Context, Evidence, Receipt
from services.cashapp.domain.decision import Allocation, Decision, DecisionStatus, ExceptionReason, Suggestion
from services.cashapp.domain.explain import documents, money
from services.cashapp.domain.firstpass import first_pass
from services.cashapp.domain.inputs import prepare_inputs
from services.cashapp.domain.rules import RuleSet
from services.cashapp.domain.scoring import REF_EXACT, Candidate, pick, rank_candidates
from services.cashapp.domain.strategies import reference_exact, reference_fuzzy
from shared.errors import DomainError

Strategy = Callable[[Receipt, Evidence, Context, int], list[Candidate]]
_STRATEGIES: dict[str, Strategy] = {
    "reference.exact": reference_exact,
    "reference.fuzzy": reference_fuzzy,
    "amount.exact": amount_exact,
    "amount.subset": amount_subset,
    "amount.tolerance": amount_tolerance,
}
_MAX_SUGGESTIONS = 3


def match(
    receipts: pl.DataFrame,
    open_items: pl.DataFrame,
    customers: pl.DataFrame,
    accounts: pl.DataFrame,
    rules: RuleSet,
    as_of: date,
) -> list[Decision]:
    """Decide every receipt: applied automatically, an exception with suggestions, or ignored.

    Receipts are decided in (booking_date, receipt_id) order and consume the open amounts of
    ``open_items`` as they go (the input frames are not modified). Only credits that are not
    reversals are matched. ``as_of`` stands in for a missing booking date (early-payment windows).
    Returns the decisions in that same order; every one satisfies the allocation invariant.
    """
    return list(match_iter(receipts, open_items, customers, accounts, rules, as_of))


def match_iter(
    receipts: pl.DataFrame,
    open_items: pl.DataFrame,
    customers: pl.DataFrame,
    accounts: pl.DataFrame,
    rules: RuleSet,
    as_of: date,
    *,
    settled_first: bool = False,
) -> Generator[Decision, None, None]:
    """``match``, one decision at a time as soon as it is made: the same decisions.

    Nothing comes out before the vectorised first pass is done; then each decision is yielded when
    the loop reaches its receipt, so a caller can write the first ones while later ones are made.
    In ``match``'s order, or with ``settled_first`` the receipts the first pass settled on their
    own first (right away, in that order), then the others: a caller that writes decisions as
    they come can start while the loop is still deciding.
    """
    # The run allocates a few hundred thousand small objects and makes no cycles worth collecting:
    # the cyclic collector would only walk the heap over and over (a tenth of the run). Paused until
    # the generator is exhausted or closed (the caller's code between two decisions too), restored.
    was = gc.isenabled()
    gc.disable()
    try:
        yield from _match(receipts, open_items, customers, accounts, rules, as_of, settled_first)
    finally:
        if was:
            gc.enable()


def _match(
    receipts: pl.DataFrame,
    open_items: pl.DataFrame,
    customers: pl.DataFrame,
    accounts: pl.DataFrame,
    rules: RuleSet,
    as_of: date,
    settled_first: bool = False,
) -> Iterator[Decision]:
    receipts, open_items, customers, accounts = prepare_inputs(receipts, open_items, customers, accounts)
    receipts = receipts.sort("booking_date", "receipt_id", nulls_last=True)
    credits = receipts.filter((pl.col("amount_minor") > 0) & ~pl.col("is_reversal"))
    # First the receipts whose exact references settle them on their own (no one else names their
    # documents), then everything else in (booking date, receipt id) order against what is left open.
    decided, gather = first_pass(credits, open_items, customers, accounts, rules, early=settled_first)
    ids = receipts["receipt_id"].to_list()
    if settled_first:
        yield from (decided[rid] for rid in ids if rid in decided)
        ids = [rid for rid in ids if rid not in decided]
    evidence, ctx = gather()
    cols = [
        "receipt_id",
        "amount_minor",
        "currency",
        "booking_date",
        "value_date",
        "is_reversal",
        "counterparty_name",
        "counterparty_account",
    ]
    # Only the receipts not decided up front are turned into Python rows (in the same order).
    todo = receipts.filter(~pl.col("receipt_id").is_in(list(decided))) if decided else receipts
    rows = todo.select(cols).iter_rows()
    steps = _plan(tuple(ctx.order))
    for rid in ids:
        d = decided.get(rid)
        if d is None:
            _, amount, cur, booked, valued, reversal, name, acct = next(rows)
            r = Receipt(rid, amount or 0, cur or "", booked or valued or as_of, name, acct)
            if reversal or r.amount <= 0:
                d = _ignored(r, rules, bool(reversal))
            else:
                d = _decide(r, evidence.get(rid) or Evidence(), ctx, steps)
        yield d


def _plan(order: tuple[str, ...]) -> tuple[tuple[int, str, Strategy | None], ...]:
    # The steps of the per-receipt loop: (rank, strategy id, function); payer.* strategies are
    # evidence, gathered up front, and are no step of their own.
    return tuple(
        (rank, sid, _STRATEGIES.get(sid)) for rank, sid in enumerate(order) if sid in _STRATEGIES or sid == "non_ar"
    )


def _decide(r: Receipt, ev: Evidence, ctx: Context, steps: tuple[tuple[int, str, Strategy | None], ...]) -> Decision:
    scoring = ctx.rules.scoring
    cands: list[Candidate] = []
    fuzzy_later = ctx.fuzzy_after_exact
    unpicked = False  # candidates added since the last pick (which said: keep looking)
    for rank, sid, strategy in steps:
        if strategy is None:  # non_ar
            if ev.non_ar is not None and _non_ar(ev, cands, ctx):
                return _exception(r, ev, ctx, cands, ExceptionReason.NON_AR)
            continue
        found = strategy(r, ev, ctx, rank)
        if found:
            cands += found
            unpicked = True
        elif not unpicked:
            continue  # nothing new: the last pick's answer stands
        if sid == "reference.exact" and fuzzy_later and max(c.score for c in cands) < REF_EXACT:
            # A typo can land on another existing document: unless the exact reference explains the
            # amount exactly, exact and fuzzy references are judged together.
            continue
        unpicked = False
        outcome = pick(cands, scoring.auto, scoring.ambiguity_margin)
        if outcome is None:
            continue
        if outcome.winner is not None:
            return _auto(r, ctx, outcome.winner)
        return _exception(r, ev, ctx, cands, ExceptionReason.AMBIGUOUS, outcome.rivals)
    return _exception(r, ev, ctx, cands, _code(ev, cands, ctx))


def _non_ar(ev: Evidence, cands: list[Candidate], ctx: Context) -> bool:
    cfg = ctx.non_ar_cfg
    # A document reference that fits the amount outweighs a keyword; one that does not fit does not.
    if ev.non_ar is None or any(c.score >= ctx.rules.scoring.suggest and c.hint is None for c in cands):
        return False
    return not (cfg.skip_if_payer_known and ev.accounts)


def _code(ev: Evidence, cands: list[Candidate], ctx: Context) -> ExceptionReason:
    hints = {c.hint for c in cands}
    if ExceptionReason.AMOUNT_MISMATCH in hints:
        return ExceptionReason.AMOUNT_MISMATCH
    if any(c.score >= ctx.rules.scoring.suggest and c.hint is None for c in cands):
        return ExceptionReason.LOW_CONFIDENCE
    for note in (ExceptionReason.CURRENCY_MISMATCH, ExceptionReason.ALREADY_CLEARED):
        if note in ev.notes:
            return note
    if _identified(ev, ctx):
        return ExceptionReason.NO_CANDIDATE
    return ExceptionReason.UNKNOWN_PAYER


def _identified(ev: Evidence, ctx: Context) -> str | None:
    accts = sorted({c for c, _ in ev.accounts})
    if accts:
        return accts[0] if len(accts) == 1 else None
    strong = [c for c, sim, _ in ev.names if sim >= ctx.name_cutoff]
    return strong[0] if len(strong) == 1 else None


def _auto(r: Receipt, ctx: Context, c: Candidate) -> Decision:
    book, fit = ctx.book, c.fit
    assert fit is not None  # only candidates with a fit may win (auto_ok)
    ids, numbers, owners = book.item_id, book.number, book.customer
    allocs = tuple([Allocation(ids[i], numbers[i], owners[i], a) for i, a in fit.allocations])
    applied = sum([a for _, a in fit.allocations])
    d = Decision(
        r.receipt_id,
        DecisionStatus.AUTO,
        r.currency,
        r.amount,
        c.customer_id,
        allocs,
        applied,
        fit.fee,
        fit.writeoff,
        fit.unapplied,
        fit.residual,
        fit.short,
        c.rule_id,
        ctx.rules.version,
        c.score,
        c.reason,
    )
    # (``balanced``, with the sum of the allocations known)
    if applied + fit.fee + fit.writeoff + fit.unapplied != r.amount:
        # cannot happen by construction; refuse loudly rather than post bad money
        raise DomainError(f"receipt {r.receipt_id}: allocation does not balance", code="MATCH_INVARIANT")
    for i, a in fit.allocations:
        book.apply(i, a)
    return d


def _suggestions(cands: list[Candidate], ctx: Context) -> tuple[Suggestion, ...]:
    book = ctx.book
    out: list[Suggestion] = []
    for c in rank_candidates(cands):
        if c.score < ctx.rules.scoring.suggest or len(out) >= _MAX_SUGGESTIONS:
            continue
        out.append(
            Suggestion(
                c.customer_id,
                tuple(book.item_id[i] for i in c.items),
                tuple(book.number[i] for i in c.items),
                c.amounts,
                c.score,
                c.reason,
            )
        )
    return tuple(out)


def _exception_text(
    r: Receipt, ev: Evidence, ctx: Context, code: ExceptionReason, best: Candidate | None, rivals: list[Candidate]
) -> str:
    amount = money(r.amount, r.currency)
    if code is ExceptionReason.AMBIGUOUS:
        opts = " or ".join(f"{c.customer_id}: {documents(ctx.book, c.items)} ({c.score:.2f})" for c in rivals[:3])
        return f"Candidates too close to choose automatically: {opts}"
    if code is ExceptionReason.NON_AR:
        return f"Looks like a credit that is not a customer payment ('{ev.non_ar}' in the text)"
    if code is ExceptionReason.ALREADY_CLEARED:
        return "The documents referenced were already cleared by an earlier receipt in this run"
    if code is ExceptionReason.UNKNOWN_PAYER:
        payer = r.payer_name or r.payer_account or "unnamed payer"
        return f"Payer '{payer}' not recognised and no open document referenced ({amount})"
    if code is ExceptionReason.NO_CANDIDATE:
        return f"No open item of customer {_identified(ev, ctx)} fits {amount}"
    if best is not None and code is ExceptionReason.LOW_CONFIDENCE:
        if best.score >= ctx.rules.scoring.auto:
            return f"Best candidate could not be confirmed: {best.reason}"
        return f"Best candidate not certain enough ({best.score:.2f} < {ctx.rules.scoring.auto:.2f}): {best.reason}"
    return best.reason if best is not None else f"No candidate for {amount}"


def _exception(
    r: Receipt,
    ev: Evidence,
    ctx: Context,
    cands: list[Candidate],
    code: ExceptionReason,
    rivals: list[Candidate] | None = None,
) -> Decision:
    if code is not ExceptionReason.NON_AR and len(cands) < _MAX_SUGGESTIONS:
        cands = cands + global_amount(r, ctx, len(ctx.rules.strategies))
    ranked = rank_candidates(cands)
    hinted = [c for c in ranked if c.hint is code]
    best = hinted[0] if hinted else (ranked[0] if ranked else None)
    cust = _identified(ev, ctx) or (
        rivals[0].customer_id if rivals and len({c.customer_id for c in rivals}) == 1 else None
    )
    rule = "non_ar" if code is ExceptionReason.NON_AR else (best.rule_id if best else "none")
    return Decision(
        r.receipt_id,
        DecisionStatus.EXCEPTION,
        r.currency,
        r.amount,
        cust,
        (),
        0,
        0,
        0,
        r.amount,
        ResidualClass.NONE,
        0,
        rule,
        ctx.rules.version,
        best.score if best and rule != "non_ar" else 0.0,
        _exception_text(r, ev, ctx, code, best, rivals or []),
        code,
        _suggestions(cands, ctx),
    )


def _ignored(r: Receipt, rules: RuleSet, reversal: bool) -> Decision:
    if reversal:
        rule, why = "ignore.reversal", "Reversal of an earlier booking: never applied to documents"
    elif r.amount < 0:
        rule, why = "ignore.debit", "Debit (money out): only credits are customer receipts"
    else:
        rule, why = "ignore.zero", "Zero amount: nothing to apply"
    return Decision(
        r.receipt_id,
        DecisionStatus.IGNORED,
        r.currency,
        r.amount,
        None,
        (),
        0,
        0,
        0,
        r.amount,
        ResidualClass.NONE,
        0,
        rule,
        rules.version,
        0.0,
        why,
    )
