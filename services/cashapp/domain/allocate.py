"""Amounts: what is still open in a run, how a payment fits documents, bounded subset search.

Everything here is integer minor units. A :class:`Fit` always satisfies the allocation invariant
``sum(allocations) + fee + writeoff + unapplied == receipt amount``; tolerances are typed limits
(absolute and percentage, the lower wins) resolved once per currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

import polars as pl

from services.cashapp.domain.rules import Limit, RuleSet
from shared.money import format_minor


class ResidualClass(StrEnum):
    """What the difference between the receipt and the documents it clears is."""

    NONE = "none"
    BANK_CHARGE = "bank_charge"
    SHORT_PAYMENT = "short_payment"
    DEDUCTION = "deduction"
    EARLY_PAYMENT_DISCOUNT = "early_payment_discount"
    OVER_PAYMENT = "over_payment"
    WRITE_OFF = "write_off"


@dataclass(frozen=True, slots=True)
class Fit:
    """How one receipt amount is spread over documents (book indexes) plus its residual."""

    residual: ResidualClass
    allocations: tuple[tuple[int, int], ...]  # (book index, amount cleared)
    fee: int = 0
    writeoff: int = 0
    unapplied: int = 0
    short: int = 0
    note: str = ""


def _ratio(pct: Decimal) -> tuple[int, int]:
    # pct / 100 as a fraction of integers (exact: pct is a finite decimal)
    num, den = pct.as_integer_ratio()
    return num, 100 * den


def _pct_of(total: int, pct: Decimal) -> int:
    # floor(total * pct / 100), in integers
    num, den = _ratio(pct)
    return (total * num) // den


def _round_half_up(num: int, den: int) -> int:
    """``num / den`` (``den`` > 0) rounded to the nearest integer, halves away from zero."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def limit_minor(limit: Limit, total: int, currency: str) -> int:
    """The allowed difference on ``total``: absolute and percentage limits, the lower wins."""
    return min(limit.abs_minor(currency), _pct_of(total, limit.max_pct))


class Book:
    """The open items of one run and what is still open of each (engine-internal, mutable).

    Indexes: per (customer, currency) the items in (due date, number) order, and per (currency,
    open amount) the items with that open amount, for the amounts the receipts have. They are kept current as
    allocations are made, so a document cleared by one receipt is never offered to a later one.
    """

    def __init__(self, open_items: pl.DataFrame) -> None:
        df = open_items.sort(
            "customer_id", "currency", "due_date", "document_number", "item_id", nulls_last=True
        ).with_row_index("idx")
        self.item_id: list[int] = df["item_id"].to_list()
        self.customer: list[str] = df["customer_id"].to_list()
        self.number: list[str] = df["document_number"].to_list()
        self.is_credit_note: list[bool] = (df["document_type"] == "credit_note").to_list()
        # Days since 1970-01-01 (polars' own date representation; cheaper than date objects).
        self.document_day: list[int | None] = df["document_date"].cast(pl.Int32).to_list()
        self.currency: list[str] = df["currency"].to_list()
        self.amount: list[int] = df["amount_minor"].to_list()
        self.open: list[int] = df["open_amount_minor"].to_list()
        self.index_of: dict[int, int] = dict(zip(self.item_id, range(len(self.item_id)), strict=True))
        # Sorted by (customer, currency): each group is one run of consecutive indexes.
        groups = df.group_by("customer_id", "currency", maintain_order=True).agg(
            pl.col("idx").first().alias("start"), pl.len().alias("n")
        )
        self.by_customer: dict[tuple[str, str], range] = {
            (c, cur): range(start, start + n)
            for c, cur, start, n in zip(*(col.to_list() for col in groups.get_columns()), strict=True)
        }
        self._amounts: pl.DataFrame | None = df.select("idx", "currency", pl.col("open_amount_minor").alias("open"))
        self._by_amount: dict[tuple[str, int], list[int]] | None = None
        self._wanted: set[tuple[str, int]] = set()

    def open_of(self, customer: str, currency: str) -> list[int]:
        """Indexes of the customer's items in ``currency`` that are still open, in due-date order."""
        return [i for i in self.by_customer.get((customer, currency), ()) if self.open[i] != 0]

    def with_open(self, customer: str, currency: str, amount: int) -> list[int]:
        """The customer's items in ``currency`` with exactly ``amount`` open."""
        return [i for i in self.by_customer.get((customer, currency), ()) if self.open[i] == amount]

    def index_amounts(self, wanted: pl.DataFrame) -> None:
        """Index the items whose open amount is one of ``wanted`` (``currency, amount_minor``).

        Only those amounts are ever looked up (the receipts' amounts), so only they are indexed;
        :meth:`apply` keeps the index current for them.
        """
        wanted = wanted.select("currency", pl.col("amount_minor").alias("open")).unique()
        self._wanted = {(c, a) for c, a in wanted.iter_rows()}
        items = self._amounts  # as built, while nothing has been applied yet
        if items is None:
            items = pl.DataFrame(
                {"currency": self.currency, "open": self.open}, schema={"currency": pl.Utf8, "open": pl.Int64}
            ).with_row_index("idx")
        hits = items.join(wanted, on=["currency", "open"]).group_by("currency", "open").agg(pl.col("idx").sort())
        index: dict[tuple[str, int], list[int]] = defaultdict(list)
        index.update({(c, a): list(idx) for c, a, idx in hits.iter_rows()})
        self._by_amount = index

    def anywhere_with_open(self, currency: str, amount: int) -> list[int]:
        """Items of any customer in ``currency`` with exactly ``amount`` open (see :meth:`index_amounts`)."""
        if self._by_amount is None:
            self.index_amounts(pl.DataFrame({"currency": [currency], "amount_minor": [amount]}))
        assert self._by_amount is not None
        if (currency, amount) not in self._wanted:
            self.index_amounts(
                pl.DataFrame(
                    {
                        "currency": [c for c, _ in self._wanted] + [currency],
                        "amount_minor": [a for _, a in self._wanted] + [amount],
                    }
                )
            )
        return sorted(self._by_amount.get((currency, amount), ()))

    def apply(self, idx: int, amount: int) -> None:
        """Reduce what is open of item ``idx`` by ``amount`` and keep the indexes current."""
        self._amounts = None
        old = self.open[idx]
        new = old - amount
        if self._by_amount is not None:
            cur = self.currency[idx]
            if (cur, old) in self._wanted:
                self._by_amount[(cur, old)].remove(idx)
            if new != 0 and (cur, new) in self._wanted:
                self._by_amount[(cur, new)].append(idx)
        self.open[idx] = new


