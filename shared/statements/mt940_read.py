"""The MT940 / MT942 line tokenizer: the text of a file cut into statements (:class:`Raw`), each
a list of tagged fields (:class:`Field`) with their lines, before any interpretation.

The file is read twice as a stream: once to choose the encoding, once in chunks of lines; only
the statement being read is held in memory.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from shared.money import exponent
from shared.statements.model import BalanceType

BALANCE_TYPE = {"60": BalanceType.OPBD, "60F": BalanceType.OPBD, "60M": BalanceType.ITBD,
                "62": BalanceType.CLBD, "62F": BalanceType.CLBD, "62M": BalanceType.ITBD,
                "64": BalanceType.CLAV, "65": BalanceType.FWAV}
CLOSING = frozenset({"62", "62F", "62M"})
BAL = re.compile(r"([CD])(\d{6})([A-Z]{3})?(\d+(?:,\d*)?|,\d+)")  # a balance: mark, date, currency, amount
_TAG = re.compile(r":(\d\d[A-Z]?|NS):")
_KNOWN = frozenset({"13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60", "60F", "60M",
                    "61", "62", "62F", "62M", "64", "65", "86", "90C", "90D", "NS"})
_LINE_HEADS = {":61:": "61", ":86:": "86", ":NS:": "NS"}  # the line starts that _TAG reads as these
# only MT942 has a floor limit and entry sums; some banks also put :13D: into an MT940
_MT942_TAGS = frozenset({"34F", "90D", "90C"})
_BLOCK = re.compile(r"\{[1-5]:")
_DASH = re.compile(r"-(?:XXX)?")  # "-" ends a statement; ING writes "-XXX"
_TRAIL = "\r\n\x00\x01\x02\x03\x1a"  # mBank wraps files in SOH/ETX, DOS files end in ^Z
_CTRL = "\x00\x01\x02\x03\x1a"
_SPECIAL = frozenset([*":{-\x00\x01\x02\x03\x1a \t\r\n", ""])  # first characters that need a look
_CHUNK = 1 << 16  # characters read at a time


class Field:
    """One tagged field: the tag, its lines (the first without the tag) and where it starts."""

    __slots__ = ("line_no", "lines", "tag")

    def __init__(self, tag: str, first: str, line_no: int) -> None:
        self.tag, self.lines, self.line_no = tag, [first], line_no

    def text(self) -> str:
        return f":{self.tag}:" + "\n".join(self.lines)


class Raw:
    """The fields of one statement as read, before interpretation."""

    __slots__ = ("closed_by", "cut", "fields", "has_closing", "in_block", "line_no", "msg_type",
                 "mt942_hint")

    def __init__(self, line_no: int, in_block: bool, msg_type: str | None) -> None:
        self.fields: list[Field] = []
        self.line_no, self.in_block, self.msg_type = line_no, in_block, msg_type
        self.has_closing = self.mt942_hint = False
        self.closed_by = "next"
        self.cut: str | None = None


class _Splitter:
    """Line-by-line state machine that cuts the text into statements (:class:`Raw`)."""

    def __init__(self) -> None:
        self.cur: Raw | None = None
        self.field: Field | None = None
        self.text: list[str] | None = None  # lines of the open field, if it takes more text
        self.in_block = False
        self.msg_type: str | None = None

    def feed(self, no: int, line: str) -> Raw | None:
        """Take one line; return a statement when this line finished one."""
        # trailing spaces stay: in wrapped :86: text they separate words
        body = line.rstrip(_TRAIL).lstrip(_CTRL)
        if not body or body.isspace():
            return None
        head = body[0]
        if head == ":":
            m = _TAG.match(body)
            if m and m[1] in _KNOWN:
                return self._tag(no, m[1], body[m.end():])
        elif head == "{" and _BLOCK.match(body):
            return self._block(no, body)
        elif head == "-":
            if body.startswith("-}"):
                self.in_block = False
                return self._close("terminator")
            if _DASH.fullmatch(body.rstrip()) and self._dash_ends():
                return self._close("terminator")
        if self.text is not None:
            self.text.append(body)
        elif self.field is not None:
            return self._close("next")  # text after a finished statement's last balance
        return None  # else text outside a statement: file headers ("940", "ABNANL2A", ...)

    def _dash_ends(self) -> bool:
        # Rabobank lets a :86: line start with "-"; before the closing balance of an MT940
        # a lone "-" is text, after it (or in an MT942, which has none) it ends the statement.
        cur = self.cur
        return cur is None or cur.has_closing or cur.mt942_hint or self.field is None

    def _tag(self, no: int, tag: str, rest: str) -> Raw | None:
        done = None
        cur = self.cur
        if tag == "20" or cur is None:
            done = self._close("next")
            cur = self.cur = Raw(no, self.in_block, self.msg_type)
        field = self.field = Field(tag, rest, no)
        cur.fields.append(field)
        self.text = field.lines
        if tag in BALANCE_TYPE:
            cur.has_closing = cur.has_closing or tag in CLOSING
            if cur.has_closing:
                self.text = None  # what follows a finished statement's balance is not its text
        elif tag in _MT942_TAGS:
            cur.mt942_hint = True
        return done

    def _block(self, no: int, body: str) -> Raw | None:
        done = self._close("next")
        i = body.find("{2:")
        if i >= 0:
            kind = body[i + 4 : i + 7]
            self.msg_type = kind if kind.isdigit() else None
        j = body.find("{4:")
        if j >= 0:
            self.in_block = True
            rest = body[j + 3 :]
            if rest.strip():
                return done or self.feed(no, rest + "\n")
        return done

    def _close(self, how: str) -> Raw | None:
        raw, self.cur, self.field, self.text = self.cur, None, None, None
        if raw is not None:
            raw.closed_by = how
        return raw

    def finish(self, last: str) -> Raw | None:
        """End of file (``last`` = the last line read): the open statement, marked ``cut`` when
        the file visibly stops short."""
        field = self.field
        raw = self._close("eof")
        if raw is None:
            if not self.in_block:
                return None
            raw = Raw(0, True, self.msg_type)  # "{4:" opened, then the file ends: cut short
        tail = last.rstrip(_TRAIL).lstrip(_CTRL)
        if raw.in_block and self.in_block:
            raw.cut = "the SWIFT block {4: is not closed by -}"
        elif tail.strip() and not last.endswith("\n") and not (
            field is not None and len(field.lines) == 1 and _complete_balance(field)
        ):
            raw.cut = "the last line has no line break and may be cut short"
        return raw


def _complete_balance(field: Field) -> bool:
    """A balance whose amount shows every minor-unit digit cannot have lost a character."""
    m = BAL.fullmatch(field.lines[0].strip()) if field.tag in BALANCE_TYPE else None
    if m is None or "," not in m[4]:
        return False
    return len(m[4].split(",")[1]) == exponent(m[3] or "EUR")


def _encoding(path: Path) -> str:
    """UTF-8 (BOM or not) when the whole file is valid UTF-8, else CP1252, else Latin-1.

    The same choice as :func:`shared.statements.base.decode_text`, made on a stream.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, cp1252 = True, True
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if cp1252 and any(b in chunk for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")):
                cp1252 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return "utf-8-sig" if utf8 else "cp1252" if cp1252 else "latin-1"


def _batches(fh: TextIO) -> Iterator[tuple[list[str], bool, bool]]:
    """The text in batches of lines cut at ``\\n`` (after the universal-newline translation, as the
    file's own line iterator would), each with "a line may end in a control character" and "the
    lines had a line break"."""
    pending = ""  # a line not yet ended
    while chunk := fh.read(_CHUNK):
        data = pending + chunk if pending else chunk
        lines = data.split("\n")
        pending = lines.pop()
        yield lines, any(c in data for c in _CTRL), True
    if pending:
        yield [pending], any(c in pending for c in _CTRL), False


def read(path: Path) -> Iterator[Raw]:
    """The statements of the file, in order, as read (see :meth:`_Splitter.feed`).

    The two common lines are taken here without a call: more text of the open field, and a
    ``:61:`` / ``:86:`` / ``:NS:`` line inside a statement; the same as ``feed`` would do with them.
    """
    splitter = _Splitter()
    cur = text = None  # splitter.cur and splitter.text, kept in locals on the hot path
    heads = _LINE_HEADS
    no = 0
    last = "\n"  # the last line, as the line iterator gives it
    with path.open("r", encoding=_encoding(path), newline=None) as fh:
        for lines, strip, ended in _batches(fh):
            start = no + 1
            for no, line in enumerate(lines, start):
                head = line[:1]
                if head not in _SPECIAL:
                    if text is not None:
                        text.append(line.rstrip(_CTRL) if strip else line)  # the common case: more text
                        continue
                elif head == ":" and cur is not None and (tag := heads.get(line[:4])):
                    # the other common case: :61: / :86: / :NS: inside a statement
                    rest = line[4:].rstrip(_CTRL) if strip else line[4:]
                    field = splitter.field = Field(tag, rest, no)
                    cur.fields.append(field)
                    text = splitter.text = field.lines
                    continue
                done = splitter.feed(no, line + "\n")
                cur, text = splitter.cur, splitter.text
                if done is not None:
                    yield done
            if lines:
                last = lines[-1] + "\n" if ended else lines[-1]
    done = splitter.finish(last)
    if done is not None:
        yield done
