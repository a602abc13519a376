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
from shared.money import to_minor
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
    m = _LINE61.fullmatch(lines[0])
    rest_lines = lines[1:]
    if m is None and len(lines) > 1:
        # the line itself wrapped (a Sparkasse export: "1811261126CR" / "30,00N062NONREF")
        m = _LINE61.fullmatch(lines[0] + lines[1].strip())
        rest_lines = lines[2:]
    if m is None:
        raise ParseError(f"line {line_no}: not a :61: statement line: {lines[0][:80]!r}",
                         code="INGEST_MT940_BAD_LINE", line=line_no)
    vd, ed, mark, funds, amount, kind, rest = m.groups()
    try:
        value = yymmdd(vd)
        booked = entry_date(ed, value) if ed and ed != "    " else None
    except ParseError as exc:
        raise ParseError(f"line {line_no}: {exc.message}", code=exc.code, line=line_no) from exc
    cref, bref, overflow = _references(rest)
    supp = clean(" ".join([overflow or "", *rest_lines])) if overflow or rest_lines else None
    return StatementLine(value, booked, mark, _SIGN[mark], funds, amount, kind.strip(), cref, bref,
                         supp, bool(overflow))


def _references(rest: str) -> tuple[str | None, str | None, str | None]:
    """Customer reference, bank reference (after ``//``) and text beyond the 16x reference."""
    rest = rest.rstrip()
    if not rest:
        return None, None, None
    if "//" in rest:
        cref, bref = rest.split("//", 1)
        return cref.strip() or None, bref.strip() or None, None
    gap = _GAP.search(rest)
    if len(rest) > 16 and gap is not None:
        # Rabobank (pre-2014 layout) pads the 16x reference and writes the counterparty name
        # on the same line; ASN puts a whole IBAN in the reference, which has no gap.
        return rest[: gap.start()].strip() or None, None, rest[gap.end():].strip() or None
    return rest.strip() or None, None, None


def amount_minor(amount: str, currency: str, line_no: int | None) -> int:
    """An MT940 amount (``1234,56``, ``500,``, ``500``) in minor units; never a float."""
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
    sl = parse_statement_line(lines61, line_no)
    if details:
        info = parse_details(details)
    elif non_swift:
        info = parse_non_swift(non_swift)
    else:
        info = {"extra": {}}
    if sl.supplementary:
        _echo_hook(sl, details, info)
        _supplementary_hook(sl, info)
    extra = {k: v for k, v in info["extra"].items() if v}
    extra["swift_type"], extra["mark"] = sl.type_code, sl.mark
    if sl.funds_code:
        extra["funds_code"] = sl.funds_code
    if sl.supplementary:
        extra["supplementary_details"] = sl.supplementary
    cref = sl.customer_reference
    if cref in (None, "NONREF", "KREF+") and info.get("customer_reference"):
        cref = info["customer_reference"]  # the German KREF+ keyword in :86:
    get = info.get
    return BankLine(
        booking_date=sl.entry_date or sl.value_date, currency=currency,
        amount_minor=sl.sign * amount_minor(sl.amount, currency, line_no),
        value_date=sl.value_date, bank_reference=sl.bank_reference,
        end_to_end_reference=get("end_to_end_reference"), customer_reference=cref,
        transaction_code=get("transaction_code") or sl.type_code,
        counterparty_name=get("counterparty_name"), counterparty_account=get("counterparty_account"),
        counterparty_bic=get("counterparty_bic"), remittance=get("remittance"),
        creditor_reference=get("creditor_reference"),
        creditor_reference_type=get("creditor_reference_type"),
        is_reversal=sl.mark in ("RC", "RD"), raw=raw, extra=extra,
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
