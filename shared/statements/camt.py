"""ISO 20022 camt.052 / camt.053 / camt.054 (every ``.001.xx`` version) -> canonical statements.

One :class:`Statement` per ``Rpt`` (052), ``Stmt`` (053) or ``Ntfctn`` (054), source format by
namespace. Elements are read by local name, so every version and any wrapper (``BizMsgEnvlp``,
``AppHdr`` + ``Document``, a bank's own envelope) works.

Streaming, two readers with the same output (statements and errors, in the same order):

- the raw reader (``camt_raw``): libxml2 checks the document without building a tree while each
  entry's own text, where it is its serialization, goes to the fast reader; for files laid out
  plainly (most bank files). Where it cannot go on it falls back to
- the tree reader: lxml ``iterparse`` hands over each ``Ntry`` as it completes; it becomes bank
  lines and is cleared at once.

Memory follows one statement's lines, not the file size. Entries are read from their
serialization where they fit the patterns of ``camt_fast`` (most do), else element by element
(``camt_entries``); both feed the same rules (``camt_lines``).

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

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lxml import etree

from shared.errors import HostileInputError, ParseError
from shared.statements import camt_fast, camt_raw
from shared.statements.camt_entries import EntryContext, entry_lines
from shared.statements.camt_record import Header, statement
from shared.statements.camt_xml import (
    PARSER_OPTIONS,
    Element,
    Xml,
    local_name,
    namespace_of,
)
from shared.statements.model import BankLine, SourceFormat, Statement

_HEAD_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.001\.\d")
_MSG_DEF_RE = re.compile(r"<(?:[\w.-]+:)?MsgDefIdr>\s*camt\.05[234]\.001\.\d")
_KIND_RE = re.compile(r"camt\.(05[234])\.")
_KINDS = {"052": SourceFormat.CAMT052, "053": SourceFormat.CAMT053, "054": SourceFormat.CAMT054}
_RECORD_KINDS = {"Rpt": SourceFormat.CAMT052, "Stmt": SourceFormat.CAMT053, "Ntfctn": SourceFormat.CAMT054}
_MESSAGES = frozenset({"BkToCstmrAcctRpt", "BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn"})
_TAGS = ("{*}Stmt", "{*}Rpt", "{*}Ntfctn", "{*}Ntry")
_IN_MEMORY = 16 << 20  # a document read through _stream up to this size may take the raw reader
_SAFE_PARSER = PARSER_OPTIONS
_PROLOG_LIMIT = 1 << 20  # a prolog (declaration, comments, PIs) longer than 1 MiB is not a bank file
_PROLOG_ITEM_RE = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_ENCODING_RE = re.compile(r"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)", re.I)
# libxml2 messages for its own safety limits: an attack, not a typo.
_HOSTILE_MARKERS = ("excessive depth", "resource limit", "huge", "amplification", "entity reference loop")


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
            yield from refusals_mapped(_read(path, fh))


def parse_document(fh: IO[bytes]) -> Iterator[Statement]:
    """The statements of a camt document read from ``fh`` (e.g. a part of a file, see camt_split),
    refused as :meth:`CamtParser.parse` refuses (the caller checks the prolog of the file)."""
    yield from refusals_mapped(_stream(fh))


def refusals_mapped(statements: Iterator[Statement]) -> Iterator[Statement]:
    """``statements``, with every failure turned into the parser's :class:`ParseError`."""
    try:
        yield from statements
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
        self.header: Header | None = None
        self.ctx: EntryContext | None = None
        self.last: Element | None = None  # the entry read before, kept until the next one is read
        self.lines: list[BankLine] = []

    def ensure_header(self) -> Header:
        if self.header is None:
            self.header = Header(self.x, self.el)
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
    """The statements of the camt document read from ``fh`` (e.g. a part of a file, see camt_split).

    A document of up to :data:`_IN_MEMORY` bytes is read whole and may take the raw reader; a
    longer one goes to the tree reader, which reads it as it comes.
    """
    head = fh.read(_IN_MEMORY)
    if len(head) < _IN_MEMORY:
        yield from _read(head, io.BytesIO(head))
    else:
        yield from _stream_tree(_Joined(head, fh))


