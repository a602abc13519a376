"""SFTP inbox against a real asyncssh server on loopback: import, then clear remotely."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import asyncssh
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from services.cashapp.models import ImportFile, Receipt
from services.cashapp.usecases import sftp as sftp_mod
from services.cashapp.usecases.sftp import (
    SftpResult,
    is_candidate,
    poll_async,
    poll_once,
    unsafe_remote_name,
)
from shared.config import SftpSettings
from shared.errors import DomainError
from tests.cashapp.sftp.conftest import SftpServer, old, settings_for
from tests.cashapp.usecases.mt940_samples import mt940


class Crash(BaseException):
    """Stands in for the process being killed at a chosen point."""


def _with(cfg: SftpSettings, **over: object) -> SftpSettings:
    return SftpSettings(**{**cfg.model_dump(), **over})


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _local(inbox: Path, sub: str) -> list[Path]:
    return sorted(p for p in (inbox / sub).iterdir() if not p.name.endswith(".reason.json"))


def _drop(root: Path, name: str, text: str, age: float = 3600) -> Path:
    path = root / "drop" / name
    path.write_text(text)
    return old(path, age)


def test_names() -> None:
    assert unsafe_remote_name("../x") and unsafe_remote_name("/etc/passwd")
    assert unsafe_remote_name("..") and unsafe_remote_name("a\x00b")
    assert not unsafe_remote_name("..\\x.sta")
    assert not is_candidate(".hidden") and not is_candidate("x.sta.part")
    assert not is_candidate("X.TMP") and is_candidate("stmt.sta")


def test_imports_then_deletes_remote(db: Engine, sftp_root: Path, sftp_cfg: SftpSettings,
                                     tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _drop(sftp_root, "stmt.sta", mt940())
    [r] = poll_once(db, sftp_cfg, inbox, "hold")
    assert (r.status, r.remote_action, r.remote_path) == ("imported", "deleted", None)
    assert r.ingest is not None and r.ingest.lines == 1
    assert not (sftp_root / "drop" / "stmt.sta").exists()
    assert [p.name.endswith("stmt.sta") for p in _local(inbox, "archive")] == [True]
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []  # nothing left, no .part
    assert _count(db, ImportFile) == 1 and _count(db, Receipt) == 1
    assert poll_once(db, sftp_cfg, inbox, "hold") == []


def test_done_dir_keeps_the_file_remotely(db: Engine, sftp_root: Path, sftp_cfg: SftpSettings,
                                          tmp_path: Path) -> None:
    cfg = _with(sftp_cfg, done_dir="done")
    _drop(sftp_root, "a.sta", mt940())
    [r] = poll_once(db, cfg, tmp_path / "inbox", "hold")
    assert (r.status, r.remote_action, r.remote_path) == ("imported", "moved", "done/a.sta")
    assert (sftp_root / "done" / "a.sta").read_bytes() == mt940().encode()
    # The same name again with the same bytes: a duplicate, moved beside it under a new name.
    _drop(sftp_root, "a.sta", mt940())
    [r2] = poll_once(db, cfg, tmp_path / "inbox", "hold")
    assert (r2.status, r2.remote_action) == ("duplicate", "moved")
    assert r2.remote_path is not None and r2.remote_path.startswith("done/")
    assert r2.remote_path != "done/a.sta" and (sftp_root / "done" / "a.sta").exists()
    assert not (sftp_root / "drop" / "a.sta").exists()


def test_duplicate_bytes_are_removed_remotely(db: Engine, sftp_root: Path, sftp_cfg: SftpSettings,
                                              tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _drop(sftp_root, "first.sta", mt940())
    assert [r.status for r in poll_once(db, sftp_cfg, inbox, "hold")] == ["imported"]
    _drop(sftp_root, "again.sta", mt940())
    [r] = poll_once(db, sftp_cfg, inbox, "hold")
    assert (r.status, r.remote_action, r.reason) == ("duplicate", "deleted", "DUPLICATE_FILE")
    assert not (sftp_root / "drop" / "again.sta").exists()
    assert len(_local(inbox, "duplicates")) == 1 and _count(db, ImportFile) == 1


def test_bad_file_is_quarantined_and_moved_aside(db: Engine, sftp_root: Path,
                                                 sftp_cfg: SftpSettings, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _drop(sftp_root, "junk.sta", "not a bank file\n")
    [r] = poll_once(db, sftp_cfg, inbox, "hold")
    assert (r.status, r.reason, r.remote_action) == ("quarantined", "INGEST_UNKNOWN_FORMAT", "moved")
    assert r.remote_path == "drop/quarantine/junk.sta"
    assert (sftp_root / "drop" / "quarantine" / "junk.sta").read_text() == "not a bank file\n"
    assert len(_local(inbox, "quarantine")) == 1 and _count(db, ImportFile) == 0
    assert poll_once(db, sftp_cfg, inbox, "hold") == []  # the quarantine folder is not polled


def test_without_remote_quarantine_the_file_stays_and_is_not_fetched_again(
        db: Engine, sftp_root: Path, sftp_cfg: SftpSettings, tmp_path: Path) -> None:
    inbox, cfg = tmp_path / "inbox", _with(sftp_cfg, quarantine_dir="")
    bad = _drop(sftp_root, "junk.sta", "not a bank file\n")
    [r] = poll_once(db, cfg, inbox, "hold")
    assert (r.status, r.remote_action, r.remote_path) == ("quarantined", "kept", "drop/junk.sta")
    assert bad.exists()
    assert poll_once(db, cfg, inbox, "hold") == []
    bad.write_text(mt940())  # the bank replaces it: changed size and mtime, fetched again
    old(bad, 1800)
    assert [x.status for x in poll_once(db, cfg, inbox, "hold")] == ["imported"]
    assert not bad.exists()


def test_growing_hidden_partial_and_special_entries_wait(
        db: Engine, sftp_root: Path, sftp_cfg: SftpSettings, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    growing = _drop(sftp_root, "growing.sta", mt940(), age=0)
    _drop(sftp_root, ".hidden.sta", mt940(ref="H"))
    _drop(sftp_root, "upload.sta.part", mt940(ref="P"))
    _drop(sftp_root, "upload.TMP", mt940(ref="T"))
    (sftp_root / "drop" / "sub").mkdir()
    (sftp_root / "outside.sta").write_text(mt940(ref="S"))
    os.symlink(sftp_root / "outside.sta", sftp_root / "drop" / "link.sta")
    assert poll_once(db, sftp_cfg, inbox, "hold") == []
    assert growing.exists() and _count(db, ImportFile) == 0
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []
    old(growing)
    assert [r.remote_name for r in poll_once(db, sftp_cfg, inbox, "hold")] == ["growing.sta"]
    assert (sftp_root / "outside.sta").exists() and (sftp_root / "drop" / "link.sta").is_symlink()


def test_file_changing_during_download_is_left_for_later(
        db: Engine, sftp_root: Path, sftp_cfg: SftpSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    path = _drop(sftp_root, "late.sta", mt940())
    real = sftp_mod._download

    async def download_while_bank_appends(sftp, remote, part):  # type: ignore[no-untyped-def]
        n = await real(sftp, remote, part)
        with path.open("a") as fh:  # the bank's writer was still at it (server clock behind)
            fh.write(mt940(ref="MORE"))
        return n

    monkeypatch.setattr(sftp_mod, "_download", download_while_bank_appends)
    [r] = poll_once(db, sftp_cfg, inbox, "hold")
    assert (r.status, r.reason, r.remote_action) == ("skipped", "SFTP_FILE_CHANGED", "kept")
    assert path.exists() and _count(db, ImportFile) == 0
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []


class LyingServer(asyncssh.SFTPServer):
    """A hostile server whose listing names paths outside the folder."""

    async def scandir(self, path: bytes):  # type: ignore[no-untyped-def, override]
        async for name in super().scandir(path):
            yield name
        if path.rstrip(b"/").endswith(b"drop"):
            attrs = asyncssh.SFTPAttrs.from_local(os.lstat(self.map_path(b"/outside.sta")))
            for evil in (b"../outside.sta", b"/outside.sta", b"sub/../../outside.sta"):
                yield asyncssh.SFTPName(evil, b"", attrs)


def test_hostile_names_stay_inside_the_inbox(db: Engine, make_server, sftp_root: Path,  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    server: SftpServer = make_server(LyingServer)
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_hosts_line())
    cfg = settings_for(server, kh)
    outside = sftp_root / "outside.sta"
    outside.write_text(mt940(ref="OUT"))
    old(outside)
    names = ["x\\..\\..\\win.sta", "..\\hidden-by-dot.sta", "x" * 240 + ".sta",
             "ctl\x01\x1b[2J.sta", " -rf .sta", "ü€.sta"]
    for i, name in enumerate(names):
        _drop(sftp_root, name, mt940(account=f"NL91ABNA04171643{i:02d}"))
    inbox = tmp_path / "inbox"
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(inbox)}
    results = poll_once(db, cfg, inbox, "hold")
    refused = sorted(r.remote_name for r in results if r.reason == "SFTP_UNSAFE_NAME")
    assert refused == ["../outside.sta", "/outside.sta", "sub/../../outside.sta"]
    assert outside.read_bytes() == mt940(ref="OUT").encode()  # never deleted nor moved
    fetched = [r for r in results if r.reason != "SFTP_UNSAFE_NAME"]
    assert sorted(r.remote_name for r in fetched) == sorted(names[:1] + names[2:])
    assert {r.status for r in fetched} == {"imported"}
    for r in fetched:
        assert r.local_name and "/" not in r.local_name and len(r.local_name) <= 120
    # Nothing was written anywhere but under the inbox (the server's and SQLite's files aside).
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(inbox)}
    assert {p for p in after - before if not p.is_relative_to(sftp_root)
            and not p.name.startswith("cashrecon.db")} == set()
    assert len(_local(inbox, "archive")) == len(names) - 1


def test_wrong_host_key_is_refused(db: Engine, server: SftpServer, sftp_root: Path,
                                   tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_hosts_line(other))
    path = _drop(sftp_root, "stmt.sta", mt940())
    with pytest.raises(DomainError) as err:
        poll_once(db, settings_for(server, kh), tmp_path / "inbox", "hold")
    assert err.value.code == "SFTP_HOST_KEY_REJECTED"
    kh.write_text("")  # an unknown host is refused as well
    with pytest.raises(DomainError) as err2:
        poll_once(db, settings_for(server, kh), tmp_path / "inbox", "hold")
    assert err2.value.code == "SFTP_HOST_KEY_REJECTED"
    assert path.exists() and _count(db, ImportFile) == 0
    insecure = settings_for(server, kh, insecure_skip_host_key_check=True)
    assert [r.status for r in poll_once(db, insecure, tmp_path / "inbox", "hold")] == ["imported"]


def test_wrong_password_and_no_server(db: Engine, server: SftpServer, sftp_cfg: SftpSettings,
                                      tmp_path: Path) -> None:
    with pytest.raises(DomainError) as err:
        poll_once(db, _with(sftp_cfg, password="nope"), tmp_path / "i", "hold")
    assert err.value.code == "SFTP_AUTH_FAILED"
    with pytest.raises(DomainError) as err2:
        poll_once(db, _with(sftp_cfg, host=None), tmp_path / "i", "hold")
    assert err2.value.code == "CONFIG_INVALID"
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(DomainError) as err3:
        poll_once(db, _with(sftp_cfg, port=closed, user=None), tmp_path / "i", "hold")
    assert err3.value.code == "SFTP_CONNECT_FAILED"


def test_failed_remote_delete_then_next_poll_clears_it_once(
        db: Engine, sftp_root: Path, sftp_cfg: SftpSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    path = _drop(sftp_root, "stmt.sta", mt940())

    async def refuse(self, path):  # type: ignore[no-untyped-def]
        raise asyncssh.SFTPPermissionDenied("read-only share")

    with monkeypatch.context() as m:
        m.setattr(asyncssh.SFTPClient, "remove", refuse)
        [r] = poll_once(db, sftp_cfg, inbox, "hold")
    assert (r.status, r.remote_action) == ("imported", "failed") and path.exists()
    [r2] = poll_once(db, sftp_cfg, inbox, "hold")
    assert (r2.status, r2.remote_action) == ("duplicate", "deleted") and not path.exists()
    assert _count(db, ImportFile) == 1 and _count(db, Receipt) == 1


def test_killed_after_import_before_remote_delete(
        db: Engine, sftp_root: Path, sftp_cfg: SftpSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    path = _drop(sftp_root, "stmt.sta", mt940())

    async def killed(self, path):  # type: ignore[no-untyped-def]
        raise Crash("killed")

    with monkeypatch.context() as m:
        m.setattr(asyncssh.SFTPClient, "remove", killed)
        with pytest.raises(Crash):
            poll_once(db, sftp_cfg, inbox, "hold")
    assert path.exists() and _count(db, ImportFile) == 1
    [r] = poll_once(db, sftp_cfg, inbox, "hold")
    assert (r.status, r.remote_action) == ("duplicate", "deleted")
    assert not path.exists() and _count(db, ImportFile) == 1 and _count(db, Receipt) == 1


def test_killed_during_download_leaves_nothing_visible(
        db: Engine, sftp_root: Path, sftp_cfg: SftpSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    path = _drop(sftp_root, "stmt.sta", mt940())

    def killed(part, inbox_root, name):  # type: ignore[no-untyped-def]
        raise Crash("killed")

    with monkeypatch.context() as m:
        m.setattr(sftp_mod, "_publish", killed)
        with pytest.raises(Crash):
            poll_once(db, sftp_cfg, inbox, "hold")
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []
    assert path.exists() and _count(db, ImportFile) == 0
    assert [r.status for r in poll_once(db, sftp_cfg, inbox, "hold")] == ["imported"]


def test_stale_part_from_a_dead_process_is_removed(
        db: Engine, sftp_cfg: SftpSettings, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    stale, fresh = inbox / ".sftp-999-a.sta.part", inbox / ".sftp-998-b.sta.part"
    stale.write_text("half")
    fresh.write_text("half")
    old(stale, 7200)
    assert poll_once(db, sftp_cfg, inbox, "hold") == []
    assert not stale.exists() and fresh.exists()


def test_local_name_collision_gets_a_new_name(db: Engine, sftp_root: Path, sftp_cfg: SftpSettings,
                                              tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "stmt.sta").write_text("someone else's file")  # fresh: the watch folder waits on it
    _drop(sftp_root, "stmt.sta", mt940())
    [r] = poll_once(db, sftp_cfg, inbox, "hold")
    assert r.status == "imported" and r.local_name == "stmt-1.sta"
    assert (inbox / "stmt.sta").read_text() == "someone else's file"


def test_two_polls_at_once_import_each_file_once(db: Engine, sftp_root: Path,
                                                  sftp_cfg: SftpSettings, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    for i in range(3):
        _drop(sftp_root, f"s{i}.sta", mt940(account=f"NL91ABNA04171643{i:02d}"))

    async def both() -> list[list[SftpResult]]:
        return list(await asyncio.gather(poll_async(db, sftp_cfg, inbox, "hold"),
                                         poll_async(db, sftp_cfg, inbox, "hold")))

    results = [r for batch in asyncio.run(both()) for r in batch]
    imported = [r.remote_name for r in results if r.status == "imported"]
    assert sorted(imported) == ["s0.sta", "s1.sta", "s2.sta"]
    assert all(r.status in ("imported", "duplicate", "skipped") for r in results)
    assert list((sftp_root / "drop").glob("*.sta")) == []
    assert _count(db, ImportFile) == 3 and _count(db, Receipt) == 3
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []
