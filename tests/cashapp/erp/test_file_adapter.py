"""The file-export adapter: one complete CSV per run, never a key twice, through the relay too."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models_outbox import Outbox
from services.cashapp.usecases.relay import relay_once
from shared.erp.base import Posting, TransientError
from shared.erp.file import LEDGER_DIR, FileAdapter
from tests.cashapp.erp.factories import seed_allocations
from tests.conftest import REPO


def p(key: str, amount: str = "1.00") -> Posting:
    return Posting(key, "application", {"customer_id": "C1", "document_number": f"D-{key}",
                                        "currency": "EUR", "amount": amount})


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def csvs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.csv"))


def test_one_file_per_run_with_decimal_amounts(tmp_path: Path) -> None:
    acks = FileAdapter(tmp_path).send_batch([p("a", "12.30"), p("b")], "run-1")
    [f] = csvs(tmp_path)
    assert f.name == "postings-run-1.csv"
    rows = read(f)
    assert [(r["posting_key"], r["amount"], r["currency"]) for r in rows] == [("a", "12.30", "EUR"),
                                                                             ("b", "1.00", "EUR")]
    assert [(a.reference, a.duplicate) for a in acks] == [("postings-run-1.csv", False)] * 2
    assert not list(tmp_path.glob(".*.part"))  # no temporary left behind


def test_a_key_is_never_written_twice_across_runs(tmp_path: Path) -> None:
    adapter = FileAdapter(tmp_path)
    adapter.send_batch([p("a"), p("b")], "run-1")
    acks = adapter.send_batch([p("b"), p("c")], "run-2")
    assert [a.duplicate for a in acks] == [True, False]
    assert [r["posting_key"] for r in read(tmp_path / "postings-run-2.csv")] == ["c"]
    assert adapter.send_batch([p("a"), p("c")], "run-3")[0].duplicate
    assert [f.name for f in csvs(tmp_path)] == ["postings-run-1.csv", "postings-run-2.csv"]


def test_the_ledger_remembers_keys_after_the_erp_took_the_files(tmp_path: Path) -> None:
    adapter = FileAdapter(tmp_path)
    adapter.send_batch([p("a")], "run-1")
    (tmp_path / "postings-run-1.csv").unlink()  # the ERP import job moved it away
    assert adapter.send_batch([p("a")], "run-2")[0].duplicate
    assert csvs(tmp_path) == []


def test_a_csv_without_ledger_entry_still_counts(tmp_path: Path) -> None:
    adapter = FileAdapter(tmp_path)
    adapter.send_batch([p("a")], "run-1")
    (tmp_path / LEDGER_DIR / "postings-run-1.csv.keys").unlink()  # crash between rename and ledger
    assert adapter.send_batch([p("a")], "run-2")[0].duplicate


def test_write_is_atomic_a_failed_write_leaves_no_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(TransientError):
        FileAdapter(tmp_path).send_batch([p("a")], "run-1")
    assert csvs(tmp_path) == []  # a reader never sees a partial file under the final name
    monkeypatch.undo()
    for part in tmp_path.glob(".*.part"):
        part.unlink()
    assert not FileAdapter(tmp_path).send_batch([p("a")], "run-2")[0].duplicate


def test_relay_with_file_adapter_posts_once(outbox_db: Engine, tmp_path: Path) -> None:
    keys = seed_allocations(outbox_db, 3)
    adapter = FileAdapter(tmp_path)
    res = relay_once(outbox_db, adapter, "w1")
    assert (res.claimed, res.posted) == (3, 3)
    [f] = csvs(tmp_path)
    assert [r["posting_key"] for r in read(f)] == keys
    with Session(outbox_db) as s:
        refs = set(s.execute(select(Outbox.erp_reference)).scalars())  # type: ignore[call-overload]
    assert refs == {f.name}
    assert relay_once(outbox_db, adapter, "w1").claimed == 0
    assert len(csvs(tmp_path)) == 1


def test_relay_killed_after_writing_the_file_does_not_write_it_again(outbox_db: Engine,
                                                                     tmp_path: Path) -> None:
    from datetime import timedelta

    from services.cashapp.models import utcnow
    from tests.cashapp.erp.test_crash import statuses

    keys = seed_allocations(outbox_db, 3)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CASHRECON_FAULT": "after_send"}
    url = outbox_db.url.render_as_string(hide_password=False)
    proc = subprocess.run([sys.executable, "-m", "tests.cashapp.erp.relay_child", url, f"file:{tmp_path}",
                           "-", "3"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert set(statuses(outbox_db).values()) == {"sending"}  # written, never marked
    res = relay_once(outbox_db, FileAdapter(tmp_path), "rescuer", now=utcnow() + timedelta(minutes=5))
    assert (res.posted, res.duplicates) == (3, 3)
    [f] = csvs(tmp_path)
    assert [r["posting_key"] for r in read(f)] == keys
