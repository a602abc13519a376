"""Streaming OFX reader: decoded text in chunks in, one ``Statement`` out as each ``STMTRS`` closes.

It follows ``ofx_tree.parse_tree`` token for token (same tokenizer, same SGML rules for leaves
without closing tags), with three differences that leave the result unchanged:

- Text is held from the oldest position still needed (an open transaction, the header of the open
  statement), not the whole file. A chunk is read up to its last ``<``, so no token is cut, and a
  comment or CDATA section is read whole before it is taken.
- A ``STMTTRN`` whose body is plain leaves (``<TAG>text``, ``<TAG>text</TAG>``, no nested
  aggregate, comment or CDATA) is read with a few regex calls (``ofx_trn``) instead of the token
  loop; when the statement's ``CURDEF`` is already known it becomes a ``BankLine`` at once and only
  a placeholder stays in the tree.
- A statement is mapped when it closes, its sign-on or response ``STATUS`` when its aggregate
  closes; refusals found there are raised at the end in the reference order (tree errors, then
  error responses, then "no statement", then the first statement's error).

Shapes those rules cannot settle alone (a statement or response aggregate inside another, a
transaction list left unclosed around lines already read) make the reader start over with the
whole-document tree (``_Fallback``); the statements already yielded are the same in both readings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from shared.errors import ParseError
from shared.statements import ofx_map
from shared.statements.model import BankLine, Statement
from shared.statements.ofx_map import known_currency, make_line, no_statement, statement, status_error
from shared.statements.ofx_tree import (
    MAX_DEPTH,
    OFX_START,
    RESPONSE_TAGS,
    STATEMENT_TAGS,
    TOKEN,
    Node,
    close_node,
    malformed,
    take_text,
    truncated,
)
from shared.statements.ofx_trn import PlainTransactions

CHUNK = 1 << 18  # characters read at a time
_RESPONSES = frozenset({"SONRS", *RESPONSE_TAGS})
_WATCH = frozenset({"OFX", "STMTTRN", "BANKTRANLIST", "INVSTMTRS", *STATEMENT_TAGS, *_RESPONSES})
_EAGER = Node("STMTTRN", -1)  # stands in the tree for a transaction already mapped
_NEED, _RESTART, _DONE = 0, 1, 2


class _Fallback(Exception):
    """The document needs the whole-document tree (see the module docstring)."""


@dataclass(slots=True, eq=False)
class _Open:
    """Bookkeeping for the statement aggregate being read."""

    node: Node
    tranlist: Node | None = None  # its first BANKTRANLIST child
    head: str | None = None  # source text from the statement's start to that list's start
    eager: bool | None = None  # transactions mapped as read (decided at the first one)
    mapped: bool = False  # some were
    currency: str = ""
    lines: list[BankLine] = field(default_factory=list)
    error: ParseError | None = None  # the first transaction refused while mapping as read


def read_statements(pieces: Iterable[str], whole_text: Callable[[], str]) -> Iterator[Statement]:
    """Statements of the OFX document whose decoded text comes in ``pieces``, in document order.

    ``whole_text`` gives the full text again for the fallback to the whole-document tree.
    """
    done = 0
    try:
        for st in _Reader(iter(pieces)).run():
            yield st
            done += 1
            del st  # not held while the next statement is read
    except _Fallback:
        yield from ofx_map.tree_statements(whole_text())[done:]


class _Reader:
    def __init__(self, pieces: Iterator[str]) -> None:
        self.pieces = pieces
        self.buf, self.base, self.eof = "", 0, False
        self.root = Node("#document", 0)
        self.stack = [self.root]
        self.pending: list[str] = []  # text since the last tag
        self.doc: Node | None = None  # the <OFX> element (the tree's root.children[0])
        self.doc_open = False
        self.open: _Open | None = None  # statement of the document being read
        self.resp: Node | None = None  # sign-on / statement response of the document being read
        self.ready: list[Statement] = []
        self.count = 0  # statements of the document
        self.investment = False
        self.status_error: ParseError | None = None
        self.stmt_error: ParseError | None = None
        self.trns = PlainTransactions(self._take_trn)

    # --- driving ---------------------------------------------------------------------------

    def run(self) -> Iterator[Statement]:
        i = self._find_start()
        while True:
            lim = len(self.buf) if self.eof else self.buf.rfind("<")
            status = _NEED
            if i < lim:
                i, status = self._scan(i, lim)
            if self.ready and self.status_error is None and self.stmt_error is None:
                yield from self.ready
            self.ready.clear()
            if status == _DONE:
                break
            if status == _RESTART:
                continue
            if self.eof:
                raise truncated()
            i = self._refill(i)
        if self.status_error is not None:
            raise self.status_error
        if self.count == 0:
            raise no_statement(self.investment)
        if self.stmt_error is not None:
            raise self.stmt_error

    def _find_start(self) -> int:
        self._refill(0)
        while True:
            lim = len(self.buf) if self.eof else self.buf.rfind("<")
            found = OFX_START.search(self.buf, 0, max(lim, 0))
            if found:
                return found.start()
            if self.eof:
                raise malformed("no <OFX> element")
            self._refill(lim if lim >= 0 else len(self.buf))

    def _refill(self, i: int) -> int:
        """Drop text no longer needed, read at least a chunk (more when much is kept)."""
        keep = max(0, min(i, self._anchor() - self.base))
        parts, got, need = [self.buf[keep:]], 0, max(CHUNK, len(self.buf) - keep)
        while got < need:
            piece = next(self.pieces, None)
            if piece is None:
                self.eof = True
                break
            parts.append(piece)
            got += len(piece)
        self.buf, self.base = "".join(parts), self.base + keep
        return i - keep

    def _anchor(self) -> int:
        """Oldest text position still needed: an open transaction or statement header."""
        anchor = self.base + len(self.buf)
        for node in self.stack:
            if node.tag == "STMTTRN":
                anchor = min(anchor, node.start)
            elif isinstance(node.state, _Open) and node.state.node is node:
                tranlist = node.state.tranlist
                if tranlist is None:
                    anchor = min(anchor, node.start)
                elif tranlist.end >= 0:
                    anchor = min(anchor, tranlist.end)
        return anchor

    def _cut(self, start: int, end: int) -> str:
        if start < self.base:
            raise _Fallback  # not expected: the anchors keep this text
        return self.buf[start - self.base : end - self.base]

    # --- tokens ----------------------------------------------------------------------------

    def _scan(self, i: int, lim: int) -> tuple[int, int]:
        """Tokens in ``buf[i:lim]``: returns where to go on and how (need text, restart, done)."""
        buf, pending, unescape = self.buf, self.pending, html.unescape
        for m in TOKEN.finditer(buf, i, lim):
            cdata, close, tag, plain = m.group("cdata", "close", "tag", "text")
            if plain is not None:
                if plain == "<" and buf.startswith(("<!--", "<![CDATA["), m.start()):
                    return self._markup(m.start())
                pending.append(unescape(plain))
            elif cdata is not None:
                pending.append(cdata)
            elif tag is None:
                if m.group("bad"):
                    raise malformed(f"bad tag {m[0][:20]!r} at offset {self.base + m.start()}")
                if buf.startswith(("<!--", "<![CDATA["), m.start()):
                    return self._markup(m.start())
            elif close:
                closed_leaf = self._take_text(self.base + m.start()) if pending else None
                pending.clear()
                name = tag.upper()
                if closed_leaf is None or closed_leaf.tag != name:
                    self._close(name, self.base + m.start(), self.base + m.end())
                else:
                    closed_leaf.end = self.base + m.end()
                if len(self.stack) == 1:
                    return m.end(), _DONE  # </OFX>: whatever follows is not ours
            else:
                if pending:
                    self._take_text(self.base + m.start())
                    pending.clear()
                j = self._open_tag(m, tag.upper())
                if j >= 0:
                    return j, _RESTART
                if j == -2:
                    return m.start(), _NEED
        return lim, _NEED

    def _markup(self, start: int) -> tuple[int, int]:
        """A comment or CDATA section, maybe cut by the chunk's end: take it whole, or read on."""
        buf = self.buf
        cdata = buf.startswith("<![CDATA[", start)
        stop = buf.find("]]>" if cdata else "-->", start + (9 if cdata else 4))
        if stop < 0:
            if not self.eof:
                return start, _NEED
            # never closed: the token as the whole text would read it
            m = TOKEN.match(buf, start)
            assert m is not None
            if m.group("bad"):
                raise malformed(f"bad tag {m[0][:20]!r} at offset {self.base + start}")
            if m.group("text") is not None:
                self.pending.append(html.unescape(m.group("text")))
            return m.end(), _RESTART
        if cdata:
            self.pending.append(buf[start + 9 : stop])
        return stop + 3, _RESTART

    def _take_text(self, pos: int) -> Node | None:
        node = take_text(self.stack, self.pending, pos)
        if node is not None and node.tag in _WATCH:
            self._closed(node, explicit=False)
        return node

    def _close(self, name: str, pos: int, end: int) -> None:
        node, orphans = close_node(self.stack, name, pos)
        node.end = end
        for orphan in orphans:
            if orphan.tag in _WATCH:
                self._closed(orphan, explicit=False)
        if node.tag in _WATCH:
            self._closed(node, explicit=True)
        if node.children and self.open is None and self.resp is None:
            node.children = []  # nothing reads a closed aggregate outside a statement or response

    def _open_tag(self, m: re.Match[str], name: str) -> int:
        """An opening (or empty) tag: where to restart after transactions read in one go, -2 to
        read on first, -1 to go on with the next token."""
        stack = self.stack
        if len(stack) > MAX_DEPTH:
            raise malformed(f"elements nested deeper than {MAX_DEPTH}")
        empty = m.group("empty") is not None
        if name == "STMTTRN" and not empty and 1 < len(stack) < MAX_DEPTH:  # its close must not end the tree
            j = self.trns.read(self.buf, m.start(), m.end(), self.eof)
            if j != -1:
                return j
        node = Node(name, self.base + m.start())
        stack[-1].children.append(node)
        if name in _WATCH:
            self._opened(node, empty)
        if empty:  # XML <MEMO/>
            node.text, node.end = "", self.base + m.end()
            if name in _WATCH:
                self._closed(node, explicit=False)
        else:
            stack.append(node)
        return -1

    # --- transactions read in one go -------------------------------------------------------

    def _take_trn(self, start: int, end: int, leaves: dict[str, str]) -> None:
        """Put a transaction read in one go in the tree, or map it at once."""
        raw = self.buf[start:end]
        parent, st = self.stack[-1], self.open
        if st is not None and st.tranlist is parent:
            if st.eager is None:
                currency = known_currency(st.node)
                st.eager, st.currency = currency is not None, currency or ""
            if st.eager:
                parent.children.append(_EAGER)
                st.mapped = True
                if st.error is None and self.status_error is None and self.stmt_error is None:
                    try:
                        st.lines.append(make_line(leaves, raw, st.currency, len(st.lines) + 1, None))
                    except ParseError as exc:
                        st.error = exc
                return
        elif st is not None and st.tranlist is not None and st.tranlist.end < 0:
            st.eager = False  # a transaction deeper in the list: keep document order
        parent.children.append(Node("STMTTRN", self.base + start, self.base + end, fast=leaves, raw=raw))

    # --- elements that matter --------------------------------------------------------------

    def _opened(self, node: Node, empty: bool) -> None:
        tag = node.tag
        if self.doc is None:
            self.doc, self.doc_open = node, not empty
            return
        if not self.doc_open:
            return  # after the document element: not ours
        st = self.open
        if tag in STATEMENT_TAGS:
            if st is not None:
                raise _Fallback  # a statement inside a statement
            self.open = node.state = _Open(node)
        elif tag in _RESPONSES:
            if self.resp is not None:
                raise _Fallback  # a response inside a response
            self.resp, node.state = node, True
        elif tag == "INVSTMTRS":
            self.investment = True
        elif tag == "BANKTRANLIST":
            if st is not None and st.tranlist is None and self.stack[-1] is st.node:
                st.tranlist, st.head, node.state = node, self._cut(st.node.start, node.start), st
        elif tag == "STMTTRN" and st is not None and st.tranlist is not None and st.tranlist.end < 0:
            st.eager = False  # read token by token: map it with the others when the statement closes

    def _closed(self, node: Node, explicit: bool) -> None:
        tag, state = node.tag, node.state
        if tag == "STMTTRN":
            if explicit:
                node.raw = self._cut(node.start, node.end)
        elif node is self.doc:
            self.doc_open = False
        elif state is None:
            return
        elif tag == "BANKTRANLIST":
            if not explicit and state.mapped:
                raise _Fallback  # lines already mapped move to the statement: read the whole tree
        elif tag in STATEMENT_TAGS:
            self._statement_closed(node, state)
        else:  # sign-on / statement response
            self.resp = node.state = None
            if explicit and self.status_error is None:
                self.status_error = status_error(node)

    def _statement_closed(self, node: Node, st: _Open) -> None:
        self.open, node.state = None, None
        if st.tranlist is not None:
            st.tranlist.state = None  # no reference cycle: the lines go as soon as the caller drops them
        self.count += 1
        if self.status_error is None and self.stmt_error is None:
            try:
                self.ready.append(statement(node, lambda tl, cur: self._lines(st, tl, cur),
                                            lambda tl: self._header(st, tl)))
            except ParseError as exc:
                self.stmt_error = exc
        node.children = []

    def _lines(self, st: _Open, tranlist: Node | None, currency: str) -> list[BankLine]:
        if tranlist is not st.tranlist and st.mapped:
            raise _Fallback  # not expected: the first BANKTRANLIST stays the first
        if st.error is not None:
            raise st.error
        trns = [t for t in tranlist.iter("STMTTRN") if t is not _EAGER] if tranlist else []
        first = len(st.lines) + 1
        rest = [make_line(t.leaves(), t.raw or "", currency, k, t) for k, t in enumerate(trns, start=first)]
        return st.lines + rest if rest else st.lines

    def _header(self, st: _Open, tranlist: Node | None) -> str:
        stmt = st.node
        if tranlist is None:
            return self._cut(stmt.start, stmt.end)
        if st.head is not None and tranlist is st.tranlist:
            return st.head + self._cut(tranlist.end, stmt.end)
        return self._cut(stmt.start, tranlist.start) + self._cut(tranlist.end, stmt.end)
