"""Parse ahead: read and prepare a large bank file in a second process while this one writes.

Parsing and preparing (keys, hashes, rows) is pure CPU work, and so is much of writing; on a
machine with two cores or more the two halves overlap. The child sends prepared statements in
bounded batches through a queue (memory stays flat in file size), and the parent writes them in
its one transaction as they arrive. A refusal in the child (a ``DomainError``) reaches the parent
as the same error, so the file is refused whole either way; if the parent stops early (its own
refusal), the child is stopped.

Small files, one-core machines and platforms without ``fork`` use the plain in-process path.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.cashapp.usecases.ingest_prepare import PreparedStatement, prepare
from shared.statements.base import StatementParser

BATCH_LINES = 2000  # lines per message: few messages, small enough to keep memory flat
QUEUE_DEPTH = 4
_POLL_SECONDS = 1.0


class ParseAheadError(RuntimeError):
    """The parsing process failed with an error that could not travel back as itself."""


def use_parse_ahead(path: Path, min_bytes: int) -> bool:
    """Worth a second process? (a large file, a second core, and ``fork`` to start it cheaply)."""
    if min_bytes <= 0 or (os.cpu_count() or 1) < 2:
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return path.stat().st_size >= min_bytes
    except OSError:
        return False


def prepared_statements(parser: StatementParser, path: Path, *, ahead: bool) -> Iterator[PreparedStatement]:
    """The file's statements, prepared, in file order: in this process or from a child."""
    if not ahead:
        for st in parser.parse(path):
            yield prepare(st)
        return
    ctx = multiprocessing.get_context("fork")
    q: Any = ctx.Queue(maxsize=QUEUE_DEPTH)
    child = ctx.Process(target=_produce, args=(parser, path, q), name="cashrecon-parse-ahead")
    child.start()
    try:
        while True:
            try:
                kind, payload = q.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not child.is_alive():  # killed (e.g. out of memory) without a word
                    raise ParseAheadError(f"the parsing process ended with code {child.exitcode}") from None
                continue
            if kind == "batch":
                yield from payload
            elif kind == "done":
                return
            else:
                raise payload
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        q.close()
        q.join_thread()


def _produce(parser: StatementParser, path: Path, q: Any) -> None:
    """Child: parse and prepare, send batches, then ``done`` or the error."""
    try:
        batch: list[PreparedStatement] = []
        lines = 0
        for st in parser.parse(path):
            p = prepare(st)
            batch.append(p)
            lines += len(p.rows) + 1
            if lines >= BATCH_LINES:
                q.put(("batch", batch))
                batch, lines = [], 0
        if batch:
            q.put(("batch", batch))
        q.put(("done", None))
    except BaseException as exc:  # everything goes back to the parent, which decides
        q.put(("error", _portable(exc)))
    finally:
        q.close()
        q.join_thread()


def _portable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return ParseAheadError(f"{type(exc).__name__}: {exc}")
    return exc
