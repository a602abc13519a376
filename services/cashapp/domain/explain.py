"""Plain-language pieces of a decision's reason, for a clerk (no codes, no jargon)."""

from __future__ import annotations

from dataclasses import dataclass

from services.cashapp.domain.allocate import Book
from shared.money import format_minor

SOURCE_LABELS = {
    "remittance": "remittance",
    "creditor_reference": "creditor reference",
    "end_to_end_reference": "end-to-end reference",
    "customer_reference": "customer reference",
}


@dataclass(frozen=True, slots=True)
class Hit:
    """One document a receipt's texts point at (a row of ``references.reference_hits``)."""

    idx: int  # book index of the document
    match: str  # "exact" | "fuzzy"
    source: str
    token: str
    via: str  # "document_number" | "payment_reference"
    key: str  # the document's normalised key that matched


def describe_edit(token: str, key: str) -> str:
    """How ``token`` (as written by the payer) differs from ``key`` (the document), in words."""
    kind = "digit" if (token + key).isdigit() else "character"
    if len(token) < len(key):
        return f"one {kind} missing"
    if len(token) > len(key):
        return f"one {kind} too many"
    diff = [i for i, (a, b) in enumerate(zip(token, key, strict=True)) if a != b]
    if len(diff) == 2 and diff[1] == diff[0] + 1:
        return f"two {kind}s swapped"
    return f"one {kind} different"


def money(minor: int, currency: str) -> str:
    """``123456, EUR`` -> ``1234.56 EUR``."""
    return f"{format_minor(minor, currency)} {currency}"


def join_words(words: list[str]) -> str:
    """``[a, b, c]`` -> ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def documents(book: Book, idxs: tuple[int, ...] | list[int], limit: int = 4) -> str:
    """Document numbers for a sentence, shortened after ``limit``."""
    nums = [book.number[i] for i in idxs]
    if len(nums) > limit:
        return ", ".join(nums[:limit]) + f" and {len(nums) - limit} more"
    return join_words(nums)


def hits_phrase(book: Book, hits: list[Hit]) -> str:
    """``INV-2026-004512 found in remittance with two digits swapped (2026004521)``."""
    parts: list[str] = []
    exact: dict[str, list[str]] = {}
    for h in hits:
        what = book.number[h.idx] if h.via == "document_number" else f"payment reference of {book.number[h.idx]}"
        where = SOURCE_LABELS.get(h.source, h.source)
        if h.match == "exact":
            exact.setdefault(where, []).append(what)
        else:
            parts.append(f"{what} found in {where} with {describe_edit(h.token, h.key)} ({h.token})")
    exact_parts = [f"{join_words(w)} found in {where}" for where, w in exact.items()]
    return "; ".join(exact_parts + parts)


def account_phrase(customer: str, source: str) -> str:
    """``payer IBAN known for customer C100231`` (learned ones say so)."""
    learned = " (learned from an earlier application)" if source == "learned" else ""
    return f"payer IBAN known for customer {customer}{learned}"


def name_phrase(payer: str | None, matched: str, customer: str, similarity: float) -> str:
    """``payer name 'Mueller GmbH' matches customer C1 'Müller GmbH' (96%)``."""
    return f"payer name '{payer or ''}' matches customer {customer} '{matched}' ({similarity:.0f}%)"


def third_party_phrase(payer_customers: list[str]) -> str:
    """Reason suffix when the payer account belongs to someone else than the documents' customer."""
    return f"paid by a third party (payer IBAN belongs to {join_words(payer_customers)})"
