"""A large camt file parsed by two processes at once: every other part each, in file order.

The parse-ahead child (:mod:`ingest_ahead`) is the slower half of a camt import: reading XML costs
more than writing the lines. Where :func:`shared.statements.camt_split.plan` can cut the file
into parts of whole records, the child forks a helper that parses and prepares the odd parts
while it does the even ones, and hands the batches on in file order. The helper's batches are
passed on as the bytes it pickled, never unpickled on the way.

Exactly the whole file's result, or its refusal: if any part fails (or the helper dies), the
helper is stopped and the file is parsed again from the start in this process, skipping the
statements already handed on. A broken file is so refused with the whole-file parser's own error
(its message names lines of the file, not of a part), and a part that failed only because it was
a part (which the tests say cannot happen) costs time, not correctness.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import signal
import struct
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from services.cashapp.usecases.ingest_prepare import PreparedStatement, prepare
from shared.statements.camt_patterns import compiled
from shared.statements.camt_split import Plan, parse_part, plan
from shared.statements.model import Statement
from shared.statements.registry import detect

PART_BYTES = 1 << 20  # about 1,300 camt lines: parts small enough for the two to take turns
HELPER_DEPTH = 4  # batches the helper may hold ready (memory stays flat in file size)
_HEAD = struct.Struct(">BII")  # kind, part, statements in the batch
_BATCH, _PART_DONE, _FAILED = 1, 2, 3
_POLL_SECONDS = 1.0


def split_plan(parser_name: str, path: Path) -> Plan | None:
    """A plan for two processes, or None (not camt, too small, or not certain to cut right)."""
    if parser_name != "camt":
        return None
    try:
        return plan(path, PART_BYTES)
    except OSError:
        return None


def pickled_batches(path: Path, cut: Plan, batch_lines: int) -> Iterator[tuple[bytes, int]]:
    """(pickled list of prepared statements, how many) for the whole file, in file order."""
    handed = 0
    try:
        for payload, count in _two_way(path, cut, batch_lines):
            handed += count
            yield payload, count
        return
    except _PartFailed:
        pass
    # Whole file, this process: its own refusal, or (not expected) the rest of the statements.
    yield from _batches(islice(detect(path).parse(path), handed, None), batch_lines)


def _batches(statements: Iterable[Statement], batch_lines: int) -> Iterator[tuple[bytes, int]]:
    """The statements prepared and pickled in batches of about ``batch_lines`` lines."""
    batch: list[PreparedStatement] = []
    lines = 0
    for st in statements:
        p = prepare(st)
        batch.append(p)
        lines += len(p.rows) + 1
        if lines >= batch_lines:
            yield pickle.dumps(batch, pickle.HIGHEST_PROTOCOL), len(batch)
            batch, lines = [], 0
    if batch:
        yield pickle.dumps(batch, pickle.HIGHEST_PROTOCOL), len(batch)


class _PartFailed(Exception):
    """A part could not be read by parts: the whole file is read again."""


def _two_way(path: Path, cut: Plan, batch_lines: int) -> Iterator[tuple[bytes, int]]:
    # A plain fork: this runs in the parse-ahead child, a daemon, which multiprocessing does not
    # let have children of its own.
    compiled()  # the camt patterns take ~0.2 s to compile: once, before the fork, not in both
    reader, writer = multiprocessing.Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the helper
        code = 1
        try:
            _helper(path, cut, batch_lines, writer, reader)
            code = 0
        finally:
            os._exit(code)
    helper = _Helper(pid)
    writer.close()
    try:
        for index in range(len(cut.parts)):
            if index % 2 == 0:
                try:
                    yield from _part_batches(path, cut, index, batch_lines)
                except Exception as exc:
                    raise _PartFailed from exc
            else:
                yield from _relay(reader, helper, index)
    finally:
        reader.close()
        helper.stop()


class _Helper:
    """The forked helper: alive?, and stopped for good."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        if self.exitcode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.exitcode = os.waitstatus_to_exitcode(status)
        return self.exitcode is None

    def stop(self) -> None:
        if self.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            _, status = os.waitpid(self.pid, 0)
            self.exitcode = os.waitstatus_to_exitcode(status)


def _part_batches(path: Path, cut: Plan, index: int, batch_lines: int) -> Iterator[tuple[bytes, int]]:
    return _batches(parse_part(path, cut, index), batch_lines)


def _relay(reader: Any, helper: _Helper, index: int) -> Iterator[tuple[bytes, int]]:
    """The helper's batches of part ``index``, as it pickled them."""
    while True:
        try:
            while not reader.poll(_POLL_SECONDS):
                if not helper.is_alive() and not reader.poll(0):
                    raise _PartFailed(f"the helper ended with code {helper.exitcode}")
            data = reader.recv_bytes()
        except (EOFError, OSError) as exc:
            raise _PartFailed(str(exc)) from exc
        kind, part, count = _HEAD.unpack_from(data)
        if kind == _FAILED or part != index:
            raise _PartFailed(f"part {part} failed in the helper")
        if kind == _PART_DONE:
            return
        yield data[_HEAD.size :], count


def _helper(path: Path, cut: Plan, batch_lines: int, writer: Any, reader: Any) -> None:
    """Helper process: the odd parts, batch by batch; a sender thread writes while this parses."""
    reader.close()
    out: queue.Queue[bytes | None] = queue.Queue(maxsize=HELPER_DEPTH)
    sender = threading.Thread(target=_send_all, args=(out, writer), daemon=True)
    sender.start()
    try:
        for index in range(1, len(cut.parts), 2):
            for payload, count in _part_batches(path, cut, index, batch_lines):
                out.put(_HEAD.pack(_BATCH, index, count) + payload)
            out.put(_HEAD.pack(_PART_DONE, index, 0))
    except Exception:  # the parent reads the whole file again and says what is wrong
        out.put(_HEAD.pack(_FAILED, 0, 0))
    finally:
        out.put(None)
        sender.join()
        writer.close()


def _send_all(out: queue.Queue[bytes | None], writer: Any) -> None:
    try:
        while (data := out.get()) is not None:
            writer.send_bytes(data)
    except OSError:  # nobody listens any more (the file was given up)
        pass
