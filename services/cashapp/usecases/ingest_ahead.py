"""Parse ahead: one child process reads and prepares bank files while this process writes them.

Parsing and preparing (keys, hashes, rows) is pure CPU work, and so is much of writing; on a
machine with two cores or more the two halves overlap. One child takes the whole list of files
in order and streams tagged messages through a pipe: per file, batches of prepared statements,
then ``done`` or the refusal (``error``), or ``skipped`` when the parent gave the file up. While
the parent writes file *n* in its own transaction, the child is already on file *n+1*, so the
parent does not wait for the first batch of every file. A small queue in the child bounds how far
ahead it gets (memory stays flat in file size).

A refusal in the child (a ``DomainError``) reaches the parent as the same error, so the file is
refused whole exactly as inline; the child goes on with the next file. If the child dies, the
file it was parsing is refused (``ParseAheadError``, an internal error, as with one child per
file); a file the child had not finished because it died further on is parsed again by a new
child, and the rest of the list by the next one. When the parent stops (its own refusal of a file, or early), it tells
the child to drop that file, or terminates it.

A list of files with at least twice the threshold's bytes goes to two such children
(:class:`ParseAheadPair`), each with about half the bytes, its own files in order: while the
parent writes a file of one, the other is parsing the next.

Small files, one-core machines and platforms without ``fork`` use the plain in-process path.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import queue
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from services.cashapp.usecases.ingest_parts import pickled_batches, split_plan
from services.cashapp.usecases.ingest_prepare import PreparedStatement, prepare
from shared.errors import portable
from shared.statements.base import StatementParser
from shared.statements.camt_patterns import compiled
from shared.statements.registry import detect, parsers

BATCH_LINES = 2000  # lines per message: few messages, small enough to keep memory flat
QUEUE_DEPTH = 4  # messages the child may hold ready beyond the pipe
_POLL_SECONDS = 1.0  # how often a waiting parent checks that the child is still alive
_EXIT_WAIT = 5.0
_HEAD = struct.Struct(">BI")  # kind, position of the file in the list
_BATCH, _DONE, _ERROR, _SKIPPED = 1, 2, 3, 4


class ParseAheadError(RuntimeError):
    """The parsing process failed with an error that could not travel back as itself."""


@cache
def warm(camt: bool = True) -> None:
    """Once per process, before the first fork: import every parser (and compile the camt patterns).

    A forked child inherits both, so each batch of files (a watch-folder round, a worker job) does
    not pay for them again (about a quarter of a second in every child otherwise). The patterns
    (``camt``) are compiled once a camt file comes.
    """
    parsers()
    if camt:
        compiled()


def _has_camt(paths: Sequence[Path]) -> bool:
    """Does any of the files look like camt? (a sniff of the head; the child detects for real)"""
    for path in paths:
        try:
            if detect(path).name == "camt":
                return True
        except Exception:  # unreadable, empty, unknown: the child refuses it properly
            continue
    return False


def worth_parse_ahead(total_bytes: int, min_bytes: int) -> bool:
    """Worth a second process? (enough bytes, a second core, and ``fork`` to start it cheaply)."""
    if min_bytes <= 0 or (os.cpu_count() or 1) < 2:
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return total_bytes >= min_bytes


def use_parse_ahead(path: Path, min_bytes: int) -> bool:
    """:func:`worth_parse_ahead` for one file."""
    try:
        return worth_parse_ahead(path.stat().st_size, min_bytes)
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A file's sha256 and the stat stamp taken before hashing it (a changed stamp: hash again)."""

    sha256: str
    stamp: tuple[int, int, int]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(path: Path) -> Fingerprint | None:
    """The file's sha256 and stamp; ``None`` when it cannot be read."""
    stamp = file_stamp(path)
    try:
        return None if stamp is None else Fingerprint(file_sha256(path), stamp)
    except OSError:
        return None


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def inline_statements(parser: StatementParser, path: Path) -> Iterator[PreparedStatement]:
    """The file's statements, prepared, in file order, in this process."""
    for st in parser.parse(path):
        yield prepare(st)


