"""SWIFT MT940 / MT942 bank statements -> canonical :class:`Statement`, one statement at a time.

Our own line tokenizer (:mod:`shared.statements.mt940_read`), not ``mt940`` (mt-940)'s: the
library reads the whole file into one structure, silently "fixes" February 30 and chokes on real
files (ASN / SNS second :61: lines, a statement number wrapped over two lines). The file is read
twice as a stream: once to choose the encoding, once line by line; only the statement being read
is held in memory.

Refusals (``ParseError`` codes): ``INGEST_MT940_NO_STATEMENT``, ``INGEST_MT940_MISSING_TAG``,
``INGEST_MT940_TRUNCATED`` (no closing balance in an MT940, an unclosed ``{4:`` block, a last line
cut short), ``INGEST_MT940_BAD_LINE``, ``INGEST_MT940_BAD_BALANCE``, ``INGEST_BAD_DATE``,
``INGEST_BAD_AMOUNT``. A file is imported whole or not at all by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from shared.errors import ParseError
from shared.statements.model import Balance, BankLine, SourceFormat, Statement
from shared.statements.mt940_details import account_token, is_bic
from shared.statements.mt940_line import amount_minor, build_line, yymmdd
from shared.statements.mt940_read import BAL as _BAL
from shared.statements.mt940_read import BALANCE_TYPE as _BALANCE_TYPE
from shared.statements.mt940_read import CLOSING as _CLOSING
from shared.statements.mt940_read import Field as _Field
from shared.statements.mt940_read import Raw as _Raw
from shared.statements.mt940_read import read as _read

_OPENING = frozenset({"60", "60F", "60M"})
_UNIQUE = {"20": "20", "21": "21", "25": "25", "25P": "25", "28": "28", "28C": "28",
           "13": "13", "13D": "13"}
_FLOOR = re.compile(r"([A-Z]{3})[CD]?(\d+(?:,\d*)?|,\d+)")
_SUMS = re.compile(r"(\d+)([A-Z]{3})(\d+(?:,\d*)?|,\d+)")
_DATETIME = re.compile(r"(\d{6})(\d{4})(?:[+-]\d{4})?")
_BIC_PREFIX = re.compile(r"([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)/(.+)")
_IDENT_20 = re.compile(rb"(?:^|\{4:)[ \t\r\n]*:20:", re.M)
_IDENT_MORE = re.compile(rb"^:(?:25P?|28C?|60[FM]|61|34F|13D?):", re.M)
# A fragment (a lone balance or :61: line, no :20:) is still MT940 to a person: claiming it lets the
# parser say precisely what is missing instead of "unknown format".
_IDENT_FRAGMENT = re.compile(rb":(?:20|25P?|28C?|60[FM]|61|62[FM]|64|65|86|NS):")


def _fail(code: str, message: str, line: int | None = None) -> ParseError:
    where = f"line {line}: " if line else ""
    return ParseError(where + message, code=code, line=line)


class Mt940Parser:
    """SWIFT MT940 customer statements and MT942 interim reports."""

    name = "mt940"

    def identify(self, head: bytes) -> bool:
        """A ``:20:`` tag at a line start (or after ``{4:``) plus a ``:25:``/``:28C:``/``:61:``...

        XML, OFX and CSV never have those at the start of a line.
        """
        try:
            text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
            if text.startswith(b"<") or b"OFXHEADER" in text[:1024]:
                return False
            if _IDENT_20.search(text) and _IDENT_MORE.search(text):
                return True
            return bool(_IDENT_FRAGMENT.match(text))  # the file starts with an MT940 tag
        except Exception:  # identify must never raise
            return False

    def parse(self, path: Path) -> Iterator[Statement]:
        """Yield the statements of the file in order; raise ``ParseError`` on anything unsure."""
        found = False
        for raw in _read(Path(path)):
            found = True
            yield _build(raw)
        if not found:
            raise _fail("INGEST_MT940_NO_STATEMENT", "no MT940/MT942 statement in the file")


# --------------------------------------------------------------------------- interpretation


class _Parts:
    """The fields of one statement sorted by role."""

    def __init__(self, raw: _Raw) -> None:
        self.header: dict[str, _Field] = {}
        self.multi: list[_Field] = []  # 34F (twice in MT942), 90D, 90C
        self.balances: list[_Field] = []
        self.entries: list[tuple[_Field, list[_Field], list[_Field]]] = []
        self.info: list[_Field] = []  # statement-level :86: / :NS:
        closed = False
        cur: tuple[_Field, list[_Field], list[_Field]] | None = None  # the open entry
        for f in raw.fields:
            tag = f.tag
            if tag == "86" or tag == "NS":
                if cur is not None:
                    (cur[1] if tag == "86" else cur[2]).append(f)
                else:
                    self.info.append(f)
            elif tag == "61":
                if closed:
                    raise _fail("INGEST_MT940_BAD_LINE", ":61: after the closing balance", f.line_no)
                cur = (f, [], [])
                self.entries.append(cur)
            elif tag in _BALANCE_TYPE:
                self.balances.append(f)
                if tag in _CLOSING:
                    closed, cur = True, None
            elif tag in _UNIQUE:
                key = _UNIQUE[tag]
                if key in self.header:
                    raise _fail("INGEST_MT940_BAD_LINE", f"a second :{tag}: field", f.line_no)
                self.header[key] = f
            else:
                self.multi.append(f)

    def value(self, key: str) -> str | None:
        f = self.header.get(key)
        return "".join(x.strip() for x in f.lines) if f else None


def _build(raw: _Raw) -> Statement:
    parts = _Parts(raw)
    if raw.cut:
        raise _fail("INGEST_MT940_TRUNCATED", f"statement cut off: {raw.cut}", raw.line_no)
    stmt_id = parts.value("20")
    if not stmt_id:
        raise _fail("INGEST_MT940_MISSING_TAG", "statement without :20: reference", raw.line_no)
    openings = [f for f in parts.balances if f.tag in _OPENING]
    closings = [f for f in parts.balances if f.tag in _CLOSING]
    for found in (openings, closings):
        if len(found) > 1:
            raise _fail("INGEST_MT940_BAD_LINE", "two opening or closing balances", found[1].line_no)
    hint = raw.mt942_hint or "13" in parts.header
    is_942 = raw.msg_type == "942" or (hint and not openings and not closings)
    if not is_942:
        if not closings:
            raise _fail("INGEST_MT940_TRUNCATED", f"statement {stmt_id!r} has no closing balance "
                        "(:62F:/:62M:)", raw.line_no)
        if not openings:
            raise _fail("INGEST_MT940_MISSING_TAG", f"statement {stmt_id!r} has no opening "
                        "balance (:60F:/:60M:)", raw.line_no)
    elif raw.closed_by == "eof" and not any(f.tag in ("90D", "90C") for f in parts.multi):
        raise _fail("INGEST_MT940_TRUNCATED", "MT942 ends without :90D:/:90C: or an end mark",
                    raw.line_no)
    account_field = parts.value("25")
    if not account_field:
        raise _fail("INGEST_MT940_MISSING_TAG", f"statement {stmt_id!r} has no :25: account",
                    raw.line_no)
    currency = _currency(parts, account_field)
    balances = [_balance(f, currency) for f in parts.balances]
    by_field = dict(zip((id(f) for f in parts.balances), balances, strict=True))
    opening = by_field[id(openings[0])] if openings else None
    closing = by_field[id(closings[0])] if closings else None
    account, bic = _account(account_field, currency)
    return Statement(
        source_format=SourceFormat.MT942 if is_942 else SourceFormat.MT940,
        account=account, currency=currency, statement_id=stmt_id, sequence=parts.value("28"),
        statement_date=closing.date if closing else _report_date(parts),
        from_date=opening.date if opening else None, to_date=closing.date if closing else None,
        opening=opening, closing=closing, balances=balances,
        lines=_lines(parts.entries, currency),
        servicer_bic=bic,
        raw_header="\n".join(f.text() for f in (*parts.header.values(), *parts.multi, *parts.info)),
    )


def _currency(parts: _Parts, account_field: str) -> str:
    """The statement currency: from the balances (all must agree), the floor limit, or :25:."""
    found: dict[str, int] = {}
    for f in parts.balances:
        m = _BAL.fullmatch("".join(x.strip() for x in f.lines))
        if m is None:
            raise _fail("INGEST_MT940_BAD_BALANCE", f"not a balance: {f.text()[:60]!r}", f.line_no)
        if m[3]:
            found.setdefault(m[3], f.line_no)
    for f in parts.multi:
        m = (_FLOOR if f.tag == "34F" else _SUMS).fullmatch("".join(x.strip() for x in f.lines))
        if m is None:
            raise _fail("INGEST_MT940_BAD_LINE", f"malformed {f.text()[:60]!r}", f.line_no)
        found.setdefault(m[1] if f.tag == "34F" else m[2], f.line_no)
    if len(found) > 1:
        raise _fail("INGEST_MT940_BAD_BALANCE", f"mixed currencies {sorted(found)}",
                    max(found.values()))
    if found:
        return next(iter(found))
    tail = re.search(r"[^A-Z]\s*/?([A-Z]{3})$", account_field)
    if tail:
        return tail[1]
    raise _fail("INGEST_MT940_MISSING_TAG", "no currency in any balance or :25:", None)


def _balance(field: _Field, currency: str) -> Balance:
    m = _BAL.fullmatch("".join(x.strip() for x in field.lines))
    assert m is not None  # checked in _currency
    try:
        when = yymmdd(m[2])
    except ParseError as exc:
        raise _fail("INGEST_BAD_DATE", exc.message, field.line_no) from exc
    amount = amount_minor(m[4], currency, field.line_no)
    return Balance(type=_BALANCE_TYPE[field.tag], amount_minor=-amount if m[1] == "D" else amount,
                   currency=currency, date=when)


def _report_date(parts: _Parts) -> date | None:
    """MT942: the date of the :13D: date-time indication."""
    value = parts.value("13")
    if not value:
        return None
    m = _DATETIME.fullmatch(value)
    if m is None:
        raise _fail("INGEST_MT940_BAD_LINE", f"malformed :13D: {value!r}", parts.header["13"].line_no)
    try:
        return yymmdd(m[1])
    except ParseError as exc:
        raise _fail("INGEST_BAD_DATE", exc.message, parts.header["13"].line_no) from exc


def _account(value: str, currency: str) -> tuple[str, str | None]:
    """``:25:`` without a BIC prefix (``DEUTDEFF/123``), a trailing currency or IBAN spaces."""
    bic = None
    m = _BIC_PREFIX.fullmatch(value)
    if m and is_bic(m[1]):
        bic, value = m[1], m[2]
    trimmed = re.sub(rf"(?<=[0-9 /]){currency}$", "", value).rstrip(" /")
    value = trimmed or value
    compact = account_token(value) if " " in value else None
    return compact or value, bic


def _lines(entries: list[tuple[_Field, list[_Field], list[_Field]]], currency: str) -> list[BankLine]:
    out = []
    nl = "\n"
    for f61, f86, fns in entries:
        if len(f86) == 1 and not fns:  # the common case: one :86:
            lines61, details = f61.lines, f86[0].lines
            raw = f":61:{nl.join(lines61)}\n:86:{nl.join(details)}"
            out.append(build_line(lines61, f61.line_no, [details], [], currency, raw))
        else:
            out.append(_line(f61, f86, fns, currency))
    return out


def _line(f61: _Field, f86: list[_Field], fns: list[_Field], currency: str) -> BankLine:
    raw = f61.text() if not (f86 or fns) else "\n".join([f.text() for f in (f61, *f86, *fns)])
    return build_line(f61.lines, f61.line_no, [f.lines for f in f86],
                      [x for f in fns for x in f.lines], currency, raw)
