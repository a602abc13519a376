"""Document-number normalisation for matching a customer's list against ours.

Customers copy our numbers into their payables ledger in many shapes: ``INV-2026-004512``,
``inv 2026/4512``, ``RG.NR. 2026004512``, ``#4512``. Three keys are built, each tried only for
what the previous one left unmatched (:data:`KEYS`):

* :func:`exact_key` - case, separators and leading zeros of each digit run removed; prefix kept,
  so ``INV-0001`` and ``CN-0001`` stay different.
* :func:`loose_key` - additionally without a common prefix (``INV``, ``RE``, ``RG.NR.``, ``#`` ...).
* :func:`flat_key` - prefix dropped, separators dropped *before* leading zeros are, so
  ``INV-2026-004512`` meets ``2026004512`` (while :func:`loose_key` lets it meet ``2026/4512``).

Kept local on purpose: the cash-application engine has its own reference extraction with different
needs (text mining), this one compares two clean number fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Prefixes seen on invoice and credit-note numbers in English, German, French, Dutch and Spanish
# payables ledgers; stripped only when a digit follows, so "REX12" or "CNC-7" stay intact.
_PREFIXES = (
    "INVOICE|INV|RECHNUNG|RECHNR|RGNR|RG|RE|FACTURE|FACTUUR|FACTURA|FACT|FAC|FA|CREDITNOTE|CREDIT|CRN|CN"
    "|NOTE|GUTSCHRIFT|GS|NUMBER|NUM|NR|NO|DOC|BELEG"
)
# Longer words first so that "INVOICE" is not read as "INV" + "OICE".
_PREFIX_RE = re.compile(
    r"^(?:(?:" + "|".join(sorted(_PREFIXES.split("|"), key=len, reverse=True)) + r")[^A-Z0-9]*)+(?=[0-9])"
)
_RUN_RE = re.compile(r"[A-Z]+|[0-9]+")


def _compact(text: str) -> str:
    """Upper-case, keep letter and digit runs, drop leading zeros of each digit run."""
    runs = _RUN_RE.findall(text.upper())
    return "".join(r.lstrip("0") or "0" if r[0].isdigit() else r for r in runs)


def exact_key(number: str | None) -> str:
    """Key of ``number`` ignoring case, separators and leading zeros (prefix kept).

    ``exact_key("inv-2026/004512") == exact_key("INV 2026 4512") == "INV20264512"``.
    Returns ``""`` for an empty or missing number (never matched).
    """
    if not number:
        return ""
    return _compact(number)


def _without_prefix(number: str) -> str:
    return _PREFIX_RE.sub("", number.upper().replace("#", " ").strip())


def loose_key(number: str | None) -> str:
    """Like :func:`exact_key` but without a leading common prefix (``RG.NR. 12`` -> ``12``)."""
    if not number:
        return ""
    return _compact(_without_prefix(number))


def flat_key(number: str | None) -> str:
    """Prefix and separators dropped, then leading zeros: ``INV-2026-004512`` -> ``2026004512``."""
    if not number:
        return ""
    joined = "".join(_RUN_RE.findall(_without_prefix(number)))
    return joined.lstrip("0") or ("0" if joined else "")


# The keys in the order matching tries them.
KEYS: tuple[Callable[[str | None], str], ...] = (exact_key, loose_key, flat_key)
