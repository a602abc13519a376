"""WAL checkpoints of SQLite files in a background thread, so that a committing writer never waits.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* later copies them into the
database file. By default SQLite runs it inside ``COMMIT`` once the WAL passes 1,000 pages, so a
large import or a match batch pays for copying (and syncing) its pages a second time before its
commit returns. Here the writers' own automatic checkpoint only starts past :data:`WAL_CAP_PAGES`
(a bound on the WAL's size if this thread cannot keep up), and after every commit this thread
checkpoints the file from a connection of its own (``PASSIVE``: it never blocks readers or
writers), on the machine's other core. The request is made by :class:`CheckpointingConnection`
once ``COMMIT`` has returned, so the thread always sees the pages it was called for.

Durability and what readers see do not change: a transaction is committed once its pages are in
the WAL, checkpointed or not, and the last connection to close checkpoints what is left.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

WAL_CAP_PAGES = 65536  # 256 MB of 4 KB pages: past this the committing connection checkpoints itself
_IDLE_SECONDS = 2.0  # the thread ends after this long without a commit to follow up
_BUSY_TRIES = 20  # a file locked by another checkpointer (or recovering) is tried again this often
_BUSY_PAUSE = 0.05


class Checkpointer:
    """One daemon thread that checkpoints the files it is told about, until nothing is left to copy."""

    def __init__(self) -> None:
        self._due: set[str] = set()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._tries: dict[str, int] = {}
        self.done = 0  # checkpoints run, and the last result per file: (busy, log, copied) (for tests)
        self.last: dict[str, tuple[int, int, int]] = {}

    def request(self, path: str) -> None:
        """A transaction on ``path`` is committing: checkpoint it soon."""
        with self._cv:
            self._due.add(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cashrecon-wal-checkpoint", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                if not self._due and not self._cv.wait_for(lambda: bool(self._due), _IDLE_SECONDS):
                    self._thread = None
                    return
                paths, self._due = self._due, set()
                self._busy = True
            again = {path for path in sorted(paths) if not self._checkpoint(path)}
            if again:
                time.sleep(_BUSY_PAUSE)
            with self._cv:
                self._due |= again  # more to copy (a writer went on meanwhile): once more
                self._busy = False

    def _checkpoint(self, path: str) -> bool:
        """One passive checkpoint; True when this file needs no further try now.

        That is when the WAL is all copied, the file is gone, or it stayed locked (by another
        process's checkpoint, say) for :data:`_BUSY_TRIES` tries: the next commit asks again.
        """
        if not os.path.exists(f"{path}-wal"):  # closed meanwhile (its last close copied it all)
            self._tries.pop(path, None)  # (a connection now would make -wal and -shm again)
            return True
        try:
            # mode=rw: never create a file (one removed meanwhile stays removed)
            conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=0,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            self._tries.pop(path, None)
            return True
        try:
            busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError as exc:  # "database is locked": a moment later
            tries = self._tries.get(path, 0) + 1
            if tries >= _BUSY_TRIES or ("locked" not in str(exc) and "busy" not in str(exc)):
                self._tries.pop(path, None)
                return True
            self._tries[path] = tries
            return False
        except sqlite3.Error:  # closed underneath, not a database: nothing to follow up
            self._tries.pop(path, None)
            return True
        finally:
            conn.close()
        self._tries.pop(path, None)
        self.done += 1
        self.last[path] = (busy, log, copied)
        return bool(busy == 0 and log == copied)

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is due and the thread is between files (tests, benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._cv:
                if not self._due and not self._busy:
                    return True
            time.sleep(0.01)
        return False

    def _after_fork(self) -> None:
        self._due, self._thread, self._cv, self._busy = set(), None, threading.Condition(), False
        self._tries = {}


CHECKPOINTER = Checkpointer()


class CheckpointingConnection(sqlite3.Connection):
    """A sqlite3 connection that asks for a background checkpoint after each commit it makes.

    Passed as ``factory`` to ``sqlite3.connect``; the request follows ``COMMIT`` (not the
    SQLAlchemy ``commit`` event, which fires before it), so the checkpoint sees the new pages.
    """

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.wal_path = str(Path(os.fsdecode(database)).resolve())

    def commit(self) -> None:
        was_open = self.in_transaction
        super().commit()
        if was_open:
            CHECKPOINTER.request(self.wal_path)
os.register_at_fork(after_in_child=CHECKPOINTER._after_fork)
