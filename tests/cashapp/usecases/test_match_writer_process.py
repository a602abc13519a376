"""Large match runs write in a writer process of their own: the same failure rules as on a thread.

A batch that fails rolls back alone and stops the run, the batches before it stay committed, the
error reaches the caller as itself (or as ``MatchWriterError`` when it cannot travel), an error
while deciding still lets the writer commit what it was given, and a writer that dies is noticed.
The tests force the process with ``writer_process_min=0`` (the demo world is small). The writer
gets its write function by name: the faulty ones below are module-level, and their counters are
the writer process's own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, update
from sqlmodel import Session, col

from services.cashapp.models import Allocation, Receipt
from services.cashapp.models_outbox import Outbox
from services.cashapp.rules import default_rules
from services.cashapp.usecases import match as m
from services.cashapp.usecases import match_behind
from services.cashapp.usecases.match import run_match
from services.cashapp.usecases.match_behind import MatchWriterError, WriterProcess, worth_writer_process
from services.cashapp.usecases.match_write import write_batch
from shared.errors import Conflict, DomainError
from tests.cashapp.usecases.test_match_apply import _engine_decisions, _load_demo, break_engine_at, demo_as_of

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the writer process is fed through POSIX pipes")

_CALLS: list[int] = []  # in the writer process: the batches it was given so far
PID_FILE = "CASHRECON_TEST_WRITER_PID_FILE"


@pytest.fixture
def writers(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[Any]]:
    """Every writer process started during the test (to see that none is left running)."""
    started: list[subprocess.Popen[Any]] = []
    real = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(match_behind.subprocess, "Popen", popen)
    return started


def _ended(started: list[subprocess.Popen[Any]]) -> bool:
    return bool(started) and all(p.poll() is not None for p in started)


def _unmatched(engine: Engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(Receipt)
                         .where(col(Receipt.status) == "unmatched")).scalar_one()


def _run(engine: Engine) -> Any:
    return run_match(engine, default_rules(), _load_demo(engine), batch_size=7, writer_process_min=0)


def _writes_where(session: Session, batch: Any) -> None:
    import gc

    Path(os.environ[PID_FILE]).write_text(f"{os.getpid()} {gc.isenabled()}")
    write_batch(session, batch)


def test_the_writer_process_writes_the_run(db: Engine, writers: list, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    as_of = _load_demo(db)
    before = _unmatched(db)
    monkeypatch.setenv(PID_FILE, str(tmp_path / "pid"))
    monkeypatch.setattr(m, "write_batch", _writes_where)
    summary = run_match(db, default_rules(), as_of, batch_size=7, writer_process_min=0)
    pid, collecting = (tmp_path / "pid").read_text().split()
    assert int(pid) == writers[0].pid != os.getpid()
    assert collecting == "False"  # the writer's own cyclic collector stays off (its batches make no cycles)
    assert summary.receipts == before == _engine_decisions(db) and _unmatched(db) == 0
    with Session(db) as s:
        assert (s.execute(select(func.count()).select_from(Allocation)).scalar_one()
                == s.execute(select(func.count()).select_from(Outbox)).scalar_one() > 20)
    assert _ended(writers)
    again = run_match(db, default_rules(), as_of, batch_size=7, writer_process_min=0)
    assert again.receipts == 0 and _engine_decisions(db) == before


def _fails_third(session: Session, batch: Any) -> None:
    _CALLS.append(1)
    write_batch(session, batch)
    if len(_CALLS) == 3:
        raise RuntimeError("disk full")  # after the batch's writes: they must roll back


def test_a_batch_that_fails_in_the_writer_rolls_back_alone(db: Engine, writers: list,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "write_batch", _fails_third)
    with pytest.raises(RuntimeError, match="disk full"):
        _run(db)
    assert _CALLS == [] and _ended(writers)  # (counted over there)
    assert _engine_decisions(db) == 14  # the two batches before it, committed
    with Session(db) as s:
        assert (s.execute(select(func.count()).select_from(Allocation)).scalar_one()
                == s.execute(select(func.count()).select_from(Outbox)).scalar_one())
    monkeypatch.undo()
    left = _unmatched(db)
    again = run_match(db, default_rules(), demo_as_of(), batch_size=7, writer_process_min=0)
    assert again.receipts == left and _unmatched(db) == 0


def _commit_refused_second(session: Session, batch: Any) -> None:
    write_batch(session, batch)
    n = len(_CALLS)
    _CALLS.append(n)

    @event.listens_for(session, "before_commit")
    def _fail(_s: Session) -> None:
        if n == 1:
            raise RuntimeError("commit refused")


def test_a_commit_that_fails_in_the_writer_stops_the_run(db: Engine, writers: list,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "write_batch", _commit_refused_second)
    with pytest.raises(RuntimeError, match="commit refused"):
        _run(db)
    assert _engine_decisions(db) == 7 and _ended(writers)  # the first batch only


def test_an_error_while_deciding_lets_the_writer_commit_what_it_was_given(
        db: Engine, writers: list, monkeypatch: pytest.MonkeyPatch) -> None:
    break_engine_at(monkeypatch, 20)
    with pytest.raises(DomainError, match="engine broke"):
        _run(db)
    assert _engine_decisions(db) == 14 and _ended(writers)  # the batches handed over before the error


def test_a_failure_before_the_first_batch_stops_the_writer(db: Engine, writers: list,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> object:
        raise OSError("disk gone")

    monkeypatch.setattr(m, "load_inputs", broken)
    with pytest.raises(OSError, match="disk gone"):
        _run(db)
    assert _ended(writers) and _engine_decisions(db) == 0


def _takes_second_batch_first(session: Session, batch: Any) -> None:
    _CALLS.append(1)
    if len(_CALLS) == 2:  # someone else takes the second batch's first receipt first
        session.execute(update(Receipt).where(col(Receipt.id) == batch.statuses[0][1]).values(status="applied"))
    write_batch(session, batch)


def test_a_stale_receipt_travels_back_as_itself(db: Engine, writers: list,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "write_batch", _takes_second_batch_first)
    with pytest.raises(Conflict) as err:
        _run(db)
    assert err.value.code == "CASHAPP_STALE_VERSION"
    assert _engine_decisions(db) == 7 and _ended(writers)


def _dies_third(session: Session, batch: Any) -> None:
    _CALLS.append(1)
    if len(_CALLS) == 3:
        session.connection()  # (on SQLite: once the batch before is committed)
        os._exit(3)  # killed mid-run: no word back
    write_batch(session, batch)


def test_a_writer_that_dies_is_noticed_and_what_it_committed_stays(
        db: Engine, writers: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "write_batch", _dies_third)
    with pytest.raises(MatchWriterError, match="exit code 3"):
        _run(db)
    # whole batches only: both on SQLite (the third began after the second's commit); on
    # PostgreSQL the second may still have been committing
    assert _engine_decisions(db) in ((14,) if db.dialect.name == "sqlite" else (7, 14)) and _ended(writers)


def _odd_failure(session: Session, batch: Any) -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    raise Local("odd failure")


def test_an_error_that_cannot_travel_comes_back_named(db: Engine, writers: list,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "write_batch", _odd_failure)
    with pytest.raises(MatchWriterError, match="Local: odd failure"):
        _run(db)
    assert _engine_decisions(db) == 0 and _ended(writers)


def test_the_writer_needs_a_function_it_can_find_by_name(db: Engine) -> None:
    def local(session: Session, batch: Any) -> None:
        pass

    with pytest.raises(ValueError, match="module-level"):
        WriterProcess(db, local)


def test_worth_writer_process() -> None:
    assert not worth_writer_process(10_000, -1)  # never
    assert not worth_writer_process(4_999, 5_000)
    assert not worth_writer_process(0, 0)  # nothing to write
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert worth_writer_process(5_000, 5_000) == (cores >= 2)


def test_a_batch_unpickles_without_the_engine(db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer imports only what writes: a batch holding an engine value (an enum of the domain)
    would import the engine and polars there on its first batch, a few tenths of a second late."""
    import pickle
    import sys

    seen: list[Any] = []
    real = m.prepared

    def keep(*args: Any) -> Any:
        for item in real(*args):
            seen.append(item)
            yield item

    monkeypatch.setattr(m, "prepared", keep)
    run_match(db, default_rules(), _load_demo(db), batch_size=7, writer_process_min=-1)
    batches = [b for _, b in seen]
    assert any(b.exceptions for b in batches) and any(b.allocations for b in batches)
    (tmp_path / "batches.pickle").write_bytes(pickle.dumps(seen, protocol=pickle.HIGHEST_PROTOCOL))
    check = ("import pickle, sys; import services.cashapp.usecases.match_write; "
             f"pickle.loads(open({str(tmp_path / 'batches.pickle')!r}, 'rb').read()); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'polars' "
             "or m.startswith('services.cashapp.domain')))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    assert out.stdout.strip() == "[]", out.stdout
