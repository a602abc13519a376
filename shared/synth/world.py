"""A seeded synthetic accounts-receivable world: customers, open items, receipts with truth.

``generate_world(seed, customers, open_items, receipts, start)`` is deterministic for its
arguments: it uses its own ``random.Random(seed)`` (never the global generator, never the clock)
and never iterates over sets of strings. Money is integer minor units throughout.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.money import split_minor
from shared.synth import names, refs
from shared.synth.mix import DEFAULT_MIX, Deductions, Outcome, Residual, validate_mix

ALL_FORMATS = ("mt940", "camt053", "ofx")

# (country, weight, {currency: weight}) - where the customers are and what they are billed in.
_COUNTRY_MIX = (
    ("DE", 28, {"EUR": 1}),
    ("NL", 11, {"EUR": 1}),
    ("FR", 9, {"EUR": 1}),
    ("AT", 6, {"EUR": 1}),
    ("BE", 5, {"EUR": 1}),
    ("ES", 5, {"EUR": 1}),
    ("IT", 5, {"EUR": 1}),
    ("PL", 3, {"EUR": 1}),
    ("CH", 9, {"CHF": 4, "EUR": 1}),
    ("GB", 12, {"GBP": 6, "EUR": 1}),
    ("US", 7, {"USD": 1}),
)
# Invoice amount buckets in minor units (low, high, weight): integer draws only, so worlds are
# identical on every platform.
_AMOUNT_BUCKETS = (
    (2_000, 10_000, 4),
    (10_000, 50_000, 18),
    (50_000, 200_000, 34),
    (200_000, 1_000_000, 28),
    (1_000_000, 5_000_000, 13),
    (5_000_000, 20_000_000, 3),
)
_VAT = {
    "DE": 19,
    "AT": 20,
    "NL": 21,
    "BE": 21,
    "FR": 20,
    "ES": 21,
    "IT": 22,
    "PL": 23,
    "CH": 8,
    "GB": 20,
    "US": 0,
}
# Weighted draws by table lookup (one randrange instead of random.choices: 150,000 draws add up).
_AMOUNT_TABLE = [i for i, b in enumerate(_AMOUNT_BUCKETS) for _ in range(b[2])]
_NON_DIGIT = re.compile(r"\D")
# Numbering schemes of the seller's ERPs: prefixed, numeric 8-digit, SAP-style 10-digit zero-padded.
SCHEMES = ("prefixed", "numeric", "sap10")


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as master data knows it, plus how it really pays (for the generator)."""

    customer_id: str
    customer_name: str
    country: str
    currency: str  # billing currency of most of its documents
    ibans: tuple[str, ...]  # accounts known in master data (may be empty)
    other_accounts: tuple[str, ...]  # accounts it pays from that master data does not know
    name_variants: tuple[str, ...]
    scheme: str  # document numbering scheme of the ERP that bills it


@dataclass(slots=True)
class OpenItem:
    """An open invoice or credit note of the ERP extract."""

    customer_id: str
    document_number: str
    document_type: str  # "invoice" | "credit_note"
    document_date: date
    due_date: date
    currency: str
    amount_minor: int  # positive for invoices and credit notes (the loader negates credit notes)
    open_amount_minor: int  # positive, <= amount_minor
    payment_reference: str = ""  # RF creditor reference or Swiss QRR, "" when none

    @property
    def has_qrr(self) -> bool:
        """A Swiss QR-bill invoice: its payers quote the QR reference, hardly anything else."""
        return len(self.payment_reference) == 27

    @property
    def signed_open_minor(self) -> int:
        """Open amount as the ledger holds it: credit notes negative."""
        return -self.open_amount_minor if self.document_type == "credit_note" else self.open_amount_minor


