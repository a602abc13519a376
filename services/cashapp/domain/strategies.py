"""Reference strategies per receipt: documents the texts name, and how the amount fits them.

Each strategy (``reference.exact`` and ``reference.fuzzy`` here, the amount rules in
``amount_rules``) answers a list of :class:`~services.cashapp.domain.scoring.Candidate`; the engine
calls them in the rule order and stops as soon as :func:`~services.cashapp.domain.scoring.pick`
settles the receipt. Only the residue reaches these functions per receipt; every lookup is a dict
index on the :class:`~services.cashapp.domain.allocate.Book` (no scans over all open items).
"""

from __future__ import annotations

from services.cashapp.domain.allocate import (
    Fit,
    ResidualClass,
    find_subsets,
    fit_exact,
    fit_over,
    fit_short,
)
from services.cashapp.domain.context import Context, Evidence, Receipt, candidate, suggestion, text
from services.cashapp.domain.decision import ExceptionReason
from services.cashapp.domain.explain import (
    Hit,
    account_phrase,
    documents,
    hits_phrase,
    money,
    third_party_phrase,
)
from services.cashapp.domain.scoring import (
    FUZZY_SHADOWED_FACTOR,
    REF_COMPLETION,
    REF_CURRENCY,
    REF_EXACT,
    REF_MISMATCH,
    REF_OVER,
    REF_SHORT,
    REF_SUBSET,
    REF_TOLERANCE,
    THIRD_PARTY_TOLERANCE_FACTOR,
    WEAK_TOLERANCE_FACTOR,
    Candidate,
)

_COMPLETION_MAX_SIZE = 3
_SAFE_SHORT = frozenset({"early_payment_discount", "bank_charge"})
_SHORT = frozenset({"short_payment"})


# --- references ---------------------------------------------------------------------------------


def reference(r: Receipt, ev: Evidence, ctx: Context, rank: int, match: str) -> list[Candidate]:
    """Candidates from documents the receipt's texts name (``match`` = "exact" or "fuzzy")."""
    if not ev.hits:
        return []
    book = ctx.book
    out: list[Candidate] = []
    groups: dict[str, list[Hit]] = {}
    for h in ev.hits:
        if h.match != match:
            continue
        if book.currency[h.idx] != r.currency:
            ev.notes.add(ExceptionReason.CURRENCY_MISMATCH)
            out.append(_currencysuggestion(r, ctx, h, match, rank))
        elif book.open[h.idx] == 0:
            if match == "exact":  # a fuzzy neighbour that is cleared says nothing
                ev.notes.add(ExceptionReason.ALREADY_CLEARED)
        else:
            groups.setdefault(book.customer[h.idx], []).append(h)
    for cust in sorted(groups):
        out += _reference_group(r, ev, ctx, cust, groups[cust], match, rank)
    return out


def reference_exact(r: Receipt, ev: Evidence, ctx: Context, rank: int) -> list[Candidate]:
    """:func:`reference` of the exact hits."""
    return reference(r, ev, ctx, rank, "exact") if ev.hits else []


def reference_fuzzy(r: Receipt, ev: Evidence, ctx: Context, rank: int) -> list[Candidate]:
    """:func:`reference` of the fuzzy hits."""
    return reference(r, ev, ctx, rank, "fuzzy") if ev.hits else []


def _currencysuggestion(r: Receipt, ctx: Context, h: Hit, match: str, rank: int) -> Candidate:
    book = ctx.book

    def why() -> str:
        return (
            f"{hits_phrase(book, [h])}, but that document is in {book.currency[h.idx]} and the payment in {r.currency}"
        )

    return suggestion(
        f"reference.{match}",
        REF_CURRENCY,
        book.customer[h.idx],
        book,
        [h.idx],
        why,
        rank,
        ExceptionReason.CURRENCY_MISMATCH,
    )


def _reference_fits(r: Receipt, ctx: Context, cust: str, idxs: list[int], strong: bool) -> list[tuple[Fit, float]]:
    # Most specific explanation first: exact, part of the documents named, the named documents plus
    # a few unnamed ones (a credit note deducted, another invoice paid), a discount or bank charge,
    # then short and over-payments.
    book, amount = ctx.book, r.amount
    total = sum([book.open[i] for i in idxs])
    fit = fit_exact(book, idxs, amount, r.currency) if total == amount else None
    if fit:
        return [(fit, REF_EXACT)]
    if len(idxs) > 1:
        res = find_subsets([book.open[i] for i in idxs], amount, len(idxs) - 1, ctx.subset_cfg.max_nodes)
        fits = [f for f in (fit_exact(book, [idxs[k] for k in sol], amount, r.currency) for sol in res.solutions) if f]
        if fits and (len(fits) > 1 or res.exhausted):
            return [(f, REF_SUBSET) for f in fits]
    fit = _completion(r, ctx, cust, idxs) if strong else None
    if fit:
        return [(fit, REF_COMPLETION)]
    # Tolerances only fit a payment below the documents' total, over-payments one above it.
    below, above = amount < total and total > 0, 0 < total < amount
    tol = ctx.tol(r.currency)
    fit = fit_short(book, idxs, amount, tol, r.booked, _SAFE_SHORT) if below else None
    if fit:
        # Without a second witness (exact reference or the payer's account) a tolerance fit is a lead,
        # not a proof: a neighbouring number with a near amount fits as well.
        return [(fit, REF_TOLERANCE if strong else REF_TOLERANCE * WEAK_TOLERANCE_FACTOR)]
    if not strong:
        return []
    fit = fit_short(book, idxs, amount, tol, r.booked, _SHORT) if below else None
    if fit:
        return [(fit, REF_SHORT)]
    fit = fit_over(book, idxs, amount, tol) if above else None
    return [(fit, REF_OVER)] if fit else []


