"""Small text helpers shared by the MT940 ``:61:`` and ``:86:`` readers (all dialects)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SWIFT_LINE = 65
SOFT = "\x1e"  # marks a real break between two GVC sub-fields
GLUE = "\x1f"  # marks where a full line was glued to the next (labels may start there)
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_PLAIN_ACCOUNT = re.compile(r"P?\d{6,12}")
_RF = re.compile(r"RF\d{2}[A-Z0-9]{1,21}")
_NO_REF = "NOTPROVIDED"  # SEPA's literal for "no end-to-end reference"
iban_match = _IBAN.fullmatch
bic_match = _BIC.fullmatch
_plain_match = _PLAIN_ACCOUNT.fullmatch


def clean(text: str | None) -> str | None:
    """Collapse whitespace (and the break markers) to single spaces; ``None`` for nothing."""
    # str.split() treats \x1e / \x1f as whitespace too, and is much faster than a regex
    return " ".join(text.split()) or None if text else None


def clean_cached(text: str) -> str:
    """``" ".join(text.split())``, remembered: for texts that repeat a lot (GVC posting texts)."""
    done = CLEANED.get(text)
    if done is None:
        done = " ".join(text.split())
        if len(CLEANED) >= 4096:
            CLEANED.clear()
        CLEANED[text] = done
    return done


CLEANED: dict[str, str] = {}


def is_iban(text: str) -> bool:
    """Syntactic IBAN check: country, check digits, 10-30 alphanumerics."""
    return iban_match(text) is not None


@lru_cache(maxsize=4096)
def is_bic(text: str) -> bool:
    """Syntactic BIC check (8 or 11 characters)."""
    return bic_match(text) is not None


@lru_cache(maxsize=8192)
def account_token(text: str | None) -> str | None:
    """An IBAN (spaces removed) or a plain (Dutch giro ``P...``) account number, else ``None``."""
    if not text:
        return None
    compact = text.replace(" ", "")
    if iban_match(compact) or _plain_match(compact):
        return compact
    return None


def rf_reference(text: str | None) -> str | None:
    """An ISO 11649 creditor reference (``RFxx...``) whose mod-97 check holds, else ``None``."""
    if not text or "RF" not in text[:4].upper():
        return None
    compact = text.replace(" ", "").upper()
    if not _RF.fullmatch(compact):
        return None
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return compact if int(digits) % 97 == 1 else None


def eref(value: str | None) -> str | None:
    """An end-to-end reference, ``None`` for SEPA's ``NOTPROVIDED``."""
    value = clean(value)
    return None if value is None or value.upper() == _NO_REF else value


def set_creditor_ref(out: dict[str, Any], ref: str | None, issuer: str | None) -> None:
    """Record a structured creditor reference: RF (ISO 11649) or a Dutch CUR betalingskenmerk."""
    ref = clean(ref)
    if not ref:
        return
    rf = rf_reference(ref)
    if rf or (issuer == "CUR" and ref.replace(" ", "").isdigit()):
        out["creditor_reference"] = rf or ref.replace(" ", "")
        out["creditor_reference_type"] = "SCOR"
        out["extra"]["creditor_reference_issuer"] = "ISO" if rf else issuer


def join_lines(fields: list[list[str]], hard_only: bool, glue: str = "") -> str:
    """Join the lines of one or more ``:86:`` fields.

    ``hard_only=False`` glues every line (structured text); ``True`` glues a line to the next
    (with ``glue`` between) only when it was full (65 characters counting the tag), else puts a
    space between.
    """
    if not hard_only:  # every line glued, a space between fields
        if len(fields) == 1:
            return "".join(fields[0]).strip()
        return " ".join(["".join(field) for field in fields if field]).strip()
    parts: list[str] = []
    for field in fields:
        for i, line in enumerate(field):
            width = len(line) + (4 if i == 0 else 0)
            parts.append(line)
            parts.append(glue if width >= SWIFT_LINE else " ")
        if parts:
            parts[-1] = " "  # separate :86: fields always end a piece of text
    return "".join(parts).strip()