class ParseAhead:
    """One child parses ``jobs`` (position, path) in order; the parent takes them in the same order.

    For each job the parent calls :meth:`statements` (optional) and then :meth:`finish`, so the
    head of the pipe always belongs to the file it is working on.
    """

    def __init__(self, jobs: Sequence[tuple[int, Path]]) -> None:
        self._jobs = list(jobs)
        self._ctx = multiprocessing.get_context("fork")
        # Shared with every child: drop files up to this position; the file being parsed now.
        self._skip: Any = self._ctx.RawValue("q", -1)
        self._current: Any = self._ctx.RawValue("q", -1)
        self._child: Any = None
        self._conn: Any = None
        self._ended = -1  # last position whose end (done, error, skipped) the parent has read
        if self._jobs:
            # (once compiled, the patterns need no second look at the files' heads)
            warm(camt=compiled.cache_info().currsize == 0 and _has_camt([p for _, p in self._jobs]))
            self._start(self._jobs[0][0])

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, first: int, *, alone: bool = False) -> None:
        todo = [(i, p) for i, p in self._jobs if i == first or (i > first and not alone)]
        reader, writer = self._ctx.Pipe(duplex=False)
        self._current.value = first  # a child that dies before its first word is charged to it
        child = self._ctx.Process(target=_produce, args=(todo, writer, reader, self._skip, self._current),
                                  name="cashrecon-parse-ahead", daemon=True)
        child.start()
        writer.close()  # the child holds the only write end: its death is an end of file here
        self._child, self._conn = child, reader

    def _stop(self, wait: float) -> int | None:
        child, conn = self._child, self._conn
        self._child = self._conn = None
        if conn is not None:
            conn.close()
        if child is None:
            return None
        child.join(wait)
        if child.is_alive():
            child.terminate()
            child.join()
        return int(child.exitcode) if child.exitcode is not None else None

    def close(self) -> None:
        """Stop the child (done or not)."""
        self._stop(0)

    def _recv(self) -> bytes:
        """The next message; ``EOFError`` when the child is gone."""
        conn, child = self._conn, self._child
        if conn is None:
            raise EOFError
        try:
            while not conn.poll(_POLL_SECONDS):
                # Gone without an end of file here: another process holds the pipe open too.
                if not child.is_alive() and not conn.poll(0):
                    raise EOFError
            return conn.recv_bytes()  # type: ignore[no-any-return]
        except OSError as exc:
            raise EOFError from exc

    def _next(self, pos: int) -> tuple[int, memoryview] | None:
        """The next message of file ``pos``, or ``None`` when a new child starts over at it."""
        try:
            data = self._recv()
        except EOFError:
            died_here = self._current.value == pos
            code = self._stop(_EXIT_WAIT)
            if died_here:
                raise ParseAheadError(f"the parsing process ended with code {code}") from None
            # It ended (its list done) or died on a later file: this file is parsed again, alone
            # after a death, so that the file that killed it cannot take this one down again.
            self._start(pos, alone=code != 0)
            return None
        kind, at = _HEAD.unpack_from(data)
        if at != pos:
            raise ParseAheadError(f"the parsing process sent file {at} while file {pos} was due")
        if kind != _BATCH:
            self._ended = pos
        return kind, memoryview(data)[_HEAD.size:]

    def statements(self, pos: int) -> Iterator[PreparedStatement]:
        """The prepared statements of file ``pos`` as the child sends them; its refusal is raised."""
        if self._child is None:
            self._start(pos)
        got = drop = 0
        while True:
            msg = self._next(pos)
            if msg is None:
                drop = got  # the new child sends them again
                continue
            kind, payload = msg
            if kind == _BATCH:
                for st in pickle.loads(payload):
                    if drop:
                        drop -= 1
                        continue
                    got += 1
                    yield st
            elif kind == _DONE:
                return
            elif kind == _ERROR:
                raise pickle.loads(payload)
            else:
                raise ParseAheadError(f"the parsing process skipped file {pos}")

    def finish(self, pos: int) -> None:
        """The parent is done with file ``pos``: the child drops the rest of it, unread here."""
        if self._ended >= pos or self._child is None:
            self._ended = max(self._ended, pos)
            return
        self._skip.value = pos
        while True:
            try:
                data = self._recv()
            except EOFError:
                self._stop(_EXIT_WAIT)  # the next file starts a new child
                break
            kind, at = _HEAD.unpack_from(data)
            if at == pos and kind != _BATCH:
                break
        self._ended = pos


