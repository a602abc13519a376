"""Watch folder: completeness, filing away with reasons, hostile names and symlinks."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.cashapp.usecases.inbox import (
    Watcher,
    candidates,
    ensure_layout,
    is_complete,
    safe_name,
    scan_once,
)
from shared.errors import DomainError
from tests.cashapp.usecases.mt940_samples import mt940


def _old(path: Path) -> Path:
    past = time.time() - 60
    os.utime(path, (past, past), follow_symlinks=False)
    return path


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("/abs/path/x.sta", "x.sta"),
    ("..", "unnamed"),
    ("a\x00b\nc.sta", "a_b_c.sta"),
    ("..\\..\\win.sta", "win.sta"),
])
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_safe_name_truncates_long_names() -> None:
    name = safe_name("x" * 400 + ".sta")
    assert len(name) <= 120 and name.endswith(".sta")


def test_files_are_filed_with_reason(db: Engine, tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    ensure_layout(root)
    (root / "good.sta").write_text(mt940())
    (root / "bad.sta").write_text("not a bank file at all\n")
    (root / "copy.sta").write_text(mt940())
    for p in root.iterdir():
        if p.is_file():
            _old(p)
    results = {Path(r.path).name: r for r in scan_once(db, root, "hold", 2.0)}
    assert results["bad.sta"].status == "quarantined"
    assert {results["good.sta"].status, results["copy.sta"].status} == {"imported", "duplicate"}
    assert candidates(root) == []
    archived = list((root / "archive").glob("*.sta"))
    quarantined = list((root / "quarantine").glob("*.sta"))
    assert len(archived) == 1 and len(quarantined) == 1 and len(list((root / "duplicates").glob("*.sta"))) == 1
    reason = json.loads(Path(str(quarantined[0]) + ".reason.json").read_text())
    assert reason["status"] == "quarantined" and reason["reason"] == "INGEST_UNKNOWN_FORMAT"
    assert reason["original_name"] == "bad.sta"


def test_incomplete_file_waits(db: Engine, tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    ensure_layout(root)
    f = root / "growing.sta"
    f.write_text(mt940()[:40])
    assert not is_complete(f, 2.0)
    assert scan_once(db, root, "hold", 2.0) == []
    assert f.exists()
    f.write_text(mt940())
    _old(f)
    assert [r.status for r in scan_once(db, root, "hold", 2.0)] == ["imported"]


def test_partial_and_hidden_names_are_ignored(db: Engine, tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    ensure_layout(root)
    for name in (".hidden.sta", "upload.sta.part", "x.tmp"):
        (root / name).write_text(mt940())
    assert candidates(root) == []


def test_symlink_is_never_followed(db: Engine, tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    ensure_layout(root)
    secret = tmp_path / "outside.sta"
    secret.write_bytes(mt940().encode())
    (root / "link.sta").symlink_to(secret)
    _old(root / "link.sta")
    results = scan_once(db, root, "hold", 0.0)
    assert [(r.status, r.reason) for r in results] == [("quarantined", "INGEST_NOT_A_FILE")]
    assert secret.read_bytes() == mt940().encode()  # the target is untouched and was not imported
    moved = list((root / "quarantine").iterdir())
    assert any(p.is_symlink() for p in moved)


def test_symlinked_subfolder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "archive").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DomainError) as err:
        ensure_layout(root)
    assert err.value.code == "INBOX_UNSAFE_LAYOUT"


def test_hostile_names_stay_inside(db: Engine, tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    ensure_layout(root)
    names = ["x..sta", "$(rm -rf).sta", "a" * 250 + ".sta", "-rf.sta", "x\ny.sta"]
    for n in names:
        (root / n).write_text("garbage\n")
        _old(root / n)
    def outside() -> set[str]:  # the SQLite test database lives in tmp_path too
        return {n for n in os.listdir(tmp_path) if not n.startswith("cashrecon.db")}

    before = outside()
    scan_once(db, root, "hold", 2.0)
    assert outside() == before  # nothing written next to the folder
    assert set(os.listdir(root)) == {"archive", "duplicates", "quarantine"}
    assert len(list((root / "quarantine").glob("*.sta"))) == len(names)
    assert all(len(p.name) < 200 for p in (root / "quarantine").iterdir())


def test_watcher_picks_up_an_atomic_rename(db: Engine, tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    ensure_layout(root)
    seen: list[str] = []
    stop = threading.Event()

    def on_result(r) -> None:  # type: ignore[no-untyped-def]
        seen.append(r.status)
        stop.set()

    t = threading.Thread(target=Watcher(db, root, "hold", 0.5).run, args=(stop, on_result))
    t.start()
    try:
        part = root / ".incoming.sta.part"
        part.write_text(mt940())
        _old(part)
        os.replace(part, root / "incoming.sta")
        stop.wait(20)
    finally:
        stop.set()
        t.join(10)
    assert seen == ["imported"]
    assert len(list((root / "archive").glob("*incoming.sta"))) == 1


def test_a_scan_imports_its_files_as_one_batch_with_the_same_results(
        db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing
    import shutil

    from services.cashapp.usecases import ingest as ingest_uc

    demo = sorted((Path(__file__).resolve().parents[3] / "services" / "cashapp" / "demo_data"
                   / "statements").iterdir())
    root = tmp_path / "inbox"
    ensure_layout(root)
    for f in demo:
        shutil.copy(f, root / f.name)
    shutil.copy(demo[0], root / "zz-copy-of-first.sta")
    (root / "bad.sta").write_text("not a bank file at all\n")
    os.symlink(root / "bad.sta", root / "link.sta")
    for p in root.iterdir():
        if p.is_file() and not p.is_symlink():
            _old(p)
    batches: list[list[str]] = []
    real = ingest_uc.IngestBatch

    class Seen(real):  # type: ignore[misc,valid-type]
        def __init__(self, engine: Engine, paths: list[Path], *args: object, **kw: object) -> None:
            batches.append([Path(p).name for p in paths])
            super().__init__(engine, paths, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("services.cashapp.usecases.inbox.IngestBatch", Seen)
    monkeypatch.setenv("CASHRECON_PARSE_AHEAD_BYTES", "1")  # parsed ahead by child processes
    got = {Path(r.path).name: (r.status, r.reason, r.lines) for r in scan_once(db, root, "hold", 0.0)}
    # one batch of the regular files, in name order; the symlink never goes to it
    assert batches == [sorted(["bad.sta", "zz-copy-of-first.sta", *(f.name for f in demo)])]
    assert got["bad.sta"][:2] == ("quarantined", "INGEST_UNKNOWN_FORMAT")
    assert got["link.sta"][:2] == ("quarantined", "INGEST_NOT_A_FILE")
    assert got["zz-copy-of-first.sta"][:2] == ("duplicate", "DUPLICATE_FILE")
    assert all(got[f.name][0] == "imported" and got[f.name][2] > 0 for f in demo)
    assert candidates(root) == [] and multiprocessing.active_children() == []
    assert len(list((root / "archive").glob("*"))) == 2 * len(demo)  # each file and its reason


def test_a_file_swapped_for_a_symlink_during_the_scan_is_not_imported(
        db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cashapp.usecases import inbox

    root = tmp_path / "inbox"
    ensure_layout(root)
    outside = tmp_path / "outside.sta"
    outside.write_text(mt940())
    for name in ("a.sta", "b.sta"):
        (root / name).write_text(mt940(account=f"DE00{name[0].upper()}"))
        _old(root / name)
    real = inbox.IngestBatch

    class Swapping(real):  # type: ignore[misc,valid-type]
        def ingest(self, pos: int) -> object:
            if pos == 0:  # while the first file is imported, the second becomes a symlink
                (root / "b.sta").unlink()
                os.symlink(outside, root / "b.sta")
            return super().ingest(pos)

    monkeypatch.setattr(inbox, "IngestBatch", Swapping)
    got = {Path(r.path).name: (r.status, r.reason) for r in scan_once(db, root, "hold", 2.0)}
    assert got == {"a.sta": ("imported", None), "b.sta": ("quarantined", "INGEST_NOT_A_FILE")}
    assert outside.exists() and [p.name for p in (root / "quarantine").iterdir() if p.is_symlink()]