@dataclass(frozen=True, slots=True)
class HouseAccount:
    """One of the seller's own bank accounts; every receipt is booked on one of them."""

    account: str  # IBAN, or account number where no IBAN exists
    currency: str
    bank_name: str
    bic: str
    format: str  # "mt940" | "camt053" | "ofx"
    dialect: str  # MT940 :86: dialect: "gvc" (German) | "nl" (Dutch structured); "" otherwise

    @property
    def carries_details(self) -> bool:
        """Whether the format carries payer account and end-to-end reference (OFX does not)."""
        return self.format != "ofx"


@dataclass(frozen=True, slots=True)
class Allocation:
    """One document of the ground truth and the amount it is cleared by."""

    document_number: str
    amount_minor: int  # amount cleared from the document's open amount; credit notes negative


@dataclass(frozen=True, slots=True)
class Truth:
    """What the engine should decide for a receipt."""

    scenario: str
    outcome: Outcome
    customer_id: str | None
    allocations: tuple[Allocation, ...]  # for "ambiguous_amount": the item the payer meant
    residual_class: Residual
    residual_minor: int  # receipt - sum(open amounts of the documents): < 0 deducted, > 0 overpaid


@dataclass(slots=True)
class Receipt:
    """One bank line as the writers put it into a statement, with its truth."""

    account: str  # statement account (house account id)
    currency: str
    amount_minor: int  # signed: credit > 0, debit < 0
    booking_date: date
    value_date: date
    payer_name: str
    payer_account: str  # IBAN / account number, "" when the bank does not give it
    remittance: str  # unstructured remittance as the payer wrote it (<= 140 chars)
    end_to_end_id: str  # "" when none
    creditor_reference: str  # structured creditor reference, "" when none
    creditor_reference_type: str  # "SCOR" (RF) | "QRR" | ""
    truth: Truth
    bank_reference: str = ""  # assigned once all receipts are known (unique in the world)
    kind: str = "transfer"  # transfer | interest | debit: the bank's transaction type


@dataclass(slots=True)
class World:
    """Everything one seed generates."""

    seed: int
    start: date
    business_days: list[date]
    customers: list[Customer]
    open_items: list[OpenItem]
    house_accounts: list[HouseAccount]
    receipts: list[Receipt] = field(default_factory=list)
    fallbacks: dict[str, int] = field(default_factory=dict)  # scenario -> receipts re-drawn

    def account(self, account: str) -> HouseAccount:
        """The house account with id ``account``."""
        return next(a for a in self.house_accounts if a.account == account)


# (country, currency, bank, preferred formats in order, mt940 dialect, share of its currency)
_HOUSE = (
    ("DE", "EUR", "Stadtsparkasse Neustadt", ("mt940", "camt053", "ofx"), "gvc", 50),
    ("NL", "EUR", "Noordbank N.V.", ("mt940", "camt053", "ofx"), "nl", 25),
    ("DE", "EUR", "Handelsbank Mitte AG", ("camt053", "mt940", "ofx"), "gvc", 25),
    ("CH", "CHF", "Alpenbank AG", ("camt053", "mt940", "ofx"), "gvc", 100),
    ("GB", "GBP", "Thames Commercial Bank", ("ofx", "camt053", "mt940"), "gvc", 100),
    ("US", "USD", "Hudson Valley Bank", ("ofx", "mt940", "camt053"), "gvc", 100),
)


