"""Writing the matcher's batches while the engine goes on deciding: the same rows, three ways.

Each batch is one transaction; batches are committed strictly in order; a batch that fails rolls
back alone and stops the run (the batches before it stay committed); an error while deciding
stops the run too, once what was handed over is committed. What differs is where the work runs:

- ``write_inline``: everything on the calling thread (SQLite in memory: one database a thread).
- ``write_behind``: the rows are written on the calling thread and each transaction is committed
  behind, on a committer thread, while the next batch is decided.
- ``WriterProcess``: a writer process of its own writes and commits the batches (with
  ``write_behind``) while this process decides and prepares the next ones. Deciding and writing
  are both Python work that holds the GIL most of the time: only two processes put them on two
  cores. Worth it for large runs on a machine with a second core (``worth_writer_process``).

The batches come as (decisions in the batch, prepared rows): :func:`prepared`.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from shared.db import unit_of_work
from shared.errors import portable

D = TypeVar("D")
B = TypeVar("B")
Write = Callable[[Session, B], None]

_DONE, _FAILED = "done", "failed"
_WAIT_SECONDS = 0.05


class MatchWriterError(RuntimeError):
    """The writer process failed with an error that could not travel back as itself, or died."""


def prepared(decisions: Iterator[D], size: int, prepare: Callable[[list[D]], B]) -> Iterator[tuple[int, B]]:
    """``decisions`` in batches of ``size``, each as (its number of decisions, ``prepare(batch)``)."""
    batch: list[D] = []
    for item in decisions:
        batch.append(item)
        if len(batch) == size:
            yield len(batch), prepare(batch)
            batch = []
    if batch:
        yield len(batch), prepare(batch)


def worth_writer_process(receipts: int, min_receipts: int) -> bool:
    """A writer process of its own? (enough receipts, a second core, and POSIX pipes to feed it)"""
    if min_receipts < 0 or receipts < max(min_receipts, 1) or os.name != "posix" or not sys.executable:
        return False
    return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) >= 2


def write_inline(engine: Engine, batches: Iterator[tuple[int, B]], write: Write[B]) -> int:
    """Every batch written and committed on this thread. Returns the decisions written."""
    made = 0
    for n, rows in batches:
        with unit_of_work(engine) as session:
            write(session, rows)
        made += n
    return made


def write_behind(engine: Engine, batches: Iterator[tuple[int, B]], write: Write[B]) -> int:
    """Write each batch here as soon as it comes, commit it behind on a committer thread.

    Its transaction goes to the committer, which commits the batches strictly in order while this
    thread takes (decides) and writes the next one. A commit, with the WAL checkpoint it may run,
    is one driver call that releases the GIL: that is the work that overlaps. (The rows are
    written here: an executemany takes the GIL back after every row, so on a writer thread they
    would only trade turns with the deciding.) On SQLite each batch begins IMMEDIATE: it waits
    until the previous commit lets go of the write lock (not for its checkpoint), and reads
    nothing from before that commit.

    An error writing a batch rolls that batch back; one committing it rolls back that batch and
    any later one. Batches committed before stay committed, the deciding stops, and the error is
    raised here once the committer is done (a failed commit rather than what followed from it).
    Returns the number of decisions written.
    """
    # At most one batch waits for the committer: each holds a connection (and its locks).
    pending: queue.Queue[AbstractContextManager[Session] | None] = queue.Queue(maxsize=1)
    failed: list[BaseException] = []  # a commit failed: later batches are rolled back

    def committer() -> None:
        while (uow := pending.get()) is not None:
            try:
                if failed:  # a batch after a failed one: rolled back, never committed
                    uow.__exit__(RuntimeError, RuntimeError("an earlier batch failed"), None)
                else:
                    uow.__exit__(None, None, None)  # unit_of_work commits (or rolls back and raises)
            except BaseException as exc:
                failed.append(exc)

    thread = threading.Thread(target=committer, name="match-committer", daemon=True)
    thread.start()
    made, error = 0, None
    try:
        for n, rows in batches:
            if failed:
                break
            _hand_over(engine, rows, write, pending)
            made += n
    except Exception as exc:  # (KeyboardInterrupt and the like go straight on, after the join)
        error = exc
    finally:
        pending.put(None)
        thread.join()
        _close(batches)
    if failed:  # the cause: a batch after a failed commit fails its compare-and-set, for one
        if error is not None:
            failed[0].add_note(f"then, on the deciding thread: {error!r}")
        raise failed[0]
    if error is not None:
        raise error
    return made


def _hand_over(engine: Engine, rows: B, write: Write[B],
               pending: queue.Queue[AbstractContextManager[Session] | None]) -> None:
    """Write ``rows`` in a unit of work of their own and queue it for the committer."""
    uow = unit_of_work(engine, immediate=True)
    session = uow.__enter__()
    try:
        write(session, rows)
    except BaseException as exc:
        uow.__exit__(type(exc), exc, exc.__traceback__)  # rolls back
        raise
    try:
        pending.put(uow)
    except BaseException as exc:  # interrupted while waiting: never handed over
        uow.__exit__(type(exc), exc, exc.__traceback__)
        raise


def _close(batches: Iterator[Any]) -> None:
    close = getattr(batches, "close", None)  # a generator left early: its ``finally`` runs now
    if close is not None:
        close()


class WriterProcess:
    """A writer process of its own: a fresh interpreter, started ahead of the run's first batch.

    Started (``subprocess``: nothing of this process's threads, locks or open database
    connections goes along) before the engine loads its inputs, so that it imports and connects
    (``make_engine`` on the same URL) meanwhile. :meth:`write` then feeds it the prepared
    batches, which it writes with :func:`write_behind`. ``write`` is handed over by name: a
    module-level function. Use it as a context manager: leaving stops a writer never used.
    """

    def __init__(self, engine: Engine, write: Write[Any]) -> None:
        where = f"{write.__module__}:{write.__qualname__}"
        if "<" in where:
            raise ValueError(f"the writer process needs a module-level function, not {where}")
        rows_r, rows_w = os.pipe()
        said_r, said_w = os.pipe()
        try:
            # (the child finds what this process finds: the same import path)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(rows_r), str(said_w)],
                pass_fds=(rows_r, said_w), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            # (its stderr is the caller's: a traceback there is the only word of a writer that died)
        except BaseException:
            for fd in (rows_r, rows_w, said_r, said_w):
                os.close(fd)
            raise
        os.close(rows_r)  # the child holds the only read end: its death breaks the pipe here
        os.close(said_w)
        self._rows = Connection(rows_w, readable=False)
        self._said = Connection(said_r, writable=False)
        self._used = False
        url = engine.url.render_as_string(hide_password=False)
        with contextlib.suppress(OSError):  # it died on its way up: its answer says so
            self._rows.send_bytes(pickle.dumps((url, where)))

    def __enter__(self) -> WriterProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._used:  # never fed: told to stop (an end of file), and waited for
            self._rows.close()
            self._said.close()
            self._proc.wait()

    def write(self, batches: Iterator[tuple[int, B]]) -> int:
        """Send the batches; returns the decisions written once the writer is done, or raises.

        Batches are pickled here and sent by a sender thread (a pipe write releases the GIL), at
        most two waiting, so deciding runs up to a batch or two ahead of the writer. The writer
        answers once, at its end: the decisions written, or the error that stopped it (deciding
        then stops here, and it is raised). An error here stops the sending; the writer commits
        what it was given and the error is raised once it is done. A writer that dies without a
        word is a :class:`MatchWriterError`; the batches it committed stay committed.
        """
        self._used = True
        outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        broken = threading.Event()
        rows, said = self._rows, self._said

        def sender() -> None:
            while (data := outbox.get()) is not None:
                if broken.is_set():
                    continue  # the writer is gone: drained, never sent
                try:
                    rows.send_bytes(data)
                except OSError:
                    broken.set()

        thread = threading.Thread(target=sender, name="cashrecon-match-sender", daemon=True)
        thread.start()
        error = None
        try:
            for item in batches:
                if broken.is_set() or said.poll():  # the writer stopped early: it failed
                    break
                outbox.put(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:  # (KeyboardInterrupt and the like go straight on, after the join)
            error = exc
        finally:
            outbox.put(pickle.dumps(None))  # the end: the writer commits what it has and answers
            outbox.put(None)
            thread.join()
            rows.close()
            try:
                kind, value = self._answer()
            finally:
                said.close()
                self._proc.wait()
                _close(batches)
        if kind == _FAILED:
            if error is not None:
                value.add_note(f"then, on the deciding side: {error!r}")
            raise value
        if error is not None:
            raise error
        return int(value)

    def _answer(self) -> tuple[str, Any]:
        """The writer's one answer; :class:`MatchWriterError` when it died without giving it."""
        said, proc = self._said, self._proc
        while not said.poll(_WAIT_SECONDS):
            # (a process forked meanwhile by another thread may hold the pipe open: no end of file)
            if proc.poll() is not None and not said.poll():
                break
        try:
            return pickle.loads(said.recv_bytes())  # type: ignore[no-any-return]
        except (EOFError, OSError):
            return _FAILED, MatchWriterError(
                f"the match writer process stopped without an answer (exit code {proc.wait()}); "
                "the batches it committed stay committed: run match again")


