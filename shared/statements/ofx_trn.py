"""Plain OFX transactions read with a few regex calls instead of a token loop (for ``ofx_stream``).

A ``STMTTRN`` is plain when its body is leaves only: ``<TAG>text</TAG>`` (the text may be blank)
or ``<TAG>text`` with a text that is not blank, separated by white space, then ``</STMTTRN>``.
The token loop of ``ofx_tree`` reads such a body as one leaf per tag holding its text, so a dict
of stripped texts by upper-case tag (the first of two same tags wins) is all it holds. Anything
else (an aggregate, a comment, CDATA, an attribute, an SGML empty leaf, a tag the mapping looks
for in the tree) is left to the token loop.

Three regexes, cheapest first: one made for the shape the bank repeats (the same tags in the same
order), one for the tidy form (upper-case tags closed as opened, texts without edge blanks) and
the general one. A match needs no end limit: every text it takes ends at a ``<`` it has seen.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from operator import itemgetter

from shared.statements.ofx_tree import RESPONSE_TAGS, STATEMENT_TAGS

# Unicode white space as str.strip() sees it (re.A keeps tag names and case folding ASCII).
_WS = "\\s\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_ITEMS = r"(?:\s*<([A-Za-z][A-Za-z0-9._]*)>(?:[^<]*</\{n}>|[^<]*?[^<WS][^<]*))*+\s*</STMTTRN>".replace("WS", _WS)
_BODY = re.compile(_ITEMS.replace("{n}", "1"), re.A | re.I)  # after an opening <STMTTRN ...>
_NEXT = re.compile(r"\s*(<STMTTRN>)" + _ITEMS.replace("{n}", "2"), re.A | re.I)
_TIDY = f"[^<{_WS}](?:[^<]*[^<{_WS}])?"  # a text without blanks at its edges
_TIDY_NEXT = re.compile(rf"\s*(<STMTTRN>)(?:\s*<([A-Z][A-Z0-9._]*)>(?:{_TIDY}(?:</\2>)?|</\2>))*+\s*</STMTTRN>", re.A)
_TIDY_ITEM = re.compile(rf"<([A-Z][A-Z0-9._]*)>({_TIDY})?", re.A)
_TRN_END = re.compile(r"</STMTTRN>", re.A | re.I)
_ITEM = re.compile(r"<([A-Za-z][A-Za-z0-9._]*)>([^<]*)", re.A)
_ITEM_CLOSE = re.compile(r"<([A-Za-z][A-Za-z0-9._]*)>([^<]*)(</\1>)?", re.A | re.I)
# Tags whose place in the tree the mapping looks at: never taken as plain leaves.
_STRUCTURAL = frozenset({
    "OFX", "SONRS", *RESPONSE_TAGS, *STATEMENT_TAGS, "INVSTMTRS", "STMTTRN", "BANKTRANLIST", "STATUS",
    "BANKACCTFROM", "CCACCTFROM", "LEDGERBAL", "AVAILBAL", "PAYEE", "BANKACCTTO", "CCACCTTO", "CURRENCY",
    "ORIGCURRENCY",
})
_Shape = tuple[re.Pattern[str], tuple[str, ...]]
_SHAPES: dict[tuple[str, ...], _Shape] = {}  # shared by readers: banks repeat themselves
_first, _second = itemgetter(0), itemgetter(1)


def _unescape(text: str) -> str:
    """``html.unescape``, short-cut when every entity is ``&amp;`` (what exporters mostly write)."""
    return text.replace("&amp;", "&") if text.count("&") == text.count("&amp;") else html.unescape(text)


def _decode(texts: tuple[str, ...]) -> tuple[str, ...] | None:
    """Tidy texts with entities decoded; None when one decodes to blank (then only the general
    reading tells an empty element from an SGML empty leaf)."""
    decoded = tuple(_unescape(t).strip() if "&" in t else t for t in texts)
    return None if "" in decoded else decoded


def _leaves(buf: str, body: int, end: int) -> dict[str, str] | None:
    """Leaf texts of the plain body ``buf[body:end]`` (up to ``</STMTTRN>``); None when it holds
    an SGML empty leaf after all ('<TAG>&#32;' decodes to blank: the next tag nests inside)."""
    items = _ITEM.findall(buf, body, end - 10)
    items.reverse()  # the first of two same tags wins
    names = map(str.upper, map(_first, items))
    if buf.find("&", body, end) < 0:
        return dict(zip(names, map(str.strip, map(_second, items)), strict=True))
    texts = [(_unescape(t) if "&" in t else t).strip() for _, t in items]
    if "" in texts and any(not closed and not html.unescape(text).strip()
                           for _, text, closed in _ITEM_CLOSE.findall(buf, body, end - 10)):
        return None
    return dict(zip(names, texts, strict=True))


class PlainTransactions:
    """Reads runs of plain ``STMTTRN``s; ``take(start, end, leaves)`` receives each one."""

    def __init__(self, take: Callable[[int, int, dict[str, str]], None]) -> None:
        self.take = take
        self.shape: _Shape | None = None
        self.seen: dict[tuple[str, ...], int] = {}

    def read(self, buf: str, start: int, body: int, eof: bool) -> int:
        """The ``STMTTRN`` opened at ``start`` (its body from ``body``) and the plain ones right
        after it: where the token loop goes on, -1 when this one is not plain, -2 when its end is
        not in ``buf`` yet (read on first)."""
        m = _BODY.match(buf, body)
        if m is None:
            return -2 if not eof and _TRN_END.search(buf, body) is None else -1
        end = m.end()
        leaves = _leaves(buf, body, end)
        if leaves is None or not _STRUCTURAL.isdisjoint(leaves):
            return -1
        self.take(start, end, leaves)
        pos = end
        while True:
            shape = self.shape
            if shape is not None and (m := shape[0].match(buf, pos)) is not None:
                names, texts = shape[1], m.groups("")[1:]
            elif (m := _TIDY_NEXT.match(buf, pos)) is not None:
                items = _TIDY_ITEM.findall(buf, m.start(1) + 9, m.end() - 10)
                self._learn(items)
                items.reverse()  # the first of two same tags wins
                names, texts = tuple(map(_first, items)), tuple(map(_second, items))
            elif (m := _NEXT.match(buf, pos)) is not None:
                names, texts = (), ()
            else:
                break
            start, end = m.start(1), m.end()
            decoded = _decode(texts) if names and buf.find("&", start, end) >= 0 else texts
            if names and decoded is not None:
                leaves = dict(zip(names, decoded, strict=True))
            elif (leaves := _leaves(buf, start + 9, end)) is None:
                break
            if not _STRUCTURAL.isdisjoint(leaves):
                break
            self.take(start, end, leaves)
            pos = end
        return pos

    def _learn(self, items: list[tuple[str, str]]) -> None:
        """From the second time a tidy shape is seen, a regex made for it reads its texts in one
        match (tags unique and not structural, so its leaves need no further check)."""
        names = tuple(map(_first, items))
        shape = _SHAPES.get(names)
        if shape is None:
            if len(self.seen) >= 1024:  # no shape repeats: stop counting them
                self.seen.clear()
            seen = self.seen[names] = self.seen.get(names, 0) + 1
            if seen < 2 or len(names) != len(set(names)) or len(names) > 40 or not _STRUCTURAL.isdisjoint(names):
                return
            if len(_SHAPES) >= 64:
                _SHAPES.clear()
            body = "".join(rf"\s*<{n}>(?:({_TIDY})(?:</{n}>)?|</{n}>)" for n in map(re.escape, names))
            shape = _SHAPES[names] = (re.compile(rf"\s*(<STMTTRN>){body}\s*</STMTTRN>", re.A), names)
        self.shape = shape
