"""Receipt generation: one builder per scenario, each leaving an unambiguous ground truth.

Every invoice is paid by at most one receipt; uniqueness claims ("the only open item with this
amount", "the only subset that sums to it") are checked against the whole open-item snapshot
the engine will see, not just the unpaid part.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from shared.money import split_minor
from shared.synth import remit
from shared.synth.mix import SCENARIO_BY_NAME, SCENARIOS, Deductions, Residual
from shared.synth.world import (
    Allocation,
    Customer,
    HouseAccount,
    OpenItem,
    Receipt,
    Truth,
    World,
    amount_counts,
    make_recurring_pairs,
)

_NON_DIGIT = re.compile(r"\D")
SUBSET_MAX_ITEMS = 12  # subset-sum uniqueness is proven by full enumeration up to this size


@dataclass(slots=True)
class Draft:
    """What a builder decided; :meth:`Ctx.finish` turns it into a booked :class:`Receipt`."""

    currency: str
    amount_minor: int
    customer_id: str | None
    allocations: tuple[Allocation, ...] = ()
    residual_class: Residual = Residual.NONE
    residual_minor: int = 0
    payer_name: str = ""
    payer_account: str = ""
    remittance: str = ""
    e2e: str = ""
    cref: str = ""
    cref_type: str = ""
    needs_details: bool = False  # payer IBAN / end-to-end id must reach the statement
    earliest: date | None = None
    latest: date | None = None
    kind: str = "transfer"
    used: tuple[int, ...] = ()


class Ctx:
    """Shared state of one generation run: indexes, cursors and what has been used."""

    def __init__(self, world: World, rng: random.Random, shares: dict[str, int], ded: Deductions) -> None:
        self.world, self.rng, self.ded = world, rng, ded
        self.items = world.open_items
        self.customers = {c.customer_id: c for c in world.customers}
        self.by_customer: dict[str, list[int]] = {}
        for i, it in enumerate(self.items):
            self.by_customer.setdefault(it.customer_id, []).append(i)
        self.used = bytearray(len(self.items))
        self.counts = amount_counts(self.items)
        self.doc_keys = {remit.doc_key(it.document_number) for it in self.items}
        self.digit_keys = {remit.doc_key(_NON_DIGIT.sub("", it.document_number)) for it in self.items}
        self.order = list(range(len(self.items)))
        rng.shuffle(self.order)
        self.customer_order = [c.customer_id for c in world.customers]
        rng.shuffle(self.customer_order)
        self.cursors: dict[str, int] = {}
        self.accounts: dict[str, list[HouseAccount]] = {}
        for acc in world.house_accounts:
            self.accounts.setdefault(acc.currency, []).append(acc)
        self.shares = shares
        self.detail_ccys = frozenset(a.currency for a in world.house_accounts if a.carries_details)
        self.pairs: list[tuple[int, int]] = []
        self._account_tables: dict[tuple[str, bool], list[HouseAccount]] = {}

    # --- picking -------------------------------------------------------------------------
    def take(self, key: str, pred: Callable[[OpenItem], bool]) -> int | None:
        """Next unused item in this builder's shuffled order that satisfies ``pred``."""
        pos = self.cursors.get(key, 0)
        order, used, items = self.order, self.used, self.items
        while pos < len(order):
            idx = order[pos]
            pos += 1
            if not used[idx] and pred(items[idx]):
                self.cursors[key] = pos
                return idx
        self.cursors[key] = pos
        return None

    def take_customer(self, key: str, pred: Callable[[Customer], bool]) -> Customer | None:
        """Next customer in this builder's shuffled order that satisfies ``pred``."""
        pos = self.cursors.get(key, 0)
        while pos < len(self.customer_order):
            cust = self.customers[self.customer_order[pos]]
            pos += 1
            if pred(cust):
                self.cursors[key] = pos
                return cust
        self.cursors[key] = pos
        return None

    def unused_invoices(self, cid: str, currency: str) -> list[int]:
        """Indices of the customer's unpaid invoices in ``currency`` (stable order)."""
        return [
            i
            for i in self.by_customer.get(cid, ())
            if not self.used[i]
            and self.items[i].currency == currency
            and self.items[i].document_type == "invoice"
            and not self.items[i].has_qrr
            and self.items[i].open_amount_minor > 0
        ]

    def group_amounts(self, cid: str, currency: str) -> list[int]:
        """Signed open amounts of all the customer's items in ``currency`` (paid-by-others too)."""
        return [
            self.items[i].signed_open_minor
            for i in self.by_customer.get(cid, ())
            if self.items[i].currency == currency and self.items[i].open_amount_minor
        ]

    def unique_amount(self, item: OpenItem) -> bool:
        """The item's amount is the only way to reach it among the customer's open items."""
        if self.counts[(item.customer_id, item.currency, item.signed_open_minor)] != 1:
            return False
        group = self.group_amounts(item.customer_id, item.currency)
        return len(group) > SUBSET_MAX_ITEMS or subset_count(group, item.open_amount_minor) == 1

    def digits_free(self, text: str) -> bool:
        """The digits of ``text`` are not the digits of any document (prefix or separators aside)."""
        return remit.doc_key(_NON_DIGIT.sub("", text)) not in self.digit_keys

    def reference_free(self, text: str) -> bool:
        """``text`` does not spell any real document number (after normalisation)."""
        return remit.doc_key(text) not in self.doc_keys

    # --- payers ---------------------------------------------------------------------------
    def payer(self, cust: Customer, *, known: float = 0.65) -> tuple[str, str]:
        """(name, account) as the customer's bank sends them."""
        rng = self.rng
        name = cust.customer_name if rng.random() < 0.4 else rng.choice(cust.name_variants)
        roll = rng.random()
        if cust.ibans and roll < known:
            account = rng.choice(cust.ibans)
        elif cust.other_accounts and roll < 0.88:
            account = rng.choice(cust.other_accounts)
        else:
            account = ""
        return name, account

    # --- booking ----------------------------------------------------------------------------
    def account_for(self, currency: str, needs_details: bool) -> HouseAccount | None:
        """A house account in ``currency`` (by share), able to carry details when needed."""
        key = (currency, needs_details)
        table = self._account_tables.get(key)
        if table is None:
            pool = [a for a in self.accounts.get(currency, ()) if a.carries_details or not needs_details]
            # one entry per share unit: a weighted draw is then a single randrange
            table = self._account_tables[key] = [a for a in pool for _ in range(self.shares[a.account])]
        return table[self.rng.randrange(len(table))] if table else None

    def day(self, earliest: date | None, latest: date | None) -> date | None:
        """A business day of the period within [earliest, latest]."""
        days = self.world.business_days
        lo = bisect.bisect_left(days, earliest) if earliest else 0
        hi = bisect.bisect_right(days, latest) if latest else len(days)
        return self.rng.choice(days[lo:hi]) if lo < hi else None

    def finish(self, scenario: str, d: Draft) -> Receipt | None:
        """Book the draft on an account and a day; mark its items used. ``None`` if impossible."""
        acc = self.account_for(d.currency, d.needs_details)
        earliest = max((self.items[i].document_date for i in d.used), default=None)
        if d.earliest and (earliest is None or d.earliest > earliest):
            earliest = d.earliest
        day = self.day(earliest, d.latest)
        if acc is None or day is None:
            return None
        for i in d.used:
            self.used[i] = 1
        value = day if self.rng.random() < 0.8 else day - timedelta(days=1)
        truth = Truth(
            scenario,
            SCENARIO_BY_NAME[scenario].outcome,
            d.customer_id,
            d.allocations,
            d.residual_class,
            d.residual_minor,
        )
        return Receipt(
            acc.account,
            d.currency,
            d.amount_minor,
            day,
            value,
            d.payer_name,
            d.payer_account,
            d.remittance[:140],
            d.e2e,
            d.cref,
            d.cref_type,
            truth,
            kind=d.kind,
        )


