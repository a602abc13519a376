"""WAL checkpoints run in the background: a commit does not copy its pages twice before returning."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from shared import sqlite_wal
from shared.db import make_engine
from shared.sqlite_wal import CHECKPOINTER, WAL_CAP_PAGES, Checkpointer


def _wal_state(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        _, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return log, copied
    finally:
        conn.close()


def test_writers_leave_checkpoints_to_the_background_thread(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == WAL_CAP_PAGES
    before = CHECKPOINTER.done
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.exec_driver_sql("INSERT INTO t VALUES (?)", [("x" * 1000,) for _ in range(20_000)])
    assert CHECKPOINTER.idle()
    assert CHECKPOINTER.done > before
    with engine.connect() as conn:  # everything committed is readable, checkpointed or not
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 20_000
    _, log, copied = CHECKPOINTER.last[str(db.resolve())]
    assert log == copied > 0  # the thread copied the whole WAL
    assert _wal_state(db)[0] == _wal_state(db)[1]
    engine.dispose()


def test_no_file_is_created_for_a_database_that_is_gone(tmp_path: Path) -> None:
    cp = Checkpointer()
    gone = tmp_path / "gone.db"
    cp.request(str(gone))
    assert cp.idle()
    assert not gone.exists()


def test_memory_databases_have_no_checkpointer() -> None:
    assert CHECKPOINTER.idle()  # what earlier tests asked for is done: only this test's commits count
    before = CHECKPOINTER.done
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INT)"))
    assert CHECKPOINTER.idle() and CHECKPOINTER.done == before


def test_the_request_follows_the_commit_so_every_committed_page_is_copied(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    for _ in range(5):  # small commits one after another: none is left in the WAL
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", [("y" * 500,) for _ in range(2_000)])
        assert CHECKPOINTER.idle()
        _, log, copied = CHECKPOINTER.last[str(db.resolve())]
        assert log == copied > 0
    engine.dispose()


def test_a_locked_file_is_tried_again_until_the_lock_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    setup = sqlite3.connect(db, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INT)")
    setup.execute("INSERT INTO t VALUES (1)")
    setup.close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (2)")
    holder.execute("COMMIT")  # exclusive mode keeps the lock after the commit
    monkeypatch.setattr(sqlite_wal, "_BUSY_TRIES", 1_000_000)  # it never gives up during the test
    cp = Checkpointer()
    cp.request(str(db))
    deadline = time.monotonic() + 30
    while cp._tries.get(str(db), 0) < 3:  # a few refused tries, however slow the machine
        assert time.monotonic() < deadline, "the checkpointer did not try again"
        time.sleep(0.01)
    assert cp.done == 0 and not cp.idle(timeout=0.05)
    holder.close()  # the lock goes (and the closing connection checkpoints itself, removing the WAL)
    assert cp.idle(timeout=30)
    assert cp._tries == {} and not Path(f"{db}-wal").exists()  # no more tries, and no file made again
    assert not Path(f"{db}-shm").exists()


def test_a_file_closed_meanwhile_is_left_alone(tmp_path: Path) -> None:
    """The last connection's close copied everything and removed the WAL: a late request must not
    open the file again (that would make -wal and -shm anew, in a folder about to be removed)."""
    db = tmp_path / "gone.db"
    setup = sqlite3.connect(db, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INT)")
    setup.close()
    assert not Path(f"{db}-wal").exists()
    cp = Checkpointer()
    cp.request(str(db))
    assert cp.idle(timeout=30)
    assert cp.done == 0 and not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