def _read(source: Path | bytes, fh: IO[bytes]) -> Iterator[Statement]:
    """The raw reader's statements of ``source``; where it cannot go on, the tree reader's (of
    ``fh``, the same document from its start), skipping those given already (see camt_raw)."""
    given = 0
    try:
        for made in _stream_raw(source):
            yield made
            given += 1
        return
    except camt_raw.Fallback:
        pass
    for n, made in enumerate(_stream_tree(fh)):
        if n >= given:
            yield made


class _Joined:
    """``head`` (already read), then the rest of ``fh``: the reader the tree parser gets."""

    def __init__(self, head: bytes, fh: IO[bytes]) -> None:
        self._head = head
        self._at = 0
        self._fh = fh

    def read(self, size: int = -1) -> bytes:
        left = len(self._head) - self._at
        if left <= 0:
            return self._fh.read(size)
        if 0 <= size <= left:
            self._at += size
            return self._head[self._at - size : self._at]
        part = self._head[self._at :]
        self._at = len(self._head)
        return part + self._fh.read(-1 if size < 0 else size - left)


def _stream_tree(fh: IO[bytes] | _Joined) -> Iterator[Statement]:
    """The tree reader: the statements of the camt document read from ``fh`` (see the module doc)."""
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
            made = statement(record)
            record = None
            el.clear(keep_tail=False)
            _drop_previous(el)
            yield made
    _refuse_dtd(events.root)
    if not seen:
        raise ParseError("no Stmt, Rpt or Ntfctn in the camt document", code="INGEST_CAMT_NO_STATEMENT")


def _stream_raw(source: Path | bytes) -> Iterator[Statement]:
    """:func:`_stream_tree` by the raw reader (see :mod:`shared.statements.camt_raw`), which raises
    :class:`camt_raw.Fallback` where it cannot go on.

    The same records, headers, lines and errors in the same order: each entry is read by the fast
    reader from its own text where that is its serialization, else by :func:`entry_lines` from
    the element lxml makes of it. Where that is so for more than a quarter of the first 64 entries
    (e.g. indented ones), the tree reader is quicker: it takes over.
    """
    record: _Record | None = None
    raw: camt_raw.RawRecord | None = None
    lines_of, serial, refused = camt_fast.lines_of, camt_raw.serial, camt_raw.refused
    seen = other = 0
    for event in camt_raw.walk(source):
        if event[0] is camt_raw.ENTRY:
            assert record is not None and raw is not None
            ctx = record.ctx
            if ctx is None:
                # The tree reader reads what an entry holds before the header (at the entry's end).
                if refused(event[1][0]):
                    raise camt_raw.Fallback("an entry the tree reader reads differently")
                ctx = record.ctx = record.ensure_header().context(record.kind)
            ns, decls, lines = record.x.ns, raw.decls, record.lines
            for text in event[1]:
                found = None
                if serial(text):
                    try:
                        found = lines_of(text, ns, ctx, decls)
                    except ParseError:
                        found = None  # entry_lines raises it with the canonical message
                elif seen < 64 and camt_raw.MOSTLY_SERIAL and (other := other + 1) > 16:
                    raise camt_raw.Fallback("entries that are not their serialization")
                if found is None:
                    if refused(text):
                        raise camt_raw.Fallback("an entry the tree reader reads differently")
                    found = entry_lines(record.x, raw.entry_element(text), ctx)
                lines += found
                seen += 1
        elif event[0] is camt_raw.OPEN:
            raw = event[1]
            el = raw.element(event[2])
            kind = _record_kind(el, local_name(el.tag))
            if kind is None:
                raise camt_raw.Fallback("not a camt record")
            record = _Record(el, kind)
        else:
            assert record is not None
            yield statement(record)
            record = None


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