def _writer_main(rows_fd: int, said_fd: int) -> None:
    """The writer process: connect, :func:`write_behind` the batches from the pipe, answer once."""
    rows = Connection(rows_fd, writable=False)
    said = Connection(said_fd, readable=False)

    def received() -> Iterator[tuple[int, Any]]:
        while (item := pickle.loads(rows.recv_bytes())) is not None:  # EOFError: the parent is gone
            yield item

    # Each batch unpickles into tens of thousands of small tuples, and writing it makes as many
    # again: the cyclic collector would walk them over and over, for nothing (they go with their
    # batch, by reference counting). A process of its own, for one run: off for its life.
    gc.disable()
    engine = None
    try:
        url, where = pickle.loads(rows.recv_bytes())
        module, _, name = where.partition(":")
        write: Any = importlib.import_module(module)
        for part in name.split("."):
            write = getattr(write, part)
        from shared.db import make_engine

        engine = make_engine(url)
        answer: tuple[str, Any] = (_DONE, write_behind(engine, received(), write))
    except BaseException as exc:  # everything goes back to the parent, which raises it
        answer = (_FAILED, portable(exc, MatchWriterError))
    finally:
        if engine is not None:
            engine.dispose()
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        said.send_bytes(pickle.dumps(answer))


if __name__ == "__main__":  # the writer process (by its real name: its errors pickle as such)
    from services.cashapp.usecases.match_behind import _writer_main as main

    main(int(sys.argv[1]), int(sys.argv[2]))
    # Answered, and the engine disposed: what is left is the interpreter's teardown (a few tenths
    # of a second), which the parent waits for. Nothing of it is needed: the rows are committed
    # and the connections closed (a checkpoint cut short is finished by the next one).
    sys.stderr.flush()
    os._exit(0)
