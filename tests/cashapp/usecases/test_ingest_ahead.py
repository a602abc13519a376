"""Parse-ahead (a second process parses while this one writes) imports exactly what inline does.

One file at a time (``ingest_path``), or several through one parsing process (``ingest_paths``).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models import FileRejection, ImportFile, Receipt, StatementRow
from services.cashapp.usecases import ingest, ingest_ahead
from services.cashapp.usecases.ingest import IngestBatch, ingest_path, ingest_paths
from shared.statements.model import Statement
from tests.cashapp.usecases.mt940_samples import mt940

DEMO = Path(__file__).resolve().parents[3] / "services" / "cashapp" / "demo_data" / "statements"
RECEIPT_FIELDS = ("line_key", "account", "currency", "booking_date", "value_date", "amount_minor",
                  "bank_reference", "end_to_end_reference", "counterparty_name", "counterparty_account",
                  "remittance", "creditor_reference", "is_reversal", "raw", "extra_json", "status")


def _snapshot(db: Engine) -> tuple[list[tuple], list[tuple]]:
    with Session(db) as s:
        receipts = sorted(tuple(getattr(r, f) for f in RECEIPT_FIELDS)
                          for r in s.execute(select(Receipt)).scalars())
        statements = sorted((st.account, st.statement_key, st.key_date, st.content_hash, st.lines_count,
                             st.integrity_status, st.held) for st in s.execute(select(StatementRow)).scalars())
    return receipts, statements


def _reset(db: Engine) -> None:
    with Session(db) as s:
        for m in (Receipt, StatementRow, ImportFile, FileRejection):
            s.execute(m.__table__.delete())  # type: ignore[attr-defined,union-attr]
        s.commit()


def test_ahead_imports_exactly_what_inline_does(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_ahead, "BATCH_LINES", 3)  # many small messages
    files = sorted(DEMO.iterdir())
    inline = [ingest_path(db, f, parse_ahead_bytes=0).to_json() for f in files]
    want = _snapshot(db)
    _reset(db)
    ahead = [ingest_path(db, f, parse_ahead_bytes=1).to_json() for f in files]
    assert ahead == inline and all(r["status"] == "imported" for r in ahead)
    assert _snapshot(db) == want and len(want[0]) > 50
    assert multiprocessing.active_children() == []


def test_a_refusal_in_the_child_is_the_same_refusal(db: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    camt = next(f for f in sorted(DEMO.iterdir()) if f.suffix == ".xml")
    bad.write_bytes(camt.read_bytes()[: camt.stat().st_size * 2 // 3])  # cut mid-document
    inline = ingest_path(db, bad, parse_ahead_bytes=0)
    _reset(db)
    ahead = ingest_path(db, bad, parse_ahead_bytes=1)
    assert ahead.status == inline.status == "quarantined"
    assert ahead.reason == inline.reason and (ahead.reason or "").startswith("INGEST_")
    assert _snapshot(db) == ([], [])


def test_a_refusal_in_the_parent_stops_the_child_and_leaves_nothing(db: Engine, tmp_path: Path) -> None:
    first = mt940(seq="00001/001", lines=(("2611021102C150,00NTRFINV1//BR001", "A", "INV-1"),))
    clash = mt940(seq="00001/001", lines=(("2611021102C150,00NTRFINV1//BR002", "A", "INV-2"),))
    path = tmp_path / "two.sta"
    path.write_text(first + clash * 1)
    res = ingest_path(db, path, parse_ahead_bytes=1)
    assert (res.status, res.reason) == ("quarantined", "INGEST_STATEMENT_CONFLICT")
    assert _snapshot(db) == ([], [])
    assert multiprocessing.active_children() == []


def test_a_child_that_dies_quarantines_the_file(db: Engine, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def die(_st: object) -> None:
        os._exit(3)

    monkeypatch.setattr(ingest_ahead, "prepare", die)
    monkeypatch.setattr(ingest_ahead, "_POLL_SECONDS", 0.05)
    path = tmp_path / "one.sta"
    path.write_text(mt940())
    res = ingest_path(db, path, parse_ahead_bytes=1)
    assert (res.status, res.reason) == ("quarantined", "INGEST_INTERNAL_ERROR")
    assert "code 3" in (res.message or "")
    assert _snapshot(db) == ([], [])


def test_small_files_and_zero_stay_inline(tmp_path: Path) -> None:
    p = tmp_path / "f.sta"
    p.write_text(mt940())
    assert not ingest_ahead.use_parse_ahead(p, 0)
    assert not ingest_ahead.use_parse_ahead(p, p.stat().st_size + 1)
    assert ingest_ahead.use_parse_ahead(p, p.stat().st_size) == ((os.cpu_count() or 1) >= 2)


# --- several files, one parsing process ------------------------------------------------------------


def _tables(db: Engine) -> tuple:
    """Everything an import leaves behind, ids aside: receipts, statements, files, refusals."""
    with Session(db) as s:
        files = sorted((f.sha256, f.file_name, f.status, f.source_format, f.statements_count,
                        f.statements_skipped, f.lines_count, f.lines_skipped, f.credit_total_minor,
                        f.debit_total_minor) for f in s.execute(select(ImportFile)).scalars())
        refusals = sorted((r.sha256, r.file_name, r.reason_code, r.message)
                          for r in s.execute(select(FileRejection)).scalars())
    return (*_snapshot(db), files, refusals)


def _mixed(tmp_path: Path) -> list[Path]:
    """Every format, a small file, a refused one in the middle, duplicates of several kinds."""
    demo = sorted(DEMO.iterdir())
    camt = next(f for f in demo if f.suffix == ".xml")
    out = tmp_path / "in"
    out.mkdir()

    def put(name: str, data: bytes) -> Path:
        (out / name).write_bytes(data)
        return out / name

    small = mt940(account="DE00SMALL", lines=(("2611021102C10,00NTRFX//SM1", "S", "INV-S"),),
                  closing="C261102EUR1010,00")
    clash = mt940(account="DE00SMALL", lines=(("2611021102C10,00NTRFX//SM1", "S", "OTHER"),),
                  closing="C261102EUR1010,00")
    return [
        demo[0],
        put("small.sta", small.encode()),
        put("cut.xml", camt.read_bytes()[: camt.stat().st_size * 2 // 3]),  # refused in the child
        demo[1],
        put("copy-of-mt940.sta", demo[0].read_bytes()),  # same bytes as the first: DUPLICATE_FILE
        put("same-statement.sta", (small + "\r\n").encode()),  # DUPLICATE_STATEMENTS
        put("clash-1.sta", clash.encode()),  # refused in the parent (conflict) ...
        put("clash-2.sta", clash.encode()),  # ... and its twin: refused again, not a duplicate
        put("empty.sta", b""),
        tmp_path / "missing.sta",
        demo[2],
    ]


def _one_by_one_then_together(db: Engine, files: list[Path], **kw: int) -> tuple[list, list]:
    want = [ingest_path(db, f, parse_ahead_bytes=kw.get("single", 0)).to_json() for f in files]
    tables = _tables(db)
    _reset(db)
    got = [r.to_json() for r in ingest_paths(db, files, parse_ahead_bytes=kw.get("together", 1))]
    assert got == want
    assert _tables(db) == tables
    assert multiprocessing.active_children() == []
    return want, got


def test_paths_import_exactly_what_one_by_one_does(db: Engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_ahead, "BATCH_LINES", 3)  # many small messages
    jobs: list[list[int]] = []

    class Counted(ingest_ahead.ParseAhead):
        def __init__(self, todo: list[tuple[int, Path]]) -> None:
            jobs.append([i for i, _ in todo])
            super().__init__(todo)

    monkeypatch.setattr(ingest, "ParseAhead", Counted)
    monkeypatch.setattr(ingest_ahead, "ParseAhead", Counted)
    files = _mixed(tmp_path)
    want, _ = _one_by_one_then_together(db, files)
    assert [(r["status"], r["reason"]) for r in want] == [
        ("imported", None), ("imported", None), ("quarantined", "INGEST_XML_MALFORMED"),
        ("imported", None), ("duplicate", "DUPLICATE_FILE"), ("duplicate", "DUPLICATE_STATEMENTS"),
        ("quarantined", "INGEST_STATEMENT_CONFLICT"), ("quarantined", "INGEST_STATEMENT_CONFLICT"),
        ("quarantined", "INGEST_EMPTY_FILE"), ("quarantined", "INGEST_UNREADABLE"), ("imported", None)]
    # Two children share the list, each its files in order (about half the bytes each); the copy,
    # the twin and the missing file go to neither.
    assert len(jobs) == 2 and all(j == sorted(j) and j for j in jobs)
    assert sorted(jobs[0] + jobs[1]) == [0, 1, 2, 3, 5, 6, 8, 10]
    sizes = [sum(files[i].stat().st_size for i in j) for j in jobs]
    biggest = max(files[i].stat().st_size for i in jobs[0] + jobs[1])
    assert abs(sizes[0] - sizes[1]) <= biggest
    # Below twice the threshold: one child for the whole list.
    jobs.clear()
    _reset(db)
    total = sum(files[i].stat().st_size for i in (0, 1, 2, 3, 5, 6, 8, 10))
    assert [r.to_json() for r in ingest_paths(db, files, parse_ahead_bytes=total)] == want
    assert jobs == [[0, 1, 2, 3, 5, 6, 8, 10]]


def test_paths_skip_files_imported_before_the_call(db: Engine, tmp_path: Path) -> None:
    demo = sorted(DEMO.iterdir())
    twin = tmp_path / "twin.xml"
    twin.write_bytes(demo[1].read_bytes())
    files = [demo[0], demo[1], twin, demo[2]]
    ingest_path(db, demo[1], parse_ahead_bytes=0)
    for f in files:
        ingest_path(db, f, parse_ahead_bytes=0)
    want = _tables(db)
    _reset(db)
    ingest_path(db, demo[1], parse_ahead_bytes=0)
    got = [(r.status, r.reason) for r in ingest_paths(db, files, parse_ahead_bytes=1)]
    assert got == [("imported", None), ("duplicate", "DUPLICATE_FILE"),
                   ("duplicate", "DUPLICATE_FILE"), ("imported", None)]
    assert _tables(db) == want


def test_paths_stay_inline_below_the_threshold(db: Engine, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def no_child(_todo: object) -> None:
        raise AssertionError("no parse-ahead child below the threshold")

    monkeypatch.setattr(ingest, "ParseAhead", no_child)
    files = _mixed(tmp_path)
    total = sum(f.stat().st_size for f in files if f.exists())
    _one_by_one_then_together(db, files, together=total + 1)


def test_a_file_that_kills_the_child_is_the_only_one_lost(db: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real_prepare, real_send = ingest_ahead.prepare, ingest_ahead._send_all

    def die_on_dead(st: Statement) -> object:
        if st.account == "DEAD":
            os._exit(3)
        return real_prepare(st)

    def slow_send(*args: object) -> None:  # the child dies before the earlier files are sent
        time.sleep(0.3)
        real_send(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_ahead, "prepare", die_on_dead)
    monkeypatch.setattr(ingest_ahead, "_send_all", slow_send)
    monkeypatch.setattr(ingest_ahead, "_POLL_SECONDS", 0.05)
    files = []
    for n, account in enumerate(("NL01", "DEAD", "NL02", "DEAD", "NL03")):
        files.append(tmp_path / f"{n}.sta")
        files[-1].write_text(mt940(account=account, ref=f"S{n}"))
    want, _ = _one_by_one_then_together(db, files, single=1)
    assert [(r["status"], r["reason"]) for r in want] == [
        ("imported", None), ("quarantined", "INGEST_INTERNAL_ERROR"), ("imported", None),
        ("quarantined", "INGEST_INTERNAL_ERROR"), ("imported", None)]
    assert "code 3" in want[1]["message"]


def test_a_child_that_dies_at_once_quarantines_every_file(db: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_ahead, "prepare", lambda _st: os._exit(3))
    monkeypatch.setattr(ingest_ahead, "_POLL_SECONDS", 0.05)
    files = [tmp_path / "a.sta", tmp_path / "b.sta"]
    files[0].write_text(mt940())
    files[1].write_text(mt940(account="NL02"))
    got = list(ingest_paths(db, files, parse_ahead_bytes=1))
    assert [(r.status, r.reason) for r in got] == [("quarantined", "INGEST_INTERNAL_ERROR")] * 2
    assert _snapshot(db) == ([], [])
    assert multiprocessing.active_children() == []


def _children_once_settled(expected: int, timeout: float = 10.0) -> list[Any]:
    """The live children, once there are ``expected`` of them (or the timeout has passed)."""
    end = time.monotonic() + timeout
    while len(alive := multiprocessing.active_children()) != expected and time.monotonic() < end:
        time.sleep(0.02)
    return alive


def test_stopping_early_stops_the_child(db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_prepare = ingest_ahead.prepare

    def stuck_on_slow(st: Statement) -> object:
        if st.account == "SLOW":
            time.sleep(60)
        return real_prepare(st)

    monkeypatch.setattr(ingest_ahead, "prepare", stuck_on_slow)
    files = [tmp_path / "a.sta", tmp_path / "slow.sta"]
    files[0].write_text(mt940())
    files[1].write_text(mt940(account="SLOW"))
    t0 = time.monotonic()
    results = ingest_paths(db, files, parse_ahead_bytes=1)
    try:
        assert next(results).status == "imported"
        # busy with the slow file (the other child, done with its file, is on its way out)
        assert len(_children_once_settled(1)) == 1
    finally:
        results.close()  # (also when an assert above fails: no child left asleep for the next test)
    assert multiprocessing.active_children() == []
    with pytest.raises(RuntimeError), IngestBatch(db, files, parse_ahead_bytes=1) as batch:
        batch.ingest(0)
        raise RuntimeError("the caller fails")
    assert multiprocessing.active_children() == []
    assert time.monotonic() - t0 < 30


def test_a_file_changed_after_hashing_is_read_again(db: Engine, tmp_path: Path) -> None:
    files = [tmp_path / f"{n}.sta" for n in range(4)]
    for n, f in enumerate(files):
        f.write_text(mt940(account=f"NL0{n}"))
    with IngestBatch(db, files, parse_ahead_bytes=1) as batch:
        assert batch.ingest(0).status == "imported"
        files[1].write_text(mt940(account="NL09", lines=(("2611021102C150,00NTRFX//BR9", "Z", "Z"),)))
        changed = batch.ingest(1)
        assert batch.ingest(3).status == "imported"  # file 2 passed over: nothing of it is written
        with pytest.raises(ValueError):
            batch.ingest(2)
    assert (changed.status, changed.sha256) == ("imported", ingest_ahead.file_sha256(files[1]))
    with Session(db) as s:
        accounts = sorted(r.account for r in s.execute(select(Receipt)).scalars())
    assert accounts == ["NL00", "NL03", "NL09"]
    assert multiprocessing.active_children() == []


def test_the_parent_warms_up_once_before_forking(db: Engine, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.statements import camt_patterns
    from shared.statements.registry import parsers

    ingest_ahead.warm.cache_clear()
    parsers.cache_clear()
    camt_patterns.compiled.cache_clear()
    files = sorted(DEMO.iterdir())
    results = [r.status for r in ingest_paths(db, files, parse_ahead_bytes=1)]
    assert results and set(results) == {"imported"}
    # done here, in the parent, so that every later child inherits it instead of redoing it
    assert any(f.suffix == ".xml" for f in files)
    assert parsers.cache_info().currsize == 1 and camt_patterns.compiled.cache_info().currsize == 1
    calls = ingest_ahead.warm.cache_info().misses
    list(ingest_paths(db, files, parse_ahead_bytes=1))  # a second batch: nothing new
    assert ingest_ahead.warm.cache_info().misses == calls


def test_no_camt_file_no_camt_patterns(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.statements import camt_patterns

    ingest_ahead.warm.cache_clear()
    camt_patterns.compiled.cache_clear()
    files = [f for f in sorted(DEMO.iterdir()) if f.suffix != ".xml"]
    assert files and {r.status for r in ingest_paths(db, files, parse_ahead_bytes=1)} == {"imported"}
    assert camt_patterns.compiled.cache_info().currsize == 0  # neither here nor (so) in the children
