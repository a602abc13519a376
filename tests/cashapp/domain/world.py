"""A small seeded synthetic AR world for the engine's tests and speed measurement.

Not the project's benchmark generator (``shared/synth``): just enough variety to exercise every
strategy, built directly as the engine's input frames with a ground truth per receipt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from services.cashapp.domain.normalize import qrr_check_digit, rf_make

_SURNAMES = [
    "Mueller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krueger",
    "Hartmann",
    "Lange",
    "Werner",
    "Krause",
    "Lehmann",
    "Koehler",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Jansen",
    "deVries",
    "Bakker",
    "Visser",
    "Smit",
    "Dupont",
    "Lefevre",
    "Moreau",
    "Rossi",
    "Bianchi",
    "Garcia",
    "Lopez",
    "Novak",
    "Horvat",
    "Nowak",
    "Kowalski",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
]
_TRADES = [
    "Maschinenbau",
    "Logistik",
    "Elektrotechnik",
    "Holzbau",
    "Metallbau",
    "Handel",
    "Verpackungen",
    "Systems",
    "Components",
    "Engineering",
    "Transport",
    "Foods",
    "Textil",
    "Chemie",
    "Bau",
    "Software",
]
_SYLLABLES = [
    "ber",
    "man",
    "hof",
    "wal",
    "ter",
    "ros",
    "lin",
    "dor",
    "gar",
    "ten",
    "mar",
    "kus",
    "sel",
    "bach",
    "feld",
    "stein",
    "berg",
    "ner",
    "hau",
    "zel",
    "rich",
    "brun",
    "ott",
    "lau",
    "gen",
    "dahl",
    "vik",
]
_CITIES = ["Berlin", "Hamburg", "Koeln", "Essen", "Bremen", "Leipzig", "Zuerich", "Wien", "Lyon", "Milano"]
_FORMS = ["GmbH", "AG", "KG", "Ltd", "S.A.", "B.V.", "GmbH & Co. KG", "SARL", "Inc."]
_NON_AR = ["Habenzinsen Q1", "Steuererstattung USt 2025", "Intercompany transfer", "Dividende 2025"]


@dataclass
class World:
    receipts: pl.DataFrame
    open_items: pl.DataFrame
    customers: pl.DataFrame
    accounts: pl.DataFrame
    # receipt_id -> (scenario, customer or None, {document_number: amount cleared}); None = not AR
    truth: dict[int, tuple[str, str | None, dict[str, int] | None]] = field(default_factory=dict)


def _iban(rng: random.Random) -> str:
    return "DE" + "".join(rng.choice("0123456789") for _ in range(20))


def _typo(rng: random.Random, number: str) -> str:
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    i = rng.choice(digits[-5:-1])
    kind = rng.randrange(3)
    if kind == 0 and number[i] != number[i + 1] and number[i + 1].isdigit():  # swap
        return number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    if kind == 1:  # changed digit
        return number[:i] + str((int(number[i]) + 1 + rng.randrange(8)) % 10) + number[i + 1 :]
    return number[:i] + number[i + 1 :]  # dropped digit


class _Builder:
    def __init__(self, seed: int, n_customers: int, n_items: int) -> None:
        self.rng = random.Random(seed)
        self.customers: list[dict] = []
        self.accounts: list[dict] = []
        self.items: list[dict] = []
        self.by_customer: dict[str, list[int]] = {}
        names: set[str] = set()
        for c in range(n_customers):
            cid = f"C{100000 + c}"
            while True:
                surname = (
                    self.rng.choice(_SURNAMES)
                    if self.rng.random() < 0.3
                    else "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 3))).capitalize()
                )
                name = f"{surname} {self.rng.choice(_TRADES)}"
                if self.rng.random() < 0.4:
                    name = f"{self.rng.choice(_CITIES)} {name}"
                if name not in names:
                    break
            names.add(name)
            self.customers.append({"customer_id": cid, "customer_name": f"{name} {self.rng.choice(_FORMS)}"})
            if self.rng.random() < 0.8:
                self.accounts.append({"customer_id": cid, "kind": "iban", "value": _iban(self.rng), "source": "master"})
        for n in range(n_items):
            cust = self.customers[self.rng.randrange(n_customers)]["customer_id"]
            credit = self.rng.random() < 0.04
            amount = self.rng.randint(2_000, 2_000_000)
            numbered = f"INV-2026-{n + 1:06d}" if n % 2 else f"{90000000 + n}"
            doc_date = date(2026, 1, 5) + timedelta(days=self.rng.randrange(60))
            ref = None
            if not credit and self.rng.random() < 0.1:
                ref = rf_make(f"{n + 1:08d}")
            elif not credit and self.rng.random() < 0.05:
                body = f"{n + 1:026d}"
                ref = body + qrr_check_digit(body)
            self.by_customer.setdefault(cust, []).append(len(self.items))
            self.items.append(
                {
                    "item_id": n + 1,
                    "customer_id": cust,
                    "document_number": f"CN-2026-{n + 1:06d}" if credit else numbered,
                    "document_type": "credit_note" if credit else "invoice",
                    "document_date": doc_date,
                    "due_date": doc_date + timedelta(days=30),
                    "currency": "EUR",
                    "amount_minor": -amount if credit else amount,
                    "open_amount_minor": -amount if credit else amount,
                    "payment_reference": ref,
                }
            )
        self.used = [False] * len(self.items)


_MIX = {
    "exact": 40,
    "multi": 6,
    "fuzzy": 6,
    "iban": 12,
    "name": 5,
    "charge": 4,
    "discount": 3,
    "short": 2,
    "over": 2,
    "unknown": 4,
    "non_ar": 3,
    "debit": 5,
    "rf": 5,
    "split": 3,
}
_ALONE = ("unknown", "non_ar", "debit")  # receipts that pay no document


class _Receipts:
    """Draws receipts of each scenario against a built set of open items."""

    def __init__(self, b: _Builder) -> None:
        self.b, self.rng = b, b.rng
        self.ibans = {a["customer_id"]: a["value"] for a in b.accounts}
        self.names = {c["customer_id"]: c["customer_name"] for c in b.customers}
        self.counts: dict[tuple[str, int], int] = {}
        for it in b.items:
            key = (it["customer_id"], it["open_amount_minor"])
            self.counts[key] = self.counts.get(key, 0) + 1
        self.order = list(range(len(b.items)))
        self.rng.shuffle(self.order)
        self.cursors: dict[str, int] = {}
        self.scenarios = [name for name, weight in _MIX.items() for _ in range(weight)]

    def take(self, key: str, earliest: date | None = None) -> dict | None:
        """Next unused invoice in this kind's own walk over the shuffled items."""
        pos = self.cursors.get(key, 0)
        while pos < len(self.order):
            i = self.order[pos]
            pos += 1
            it = self.b.items[i]
            if (
                not self.b.used[i]
                and it["document_type"] == "invoice"
                and (earliest is None or it["document_date"] >= earliest)
            ):
                self.b.used[i] = True
                self.cursors[key] = pos
                return it
        self.cursors[key] = pos
        return None

    def draw(self, rid: int) -> tuple[dict, tuple[str, str | None, dict[str, int] | None]]:
        """One receipt row and its truth ``(scenario, customer, {document: amount cleared})``."""
        rng = self.rng
        scen = rng.choice(self.scenarios)
        booked = date(2026, 3, 2) + timedelta(days=rng.randrange(20))
        row: dict = {
            c: None
            for c in (
                "customer_reference",
                "counterparty_name",
                "counterparty_account",
                "remittance",
                "creditor_reference",
            )
        }
        row.update(
            receipt_id=rid,
            account="DE00HOUSE",
            currency="EUR",
            booking_date=booked,
            value_date=booked,
            bank_reference=f"B{rid}",
            end_to_end_reference="NOTPROVIDED",
            is_reversal=False,
        )
        earliest = booked - timedelta(days=10) if scen == "discount" else None
        it = None if scen in _ALONE else self.take("discount" if earliest else "any", earliest)
        if it is None:
            amount = rng.randint(1_000, 500_000)
            row.update(
                amount_minor=-amount if scen == "debit" else amount,
                counterparty_name="Finanzamt Mitte" if scen == "non_ar" else "Unbekannt Handels Co",
                remittance=rng.choice(_NON_AR) if scen == "non_ar" else "Zahlung",
            )
            return row, (scen, None, None)
        cust = it["customer_id"]
        row.update(
            counterparty_name=self.names[cust],
            counterparty_account=self.ibans.get(cust),
            amount_minor=it["open_amount_minor"],
            remittance=it["document_number"],
        )
        scen, docs = getattr(self, f"_{scen}")(row, it)
        return row, (scen, cust, docs)

    def _exact(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        prefix = self.rng.choice(["RE", "Rechnung", "INV", "#", "Invoice no."])
        row["remittance"] = f"{prefix} {it['document_number'].lower()} danke"
        return "exact", {it["document_number"]: it["open_amount_minor"]}

    def _split(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        num = it["document_number"]
        row["remittance"] = f"Zahlung {num[:-3]} {num[-3:]}"  # wrapped across statement lines
        return "split", {num: it["open_amount_minor"]}

    def _rf(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        if it["payment_reference"]:
            row.update(remittance=None, creditor_reference=it["payment_reference"])
        return "rf", {it["document_number"]: it["open_amount_minor"]}

    def _multi(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        docs = {it["document_number"]: it["open_amount_minor"]}
        mine = self.b.by_customer[it["customer_id"]]
        for i in [i for i in mine if not self.b.used[i] and self.b.items[i]["document_type"] == "invoice"][:2]:
            self.b.used[i] = True
            docs[self.b.items[i]["document_number"]] = self.b.items[i]["open_amount_minor"]
        row.update(amount_minor=sum(docs.values()), remittance=" / ".join(docs))
        return "multi", docs

    def _fuzzy(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        row["remittance"] = _typo(self.rng, it["document_number"])
        return "fuzzy", {it["document_number"]: it["open_amount_minor"]}

    def _iban(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        cust = it["customer_id"]
        if self.counts[(cust, it["open_amount_minor"])] > 1 or cust not in self.ibans:
            return self._exact(row, it)
        row["remittance"] = "Zahlung"
        return "iban", {it["document_number"]: it["open_amount_minor"]}

    def _name(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        cust = it["customer_id"]
        if self.counts[(cust, it["open_amount_minor"])] > 1:
            return self._exact(row, it)
        row.update(
            remittance="Zahlung", counterparty_account=_iban(self.rng), counterparty_name=self.names[cust].upper()
        )
        return "name", {it["document_number"]: it["open_amount_minor"]}

    def _less(self, row: dict, it: dict, diff: int, scen: str, cleared: int) -> tuple[str, dict[str, int]]:
        row["amount_minor"] = it["open_amount_minor"] - diff
        return scen, {it["document_number"]: cleared}

    def _charge(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        charge = min(self.rng.randint(50, 1500), it["open_amount_minor"] // 100)
        return self._less(row, it, charge, "charge", it["open_amount_minor"])

    def _discount(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        return self._less(row, it, (it["amount_minor"] * 2 + 50) // 100, "discount", it["open_amount_minor"])

    def _short(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        amt = it["open_amount_minor"]
        short = min(self.rng.randint(2_600, 5_000), amt * 2 // 100)
        discount = (it["amount_minor"] * 2 + 50) // 100
        if short <= 2_500 or abs(short - discount) <= 1:  # too small, or indistinguishable from the discount
            return self._exact(row, it)
        return self._less(row, it, short, "short", amt - short)

    def _over(self, row: dict, it: dict) -> tuple[str, dict[str, int]]:
        amt = it["open_amount_minor"]
        return self._less(row, it, -self.rng.randint(100, min(5_000, amt)), "over", amt)


def make_world(seed: int = 1, receipts: int = 1000, customers: int | None = None, items: int | None = None) -> World:
    """A world with ``receipts`` receipts against ``items`` open items of ``customers`` customers."""
    b = _Builder(seed, customers or max(10, receipts * 3 // 5), items or receipts * 3)
    draw = _Receipts(b)
    rows, truth = [], {}
    for rid in range(1, receipts + 1):
        row, truth[rid] = draw.draw(rid)
        rows.append(row)
    accounts_schema = {"customer_id": pl.Utf8, "kind": pl.Utf8, "value": pl.Utf8, "source": pl.Utf8}
    return World(
        receipts=pl.DataFrame(rows, infer_schema_length=None).select(
            "receipt_id",
            "account",
            "currency",
            "booking_date",
            "value_date",
            "amount_minor",
            "bank_reference",
            "end_to_end_reference",
            "customer_reference",
            "counterparty_name",
            "counterparty_account",
            "remittance",
            "creditor_reference",
            "is_reversal",
        ),
        open_items=pl.DataFrame(b.items, infer_schema_length=None),
        customers=pl.DataFrame(b.customers),
        accounts=pl.DataFrame(b.accounts, schema=accounts_schema),
        truth=truth,
    )
