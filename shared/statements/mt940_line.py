"""MT940 ``:61:`` statement lines -> :class:`BankLine`, with the ``:86:`` details attached.

The ``:61:`` layout is ``6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]`` plus an optional second line of
supplementary details (34x): value date, entry date (MMDD, year taken nearest the value date),
debit/credit mark (C, D, RC, RD; EC/ED in MT942), funds code, amount with a decimal comma,
transaction type, customer reference, bank reference. Bank quirks that use the second line
(ASN, SNS, Rabobank) are named hooks at the bottom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from shared.errors import ParseError
from shared.money import exponent, to_minor
from shared.statements.model import BankLine
from shared.statements.mt940_details import (
    account_token,
    clean,
    join_lines,
    parse_details,
    parse_non_swift,
)

_LINE61 = re.compile(
    r"(?P<vd>\d{6})(?P<ed>\d{4}|\s{4})?(?P<mark>RC|RD|EC|ED|C|D)(?P<funds>[A-Z])? ?"
    r"(?P<amount>\d+(?:,\d*)?|,\d+)(?P<type>[A-Z][A-Z0-9 ]{3})(?P<rest>.*)"
)
# RC = reversal of a credit (money leaves), RD = reversal of a debit; EC/ED = MT942 expected
_SIGN = {"C": 1, "D": -1, "EC": 1, "ED": -1, "RC": -1, "RD": 1}
_GAP = re.compile(r"\s{2,}")
_line61 = _LINE61.fullmatch
# the usual :61: (entry date, C or D, two decimals, no funds code): what _LINE61 reads it as, quicker
_usual61 = re.compile(r"(\d{6})(\d{4})([CD])(\d+,\d\d)([A-Z][A-Z0-9 ]{3})(.*)").fullmatch
_Fields61 = tuple[date, date | None, str, int, str | None, str, str, str | None, str | None, str | None, bool]
_DATES: dict[str, tuple[date, date | None]] = {}  # value date + entry date text -> dates
_FAST_AMOUNT = 20  # digits well below the 28 of the decimal context: plain integer arithmetic is exact


@lru_cache(maxsize=4096)
def yymmdd(text: str) -> date:
    """``YYMMDD`` as a date (years 80-99 are 19xx); ``INGEST_BAD_DATE`` when no such day."""
    if len(text) != 6 or not text.isdigit():
        raise ParseError(f"not a YYMMDD date: {text!r}", code="INGEST_BAD_DATE")
    yy = int(text[:2])
    try:
        return date((1900 if yy >= 80 else 2000) + yy, int(text[2:4]), int(text[4:]))
    except ValueError as exc:
        raise ParseError(f"no such date: {text!r}", code="INGEST_BAD_DATE") from exc


@lru_cache(maxsize=4096)
def entry_date(mmdd: str, value_date: date) -> date:
    """The entry (booking) date ``MMDD`` in the year that puts it nearest the value date.

    Value date 31 December booked on 2 January is booked in the next year, and the other way
    round. Raises ``INGEST_BAD_DATE`` for a day that exists in none of the three years.
    """
    month, day = int(mmdd[:2]), int(mmdd[2:])
    candidates = []
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if not candidates:
        raise ParseError(f"no such entry date: {mmdd!r}", code="INGEST_BAD_DATE")
    best = min(candidates, key=lambda d: abs(d - value_date))
    if abs(best - value_date) > timedelta(days=200):  # only a February 29 can get this far
        raise ParseError(f"entry date {mmdd!r} far from value date", code="INGEST_BAD_DATE")
    return best


@dataclass(slots=True)
class StatementLine:
    """The fields of one ``:61:`` statement line."""

    value_date: date
    entry_date: date | None
    mark: str
    sign: int
    funds_code: str | None
    amount: str
    type_code: str
    customer_reference: str | None
    bank_reference: str | None
    supplementary: str | None
    overflow_name: bool  # supplementary text came from beyond the 16-character reference


def parse_statement_line(lines: list[str], line_no: int) -> StatementLine:
    """Parse ``:61:``: the first line, then continuation lines = supplementary details.

    Raises ``INGEST_MT940_BAD_LINE`` when the line lacks the SWIFT shape
    ``6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]``, ``INGEST_BAD_DATE`` for impossible dates.
    """
    return StatementLine(*_statement_line(lines, line_no))


def _statement_line(lines: list[str], line_no: int) -> _Fields61:
    """The fields of :class:`StatementLine`, as a tuple."""
    m = _line61(lines[0])
    rest_lines = lines[1:]
    if m is None and rest_lines:
        # the line itself wrapped (a Sparkasse export: "1811261126CR" / "30,00N062NONREF")
        m = _line61(lines[0] + lines[1].strip())
        rest_lines = lines[2:]
    if m is None:
        raise ParseError(f"line {line_no}: not a :61: statement line: {lines[0][:80]!r}",
                         code="INGEST_MT940_BAD_LINE", line=line_no)
    vd, ed, mark, funds, amount, kind, rest = m.groups()
    dates = _DATES.get(vd + ed if ed else vd)
    if dates is None:
        dates = _dates(vd, ed, line_no)
    value, booked = dates
    cref, bref, overflow = _references(rest)
    supp = clean(" ".join([overflow or "", *rest_lines])) if overflow or rest_lines else None
    return (value, booked, mark, _SIGN[mark], funds, amount, kind.strip(), cref, bref, supp,
            bool(overflow))


def _dates(vd: str, ed: str | None, line_no: int) -> tuple[date, date | None]:
    """Value and entry date of a :61: line, remembered for the next lines."""
    try:
        value = yymmdd(vd)
        booked = entry_date(ed, value) if ed and ed != "    " else None
    except ParseError as exc:
        raise ParseError(f"line {line_no}: {exc.message}", code=exc.code, line=line_no) from exc
    if len(_DATES) >= 4096:
        _DATES.clear()
    _DATES[vd + ed if ed else vd] = value, booked
    return value, booked


def _references(rest: str) -> tuple[str | None, str | None, str | None]:
    """Customer reference, bank reference (after ``//``) and text beyond the 16x reference."""
    rest = rest.rstrip()
    if not rest:
        return None, None, None
    if "//" in rest:
        cref, _, bref = rest.partition("//")
        return cref.strip() or None, bref.strip() or None, None
    gap = _GAP.search(rest)
    if len(rest) > 16 and gap is not None:
        # Rabobank (pre-2014 layout) pads the 16x reference and writes the counterparty name
        # on the same line; ASN puts a whole IBAN in the reference, which has no gap.
        return rest[: gap.start()].strip() or None, None, rest[gap.end():].strip() or None
    return rest.strip() or None, None, None


class _Exponents(dict[str, int]):
    """Minor-unit digits per currency, looked up once."""

    def __missing__(self, currency: str) -> int:
        value = self[currency] = exponent(currency)
        return value


_EXPONENT = _Exponents()


def amount_minor(amount: str, currency: str, line_no: int | None) -> int:
    """An MT940 amount (``1234,56``, ``500,``, ``500``) in minor units; never a float."""
    whole, _, frac = amount.partition(",")
    digits = whole + frac
    pad = _EXPONENT[currency] - len(frac)
    if pad >= 0 and len(digits) <= _FAST_AMOUNT and digits.isascii() and digits.isdigit():
        return int(digits) * 10**pad  # exact: the same as the Decimal way below
    try:
        return to_minor(Decimal(amount.replace(",", ".")), currency)
    except ParseError as exc:
        where = f"line {line_no}: " if line_no else ""
        raise ParseError(where + exc.message, code="INGEST_BAD_AMOUNT", line=line_no) from exc


def build_line(
    lines61: list[str], line_no: int, details: list[list[str]], non_swift: list[str],
    currency: str, raw: str,
) -> BankLine:
    """One :class:`BankLine` from the ``:61:`` lines, the ``:86:`` fields' lines (each field a
    list of lines) and any ``:NS:`` lines that follow it."""
    # the hot path: a one-line :61: with a bank reference after "//" (see _statement_line)
    m = _usual61(lines61[0]) if len(lines61) == 1 else None
    if m is not None:
        vd, ed, mark, amount, kind, rest = m.groups()
        funds = None
    else:
        m = _line61(lines61[0]) if len(lines61) == 1 else None
        if m is None:
            return _build(_statement_line(lines61, line_no), line_no, details, non_swift, currency, raw)
        vd, ed, mark, funds, amount, kind, rest = m.groups()
    cref, sep, bref = rest.partition("//")  # (bref is stripped below: no need for rest.rstrip())
    if not sep:
        return _build(_statement_line(lines61, line_no), line_no, details, non_swift, currency, raw)
    value, booked = _DATES.get(vd + ed if ed else vd) or _dates(vd, ed, line_no)
    kind = kind.strip()
    info = parse_details(details) if details else parse_non_swift(non_swift) if non_swift else {"extra": {}}
    extra = info["extra"]  # a new dict of its own: kept when every value is set
    if not all(extra.values()):
        extra = {k: v for k, v in extra.items() if v}
    extra["swift_type"], extra["mark"] = kind, mark
    if funds:
        extra["funds_code"] = funds
    get = info.get
    cref = cref.strip() or None
    if cref in (None, "NONREF", "KREF+") and get("customer_reference"):
        cref = info["customer_reference"]  # the German KREF+ keyword in :86:
    if amount[-3:-2] == "," and len(amount) <= _FAST_AMOUNT and _EXPONENT[currency] == 2:
        minor = int(amount.replace(",", ""))  # "1234,56": cents (the regex let only digits in)
    else:
        minor = amount_minor(amount, currency, line_no)
    return BankLine(
        booked or value, _SIGN[mark] * minor, currency, value, bref.strip() or None,
        get("end_to_end_reference"), cref, get("transaction_code") or kind,
        get("counterparty_name"), get("counterparty_account"), get("counterparty_bic"),
        get("remittance"), get("creditor_reference"), get("creditor_reference_type"),
        mark in ("RC", "RD"), raw, extra,
    )


def _build(
    fields: _Fields61, line_no: int, details: list[list[str]], non_swift: list[str], currency: str, raw: str,
) -> BankLine:
    """:func:`build_line` from the parsed ``:61:`` fields, every case."""
    value, booked, mark, sign, funds, amount, kind, cref, bref, supp, _ = fields
    if details:
        info = parse_details(details)
    elif non_swift:
        info = parse_non_swift(non_swift)
    else:
        info = {"extra": {}}
    if supp:
        sl = StatementLine(*fields)
        _echo_hook(sl, details, info)
        _supplementary_hook(sl, info)
    extra = {k: v for k, v in info["extra"].items() if v}
    extra["swift_type"], extra["mark"] = kind, mark
    if funds:
        extra["funds_code"] = funds
    if supp:
        extra["supplementary_details"] = supp
    get = info.get
    if cref in (None, "NONREF", "KREF+") and get("customer_reference"):
        cref = info["customer_reference"]  # the German KREF+ keyword in :86:
    return BankLine(
        booked or value, sign * amount_minor(amount, currency, line_no), currency, value, bref,
        get("end_to_end_reference"), cref, get("transaction_code") or kind,
        get("counterparty_name"), get("counterparty_account"), get("counterparty_bic"),
        get("remittance"), get("creditor_reference"), get("creditor_reference_type"),
        mark in ("RC", "RD"), raw, extra,
    )


def _echo_hook(sl: StatementLine, details: list[list[str]], info: dict[str, Any]) -> None:
    """ASN and SNS: :61: carries the counterparty account as reference and its name on a second
    line, and :86: repeats both on its first line; the rest of :86: is the remittance."""
    if not (details and sl.customer_reference and sl.supplementary) or sl.overflow_name:
        return
    if clean(details[0][0]) != f"{sl.customer_reference} {sl.supplementary}":
        return
    info["counterparty_account"] = account_token(sl.customer_reference) or sl.customer_reference
    info["counterparty_name"] = sl.supplementary
    info["remittance"] = clean(join_lines([details[0][1:], *details[1:]], True))


def _supplementary_hook(sl: StatementLine, info: dict[str, Any]) -> None:
    """Rabobank puts the counterparty account on the second :61: line (IBAN or ``P...``), and in
    its pre-2014 layout the counterparty name after the 16-character reference."""
    if sl.overflow_name:
        info.setdefault("counterparty_name", sl.supplementary)
        if account_token(sl.customer_reference):
            info.setdefault("counterparty_account", account_token(sl.customer_reference))
    elif account_token(sl.supplementary) and not info.get("counterparty_account"):
        info["counterparty_account"] = account_token(sl.supplementary)
