"""How payers write references: document-number spellings, phrases per language, typos, noise.

Pure text helpers on top of a ``random.Random``; the scenario builders decide what to say.
"""

from __future__ import annotations

import random
import re

_PHRASES: dict[str, tuple[str, ...]] = {
    "DE": ("Rechnung {t}", "RE {t}", "Rg.Nr. {t}", "RG.NR.{t}", "Re.-Nr. {t}", "{t}", "Rechnungsnr. {t}"),
    "NL": ("Factuur {t}", "factuurnr {t}", "{t}", "Betaling factuur {t}"),
    "FR": ("Facture {t}", "Facture n° {t}", "Fact. {t}", "{t}"),
    "EN": ("Invoice {t}", "INV NO {t}", "Inv #{t}", "#{t}", "Payment {t}", "{t}"),
    "ES": ("Factura {t}", "Pago factura {t}", "{t}"),
    "IT": ("Fattura {t}", "Saldo fattura {t}", "{t}"),
    "PL": ("Faktura {t}", "FV {t}", "{t}"),
}
_LANG = {
    "DE": "DE",
    "AT": "DE",
    "CH": "DE",
    "NL": "NL",
    "BE": "NL",
    "FR": "FR",
    "GB": "EN",
    "US": "EN",
    "ES": "ES",
    "IT": "IT",
    "PL": "PL",
}
_NOT_ALNUM = re.compile(r"[\W_]+")
_JOINERS = (", ", " ", "; ", " + ", " / ")
_AND = {"DE": " und ", "NL": " en ", "FR": " et ", "EN": " and ", "ES": " y ", "IT": " e ", "PL": " i "}
_LESS_CREDIT = {
    "DE": "abzgl. Gutschrift {t}",
    "NL": "minus creditnota {t}",
    "FR": "moins avoir {t}",
    "EN": "less credit note {t}",
    "ES": "menos abono {t}",
    "IT": "meno nota di credito {t}",
    "PL": "minus korekta {t}",
}
_DISCOUNT = {
    "DE": "abzgl. 2% Skonto",
    "NL": "minus 2% korting",
    "FR": "escompte 2%",
    "EN": "less 2% discount",
    "ES": "dto. 2%",
    "IT": "sconto 2%",
    "PL": "skonto 2%",
}
GENERIC_NO_REF = (
    "",
    "Zahlung",
    "Überweisung",
    "Payment",
    "Rechnungsausgleich",
    "Zahlung Lieferung",
    "Payment for goods",
    "Betaling",
    "Paiement",
    "Pago",
    "Pagamento",
    "Ausgleich offener Posten",
    "SEPA Überweisung",
    "Transfer",
    "Zahlung gemäß Vereinbarung",
)
PRIVATE_TEXTS = (
    "Rückzahlung",
    "Erstattung Kaution",
    "Miete Stellplatz",
    "Darlehen",
    "Spende",
    "",
    "Privat",
    "Refund",
    "Geschenk",
    "Rueckbuchung Bestellung",
)


def lang(country: str) -> str:
    """Language of the remittance a payer from ``country`` writes."""
    return _LANG.get(country, "EN")


def doc_key(text: str) -> str:
    """Comparison key of a reference token: upper case, alphanumerics only, leading zeros dropped.

    The generator uses it to make sure typos and noise never spell another real document.
    """
    return _NOT_ALNUM.sub("", text.upper()).lstrip("0")


def spell(rng: random.Random, doc: str, *, erp_style: bool = False) -> str:
    """One way a payer writes document number ``doc``.

    Prefixed numbers vary in case and separators and sometimes lose the prefix; numeric ERP
    numbers gain or lose leading zeros (``erp_style`` forces a zero-padding change).
    """
    if "-" in doc:
        prefix, year, seq = doc.split("-")
        styles = (
            doc,
            doc,
            doc,
            doc,
            doc.lower(),
            f"{prefix}{year}{seq}",
            f"{prefix} {year} {seq}",
            f"{prefix}/{year}/{seq}",
            f"{prefix}.{year}.{seq}",
            f"{year}-{seq}",
            f"{prefix}-{year}/{seq}",
        )
        return rng.choice(styles)
    stripped = doc.lstrip("0")
    if len(doc) == 10:  # SAP style: payers drop the zero padding
        return stripped if erp_style or rng.random() < 0.6 else doc
    return ("00" + doc) if erp_style or rng.random() < 0.15 else doc


def phrase(rng: random.Random, country: str, tokens: list[str]) -> str:
    """Remittance for one or several tokens in the payer's language."""
    language = lang(country)
    if len(tokens) == 1:
        body = tokens[0]
    elif rng.random() < 0.3:
        body = ", ".join(tokens[:-1]) + _AND[language] + tokens[-1]
    else:
        body = rng.choice(_JOINERS).join(tokens)
    return rng.choice(_PHRASES[language]).format(t=body)


def less_credit(country: str, token: str) -> str:
    """``abzgl. Gutschrift CN-...`` in the payer's language."""
    return _LESS_CREDIT[lang(country)].format(t=token)


def discount_note(country: str) -> str:
    """``abzgl. 2% Skonto`` in the payer's language."""
    return _DISCOUNT[lang(country)]


def mutate(rng: random.Random, doc: str) -> str:
    """``doc`` with one realistic error in its running number: neighbours swapped, a digit dropped,
    or one digit mistyped. The prefix and year of prefixed numbers stay intact."""
    head, digits = (
        (doc[: doc.rfind("-") + 1], doc[doc.rfind("-") + 1 :]) if "-" in doc else (doc[:-6], doc[-6:])
    )
    kind = rng.randrange(3)
    i = rng.randrange(len(digits) - 1)
    if kind == 0 and digits[i] != digits[i + 1]:
        digits = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    elif kind == 1:
        digits = digits[:i] + digits[i + 1 :]
    else:
        digits = digits[:i] + rng.choice([d for d in "0123456789" if d != digits[i]]) + digits[i + 1 :]
    return head + digits


def internal_ref(rng: random.Random) -> str:
    """A payer's own end-to-end id: letters and short digit runs only, never a document number."""
    letters = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
    return f"{rng.choice(('PAY', 'ZV', 'TRF', 'E2E'))}-{letters}-{rng.randrange(1000, 10000)}"


def e2e_noise(rng: random.Random) -> str:
    """End-to-end id of a payment that does not use it: mostly NOTPROVIDED, sometimes own ids."""
    roll = rng.random()
    return "NOTPROVIDED" if roll < 0.5 else internal_ref(rng) if roll < 0.8 else ""


def noise(rng: random.Random, customer_id: str, day: str) -> str:
    """Extra words payers add: their customer number with us, an order number, a date."""
    roll = rng.randrange(4)
    if roll == 0:
        return f"Kd-Nr. {customer_id[1:]}"
    if roll == 1:
        return f"PO 45{rng.randrange(10**7, 10**8)}"
    if roll == 2:
        return f"vom {day}"
    return rng.choice(("Danke", "Thank you", "Merci", "Bedankt", "Grazie"))
