"""OFX 1.x (SGML) and 2.x (XML) bank and credit-card statements.

Why our own reader rather than ``ofxparse``: ofxparse runs BeautifulSoup over the whole file (about
2,000 lines/s), converts posting times to UTC (which moves a 20:00 EST booking to the next calendar
day) and raises on files banks really send (an OFX 1.02 file with empty tags, an empty balance).
OFX is simple enough to read directly: tags, text, and in SGML optional closing tags for leaf
elements. A small tokenizer builds the element tree in one regex pass (tens of times faster); the
tests use ofxparse as a cross-check on the corpus.

Mapping (one ``Statement`` per ``STMTRS`` / ``CCSTMTRS``):

- account = ``ACCTID`` as sent. ``BANKID`` / ``BRANCHID`` / ``ACCTTYPE`` are routing data, not
  part of the account number an AR team configures (and not a BIC): they stay in ``raw_header``,
  the statement's source text without its transaction list.
- currency = ``CURDEF``; dates: ``DTSTART`` -> from_date, ``DTEND`` -> to_date, statement_date =
  the ledger balance's ``DTASOF`` (else ``DTEND``). Dates are the bank's local calendar date (the
  first 8 digits); the time and time zone are ignored on purpose.
- ``LEDGERBAL`` -> closing (CLBD), ``AVAILBAL`` -> CLAV. OFX has no opening balance: ``opening`` is
  ``None``, so the balance integrity check does not apply.
- each ``STMTTRN``: ``DTPOSTED`` -> booking_date; value_date = ``DTAVAIL`` (the spec's "funds
  available", the closest thing to a value date), else the non-standard ``VALUEDATE``, else
  ``DTUSER``; ``TRNAMT`` -> amount_minor (exact); ``FITID`` -> bank_reference; ``TRNTYPE`` ->
  transaction_code; ``NAME`` / ``PAYEE.NAME`` -> counterparty_name; ``MEMO`` -> remittance;
  ``REFNUM`` / ``CHECKNUM`` -> customer_reference; ``BANKACCTTO``/``CCACCTTO`` ``ACCTID`` ->
  counterparty_account. ``extra`` keeps checknum, refnum, dtuser, counterparty bank id, the
  ``CURRENCY``/``ORIGCURRENCY`` aggregate and correction fields. ``TRNAMT`` is taken in the
  statement currency (as ofxparse and most importers do).

Refusals (``ParseError``): ``INGEST_OFX_ERROR_RESPONSE`` (sign-on or statement response with
severity ERROR), ``INGEST_OFX_NO_BANK_STATEMENT`` (sign-on only, account listings, investment
statements; a bank statement beside an investment one is read), ``INGEST_OFX_MALFORMED``,
``INGEST_OFX_TRUNCATED``, ``INGEST_OFX_MISSING_FIELD``, ``INGEST_OFX_BAD_DATE``,
``INGEST_OFX_NO_CURRENCY``, ``INGEST_BAD_AMOUNT`` (also for amounts beyond 64-bit minor units).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.errors import ParseError
from shared.money import to_minor
from shared.statements.base import decode_text
from shared.statements.model import Balance, BalanceType, BankLine, SourceFormat, Statement

_MAX_DEPTH = 64  # real OFX nests about 10 deep; the cap keeps hostile input cheap
_MAX_MINOR = 2**63  # amounts are stored as signed 64-bit minor units
_STATEMENT_TAGS = ("STMTRS", "CCSTMTRS")
_RESPONSE_TAGS = ("STMTTRNRS", "CCSTMTTRNRS")

_TOKEN = re.compile(
    r"<!\[CDATA\[(?P<cdata>.*?)\]\]>"  # XML CDATA section (Suncorp wraps NAME/MEMO in it)
    r"|<!--.*?-->|<[?!][^<>]*>"  # comments, processing instructions, declarations: skipped
    r"|<(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9._]*)(?:\s[^<>]*?)?(?P<empty>/)?>"
    r"|(?P<bad><[^<>]*>)"
    r"|(?P<text>[^<]+|<)",  # a lone '<' with no '>' before the next tag is kept as text
    re.S,
)
_OFX_START = re.compile(r"<OFX(?:\s[^<>]*)?>", re.I)
_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")
_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})(?:[0-9.:]*)(?:\[[^\]]*\])?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_XML_PROLOG = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*|<!--.*?-->\s*)*", re.S | re.I)
_SGML_HEADER = re.compile(rb"\s*OFXHEADER\s*:\s*\d", re.I)
_XML_OFX = re.compile(rb"<\?OFX\s|<OFX\s*>", re.I)


@dataclass(slots=True, eq=False)
class _Node:
    """One OFX element: a leaf has ``text`` (possibly empty), an aggregate has ``children``."""

    tag: str
    start: int
    end: int = -1
    text: str | None = None
    children: list[_Node] = field(default_factory=list)

    def child(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def value(self, *path: str) -> str:
        """Stripped text of the leaf at ``path`` below this node; ``""`` when absent or empty."""
        node: _Node | None = self
        for tag in path:
            node = node.child(tag) if node else None
        return (node.text or "").strip() if node else ""

    def leaves(self) -> dict[str, str]:
        """Stripped text of each direct leaf child by tag (the first one wins)."""
        return {c.tag: (c.text or "").strip() for c in reversed(self.children) if not c.children}

    def iter(self, *tags: str) -> Iterator[_Node]:
        """Descendants with one of ``tags`` in document order, not looking inside a match.

        Iterative, so hostile nesting cannot hit the recursion limit.
        """
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if node.tag in tags:
                yield node
            else:
                stack.extend(reversed(node.children))


def _malformed(message: str) -> ParseError:
    return ParseError(message, code="INGEST_OFX_MALFORMED")


def _close(stack: list[_Node], tag: str, pos: int) -> _Node:
    """Close ``tag``; SGML leaves left open in between become empty and hand back any children."""
    idx = next((i for i in range(len(stack) - 1, 0, -1) if stack[i].tag == tag), None)
    if idx is None:
        raise _malformed(f"closing tag </{tag}> at offset {pos} has no opening tag")
    while len(stack) > idx + 1:
        orphan = stack.pop()
        orphan.end = pos
        if orphan.text is None:
            # '<BRANCHID><ACCTID>1' in SGML: BRANCHID was an empty leaf, ACCTID its sibling.
            orphan.text, kids, orphan.children = "", orphan.children, []
            stack[-1].children.extend(kids)
    return stack.pop()


def parse_tree(text: str) -> _Node:
    """Element tree of the ``<OFX>`` document in ``text`` (SGML or XML; tag names uppercased)."""
    found = _OFX_START.search(text)
    if not found:
        raise _malformed("no <OFX> element")
    root = _Node("#document", 0)
    stack = [root]
    pending: list[str] = []  # text since the last tag
    for m in _TOKEN.finditer(text, found.start()):
        cdata, close, tag, plain, empty = m.group("cdata", "close", "tag", "text", "empty")
        if plain is not None:
            pending.append(html.unescape(plain))
            continue
        if cdata is not None:
            pending.append(cdata)
            continue
        if tag is None:
            if m.group("bad"):
                raise _malformed(f"bad tag {m[0][:20]!r} at offset {m.start()}")
            continue  # comment / processing instruction
        closed_leaf = _take_text(stack, pending, m.start()) if pending else None
        pending = []
        name = tag.upper()
        if close:
            if closed_leaf is None or closed_leaf.tag != name:
                closed_leaf = _close(stack, name, m.start())
            closed_leaf.end = m.end()
            if len(stack) == 1:
                break  # </OFX>: whatever follows is not ours
        else:
            if len(stack) > _MAX_DEPTH:
                raise _malformed(f"elements nested deeper than {_MAX_DEPTH}")
            node = _Node(name, m.start())
            stack[-1].children.append(node)
            if empty:  # XML <MEMO/>
                node.text, node.end = "", m.end()
            else:
                stack.append(node)
    else:
        raise ParseError("the file ends before </OFX>", code="INGEST_OFX_TRUNCATED")
    return root.children[0]


def _take_text(stack: list[_Node], pending: list[str], pos: int) -> _Node | None:
    """Give pending text to the open element; a text-bearing element is a leaf and closes now."""
    content = "".join(pending)
    if not content.strip():
        return None
    top = stack[-1]
    if len(stack) == 1 or top.children or top.text is not None:
        raise _malformed(f"text {content.strip()[:30]!r} outside a leaf element at offset {pos}")
    top.text = content
    top.end = pos
    stack.pop()
    return top


def _date(raw: str, what: str) -> date | None:
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


def _minor(raw: str, currency: str, what: str) -> int:
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


def _check_status(ofx: _Node) -> None:
    """Refuse error responses: a failed sign-on or a statement request the bank could not serve."""
    for node in ofx.iter("SONRS", *_RESPONSE_TAGS):
        status = node.child("STATUS")
        if status is None:
            continue
        severity, code = status.value("SEVERITY").upper(), status.value("CODE")
        if severity == "ERROR" or (not severity and code not in ("", "0")):
            message = status.value("MESSAGE") or "no message"
            where = "sign-on" if node.tag == "SONRS" else f"statement request {node.value('TRNUID')}"
            raise ParseError(
                f"the bank answered with an error ({where}): code {code}: {message}",
                code="INGEST_OFX_ERROR_RESPONSE",
                ofx_status=code,
            )


def _statement_currency(stmt: _Node) -> str:
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


def _currency_from_lines(stmt: _Node) -> str:
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


def _balance(stmt: _Node, tag: str, kind: BalanceType, currency: str) -> Balance | None:
    """A balance aggregate; an empty ``BALAMT`` means the bank did not say (no balance)."""
    node = stmt.child(tag)
    if node is None or not node.value("BALAMT"):
        return None
    amount = _minor(node.value("BALAMT"), currency, f"{tag}/BALAMT")
    return Balance(kind.value, amount, currency, _date(node.value("DTASOF"), f"{tag}/DTASOF"))


def _line(trn: _Node, currency: str, text: str, index: int) -> BankLine:
    """One ``STMTTRN`` as a canonical bank line."""
    get = trn.leaves().get
    what = f"transaction {index} (FITID {get('FITID') or '-'})"
    amount_raw, posted_raw = get("TRNAMT", ""), get("DTPOSTED", "")
    for tag, raw in (("TRNAMT", amount_raw), ("DTPOSTED", posted_raw)):
        if not raw:
            raise ParseError(f"{what}: {tag} is missing", code="INGEST_OFX_MISSING_FIELD")
    amount = _minor(amount_raw, currency, what)
    booked = _date(posted_raw, f"{what} DTPOSTED")
    assert booked is not None  # posted_raw is not empty
    dtuser = _date(get("DTUSER", ""), f"{what} DTUSER")
    value = (
        _date(get("DTAVAIL", ""), f"{what} DTAVAIL")
        or _date(get("VALUEDATE", ""), f"{what} VALUEDATE")
        or dtuser
    )
    to = trn.child("BANKACCTTO") or trn.child("CCACCTTO")
    checknum, refnum = get("CHECKNUM", ""), get("REFNUM", "")
    return BankLine(
        booking_date=booked,
        amount_minor=amount,
        currency=currency,
        value_date=value,
        bank_reference=get("FITID") or None,
        customer_reference=refnum or _cheque_number(checknum) or None,
        transaction_code=get("TRNTYPE", "").upper() or None,
        counterparty_name=get("NAME") or trn.value("PAYEE", "NAME") or None,
        counterparty_account=(to.value("ACCTID") or None) if to else None,
        remittance=get("MEMO") or None,
        raw=text[trn.start : trn.end],
        extra=_line_extra(trn, get, dtuser, to),
    )


def _line_extra(
    trn: _Node, get: Callable[[str], str | None], dtuser: date | None, to: _Node | None
) -> dict[str, Any]:
    """OFX detail with no canonical field: cheque and reference numbers, currency, corrections."""
    extra: dict[str, Any] = {
        "checknum": get("CHECKNUM"),
        "refnum": get("REFNUM"),
        "dtuser": dtuser.isoformat() if dtuser else None,
        "sic": get("SIC"),
        "counterparty_bank_id": to.value("BANKID") if to else None,
        "correct_fitid": get("CORRECTFITID"),
        "correct_action": get("CORRECTACTION"),
    }
    for tag in ("CURRENCY", "ORIGCURRENCY"):
        if (cur := trn.child(tag)) is not None:
            extra[tag.lower()] = {"symbol": cur.value("CURSYM"), "rate": cur.value("CURRATE")}
    return {k: v for k, v in extra.items() if v}


def _cheque_number(checknum: str) -> str:
    """Suncorp (AU) and some Canadian banks write ``<CHECKNUM>0`` on every line for "no cheque"."""
    return "" if checknum.strip("0") == "" else checknum


def _statement(stmt: _Node, text: str) -> Statement:
    """One ``STMTRS`` / ``CCSTMTRS`` as a canonical statement."""
    acct = stmt.child("BANKACCTFROM") or stmt.child("CCACCTFROM")
    account = acct.value("ACCTID") if acct else ""
    if not account:
        raise ParseError(f"{stmt.tag} without an ACCTID", code="INGEST_OFX_MISSING_FIELD")
    currency = _statement_currency(stmt)
    tranlist = stmt.child("BANKTRANLIST")
    closing = _balance(stmt, "LEDGERBAL", BalanceType.CLBD, currency)
    available = _balance(stmt, "AVAILBAL", BalanceType.CLAV, currency)
    lines = [
        _line(trn, currency, text, i)
        for i, trn in enumerate(tranlist.iter("STMTTRN") if tranlist else (), start=1)
    ]
    to_date = _date(tranlist.value("DTEND"), "DTEND") if tranlist else None
    header = text[stmt.start : stmt.end]
    if tranlist is not None:
        header = text[stmt.start : tranlist.start] + text[tranlist.end : stmt.end]
    return Statement(
        source_format=SourceFormat.OFX,
        account=account,
        currency=currency,
        statement_date=(closing.date if closing else None) or to_date,
        from_date=_date(tranlist.value("DTSTART"), "DTSTART") if tranlist else None,
        to_date=to_date,
        closing=closing,
        balances=[b for b in (closing, available) if b is not None],
        lines=lines,
        raw_header=header,
    )


class OfxParser:
    """OFX 1.x SGML and 2.x XML bank / credit-card statements (investment statements refused)."""

    name = "ofx"

    def identify(self, head: bytes) -> bool:
        """An ``OFXHEADER:`` header, an ``<?OFX ...?>`` instruction, or an ``<OFX>`` root element."""
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        if _SGML_HEADER.match(head):
            return True
        prolog = _XML_PROLOG.match(head)
        rest = head[prolog.end() if prolog else 0 :]
        return _XML_OFX.match(rest) is not None

    def parse(self, path: Path) -> Iterator[Statement]:
        """Every bank and credit-card statement in the file, in document order."""
        return iter(parse_bytes(path.read_bytes()))


def parse_bytes(data: bytes) -> list[Statement]:
    """All statements of an OFX file's bytes (UTF-8, else Windows-1252)."""
    return parse_text(decode_text(data))


def parse_text(text: str) -> list[Statement]:
    """All statements of an OFX document held in ``text`` (all or nothing: errors raise)."""
    ofx = parse_tree(text)
    _check_status(ofx)
    stmts = list(ofx.iter(*_STATEMENT_TAGS))
    if not stmts:
        found = "an investment statement" if any(ofx.iter("INVSTMTRS")) else "no statement"
        raise ParseError(
            f"no bank or credit-card statement in this OFX file ({found})",
            code="INGEST_OFX_NO_BANK_STATEMENT",
        )
    return [_statement(s, text) for s in stmts]