def _completion(r: Receipt, ctx: Context, cust: str, idxs: list[int]) -> Fit | None:
    # The remittance names some documents; the payment also covers (or nets) a few it does not name.
    # Only items of the difference's sign are looked at: credit notes when less was paid, invoices
    # no larger than the excess when more was paid.
    book = ctx.book
    named = set(idxs)
    target = r.amount - sum([book.open[i] for i in idxs])
    pool = [
        i
        for i in book.open_of(cust, r.currency)
        if i not in named and (target <= book.open[i] < 0 or 0 < book.open[i] <= target)
    ]
    if not pool or len(pool) > ctx.subset_cfg.max_items:
        return None
    res = find_subsets([book.open[i] for i in pool], target, _COMPLETION_MAX_SIZE, ctx.subset_cfg.max_nodes)
    if len(res.solutions) != 1 or not res.exhausted:
        return None
    extra = [pool[k] for k in res.solutions[0]]
    fit = fit_exact(book, idxs + extra, r.amount, r.currency)
    if fit is None:
        return None
    note = f"amount equal together with {documents(book, extra)} (not mentioned)"
    return Fit(fit.residual, fit.allocations, note=note)


def _payer_context(ev: Evidence, ctx: Context, cust: str) -> str:
    payers = sorted({c for c, _ in ev.accounts})
    if cust in payers:
        return account_phrase(cust, next(s for c, s in ev.accounts if c == cust))
    if payers:
        return third_party_phrase(payers)
    for c, sim, _name in ev.names:
        if c == cust and sim >= ctx.name_cutoff:
            return f"payer name matches customer {cust} ({sim:.0f}%)"
    return ""


def reference_reason(ev: Evidence, ctx: Context, cust: str, hits: list[Hit], fit: Fit) -> str:
    """``INV-1 found in remittance; amount equal; payer IBAN known for customer C1``."""
    book = ctx.book
    covered = [i for i, _ in fit.allocations]
    named = {h.idx for h in hits}
    only = f"payment covers {documents(book, covered)} only" if len(set(covered) & named) < len(named) else ""
    return text(hits_phrase(book, hits), fit.note, only, _payer_context(ev, ctx, cust))


def _reference_group(
    r: Receipt, ev: Evidence, ctx: Context, cust: str, hits: list[Hit], match: str, rank: int
) -> list[Candidate]:
    book = ctx.book
    idxs = sorted({h.idx for h in hits})
    same_payer = any(c == cust for c, _ in ev.accounts)
    factor, strong, shadowed = 1.0, True, False
    if match == "fuzzy":
        cfg = ctx.fuzzy_cfg
        factor = cfg.factor_payer_known if same_payer else cfg.factor
        exact_tokens = {h.token for h in ev.hits if h.match == "exact"}
        shadowed = any(h.token in exact_tokens for h in hits)
        strong = same_payer
    # Someone else's account paying a document it does not pay exactly: a typo on the payer's own
    # document is as likely as a third party paying short, so such a fit must not win by itself.
    third_party = bool(ev.accounts) and not same_payer
    rule = f"reference.{match}"
    out = []
    for fit, base in _reference_fits(r, ctx, cust, idxs, strong):
        inexact = fit.residual is not ResidualClass.NONE
        if third_party and inexact:
            base *= THIRD_PARTY_TOLERANCE_FACTOR
        if shadowed and inexact:
            # The token is itself another open document's number: reading it as a typo is only
            # as convincing as the exact amount makes it.
            base *= FUZZY_SHADOWED_FACTOR

        def why(fit: Fit = fit) -> str:
            return reference_reason(ev, ctx, cust, hits, fit)

        out.append(candidate(rule, base * factor, cust, fit, why, rank))
    if not out and strong:
        # A weak fuzzy hit that does not fit says nothing; an exact (or corroborated) one is a lead.
        def mismatch() -> str:
            total = sum(book.open[i] for i in idxs)
            return (
                f"{hits_phrase(book, hits)}, but the amount differs: open {money(total, r.currency)}, "
                f"paid {money(r.amount, r.currency)}"
            )

        hint = ExceptionReason.AMOUNT_MISMATCH if match == "exact" else None
        out.append(suggestion(rule, REF_MISMATCH * factor, cust, book, idxs, mismatch, rank, hint))
    return out
