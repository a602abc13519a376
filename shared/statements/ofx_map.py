"""OFX mapping: element tree -> canonical ``Statement`` / ``BankLine`` (see ``ofx`` for the rules).

``make_line`` is the hot path: the usual transaction (plain amount, dates seen before) is read
with integer arithmetic and small caches; anything else goes through ``_checked``, the exact
reference, which also words every refusal. ``tree_statements`` reads a whole document through the
``ofx_tree`` element tree (the fallback of the streaming reader, and its reference in tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields
from datetime import date
from decimal import Decimal

from shared.errors import ParseError
from shared.money import exponent, to_minor
from shared.statements.model import Balance, BalanceType, BankLine, SourceFormat, Statement
from shared.statements.ofx_tree import RESPONSE_TAGS, STATEMENT_TAGS, Node, parse_tree

_MAX_MINOR = 2**63  # amounts are stored as signed 64-bit minor units
_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")
# Amounts this short are exact in Decimal's 28 digits and far below 2**63 once scaled.
_PLAIN_AMOUNT = re.compile(r"([+-]?)([0-9]{0,14})(?:[.,]([0-9]{0,9}))?")
_TWO_DECIMALS = re.compile(r"[+-]?[0-9]{1,14}\.[0-9]{2}")
_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})(?:[0-9.:]*)(?:\[[^\]]*\])?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DAYS: dict[str, date] = {}  # OFX datetime text -> calendar date, for the fast path
_ISO: dict[date, str] = {}  # date -> its ISO text
_EXPONENT: dict[str, int] = {}  # currency -> minor-unit digits
_POSITIONAL = tuple(f.name for f in fields(BankLine)) == (
    "booking_date", "amount_minor", "currency", "value_date", "bank_reference", "end_to_end_reference",
    "customer_reference", "transaction_code", "counterparty_name", "counterparty_account", "counterparty_bic",
    "remittance", "creditor_reference", "creditor_reference_type", "is_reversal", "raw", "extra",
)  # BankLine's field order as this module was written for; keywords otherwise
# Leaves that feed a value date, a customer reference or ``extra`` besides DTUSER.
_RARE = frozenset({"DTAVAIL", "VALUEDATE", "CHECKNUM", "REFNUM", "SIC", "CORRECTFITID", "CORRECTACTION"})


class _Slow(Exception):
    """The fast path cannot vouch for this input: take the reference path."""


def parse_date(raw: str, what: str) -> date | None:
    """The calendar date of an OFX datetime (``YYYYMMDD[HHMMSS[.XXX]][[TZ]]``); None when empty."""
    if not raw:
        return None
    m = _DATE.fullmatch(raw)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        pass
    raise ParseError(f"{what}: not an OFX date: {raw[:40]!r}", code="INGEST_OFX_BAD_DATE")


def parse_minor(raw: str, currency: str, what: str) -> int:
    """Exact minor units of an OFX amount (``-12.30``, ``+0012.3``, ``12,30``); never a float."""
    if not _AMOUNT.fullmatch(raw):
        raise ParseError(f"{what}: not an amount: {raw[:40]!r}", code="INGEST_BAD_AMOUNT")
    try:
        minor = to_minor(raw.replace(",", "."), currency)
    except ParseError as exc:
        raise ParseError(f"{what}: {exc.message}", code=exc.code) from exc
    if abs(minor) >= _MAX_MINOR:
        raise ParseError(f"{what}: amount {raw[:40]!r} is out of range", code="INGEST_BAD_AMOUNT")
    return minor


def _day(raw: str) -> date | None:
    """``parse_date`` for the fast path: cached; raises ``_Slow`` where the reference would refuse."""
    day = _DAYS.get(raw)
    if day is not None or not raw:
        return day
    m = _DATE.fullmatch(raw)
    if m is None:
        raise _Slow
    try:
        day = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise _Slow from None
    if len(_DAYS) >= 4096:
        _DAYS.clear()
    _DAYS[raw] = day
    return day


def _iso(day: date) -> str:
    if len(_ISO) >= 4096:
        _ISO.clear()
    text = _ISO[day] = day.isoformat()
    return text


def _plain_minor(raw: str, currency: str) -> int:
    """``parse_minor`` for short plain amounts; raises ``_Slow`` for anything else."""
    exp = _EXPONENT.get(currency)
    if exp is None:
        exp = _EXPONENT[currency] = exponent(currency)
    if exp == 2 and _TWO_DECIMALS.fullmatch(raw):  # "-1234.50": the digits are the minor units
        return int(raw.replace(".", ""))
    m = _PLAIN_AMOUNT.fullmatch(raw)
    if m is None:
        raise _Slow
    sign, whole, frac = m.groups()
    if not whole and not frac:
        raise _Slow
    frac = (frac or "").rstrip("0")
    if len(frac) > exp:
        raise _Slow  # finer than the currency allows: the reference words the refusal
    minor = int(whole or "0") * 10**exp + (int(frac.ljust(exp, "0")) if frac else 0)
    return -minor if sign == "-" else minor


def status_error(node: Node) -> ParseError | None:
    """The refusal for a sign-on or statement response that failed, else None."""
    status = node.child("STATUS")
    if status is None:
        return None
    severity, code = status.value("SEVERITY").upper(), status.value("CODE")
    if severity == "ERROR" or (not severity and code not in ("", "0")):
        message = status.value("MESSAGE") or "no message"
        where = "sign-on" if node.tag == "SONRS" else f"statement request {node.value('TRNUID')}"
        return ParseError(
            f"the bank answered with an error ({where}): code {code}: {message}",
            code="INGEST_OFX_ERROR_RESPONSE",
            ofx_status=code,
        )
    return None


def check_status(ofx: Node) -> None:
    """Refuse error responses: a failed sign-on or a statement request the bank could not serve."""
    for node in ofx.iter("SONRS", *RESPONSE_TAGS):
        if (error := status_error(node)) is not None:
            raise error


def known_currency(stmt: Node) -> str | None:
    """``CURDEF`` when it is a valid code (no quirk hook needed), else None."""
    currency = stmt.value("CURDEF").upper()
    return currency if _CURRENCY.fullmatch(currency) else None


def statement_currency(stmt: Node) -> str:
    """``CURDEF``; quirk hook for an empty one (see below), refused when nothing says it."""
    currency = stmt.value("CURDEF").upper()
    if not currency:
        currency = _currency_from_lines(stmt)
    if not _CURRENCY.fullmatch(currency):
        raise ParseError(
            f"statement currency CURDEF is {currency!r}, not an ISO 4217 code",
            code="INGEST_OFX_NO_CURRENCY",
        )
    return currency


def _currency_from_lines(stmt: Node) -> str:
    """An Australian building society's OFX 1.02 export (BANKID NPBS) sends ``<CURDEF></CURDEF>``
    but tags every STMTTRN with ``<CURRENCY><CURRATE>1<CURSYM>AUD``: a CURSYM that all lines share
    at rate 1 is the account currency. Anything less certain is refused."""
    found: set[str] = set()
    for trn in stmt.iter("STMTTRN"):
        cur = trn.child("CURRENCY")
        rate = cur.value("CURRATE") if cur else ""
        if cur is None or not _AMOUNT.fullmatch(rate) or Decimal(rate.replace(",", ".")) != 1:
            return ""
        found.add(cur.value("CURSYM").upper())
    return found.pop() if len(found) == 1 else ""


def _balance(stmt: Node, tag: str, kind: BalanceType, currency: str) -> Balance | None:
    """A balance aggregate; an empty ``BALAMT`` means the bank did not say (no balance)."""
    node = stmt.child(tag)
    if node is None or not node.value("BALAMT"):
        return None
    amount = parse_minor(node.value("BALAMT"), currency, f"{tag}/BALAMT")
    return Balance(kind.value, amount, currency, parse_date(node.value("DTASOF"), f"{tag}/DTASOF"))


def make_line(leaves: dict[str, str], raw: str, currency: str, index: int, trn: Node | None) -> BankLine:
    """One ``STMTTRN`` (its leaf texts, source text and, unless read in one go, its node)."""
    get = leaves.get
    try:
        amount = _plain_minor(get("TRNAMT", ""), currency)
        booked = _day(get("DTPOSTED", ""))
        if booked is None:
            raise _Slow
        user, avail, valuedate = get("DTUSER"), get("DTAVAIL"), get("VALUEDATE")
        dtuser = _day(user) if user else None
        value = (_day(avail or "") or _day(valuedate or "") or dtuser) if avail or valuedate else dtuser
    except _Slow:
        amount, booked, dtuser, value = _checked(get, currency, index)
    if trn is None and _RARE.isdisjoint(leaves):  # the usual line: what follows, short
        extra = {"dtuser": _ISO.get(dtuser) or _iso(dtuser)} if dtuser else {}
        fitid, kind, name, memo = get("FITID") or None, get("TRNTYPE", "").upper() or None, \
            get("NAME") or None, get("MEMO") or None
        if _POSITIONAL:  # about twice as fast as keywords
            return BankLine(booked, amount, currency, value, fitid, None, None, kind, name, None, None, memo,
                            None, None, False, raw, extra)
        return BankLine(booking_date=booked, amount_minor=amount, currency=currency, value_date=value,
                        bank_reference=fitid, transaction_code=kind, counterparty_name=name, remittance=memo,
                        raw=raw, extra=extra)
    to = (trn.child("BANKACCTTO") or trn.child("CCACCTTO")) if trn else None
    checknum, refnum = get("CHECKNUM", ""), get("REFNUM", "")
    return BankLine(
        booking_date=booked,
        amount_minor=amount,
        currency=currency,
        value_date=value,
        bank_reference=get("FITID") or None,
        customer_reference=refnum or _cheque_number(checknum) or None,
        transaction_code=get("TRNTYPE", "").upper() or None,
        counterparty_name=get("NAME") or (trn.value("PAYEE", "NAME") if trn else "") or None,
        counterparty_account=(to.value("ACCTID") or None) if to else None,
        remittance=get("MEMO") or None,
        raw=raw,
        extra=_line_extra(trn, get, dtuser, to),
    )


def _checked(
    get: Callable[[str, str], str], currency: str, index: int
) -> tuple[int, date, date | None, date | None]:
    """Amount, booking date, DTUSER and value date, every check in order with its exact wording
    (the reference behind ``make_line``'s shortcuts)."""
    what = f"transaction {index} (FITID {get('FITID', '') or '-'})"
    amount_raw, posted_raw = get("TRNAMT", ""), get("DTPOSTED", "")
    for tag, text in (("TRNAMT", amount_raw), ("DTPOSTED", posted_raw)):
        if not text:
            raise ParseError(f"{what}: {tag} is missing", code="INGEST_OFX_MISSING_FIELD")
    amount = parse_minor(amount_raw, currency, what)
    booked = parse_date(posted_raw, f"{what} DTPOSTED")
    assert booked is not None  # posted_raw is not empty
    dtuser = parse_date(get("DTUSER", ""), f"{what} DTUSER")
    value = (
        parse_date(get("DTAVAIL", ""), f"{what} DTAVAIL")
        or parse_date(get("VALUEDATE", ""), f"{what} VALUEDATE")
        or dtuser
    )
    return amount, booked, dtuser, value


def _line_extra(
    trn: Node | None, get: Callable[[str], str | None], dtuser: date | None, to: Node | None
) -> dict[str, object]:
    """OFX detail with no canonical field: cheque and reference numbers, currency, corrections."""
    extra: dict[str, object] = {
        "checknum": get("CHECKNUM"),
        "refnum": get("REFNUM"),
        "dtuser": dtuser.isoformat() if dtuser else None,
        "sic": get("SIC"),
        "counterparty_bank_id": to.value("BANKID") if to else None,
        "correct_fitid": get("CORRECTFITID"),
        "correct_action": get("CORRECTACTION"),
    }
    for tag in ("CURRENCY", "ORIGCURRENCY"):
        if trn is not None and (cur := trn.child(tag)) is not None:
            extra[tag.lower()] = {"symbol": cur.value("CURSYM"), "rate": cur.value("CURRATE")}
    return {k: v for k, v in extra.items() if v}


def _cheque_number(checknum: str) -> str:
    """Suncorp (AU) and some Canadian banks write ``<CHECKNUM>0`` on every line for "no cheque"."""
    return "" if checknum.strip("0") == "" else checknum


def tree_lines(tranlist: Node | None, currency: str, text: str) -> list[BankLine]:
    """Every ``STMTTRN`` of the transaction list, with its source text cut from ``text``."""
    trns = tranlist.iter("STMTTRN") if tranlist else ()
    return [make_line(t.leaves(), text[t.start : t.end], currency, i, t) for i, t in enumerate(trns, start=1)]


def statement(
    stmt: Node,
    lines: Callable[[Node | None, str], list[BankLine]],
    header: Callable[[Node | None], str],
) -> Statement:
    """One ``STMTRS`` / ``CCSTMTRS`` as a canonical statement.

    ``lines(tranlist, currency)`` reads the transactions; ``header(tranlist)`` is the statement's
    source text without its transaction list (both supplied by the reader that holds the text).
    """
    acct = stmt.child("BANKACCTFROM") or stmt.child("CCACCTFROM")
    account = acct.value("ACCTID") if acct else ""
    if not account:
        raise ParseError(f"{stmt.tag} without an ACCTID", code="INGEST_OFX_MISSING_FIELD")
    currency = statement_currency(stmt)
    tranlist = stmt.child("BANKTRANLIST")
    closing = _balance(stmt, "LEDGERBAL", BalanceType.CLBD, currency)
    available = _balance(stmt, "AVAILBAL", BalanceType.CLAV, currency)
    read = lines(tranlist, currency)
    to_date = parse_date(tranlist.value("DTEND"), "DTEND") if tranlist else None
    raw_header = header(tranlist)
    return Statement(
        source_format=SourceFormat.OFX,
        account=account,
        currency=currency,
        statement_date=(closing.date if closing else None) or to_date,
        from_date=parse_date(tranlist.value("DTSTART"), "DTSTART") if tranlist else None,
        to_date=to_date,
        closing=closing,
        balances=[b for b in (closing, available) if b is not None],
        lines=read,
        raw_header=raw_header,
    )


def tree_statement(stmt: Node, text: str) -> Statement:
    """``statement`` for a node of a whole-document tree over ``text``."""

    def header(tranlist: Node | None) -> str:
        if tranlist is None:
            return text[stmt.start : stmt.end]
        return text[stmt.start : tranlist.start] + text[tranlist.end : stmt.end]

    return statement(stmt, lambda tranlist, currency: tree_lines(tranlist, currency, text), header)


def tree_statements(text: str) -> list[Statement]:
    """All statements of an OFX document held in ``text``, read through a whole-document tree."""
    ofx = parse_tree(text)
    check_status(ofx)
    stmts = list(ofx.iter(*STATEMENT_TAGS))
    if not stmts:
        raise no_statement(any(ofx.iter("INVSTMTRS")))
    return [tree_statement(s, text) for s in stmts]


def no_statement(investment: bool) -> ParseError:
    found = "an investment statement" if investment else "no statement"
    return ParseError(
        f"no bank or credit-card statement in this OFX file ({found})",
        code="INGEST_OFX_NO_BANK_STATEMENT",
    )
