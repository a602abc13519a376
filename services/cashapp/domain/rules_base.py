"""Building blocks of the rule set: value types with validation, and the default vocabularies."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import polars as pl
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _to_decimal(value: Any) -> Decimal:
    # Floats from TOML (``max_pct = 1.5``) go through str() so 1.5 stays exactly 1.5.
    if isinstance(value, bool):
        raise ValueError("expected a decimal number, got a boolean")
    if isinstance(value, int | float | str | Decimal):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
        if not result.is_finite() or result < 0:
            raise ValueError(f"must be a finite number >= 0, got {value!r}")
        return result
    raise ValueError(f"expected a decimal string, got {type(value).__name__}")


NonNegDecimal = Annotated[Decimal, BeforeValidator(_to_decimal)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Percent = Annotated[float, Field(ge=0.0, le=100.0)]


def _check_regex(pattern: str) -> str:
    # Patterns run in polars (Rust regex syntax: no look-around, no back-references), so they are
    # compiled by polars itself here rather than by Python's ``re``.
    try:
        pl.Series([""], dtype=pl.Utf8).str.contains(pattern)
    except Exception as exc:  # polars raises ComputeError; any failure means a bad pattern
        raise ValueError(f"invalid regular expression {pattern!r}: {str(exc).splitlines()[0]}") from exc
    return pattern


Regex = Annotated[str, BeforeValidator(lambda v: _check_regex(v) if isinstance(v, str) else v)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DEFAULT_PREFIXES = [
    "RECHNUNGSNUMMER",
    "RECHNUNGSNR",
    "RECHNUNG",
    "RG.NR.",
    "RGNR",
    "RG",
    "RE",
    "INVOICE",
    "INVOICENO",
    "INV",
    "FACTUUR",
    "FACTURE",
    "FACTURA",
    "FAKTURA",
    "FATTURA",
    "BELEG",
    "NR",
    "NO",
    "REF",
    "#",
]


DEFAULT_LEGAL_FORMS = [
    "gmbh",
    "mbh",
    "gesmbh",
    "ag",
    "kg",
    "kgaa",
    "ohg",
    "gbr",
    "ug",
    "haftungsbeschrankt",
    "ek",
    "ev",
    "eg",
    "se",
    "co",
    "cokg",
    "ltd",
    "limited",
    "llc",
    "llp",
    "lp",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "company",
    "plc",
    "sa",
    "sas",
    "sasu",
    "sarl",
    "eurl",
    "spa",
    "srl",
    "sl",
    "slu",
    "bv",
    "nv",
    "vof",
    "ab",
    "as",
    "asa",
    "oy",
    "oyj",
    "aps",
    "kft",
    "zrt",
    "sro",
    "doo",
    "pty",
    "pvt",
    "sp",
    "zoo",
    "oo",
    "sp z oo",
    "spolka z oo",
    "spolka",
    "aktiengesellschaft",
    "gesellschaft mit beschrankter haftung",
    "kommanditgesellschaft",
    "offene handelsgesellschaft",
    "societe anonyme",
    "societe par actions simplifiee",
    "societe a responsabilite limitee",
    "sociedad anonima",
    "sociedad limitada",
    "societa per azioni",
    "societa a responsabilita limitata",
    "besloten vennootschap",
    "naamloze vennootschap",
    "public limited company",
    "limited liability company",
    "private limited",
]


def default_non_ar_keywords() -> list[str]:
    return [
        r"\bZINSEN\b",
        r"HABENZINS",
        r"\bINTEREST\b",
        r"STEUERERSTATTUNG",
        r"\bSTEUER\b",
        r"TAX REFUND",
        r"FINANZAMT",
        r"BUNDESKASSE",
        r"\bHMRC\b",
        r"INTERCOMPANY",
        r"DIVIDEND",
        r"KAPITALERTRAG",
        r"\bKREDIT(?:AUSZAHLUNG)?\b",
        r"LOAN DISBURSEMENT",
        r"INSURANCE CLAIM",
        r"VERSICHERUNGSLEISTUNG",
    ]
