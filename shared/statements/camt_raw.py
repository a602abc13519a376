"""Raw camt reading: each entry taken from the file's own text instead of from lxml's tree.

Why: building lxml's tree of every element and serializing each entry again costs most of a camt
import. For a file that libxml2 accepts and that is laid out plainly, the text of an entry is its
serialization (below), so the fast reader (:mod:`shared.statements.camt_fast`) reads it as it is.

One streaming pass (memory follows one record, not the file size): libxml2 parses the document
without building a tree (an lxml parser with an empty target and the tree parser's options), one
chunk ahead of the walk (:func:`walk`), which hands over each record (:class:`RawRecord`), its
header and its entries' texts. A record's header is parsed by lxml inside copies of its
ancestors' start tags, so namespaces and serializations are those of the whole tree.

:class:`Fallback` is raised where the raw reader cannot go on: anything libxml2 reports (an
error, a warning in its log), text that is not UTF-8, or a layout the walk does not take (see
:class:`Unsupported`). The caller then reads the document with the tree reader from the start,
skipping the statements it has given already: those are the tree reader's too, as everything up
to a chunk past them was checked by libxml2, so errors come exactly as the tree reader gives them.
An lxml target parser does not report what only its tree builder checks (namespace errors are
logged, not raised; duplicate ``xml:id``; text nodes above 10 MB), hence: an empty log, no
``xml:id``, no text run or entry above 1 MB.

An entry's text ``<Ntry>...</Ntry>`` is lxml's serialization, once the ancestors' namespace
declarations are put into its start tag (:attr:`RawRecord.decls`, which takes them from lxml),
when the text has no ``\r`` (read as ``\n``), no raw ``>`` (written ``&gt;``: as many ``<`` as ``>``),
no reference but ``&amp; &lt; &gt;`` (:func:`serial`), and when every tag is written as lxml
writes it: single spaces, double quotes, no namespace declaration (written before the other
attributes), no tab or newline in an attribute value, no element written ``<X></X>`` (lxml:
``<X/>``), no blank run beside a tag but as a leaf's whole text (``remove_blank_text`` drops the
others). The fast reader's patterns, matching the text whole, check those (see
:mod:`shared.statements.camt_patterns`), and also that the entry holds no other entry or record,
no comment, PI or CDATA and no ``xml:id``; any other entry is checked here (:func:`refused`) and
parsed by lxml (:meth:`RawRecord.entry_element`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from shared.statements.camt_xml import PARSER_OPTIONS

Element = Any
_PARSER: Any = None  # the tree parser for record headers and entries, made on first use

RECORD_NAMES = frozenset({"Stmt", "Rpt", "Ntfctn"})
OPEN, ENTRY, CLOSE = "open", "entry", "close"  # walk events
_CHUNK = 1 << 18  # bytes read at a time (libxml2 checks one chunk ahead of the walk)
_LIMIT = 1 << 20  # longest text run / entry text taken (libxml2's tree builder refuses 10 MB text nodes)
_TAG_LIMIT = 1 << 16  # longest start tag looked for
_DECL_RE = re.compile(r"""<\?xml\s+version\s*=\s*(["'])1\.0\1(?:\s+encoding\s*=\s*(["'])([\w.:-]*)\2)?"""
                      r"""(?:\s+standalone\s*=\s*(["'])(?:yes|no)\4)?\s*\?>""")
# A tag of a well-formed document (comments, PIs and CDATA sections are skipped before: _SKIPPED).
_TAG_RE = re.compile(r"""<(/?)([^\s/<>!?]+)((?:\s+[^\s=/<>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(/?)>""")
# A prefixed entry or record (see refused()).
_PREFIXED_RE = re.compile(r":(?:Ntry|Stmt|Rpt|Ntfctn)[\s/>]")
_BLANKS = frozenset(" \t\n\r")
_NAME_ENDS = frozenset(" \t\n\r/>")  # what may follow an element name in a tag
_SKIPPED = (("<!--", "-->"), ("<?", "?>"), ("<![CDATA[", "]]>"))  # dropped by the parser, or text
MOSTLY_SERIAL = True  # the raw reader only where most entries are their serialization (False: tests)
_HEADER_NAMES = frozenset({"Acct", "Id", "ElctrncSeqNb", "LglSeqNb", "FrToDt", "CreDtTm", "Bal"})


_Events = Generator[tuple[Any, ...], None, int]  # walk events, then where the walk got to


class Fallback(Exception):
    """The raw reader cannot read (on): the tree reader must (see the module docstring)."""


class Unsupported(Fallback):
    """A layout the walk does not take."""


class _Nothing:
    """An lxml parser target that wants no events: libxml2 checks the document, nothing is built."""

    def close(self) -> None:
        return None


class RawRecord:
    """One Stmt / Rpt / Ntfctn found by the walk: its ancestors' start tags and its own."""

    __slots__ = ("_decls", "ancestors", "closers", "name", "start")

    def __init__(self, ancestors: list[tuple[str, str]], start: str, name: str) -> None:
        self.ancestors = "".join(tag for tag, _ in ancestors)
        self.closers = "".join(f"</{n}>" for _, n in reversed(ancestors))
        self.start = start
        self.name = name
        self._decls: str | None = None

    def _parse(self, content: str, depth: int) -> Element:
        """The element ``depth`` levels below the record, in a copy of its ancestry holding ``content``."""
        text = f"{self.ancestors}{self.start}{content}</{self.name}>{self.closers}"
        el = etree.fromstring(text.encode("utf-8"), _parser())
        for _ in range(self.closers.count("</") + depth):
            el = el[0]
        return el

    def element(self, content: str) -> Element:
        """The record element holding ``content`` (its header, or all of it when it has no entries)."""
        return self._parse(content, 0)

    def entry_element(self, text: str) -> Element:
        """The ``Ntry`` element of the entry text ``text``, as the tree parser makes it."""
        return self._parse(text, 1)

    @property
    def decls(self) -> str:
        """The namespace declarations lxml writes into the start tag of an entry of this record."""
        if self._decls is None:
            empty = etree.tostring(self.entry_element("<Ntry/>"), encoding="unicode", with_tail=False)
            self._decls = empty[5:-2]
        return self._decls


def _parser() -> Any:
    global _PARSER
    if _PARSER is None:
        _PARSER = etree.XMLParser(**PARSER_OPTIONS)
    return _PARSER


def _chunks(source: Path | bytes) -> Iterator[str]:
    """The document's text (strict UTF-8, BOM dropped), a chunk at a time, each once libxml2 has
    read the next one as well (the last once it has read all): see the module docstring.

    ``source``: a file, or the document itself.
    """
    validator = etree.XMLParser(target=_Nothing(), **PARSER_OPTIONS)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pending: str | None = None
    try:
        for data in _byte_chunks(source):
            validator.feed(data)
            if len(validator.feed_error_log):
                raise Fallback("libxml2 reports something")
            text = decoder.decode(data[3:] if pending is None and data.startswith(codecs.BOM_UTF8) else data)
            if pending is not None:
                yield pending
            pending = text
        validator.close()
        if len(validator.feed_error_log):
            raise Fallback("libxml2 reports something")
        last = decoder.decode(b"", final=True)
    except (etree.XMLSyntaxError, etree.ParserError, UnicodeDecodeError) as exc:
        raise Fallback(type(exc).__name__) from None
    if pending is not None:
        yield pending
    yield last


def _byte_chunks(source: Path | bytes) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for at in range(0, len(source), _CHUNK):
            yield source[at : at + _CHUNK]
        return
    with Path(source).open("rb") as fh:
        while data := fh.read(_CHUNK):
            yield data


class _Buffer:
    """Text read so far, by absolute offsets; :meth:`drop` forgets what was used."""

    __slots__ = ("_chunks", "base", "buf", "eof")

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.buf = ""
        self.base = 0
        self.eof = False

    def more(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self.buf += chunk
                return True
        self.eof = True
        return False

    def drop(self, upto: int) -> None:
        if upto - self.base > _CHUNK:
            self.buf = self.buf[upto - self.base :]
            self.base = upto

    def find(self, sub: str, start: int) -> int:
        while (j := self.buf.find(sub, start - self.base)) < 0:
            if not self.more():
                return -1
        return j + self.base

    def tag(self, at: int) -> re.Match[str]:
        """The tag starting at ``at`` (a ``<``)."""
        while (m := _TAG_RE.match(self.buf, at - self.base)) is None:
            if len(self.buf) - (at - self.base) > _TAG_LIMIT or not self.more():
                raise Unsupported("markup other than elements")
        return m

    def markup(self, at: int) -> tuple[re.Match[str] | None, int]:
        """The tag starting at ``at`` and where it ends; no tag for a comment, PI or CDATA section."""
        while len(self.buf) - (at - self.base) < 9 and self.more():
            pass
        for opening, closing in _SKIPPED:
            if self.buf.startswith(opening, at - self.base):
                end = self.find(closing, at + len(opening))
                if end < 0 or end - at > _LIMIT:
                    raise Unsupported("unclosed or long markup")
                return None, end + len(closing)
        m = self.tag(at)
        return m, m.end() + self.base

    def text(self, start: int, end: int) -> str:
        return self.buf[start - self.base : end - self.base]


def walk(source: Path | bytes) -> Iterator[tuple[Any, ...]]:
    """``(OPEN, record, content)``, ``(ENTRY, [text, ...])``..., ``(CLOSE,)`` per record, in file order.

    ``content`` is the record's header (the children before its first entry) when entries follow,
    else all of it. Raises :class:`Fallback` where the tree reader must take over (see the module doc).
    """
    t = _Buffer(_chunks(source))
    t.more()
    pos = 0
    if t.buf.startswith("<?xml"):
        end = t.find("?>", 0)
        decl = _DECL_RE.fullmatch(t.text(0, end + 2)) if end >= 0 else None
        if decl is None or (decl[3] or "utf-8").lower() != "utf-8":
            raise Unsupported("XML declaration")
        pos = end + 2
    stack: list[tuple[str, str]] = []  # open elements above the next record: (start tag, name)
    records = 0
    while True:
        i = t.find("<", pos)
        if i < 0:
            if t.text(pos, t.base + len(t.buf)).strip() or stack:
                raise Unsupported("text after the document")
            break
        if i - pos > _LIMIT:
            raise Unsupported("long text")
        m, pos = t.markup(i)
        if m is None:
            continue
        closing, name, attrs, empty = m.groups()
        if closing:
            if not stack:
                raise Unsupported("end tag without start tag")
            stack.pop()
            continue
        local = name.rpartition(":")[2]
        if "xml:id" in attrs or local == "Ntry" or (local in RECORD_NAMES and local != name):
            raise Unsupported("xml:id, an entry outside a record or a prefixed record")
        if local in RECORD_NAMES:
            records += 1
            record = RawRecord(stack, m[0][:-2] + ">" if empty else m[0], name)
            pos = yield from _record(t, record, pos, bool(empty))
            t.drop(pos)
        elif not empty:
            stack.append((m[0], name))
    if not records:
        raise Unsupported("no record")


def _record(t: _Buffer, record: RawRecord, start: int, empty: bool) -> _Events:
    """The events of one record whose start tag ends at ``start``; returns where it ends."""
    if empty:
        yield OPEN, record, ""
        yield CLOSE,
        return start
    depth, pos, entries = 0, start, False  # depth below the record
    while True:
        i = t.find("<", pos)
        if i < 0:
            raise Unsupported("unclosed record")
        if i - pos > _LIMIT:
            raise Unsupported("long text")
        m, end = t.markup(i)
        if m is None:
            pos = end
            continue
        closing, name, attrs, empty_tag = m.groups()
        if depth == 0 and name == "Ntry" and not closing and not entries:
            yield OPEN, record, t.text(start, i)
            entries = True
            pos = yield from _entries(t, i)
            continue
        pos = end
        if closing:
            if depth == 0:
                if name != record.name:
                    raise Unsupported("end tag")  # e.g. of an entry holding an entry
                if not entries:
                    yield OPEN, record, t.text(start, i)
                yield CLOSE,
                return pos
            depth -= 1
            continue
        local = name.rpartition(":")[2]
        if "xml:id" in attrs or local in RECORD_NAMES or local == "Ntry" or (
                depth == 0 and entries and local in _HEADER_NAMES):
            # Entries not together, records inside records, header elements after the entries.
            raise Unsupported("record layout")
        if not empty_tag:
            depth += 1


def _entries(t: _Buffer, at: int) -> _Events:
    """``(ENTRY, [text, ...])`` for the entries from ``at`` on (consecutive ``Ntry`` children, blanks
    between), several at a time; returns where the run ends.

    An entry holding another (whose end tag ends the text taken) leaves an end tag :func:`_record`
    refuses; for other content the tree reader would read differently see :func:`refused`.
    """
    while True:
        # The entries written "<Ntry>...</Ntry>" that are in the buffer whole, in one batch.
        buf, base, batch = t.buf, t.base, []
        j, n = at - base, len(t.buf)
        while buf.startswith("<Ntry>", j) and (close := buf.find("</Ntry>", j + 6)) >= 0:
            text = buf[j : close + 7]
            if close + 7 - j > _LIMIT:
                raise Unsupported("long entry")
            batch.append(text)
            j = close + 7
            while j < n and buf[j] in _BLANKS:
                j += 1
        if batch:
            yield ENTRY, batch
            at = j + base
            t.drop(at)
        # One step with more text read as needed: the end of the run, or an entry of another form.
        j = at - t.base
        while True:
            if j + 6 > len(t.buf) and t.more():
                continue
            if j < len(t.buf) and t.buf[j] in _BLANKS:
                j += 1
                continue
            break
        at = j + t.base
        if not (t.buf.startswith("<Ntry", j) and t.buf[j + 5 : j + 6] in _NAME_ENDS):
            return at
        m = t.tag(at)
        if m[2] != "Ntry" or m[1] or "xml:id" in m[3]:
            raise Unsupported("entry tag")
        end = m.end() + t.base
        if not m[4]:  # not <Ntry/>
            close = t.find("</Ntry>", end)
            if close < 0:
                raise Unsupported("unclosed entry")
            end = close + 7
        text = t.text(at, end)
        if end - at > _LIMIT:
            raise Unsupported("long entry")
        yield ENTRY, [text]
        at = end
        t.drop(at)


def refused(text: str) -> bool:
    """Whether the entry ``text`` holds what the tree reader would report as an entry or record of
    its own, markup that could hide ``</Ntry>`` (a comment, PI or CDATA section), or ``xml:id``.

    Needed only for an entry the fast reader's patterns do not take whole: they refuse all of it.
    """
    if ("<Stmt" in text or "<Rpt" in text or "<Ntfctn" in text
            or ("!" in text and "<!" in text) or ("?" in text and "<?" in text)
            or (":" in text and (_PREFIXED_RE.search(text) is not None or "xml:id" in text))):
        return True
    i = text.find("<Ntry", 5)  # an entry inside (<NtryRef>, <NtryDtls> are no entries)
    while i >= 0:
        if text[i + 5 : i + 6] in _NAME_ENDS:
            return True
        i = text.find("<Ntry", i + 5)
    return False


def serial(text: str) -> bool:
    """Whether the entry text ``text`` is its serialization but for the namespace declarations the
    ``Ntry`` start tag gets, as far as the fast reader's patterns do not check it (see the module
    docstring): no ``\r``, no raw ``>``, no reference but ``&amp; &lt; &gt;``."""
    return (text.startswith("<Ntry>") and "\r" not in text and text.count("<") == text.count(">")
            and ("&" not in text or text.count("&") == text.count("&amp;") + text.count("&lt;") + text.count("&gt;")))