def house_accounts(rng: random.Random, formats: tuple[str, ...]) -> tuple[list[HouseAccount], dict[str, int]]:
    """The seller's accounts, each in the first of its preferred formats that was asked for."""
    unknown = sorted(set(formats) - set(ALL_FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of {ALL_FORMATS}, got {formats}")
    accounts: list[HouseAccount] = []
    shares: dict[str, int] = {}
    for country, currency, bank, preferred, dialect, share in _HOUSE:
        fmt = next(f for f in preferred if f in formats)
        number = refs.random_iban(rng, country) if country != "US" else refs.us_account(rng)
        accounts.append(
            HouseAccount(
                number, currency, bank, refs.pseudo_bic(number), fmt, dialect if fmt == "mt940" else ""
            )
        )
        shares[number] = share
    return accounts, shares


def _customer(rng: random.Random, cid: str, taken: set[str], mix_index: int) -> Customer:
    country, _, currencies = _COUNTRY_MIX[mix_index]
    currency = rng.choices(list(currencies), weights=list(currencies.values()))[0]
    name = names.company_name(rng, country, taken)
    if country == "US":
        known: tuple[str, ...] = ()
        other: tuple[str, ...] = (refs.us_account(rng),)
    else:
        n_accounts = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
        accounts = tuple(
            refs.random_iban(rng, country if rng.random() < 0.9 else "DE") for _ in range(n_accounts)
        )
        # ~15 % of customers have no account in master data at all; others pay from a new one now and then.
        if rng.random() < 0.15:
            known, other = (), accounts
        else:
            known, other = accounts, (refs.random_iban(rng, country),)
    scheme = rng.choices(SCHEMES, weights=(55, 30, 15))[0]
    return Customer(
        cid, name, country, currency, known, other, names.name_variants(rng, name, country), scheme
    )


def generate_customers(rng: random.Random, count: int) -> list[Customer]:
    """``count`` customers with distinct ids (``C100231``) and distinct names.

    Countries follow :data:`_COUNTRY_MIX` exactly (largest remainder, then shuffled), so even a
    40-customer demo world has its Swiss, British and US customers.
    """
    ids = sorted(rng.sample(range(100_000, 1_000_000), count))
    per_country = split_minor(count, [c[1] for c in _COUNTRY_MIX])
    countries = [i for i, n in enumerate(per_country) for _ in range(n)]
    rng.shuffle(countries)
    taken: set[str] = set()
    return [_customer(rng, f"C{cid}", taken, mix) for cid, mix in zip(ids, countries, strict=True)]


def _amount(rng: random.Random, country: str) -> int:
    low, high, _ = _AMOUNT_BUCKETS[_AMOUNT_TABLE[rng.randrange(len(_AMOUNT_TABLE))]]
    net = rng.randrange(low, high)
    if rng.random() < 0.35:  # many invoices are round net amounts plus VAT
        net = max(100, net // 100 * 100)
    return net + (net * _VAT[country] + 50) // 100


def generate_open_items(
    rng: random.Random, customers: list[Customer], count: int, start: date, last_day: date
) -> list[OpenItem]:
    """``count`` open items spread with a heavy tail over ``customers`` (a few have many).

    About 7 % are credit notes, 5 % of invoices are partially paid; RF references on about a
    quarter of EUR invoices, QRR references on most Swiss CHF invoices. Document numbers run in
    document-date order per scheme, as an ERP issues them.
    """
    weights = rng.choices((1, 2, 3, 5, 8, 20), weights=(40, 25, 15, 10, 7, 3), k=len(customers))
    owners = rng.choices(range(len(customers)), weights=weights, k=count)
    span = (last_day - start).days
    items: list[OpenItem] = []
    for idx in owners:
        cust = customers[idx]
        currency = cust.currency if rng.random() < 0.93 else rng.choice(("EUR", cust.currency))
        doc_date = start + timedelta(days=rng.randint(-80, max(0, span // 2)))
        is_credit = rng.random() < 0.07
        amount = _amount(rng, cust.country)
        if is_credit:
            amount = max(500, amount // rng.choice((4, 6, 10)))
        open_amount = amount
        if not is_credit and rng.random() < 0.05:
            open_amount = amount - amount * rng.randint(20, 70) // 100
        due = doc_date + timedelta(days=0 if is_credit else rng.choice((14, 30, 30, 60)))
        items.append(
            OpenItem(
                cust.customer_id,
                "",
                "credit_note" if is_credit else "invoice",
                doc_date,
                due,
                currency,
                amount,
                open_amount,
            )
        )
    _number_items(rng, customers, items)
    return items


def _number_items(rng: random.Random, customers: list[Customer], items: list[OpenItem]) -> None:
    """Assign document numbers per scheme in date order, and RF / QRR payment references."""
    by_id = {c.customer_id: c for c in customers}
    counters = {key: rng.randint(1_000, 40_000) for key in ("prefixed", "numeric", "sap10")}
    order = sorted(range(len(items)), key=lambda i: (items[i].document_date, i))
    for i in order:
        item, cust = items[i], by_id[items[i].customer_id]
        counters[cust.scheme] += 1
        seq, credit, year = (
            counters[cust.scheme],
            items[i].document_type == "credit_note",
            item.document_date.year,
        )
        if cust.scheme == "prefixed":
            item.document_number = f"{'CN' if credit else 'INV'}-{year}-{seq:06d}"
        elif cust.scheme == "numeric":
            item.document_number = f"{91 if credit else 90}{seq:06d}"
        else:
            item.document_number = f"00{19 if credit else 18}{seq:06d}"
        if credit:
            continue
        digits = _NON_DIGIT.sub("", item.document_number)
        if cust.country == "CH" and item.currency == "CHF" and rng.random() < 0.85:
            item.payment_reference = refs.qrr_reference(cust.customer_id[1:] + digits)
        elif item.currency == "EUR" and rng.random() < 0.25:
            item.payment_reference = refs.rf_reference(cust.customer_id[1:] + digits[-8:])


def make_recurring_pairs(rng: random.Random, items: list[OpenItem], wanted: int) -> list[tuple[int, int]]:
    """Give ``wanted`` pairs of one customer's unpaid invoices the same amount (subscriptions,
    monthly fees): the raw material of genuinely ambiguous payments."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for i, it in enumerate(items):
        if (
            it.document_type == "invoice"
            and it.open_amount_minor == it.amount_minor
            and not it.payment_reference
        ):
            by_key.setdefault((it.customer_id, it.currency), []).append(i)
    groups = [g for g in by_key.values() if len(g) >= 2]
    rng.shuffle(groups)
    pairs: list[tuple[int, int]] = []
    for group in groups[:wanted]:
        a, b = rng.sample(group, 2)
        items[b].amount_minor = items[b].open_amount_minor = items[a].amount_minor
        pairs.append((a, b))
    return pairs


def business_days(start: date, count: int) -> list[date]:
    """The first ``count`` Monday-Friday dates on or after ``start``."""
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generate_world(
    seed: int,
    customers: int,
    open_items: int,
    receipts: int,
    start: date,
    *,
    mix: dict[str, int] | None = None,
    formats: tuple[str, ...] = ALL_FORMATS,
    days: int | None = None,
    deductions: Deductions | None = None,
) -> World:
    """Build a complete world for ``seed``: same arguments, same world, byte for byte.

    ``mix`` maps scenario names to per-mille weights (default :data:`DEFAULT_MIX`); ``formats``
    decides which statement format each house account uses (and so which scenarios can rely on a
    payer IBAN or an end-to-end reference); ``days`` is the number of business days the
    statements cover (default: about 40 receipts a day, 3 to 40 days).
    """
    from shared.synth.scenarios import build_receipts

    if customers < 1 or open_items < 1 or receipts < 0:
        raise ValueError("need at least one customer and one open item")
    rng = random.Random(seed)
    mix = validate_mix(mix if mix is not None else DEFAULT_MIX)
    n_days = days or min(40, max(3, receipts // 40))
    bdays = business_days(start, n_days)
    accounts, shares = house_accounts(rng, tuple(formats))
    custs = generate_customers(rng, customers)
    items = generate_open_items(rng, custs, open_items, start, bdays[-1])
    world = World(seed, start, bdays, custs, items, accounts)
    build_receipts(world, rng, receipts, mix, shares, deductions or Deductions())
    return world


def amount_counts(items: list[OpenItem]) -> Counter[tuple[str, str, int]]:
    """How many open items of a customer / currency share each signed open amount."""
    return Counter(
        (it.customer_id, it.currency, it.signed_open_minor) for it in items if it.open_amount_minor
    )
