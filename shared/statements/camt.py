"""ISO 20022 camt.052 / camt.053 / camt.054 (every ``.001.xx`` version) -> canonical statements.

One :class:`Statement` per ``Rpt`` (052), ``Stmt`` (053) or ``Ntfctn`` (054), source format by
namespace. Elements are read by local name, so every version and any wrapper (``BizMsgEnvlp``,
``AppHdr`` + ``Document``, a bank's own envelope) works.

Streaming: lxml ``iterparse`` hands over each ``Ntry`` as it completes; it becomes bank lines and
is cleared at once, so memory follows one statement's lines, not the file size. Entries are read
from their serialization where they fit the patterns of ``camt_fast`` (most do), else element by
element (``camt_entries``); both readers feed the same rules (``camt_lines``).

Safety: any DOCTYPE is refused before parsing (prolog check) and again by the parser (no DTD is
loaded, no entity resolved, no network, no huge trees). Entity bombs and external entities raise
:class:`HostileInputError` ``INGEST_HOSTILE_XML``; broken XML ``INGEST_XML_MALFORMED``.

Decisions (documented for users of the lines):
- Amounts are exact: ``18.150 EUR`` is 18.15; ``18.155 EUR`` is refused (``INGEST_BAD_AMOUNT``).
- Opening balance: OPBD, else PRCD; closing: CLBD; every balance is kept in ``balances``.
  Balance types outside OPBD/CLBD/PRCD/ITBD/CLAV/OPAV/FWAV/ITAV are kept as ``OTHER``.
- Statement date: the CLBD date, else the to-date, else the creation date.
- Entry status: see ``camt_entries.KEEP_STATUSES`` (053 booked only; 052/054 booked + pending).
- Batch entries: one line per ``TxDtls``; amounts must add up to the booked entry
  (``INGEST_CAMT_BATCH_MISMATCH``), unless no detail carries an amount (then one line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO

from lxml import etree

from shared.errors import HostileInputError, ParseError
from shared.statements.camt_entries import EntryContext, entry_lines
from shared.statements.camt_xml import (
    RAW_LIMIT,
    Element,
    Xml,
    direction,
    local_name,
    namespace_of,
    parse_currency,
    parse_date,
    raw_xml,
)
from shared.statements.model import Balance, BalanceType, BankLine, SourceFormat, Statement

_HEAD_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.001\.\d")
_MSG_DEF_RE = re.compile(r"<(?:[\w.-]+:)?MsgDefIdr>\s*camt\.05[234]\.001\.\d")
_KIND_RE = re.compile(r"camt\.(05[234])\.")
_KINDS = {"052": SourceFormat.CAMT052, "053": SourceFormat.CAMT053, "054": SourceFormat.CAMT054}
_RECORD_KINDS = {"Rpt": SourceFormat.CAMT052, "Stmt": SourceFormat.CAMT053, "Ntfctn": SourceFormat.CAMT054}
_MESSAGES = frozenset({"BkToCstmrAcctRpt", "BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn"})
_TAGS = ("{*}Stmt", "{*}Rpt", "{*}Ntfctn", "{*}Ntry")
_SAFE_PARSER = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
    "remove_blank_text": True,
}
_PROLOG_LIMIT = 1 << 20  # a prolog (declaration, comments, PIs) longer than 1 MiB is not a bank file
_PROLOG_ITEM_RE = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_ENCODING_RE = re.compile(r"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)", re.I)
# libxml2 messages for its own safety limits: an attack, not a typo.
_HOSTILE_MARKERS = ("excessive depth", "resource limit", "huge", "amplification", "entity reference loop")
_BALANCE_TYPES = frozenset(t.value for t in BalanceType) - {"OTHER"}


class CamtParser:
    """Parser for ISO 20022 bank-to-customer cash management messages (camt.052/053/054)."""

    name = "camt"

    def identify(self, head: bytes) -> bool:
        """True for XML whose first bytes carry a camt.052/053/054 namespace (or AppHdr id)."""
        try:
            text = _decode_head(head)
        except (UnicodeError, LookupError):
            return False
        if not text.lstrip("\ufeff \t\r\n").startswith("<"):
            return False
        return bool(_HEAD_NS_RE.search(text) or _MSG_DEF_RE.search(text))

    def parse(self, path: Path) -> Iterator[Statement]:
        """Stream the statements of the camt file at ``path`` (see the module docstring)."""
        with Path(path).open("rb") as fh:
            _check_prolog(fh)
            fh.seek(0)
            try:
                yield from _stream(fh)
            except etree.XMLSyntaxError as exc:
                raise _syntax_error(exc) from None
            except ParseError:
                raise
            except (ValueError, ArithmeticError, LookupError, TypeError, AttributeError) as exc:
                # Contract: bytes in -> statements or a ParseError. Reaching this is a parser bug;
                # the generic code keeps it visible in tests (which accept only specific codes).
                raise ParseError(f"unreadable camt file: {type(exc).__name__}") from exc


def _decode_head(head: bytes) -> str:
    """Text of a file head for sniffing: UTF-16/32 by BOM or NUL pattern, else byte-transparent."""
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="ignore")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head[:2] == b"<\x00":
        return head.decode("utf-16-le", errors="ignore")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", errors="ignore")
    return head.decode("latin-1")


def _check_prolog(fh: IO[bytes]) -> None:
    """Refuse any DOCTYPE / markup declaration before the root element, without parsing."""
    text = _decode_head(fh.read(_PROLOG_LIMIT)).lstrip("\ufeff")
    pos = 0
    while match := _PROLOG_ITEM_RE.match(text, pos):
        if match.end() == pos:
            break
        pos = match.end()
    declaration = _ENCODING_RE.search(text[:pos])
    if declaration and "7" in declaration[1]:
        # UTF-7 spells "<" as "+ADw-": a DOCTYPE could hide from this check. No bank needs it.
        raise HostileInputError("UTF-7 encoded XML is refused", code="INGEST_HOSTILE_XML")
    rest = text[pos : pos + 16]
    if rest.startswith("<!--") or rest.startswith("<?"):
        raise HostileInputError("XML prolog is longer than 1 MiB", code="INGEST_HOSTILE_XML")
    if rest.startswith("<!"):
        raise HostileInputError(
            "document type declarations (DOCTYPE / ENTITY) are refused in camt files",
            code="INGEST_HOSTILE_XML",
        )


def _syntax_error(exc: etree.XMLSyntaxError) -> ParseError:
    message = str(exc)[:300]
    lowered = message.lower()
    if any(marker in lowered for marker in _HOSTILE_MARKERS):
        return HostileInputError(f"refused XML: {message}", code="INGEST_HOSTILE_XML")
    return ParseError(f"malformed XML: {message}", code="INGEST_XML_MALFORMED")


def _refuse_dtd(el: Element | None) -> None:
    """Second line of defence: the parser saw a DTD the prolog check did not."""
    if el is None:
        return
    info = el.getroottree().docinfo
    if info.internalDTD is not None or info.externalDTD is not None or info.doctype:
        raise HostileInputError("document type declaration in camt file", code="INGEST_HOSTILE_XML")


class _Record:
    """One Stmt / Rpt / Ntfctn being streamed: its header (read at the first entry) and lines."""

    __slots__ = ("ctx", "el", "header", "kind", "last", "lines", "x")

    def __init__(self, el: Element, kind: SourceFormat) -> None:
        self.el = el
        self.kind = kind
        self.x = Xml.of(namespace_of(el.tag))
        self.header: _Header | None = None
        self.ctx: EntryContext | None = None
        self.last: Element | None = None  # the entry read before, kept until the next one is read
        self.lines: list[BankLine] = []

    def ensure_header(self) -> _Header:
        if self.header is None:
            self.header = _Header(self.x, self.el)
        return self.header

    def add_entry(self, ntry: Element) -> None:
        """Read one entry, then free it and drop the one before (lxml's iterparse idiom)."""
        ctx = self.ctx
        if ctx is None:
            ctx = self.ctx = self.ensure_header().context(self.kind)
        self.lines += entry_lines(self.x, ntry, ctx)
        ntry.clear(keep_tail=False)
        if self.last is not None:
            self.el.remove(self.last)
        self.last = ntry


def _stream(fh: IO[bytes]) -> Iterator[Statement]:
    record: _Record | None = None
    seen = 0
    checked = False
    events = etree.iterparse(fh, events=("end",), tag=_TAGS, **_SAFE_PARSER)
    for _, el in events:
        if not checked:
            _refuse_dtd(el)
            checked = True
        if local_name(el.tag) == "Ntry":
            parent = el.getparent()
            if record is None or parent is not record.el:
                record = _open_record(parent)
            if record is not None:
                record.add_entry(el)
            continue
        if record is None or el is not record.el:
            record = _open_record(el)  # a record without entries
        if record is not None:
            seen += 1
            statement = _statement(record)
            record = None
            el.clear(keep_tail=False)
            _drop_previous(el)
            yield statement
    _refuse_dtd(events.root)
    if not seen:
        raise ParseError("no Stmt, Rpt or Ntfctn in the camt document", code="INGEST_CAMT_NO_STATEMENT")


def _open_record(el: Element | None) -> _Record | None:
    """A record for a Stmt / Rpt / Ntfctn element, None for anything else (e.g. a stray Ntry)."""
    if el is None:
        return None
    name = local_name(el.tag)
    if name not in _RECORD_KINDS:
        return None
    kind = _record_kind(el, name)
    return _Record(el, kind) if kind is not None else None


def _record_kind(el: Element, name: str) -> SourceFormat | None:
    """Kind of a Stmt/Rpt/Ntfctn element by its namespace, or None when it is not a camt record."""
    match = _KIND_RE.search(namespace_of(el.tag))
    if match:
        return _KINDS[match[1]]
    parent = el.getparent()
    if parent is not None and local_name(parent.tag) in _MESSAGES:
        return _RECORD_KINDS[name]  # a wrapper that strips namespaces: the element name says it
    return None


def _drop_previous(el: Element) -> None:
    parent = el.getparent()
    while parent is not None and el.getprevious() is not None:
        del parent[0]


class _Header:
    """Everything a record says before its entries: id, account, dates, balances."""

    def __init__(self, x: Xml, el: Element) -> None:
        acct = x.child(el, "Acct")
        account = x.first_text(acct, ("Id", "IBAN"), ("Id", "Othr", "Id"), ("Id", "PrtryAcct", "Id"),
                               ("Id", "BBAN"), ("Id", "UPIC"), ("Id", "DmstAcct", "Id"))
        if not account:
            raise ParseError("camt record without account id", code="INGEST_CAMT_NO_ACCOUNT")
        self.account = account
        ccy = x.text(acct, "Ccy")
        self.currency = parse_currency(ccy) if ccy else None
        self.owner = x.first_text(acct, ("Ownr", "Nm"), ("Ownr", "Pty", "Nm"))
        self.servicer_bic = x.first_text(acct, ("Svcr", "FinInstnId", "BIC"), ("Svcr", "FinInstnId", "BICFI"))
        self.statement_id = x.text(el, "Id")
        self.sequence = x.text(el, "ElctrncSeqNb") or x.text(el, "LglSeqNb")
        period = x.child(el, "FrToDt")
        self.from_date = _date_of(x.first_text(period, ("FrDtTm",), ("FrDt",)))
        self.to_date = _date_of(x.first_text(period, ("ToDtTm",), ("ToDt",)))
        self.created = _date_of(x.text(el, "CreDtTm"))
        self.balances = [_balance(x, bal, self.currency) for bal in x.children(el, "Bal")]
        closing = self.first("CLBD")
        self.statement_date = (closing.date if closing else None) or self.to_date or self.created
        self.raw = _raw_header(el)

    def first(self, *types: str) -> Balance | None:
        for wanted in types:
            for bal in self.balances:
                if bal.type == wanted:
                    return bal
        return None

    def context(self, kind: SourceFormat) -> EntryContext:
        return EntryContext(kind.value, self.currency, self.statement_date)


def _date_of(raw: str | None) -> date | None:
    return parse_date(raw) if raw else None


def _balance(x: Xml, bal: Element, account_ccy: str | None) -> Balance:
    tp = x.child(bal, "Tp")
    code = x.first_text(tp, ("CdOrPrtry", "Cd"), ("CdOrPrtry", "Prtry"), ("Cd",), ("Prtry",))
    kind = code.upper() if code and code.upper() in _BALANCE_TYPES else BalanceType.OTHER.value
    amt = x.child(bal, "Amt")
    if amt is None:
        raise ParseError(f"{kind} balance without amount", code="INGEST_CAMT_MISSING_AMOUNT")
    minor, ccy = x.amount(amt, account_ccy)
    # The Lithuanian camt-to-coda samples omit CdtDbtInd on balances: read as a credit balance.
    sign = direction(x, bal, required=False) or 1
    return Balance(type=kind, amount_minor=sign * minor, currency=ccy, date=x.date(x.child(bal, "Dt")))


def _raw_header(el: Element) -> str:
    parts: list[str] = []
    size = 0
    for child in el.iterchildren():
        if local_name(child.tag) == "Ntry":
            break
        parts.append(raw_xml(child))
        size += len(parts[-1])
        if size > RAW_LIMIT:
            break
    return "\n".join(parts)[:RAW_LIMIT]


def _statement(record: _Record) -> Statement:
    header = record.ensure_header()
    opening = header.first("OPBD", "PRCD")
    closing = header.first("CLBD")
    # Account currency, else the booked balances', else the entries', else any balance's.
    candidates = [b.currency for b in (opening, closing) if b is not None]
    candidates += [ln.currency for ln in record.lines[:1]] + [b.currency for b in header.balances]
    currency = header.currency or next(iter(candidates), None)
    if currency is None:
        raise ParseError("camt record states no currency anywhere", code="INGEST_CAMT_NO_CURRENCY")
    return Statement(
        source_format=record.kind,
        account=header.account,
        currency=currency,
        statement_id=header.statement_id,
        sequence=header.sequence,
        statement_date=header.statement_date,
        from_date=header.from_date,
        to_date=header.to_date,
        opening=opening,
        closing=closing,
        balances=header.balances,
        lines=record.lines,
        account_owner=header.owner,
        servicer_bic=header.servicer_bic,
        raw_header=header.raw,
    )