class ParseAheadPair:
    """Two :class:`ParseAhead` children for a list of files: each parses about half the bytes.

    Files are dealt out in order, each to the child with fewer bytes so far, so each child still
    takes its own files in order and the parent, taking every file in list order, reads each from
    the child that has it. While the parent writes one child's file, the other parses the next.
    """

    def __init__(self, jobs: Sequence[tuple[int, Path]], sizes: Sequence[int]) -> None:
        split: tuple[list[tuple[int, Path]], list[tuple[int, Path]]] = ([], [])
        load = [0, 0]
        for job, size in zip(jobs, sizes, strict=True):
            side = 0 if load[0] <= load[1] else 1
            split[side].append(job)
            load[side] += size
        self._owner = {pos: side for side in (0, 1) for pos, _ in split[side]}
        self._children: list[ParseAhead] = []
        try:
            for part in split:
                self._children.append(ParseAhead(part))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ParseAheadPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def statements(self, pos: int) -> Iterator[PreparedStatement]:
        return self._children[self._owner[pos]].statements(pos)

    def finish(self, pos: int) -> None:
        self._children[self._owner[pos]].finish(pos)

    def close(self) -> None:
        for child in self._children:
            child.close()


def _message(kind: int, pos: int, payload: object = None) -> bytes:
    head = _HEAD.pack(kind, pos)
    return head if payload is None else head + pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)


def _produce(jobs: list[tuple[int, Path]], writer: Any, reader: Any, skip: Any, current: Any) -> None:
    """Child: parse and prepare each file in turn; a sender thread writes while this one parses."""
    reader.close()  # so that a parent gone away is a broken pipe here, not a hang
    out: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_DEPTH)
    sender = threading.Thread(target=_send_all, args=(out, writer), daemon=True)
    sender.start()
    try:
        for pos, path in jobs:
            current.value = pos
            if not _parse_file(pos, path, skip, out.put):
                break
    finally:
        out.put(None)
        sender.join()
        writer.close()


def _parse_file(pos: int, path: Path, skip: Any, put: Any) -> bool:
    """Send one file's batches and its end; ``False`` when the child must stop (interrupted)."""
    try:
        if skip.value >= pos:
            put(_message(_SKIPPED, pos))
            return True
        parser = detect(path)
        cut = split_plan(parser.name, path)
        if cut is not None:  # a large camt file: two processes take turns (see ingest_parts)
            for payload, _ in pickled_batches(path, cut, BATCH_LINES):
                if skip.value >= pos:
                    put(_message(_SKIPPED, pos))
                    return True
                put(_HEAD.pack(_BATCH, pos) + payload)
            put(_message(_DONE, pos))
            return True
        batch: list[PreparedStatement] = []
        lines = 0
        for st in parser.parse(path):
            if skip.value >= pos:
                put(_message(_SKIPPED, pos))
                return True
            p = prepare(st)
            batch.append(p)
            lines += len(p.rows) + 1
            if lines >= BATCH_LINES:
                put(_message(_BATCH, pos, batch))
                batch, lines = [], 0
        if batch:
            put(_message(_BATCH, pos, batch))
        put(_message(_DONE, pos))
    except BaseException as exc:  # everything goes back to the parent, which decides
        put(_message(_ERROR, pos, portable(exc, ParseAheadError)))
        return isinstance(exc, Exception)
    return True


def _send_all(out: queue.Queue[bytes | None], writer: Any) -> None:
    try:
        while (data := out.get()) is not None:
            writer.send_bytes(data)
    except OSError:  # the parent is gone: nobody to parse for
        os._exit(1)
