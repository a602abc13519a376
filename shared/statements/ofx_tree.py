"""OFX element tree: the node type, the tokenizer, and the whole-document tree builder.

``parse_tree`` builds the tree of a document held in memory in one regex pass; it is the
reference the streaming reader (``ofx_stream``) follows token for token, and the reader falls back
to it for the rare documents whose shape the streaming rules do not cover (statement or response
aggregates nested in each other, a transaction list left unclosed around read lines).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.errors import ParseError

MAX_DEPTH = 64  # real OFX nests about 10 deep; the cap keeps hostile input cheap
STATEMENT_TAGS = ("STMTRS", "CCSTMTRS")
RESPONSE_TAGS = ("STMTTRNRS", "CCSTMTTRNRS")

TOKEN = re.compile(
    r"<!\[CDATA\[(?P<cdata>.*?)\]\]>"  # XML CDATA section (Suncorp wraps NAME/MEMO in it)
    r"|<!--.*?-->|<[?!][^<>]*>"  # comments, processing instructions, declarations: skipped
    r"|<(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9._]*)(?:\s[^<>]*?)?(?P<empty>/)?>"
    r"|(?P<bad><[^<>]*>)"
    r"|(?P<text>[^<]+|<)",  # a lone '<' with no '>' before the next tag is kept as text
    re.S,
)
OFX_START = re.compile(r"<OFX(?:\s[^<>]*)?>", re.I)


@dataclass(slots=True, eq=False)
class Node:
    """One OFX element: a leaf has ``text`` (possibly empty), an aggregate has ``children``.

    The streaming reader adds: ``fast``, the stripped leaf texts of a ``STMTTRN`` read in one go
    (its leaf children are then not built), ``raw``, a transaction's source text, and ``state``,
    its bookkeeping for a statement or response aggregate.
    """

    tag: str
    start: int
    end: int = -1
    text: str | None = None
    children: list[Node] = field(default_factory=list)
    fast: dict[str, str] | None = None
    raw: str | None = None
    state: Any = None

    def child(self, tag: str) -> Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def value(self, *path: str) -> str:
        """Stripped text of the leaf at ``path`` below this node; ``""`` when absent or empty."""
        node: Node | None = self
        for tag in path:
            node = node.child(tag) if node else None
        return (node.text or "").strip() if node else ""

    def leaves(self) -> dict[str, str]:
        """Stripped text of each direct leaf child by tag (the first one wins)."""
        if self.fast is not None:
            return self.fast
        return {c.tag: (c.text or "").strip() for c in reversed(self.children) if not c.children}

    def iter(self, *tags: str) -> Iterator[Node]:
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


def malformed(message: str) -> ParseError:
    return ParseError(message, code="INGEST_OFX_MALFORMED")


def truncated() -> ParseError:
    return ParseError("the file ends before </OFX>", code="INGEST_OFX_TRUNCATED")


def close_node(stack: list[Node], tag: str, pos: int) -> tuple[Node, list[Node]]:
    """Close ``tag``; SGML leaves left open in between become empty and hand back any children.

    Returns the closed node and the orphans (closed as empty leaves on the way).
    """
    idx = next((i for i in range(len(stack) - 1, 0, -1) if stack[i].tag == tag), None)
    if idx is None:
        raise malformed(f"closing tag </{tag}> at offset {pos} has no opening tag")
    orphans = []
    while len(stack) > idx + 1:
        orphan = stack.pop()
        orphan.end = pos
        if orphan.text is None:
            # '<BRANCHID><ACCTID>1' in SGML: BRANCHID was an empty leaf, ACCTID its sibling.
            orphan.text, kids, orphan.children = "", orphan.children, []
            stack[-1].children.extend(kids)
        orphans.append(orphan)
    return stack.pop(), orphans


def take_text(stack: list[Node], pending: list[str], pos: int) -> Node | None:
    """Give pending text to the open element; a text-bearing element is a leaf and closes now."""
    content = "".join(pending)
    if not content.strip():
        return None
    top = stack[-1]
    if len(stack) == 1 or top.children or top.text is not None:
        raise malformed(f"text {content.strip()[:30]!r} outside a leaf element at offset {pos}")
    top.text = content
    top.end = pos
    stack.pop()
    return top


def parse_tree(text: str) -> Node:
    """Element tree of the ``<OFX>`` document in ``text`` (SGML or XML; tag names uppercased)."""
    found = OFX_START.search(text)
    if not found:
        raise malformed("no <OFX> element")
    root = Node("#document", 0)
    stack = [root]
    pending: list[str] = []  # text since the last tag
    for m in TOKEN.finditer(text, found.start()):
        cdata, close, tag, plain, empty = m.group("cdata", "close", "tag", "text", "empty")
        if plain is not None:
            pending.append(html.unescape(plain))
            continue
        if cdata is not None:
            pending.append(cdata)
            continue
        if tag is None:
            if m.group("bad"):
                raise malformed(f"bad tag {m[0][:20]!r} at offset {m.start()}")
            continue  # comment / processing instruction
        closed_leaf = take_text(stack, pending, m.start()) if pending else None
        pending = []
        name = tag.upper()
        if close:
            if closed_leaf is None or closed_leaf.tag != name:
                closed_leaf = close_node(stack, name, m.start())[0]
            closed_leaf.end = m.end()
            if len(stack) == 1:
                break  # </OFX>: whatever follows is not ours
        else:
            if len(stack) > MAX_DEPTH:
                raise malformed(f"elements nested deeper than {MAX_DEPTH}")
            node = Node(name, m.start())
            stack[-1].children.append(node)
            if empty:  # XML <MEMO/>
                node.text, node.end = "", m.end()
            else:
                stack.append(node)
    else:
        raise truncated()
    return root.children[0]