class Tolerance:
    """Tolerance settings resolved for one currency (limits in minor units, resolved once)."""

    __slots__ = ("_bank", "_over", "_short", "currency", "discount_ratio", "rules", "write_off_max")
    _bank: tuple[int, int, int]
    _short: tuple[int, int, int]
    _over: tuple[int, int, int]

    def __init__(self, currency: str, rules: RuleSet) -> None:
        self.currency = currency
        self.rules = rules
        t = rules.tolerances
        # (absolute limit, percentage as numerator and denominator of a fraction of 100)
        self._bank = (t.bank_charge.abs_minor(currency), *_ratio(t.bank_charge.max_pct))
        self._short = (t.short_payment.abs_minor(currency), *_ratio(t.short_payment.max_pct))
        self._over = (t.over_payment.abs_minor(currency), *_ratio(t.over_payment.max_pct))
        self.write_off_max = Limit(max_abs=t.over_payment.write_off_max_abs, max_pct=Decimal(100)).abs_minor(currency)
        num, den = t.early_payment_discount.pct.as_integer_ratio()
        self.discount_ratio = (num, 100 * den)

    def bank_charge(self, total: int) -> int:
        limit, num, den = self._bank
        return min(limit, (total * num) // den)

    def short_payment(self, total: int) -> int:
        limit, num, den = self._short
        return min(limit, (total * num) // den)

    def over_payment(self, total: int) -> int:
        limit, num, den = self._over
        return min(limit, (total * num) // den)


def _money(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"


_EPOCH = date(1970, 1, 1)


def _discount(book: Book, idxs: list[int], tol: Tolerance, booked: date) -> tuple[int, int] | None:
    # Expected discount over the invoices still inside their window, and how many there are.
    cfg = tol.rules.tolerances.early_payment_discount
    day = (booked - _EPOCH).days
    num, den = tol.discount_ratio
    expected, count = 0, 0
    for i in idxs:
        doc_day = book.document_day[i]
        if book.is_credit_note[i] or doc_day is None or book.open[i] != book.amount[i]:
            continue
        if day > doc_day + cfg.days:
            continue
        expected += _round_half_up(book.amount[i] * num, den)  # amount * pct / 100
        count += 1
    return (expected, count) if count else None


def _full(book: Book, idxs: list[int]) -> tuple[tuple[int, int], ...]:
    opened = book.open
    return tuple([(i, opened[i]) for i in idxs])


def _spread(book: Book, idxs: list[int], money: int) -> tuple[tuple[int, int], ...]:
    # Short payment left open: credit notes are used first, then invoices in due-date order; the
    # last invoice reached keeps what was not paid.
    order = [i for i in idxs if book.open[i] < 0] + [i for i in idxs if book.open[i] >= 0]
    out = []
    for i in order:
        part = book.open[i] if book.open[i] < 0 else min(book.open[i], money)
        money -= part
        if part:
            out.append((i, part))
    return tuple(out)


def fit_short(
    book: Book, idxs: list[int], amount: int, tol: Tolerance, booked: date, kinds: frozenset[str]
) -> Fit | None:
    """Fit a payment below the documents' total: discount, bank charge or short payment."""
    opened = book.open
    total = sum([opened[i] for i in idxs])
    diff = total - amount
    cur = tol.currency
    if total <= 0 or diff <= 0:
        return None
    cfg = tol.rules.tolerances
    if "early_payment_discount" in kinds:
        disc = _discount(book, idxs, tol, booked)
        if disc and abs(diff - disc[0]) <= cfg.early_payment_discount.rounding_slack_minor * disc[1]:
            note = (
                f"{cfg.early_payment_discount.pct}% early-payment discount taken ({_money(diff, cur)}), "
                f"paid within {cfg.early_payment_discount.days} days"
            )
            return Fit(ResidualClass.EARLY_PAYMENT_DISCOUNT, _full(book, idxs), writeoff=-diff, note=note)
    if "bank_charge" in kinds and diff <= tol.bank_charge(total):
        return Fit(
            ResidualClass.BANK_CHARGE, _full(book, idxs), fee=-diff, note=f"{_money(diff, cur)} bank charge deducted"
        )
    if "short_payment" in kinds and diff <= tol.short_payment(total):
        if cfg.short_payment.action == "deduction":
            return Fit(
                ResidualClass.DEDUCTION,
                _full(book, idxs),
                writeoff=-diff,
                note=f"short by {_money(diff, cur)}, booked as a deduction",
            )
        allocs = _spread(book, idxs, amount)
        left = [book.number[i] for i, a in allocs if a != book.open[i]]
        where = f" on {left[0]}" if left else ""
        return Fit(
            ResidualClass.SHORT_PAYMENT, allocs, short=diff, note=f"short by {_money(diff, cur)}, left open{where}"
        )
    return None


def fit_exact(book: Book, idxs: list[int], amount: int, currency: str) -> Fit | None:
    """The documents' open amounts add up to the payment exactly."""
    opened = book.open
    if not idxs or sum([opened[i] for i in idxs]) != amount:
        return None
    note = "amount equal" if len(idxs) == 1 else f"amount equal to the sum of {len(idxs)} documents"
    if any([opened[i] < 0 for i in idxs]):
        note += " (credit notes netted)"
    return Fit(ResidualClass.NONE, _full(book, idxs), note=note)


def fit_over(book: Book, idxs: list[int], amount: int, tol: Tolerance) -> Fit | None:
    """The payment exceeds the documents by no more than the over-payment limit: clear them, write
    off a small rest or keep it on account."""
    opened = book.open
    total = sum([opened[i] for i in idxs])
    extra = amount - total
    cfg = tol.rules.tolerances.over_payment
    cur = tol.currency
    if total <= 0 or extra <= 0 or extra > tol.over_payment(total):
        return None
    if cfg.action == "write_off" and extra <= tol.write_off_max:
        return Fit(
            ResidualClass.WRITE_OFF,
            _full(book, idxs),
            writeoff=extra,
            note=f"over-paid by {_money(extra, cur)}, written off",
        )
    return Fit(
        ResidualClass.OVER_PAYMENT,
        _full(book, idxs),
        unapplied=extra,
        note=f"over-paid by {_money(extra, cur)}, left on account",
    )


@dataclass(frozen=True, slots=True)
class SubsetResult:
    solutions: tuple[tuple[int, ...], ...]  # positions into the searched list
    exhausted: bool  # False when the node cap stopped the search before it was complete


def find_subsets(
    amounts: list[int], target: int, max_size: int, max_nodes: int, limit: int = 2, min_size: int = 1
) -> SubsetResult:
    """Subsets of ``amounts`` (signed) summing exactly to ``target``, at most ``limit`` of them.

    Depth-first over items sorted by size, pruned by the reachable range of the remaining items;
    ``exhausted`` is True only when the whole space was searched, i.e. a single solution is
    proven unique. Deterministic: the same input gives the same solutions in the same order.
    """
    order = sorted(range(len(amounts)), key=lambda i: (-abs(amounts[i]), i))
    vals = [amounts[i] for i in order]
    n = len(vals)
    pos_rest = [0] * (n + 1)
    neg_rest = [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        pos_rest[k] = pos_rest[k + 1] + max(vals[k], 0)
        neg_rest[k] = neg_rest[k + 1] + min(vals[k], 0)
    found: list[tuple[int, ...]] = []
    chosen: list[int] = []
    nodes = 0
    capped = False

    def walk(start: int, total: int) -> None:
        nonlocal nodes, capped
        for k in range(start, n):
            if capped or len(found) >= limit:
                return
            nodes += 1
            if nodes > max_nodes:
                capped = True
                return
            new = total + vals[k]
            chosen.append(k)
            if new == target and len(chosen) >= min_size:
                found.append(tuple(sorted(order[c] for c in chosen)))
            rest = target - new
            if len(chosen) < max_size and neg_rest[k + 1] <= rest <= pos_rest[k + 1]:
                walk(k + 1, new)
            chosen.pop()

    walk(0, 0)
    return SubsetResult(tuple(found[:limit]), not capped and len(found) < limit)
