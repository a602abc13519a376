"""Cut a large camt file into smaller documents of whole records, to parse them side by side.

A camt message is an envelope (``Document``, the message element, its ``GrpHdr``) around a run of
records (``Stmt`` / ``Rpt`` / ``Ntfctn``). Each part of a :class:`Plan` is a document of its own:
the envelope's head, some of the records, the envelope's tail. Parsed one after the other, the
parts give exactly the statements the whole file gives (a test holds them equal), so two
processes can each parse every other part while a third writes.

The cut points are found without parsing, so a plan is only made where the bytes leave no doubt
about what is markup (otherwise :func:`plan` answers None and the file is parsed whole):

- an ASCII-compatible encoding (UTF-8, ASCII, ISO 8859, Windows code pages), no UTF-16/32;
- after the prolog, no comment, CDATA section, processing instruction or declaration
  (``<!`` / ``<?``): then every ``<`` in well-formed XML starts a tag, since text and attribute
  values must escape it;
- record start and end tags that strictly alternate (no record inside a record, none empty),
  with nothing but white space between one record's end and the next one's start.

A file that breaks the XML rules anyway is refused by the parser of the part that holds the
break; callers that need the whole-file message parse the whole file again (see ``ingest_ahead``).
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from shared.statements.model import Statement

# The message element (in the file's head) names its records.
_RECORDS_OF = {b"BkToCstmrStmt": b"Stmt", b"BkToCstmrAcctRpt": b"Rpt", b"BkToCstmrDbtCdtNtfctn": b"Ntfctn"}
_MESSAGE_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(BkToCstmrStmt|BkToCstmrAcctRpt|BkToCstmrDbtCdtNtfctn)[\s>]")
_BEFORE_RE = re.compile(rb"<(/?)(?:[A-Za-z_][\w.-]*:)?\Z")  # "<", "</", "<ns:" or "</ns:" right before the name
_AFTER_START = frozenset(b" \t\r\n>")  # a start tag's name ends here (attributes or ">")
_END_TAG_RE = re.compile(rb"\s*>")
_PROLOG_RE = re.compile(rb"(?:\s+|<\?.*?\?>)*", re.S)
_ENCODING_RE = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)", re.I)
_ASCII_SUPERSETS = re.compile(r"(utf-?8|us-ascii|ascii|iso[-_]?8859[-_]\d+|latin-?\d|windows-125\d|cp125\d)\Z", re.I)
_HEAD_BYTES = 4096
_GAP_LIMIT = 4096  # white space between two records longer than this: not a plain run of records


@dataclass(frozen=True, slots=True)
class Plan:
    """Where to cut: the envelope's head ``[0, head_end)``, its tail ``[tail_start, EOF)``, the parts.

    Each part ``(start, end)`` is a byte range of whole records, in file order.
    """

    head_end: int
    tail_start: int
    parts: tuple[tuple[int, int], ...]


def plan(path: Path, part_bytes: int = 1 << 20) -> Plan | None:
    """Parts of about ``part_bytes`` each (whole records), or None where cutting is not certain."""
    with Path(path).open("rb") as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            return None
        with data:
            return _plan(data, part_bytes)


def _plan(data: mmap.mmap, part_bytes: int) -> Plan | None:
    head = data[:_HEAD_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00")) or head[1:2] == b"\x00":
        return None  # UTF-16 / UTF-32: "<" is not one byte
    body = len(head) - len(head.lstrip(b"\xef\xbb\xbf"))
    prolog = _PROLOG_RE.match(head, body)
    body = prolog.end() if prolog else body
    declared = _ENCODING_RE.search(head[:body])
    if declared and not _ASCII_SUPERSETS.match(declared[1].decode("ascii", "replace").strip()):
        return None
    if _declares(data, body, b"!") or _declares(data, body, b"?"):
        return None
    messages = {m[1] for m in _MESSAGE_RE.finditer(head)}
    if len(messages) != 1:
        return None  # the message element is not in the head, or there are several kinds
    tags = _record_tags(data, body, _RECORDS_OF[messages.pop()])
    if tags is None or len(tags) < 4 or len(tags) % 2:
        return None  # one record only, or a start tag without its end (a cut file)
    records = []
    for i in range(0, len(tags), 2):
        (start, is_end, name), (end, closing, end_name) = tags[i], tags[i + 1]
        if is_end or not closing or name != end_name:
            return None  # not a strict alternation of start and end tags of the same record
        records.append((start, end))
    for (_, prev_end), (next_start, _) in pairwise(records):
        gap = data[prev_end:next_start] if next_start - prev_end <= _GAP_LIMIT else b"x"
        if gap.strip():
            return None
    parts = _group(records, part_bytes)
    if len(parts) < 2:
        return None
    return Plan(head_end=records[0][0], tail_start=records[-1][1], parts=tuple(parts))


def _declares(data: mmap.mmap, body: int, mark: bytes) -> bool:
    """Is there a ``<`` + ``mark`` (``<!``, ``<?``) from ``body`` on?

    ``<`` is in every tag, ``!`` and ``?`` rarely in a camt file: looking for the rare byte and
    then at the one before it is many times faster than looking for the pair (after a few hundred
    hits, in text full of them, the pair is looked for instead).
    """
    pos = data.find(mark, body + 1)
    for _ in range(256):
        if pos < 0:
            return False
        if data[pos - 1] == 0x3C:  # "<"
            return True
        pos = data.find(mark, pos + 1)
    return pos >= 0 and data.find(b"<" + mark, pos - 1) >= 0


def _group(records: list[tuple[int, int]], part_bytes: int) -> list[tuple[int, int]]:
    parts: list[tuple[int, int]] = []
    first: int | None = None
    for start, end in records:
        if first is None:
            first = start
        if end - first >= part_bytes:
            parts.append((first, end))
            first = None
    if first is not None:
        parts.append((first, records[-1][1]))
    return parts


def _record_tags(data: mmap.mmap, body: int, name: bytes) -> list[tuple[int, bool, bytes]] | None:
    """Every record start and end tag as (offset, is_end, qualified name); end offsets point past ``>``.

    Found by searching the bare names (fast) and checking the bytes around each hit, so
    ``BkToCstmrStmt`` or a name in text never counts.
    """
    tags: list[tuple[int, bool, bytes]] = []
    pos = data.find(name, body)
    while pos >= 0:
        before = _BEFORE_RE.search(data[max(body, pos - 64) : pos])
        after = pos + len(name)
        if before is not None:
            lt = pos - len(before[0])
            qualified = data[lt + 1 + len(before[1]) : after]
            if before[1]:
                gt = _END_TAG_RE.match(data, after)
                if gt is None:
                    return None
                tags.append((gt.end(), True, qualified))
            elif data[after : after + 1] and data[after] in _AFTER_START:
                tags.append((lt, False, qualified))
            else:
                return None  # an empty record (``<Stmt/>``) or something unexpected
        pos = data.find(name, after)
    return tags


class PartReader:
    """A part as a document of its own: the envelope's head, the part's records, the tail."""

    def __init__(self, path: Path, cut: Plan, index: int) -> None:
        self._fh = Path(path).open("rb")  # noqa: SIM115 - closed by close()
        size = os.fstat(self._fh.fileno()).st_size
        start, end = cut.parts[index]
        self._ranges = [(0, cut.head_end), (start, end), (cut.tail_start, size)]

    def read(self, size: int = -1) -> bytes:
        chunks = []
        left = size if size >= 0 else None
        while self._ranges and (left is None or left > 0):
            start, end = self._ranges[0]
            want = end - start if left is None else min(end - start, left)
            self._fh.seek(start)
            got = self._fh.read(want)
            chunks.append(got)
            if left is not None:
                left -= len(got)
            if start + len(got) >= end or not got:
                self._ranges.pop(0)
            else:
                self._ranges[0] = (start + len(got), end)
        return b"".join(chunks)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> PartReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def parse_part(path: Path, cut: Plan, index: int) -> Iterator[Statement]:
    """The statements of one part, with the whole-file parser's checks and error codes."""
    from shared.statements import camt

    with Path(path).open("rb") as fh:
        camt._check_prolog(fh)  # the part's head is the file's head
    with PartReader(path, cut, index) as part:
        yield from camt.parse_document(part)  # type: ignore[arg-type]
