"""IBAN normalisation and ISO 13616 mod-97 validation."""

from __future__ import annotations

import re

_IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$")


def normalize_account(value: str) -> str:
    """Upper case, without spaces, dashes or dots: ``de89 3704-0044`` -> ``DE8937040044``."""
    return re.sub(r"[\s\-.]", "", value).upper()


def looks_like_iban(value: str) -> bool:
    return bool(re.match(r"^[A-Z]{2}[0-9]{2}", normalize_account(value)))


def is_valid_iban(value: str) -> bool:
    """True for a well-formed IBAN whose check digits are right (mod 97 == 1)."""
    iban = normalize_account(value)
    if not _IBAN_RE.match(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1