def subset_count(values: list[int], target: int) -> int:
    """Number of non-empty subsets of ``values`` that sum exactly to ``target`` (full enumeration)."""
    sums = [0]
    for v in values:
        sums += [s + v for s in sums]
    return sums.count(target) - (1 if target == 0 else 0)


# Scenarios that need scarce open items (QR bills, small customers, recurring amounts, credit
# notes, recent invoices) are built before the ones any invoice will do for.
PRIORITY = (
    "qrr_reference",
    "iban_subset_sum",
    "ambiguous_amount",
    "multi_with_credit_note",
    "early_discount",
    "name_unique_amount",
    "iban_unique_amount",
    "fuzzy_reference",
    "short_payment",
    "multi_invoice",
    "rf_reference",
    "e2e_reference",
    "erp_number",
)


def _priority(name: str) -> int:
    return PRIORITY.index(name) if name in PRIORITY else len(PRIORITY)


def scenario_counts(total: int, mix: dict[str, int]) -> dict[str, int]:
    """Exact receipt count per scenario (largest remainder, stable scenario order)."""
    names = [s.name for s in SCENARIOS]
    return dict(zip(names, split_minor(total, [mix[n] for n in names]), strict=True))


def build_receipts(
    world: World, rng: random.Random, total: int, mix: dict[str, int], shares: dict[str, int], ded: Deductions
) -> None:
    """Fill ``world.receipts`` with ``total`` receipts following ``mix``; assign bank references.

    A builder that finds no suitable open items left falls back to ``exact_docnum``, then to
    ``unknown_payer``; ``world.fallbacks`` counts how often each scenario had to.
    """
    from shared.synth.builders import BUILDERS

    counts = scenario_counts(total, mix)
    # Recurring same-amount invoices: the ambiguous scenario's raw material, plus realistic extras.
    pairs = make_recurring_pairs(
        rng, world.open_items, 2 * counts["ambiguous_amount"] + len(world.open_items) // 150
    )
    ctx = Ctx(world, rng, shares, ded)
    ctx.pairs = pairs
    # The pickiest scenarios choose their open items first, so small worlds still hold them all;
    # the output order does not depend on it (receipts are shuffled, then sorted by date below).
    plan = [name for name in sorted(counts, key=_priority) for _ in range(counts[name])]
    receipts: list[Receipt] = []
    for scenario in plan:
        for attempt in (scenario, "exact_docnum", "unknown_payer"):
            draft = BUILDERS[attempt](ctx)
            receipt = ctx.finish(attempt, draft) if draft else None
            if receipt:
                receipts.append(receipt)
                break
            world.fallbacks[scenario] = world.fallbacks.get(scenario, 0) + (attempt == scenario)
    order = {a.account: n for n, a in enumerate(world.house_accounts)}
    rng.shuffle(receipts)
    receipts.sort(key=lambda r: (order[r.account], r.booking_date))  # stable: random within a day
    serial = rng.randrange(1_000_000, 2_000_000)
    for n, r in enumerate(receipts):
        r.bank_reference = f"B{order[r.account]}{r.booking_date:%y%m%d}{serial + n:07d}"
    world.receipts = receipts
