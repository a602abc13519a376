"""The SFTP inbox from the outside: key auth, the arq job hook and ``cashrecon sftp poll``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from services.cashapp import worker
from services.cashapp.cli_sftp import register
from services.cashapp.usecases.sftp import poll_once, sftp_poll_job
from shared.config import Settings, SftpSettings
from tests.cashapp.sftp.conftest import PASSWORD, USER, SftpServer, old, settings_for
from tests.cashapp.usecases.mt940_samples import mt940


def _drop(root: Path, name: str, text: str) -> Path:
    path = root / "drop" / name
    path.write_text(text)
    return old(path)


def test_key_auth(db: Engine, make_server, sftp_root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = asyncssh.generate_private_key("ssh-ed25519")
    server: SftpServer = make_server(client_key=key)
    key_file = tmp_path / "id_ed25519"
    key.write_private_key(str(key_file))
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_hosts_line())
    _drop(sftp_root, "k.sta", mt940())
    cfg = settings_for(server, kh, password=None, key_file=key_file)
    assert [r.status for r in poll_once(db, cfg, tmp_path / "inbox", "hold")] == ["imported"]


def test_job_is_a_no_op_without_a_host() -> None:
    out = asyncio.run(sftp_poll_job({"settings": Settings(sftp=SftpSettings(host=None))}))
    assert out == {"configured": False, "files": 0, "imported": 0}


def test_job_polls_and_chains_matching(db: Engine, sftp_root: Path, sftp_cfg: SftpSettings,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chained: list[tuple[Any, ...]] = []

    async def record(ctx: dict[str, Any], function: str, *args: Any, job_id: str) -> None:
        chained.append((function, job_id))

    monkeypatch.setattr(worker, "_chain", record)
    _drop(sftp_root, "a.sta", mt940())
    _drop(sftp_root, "b.sta", "junk\n")
    ctx = {"settings": Settings(watch_dir=tmp_path / "inbox", on_balance_break="hold", sftp=sftp_cfg),
           "engine": db}
    out = asyncio.run(sftp_poll_job(ctx))
    assert out == {"configured": True, "files": 2, "imported": 1, "quarantined": 1,
                   "remote_failed": 0}
    assert [c[0] for c in chained] == ["match_job"] and chained[0][1].startswith("match:")
    assert asyncio.run(sftp_poll_job(ctx))["files"] == 0
    assert len(chained) == 1  # nothing new, nothing queued


def _env(server: SftpServer, db_url: str, tmp_path: Path) -> dict[str, str]:
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_hosts_line())
    return {"CASHRECON_DATABASE_URL": db_url, "CASHRECON_WATCH_DIR": str(tmp_path / "inbox"),
            "CASHRECON_ON_BALANCE_BREAK": "hold",
            "CASHRECON_SFTP_HOST": "127.0.0.1", "CASHRECON_SFTP_PORT": str(server.port),
            "CASHRECON_SFTP_USER": USER, "CASHRECON_SFTP_PASSWORD": PASSWORD,
            "CASHRECON_SFTP_KNOWN_HOSTS": str(kh), "CASHRECON_SFTP_REMOTE_DIR": "drop",
            "CASHRECON_SFTP_DONE_DIR": "done", "CASHRECON_SFTP_STABLE_SECONDS": "5"}


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_poll_json(db_url: str, server: SftpServer, sftp_root: Path, tmp_path: Path) -> None:
    _drop(sftp_root, "a.sta", mt940())
    res = CliRunner().invoke(_app(), ["sftp", "poll", "--json"],
                             env=_env(server, db_url, tmp_path))
    assert res.exit_code == 0, res.output
    [line] = [json.loads(x) for x in res.stdout.splitlines()]
    assert (line["status"], line["remote_action"], line["remote_path"]) == ("imported", "moved", "done/a.sta")
    assert line["ingest"]["lines"] == 1 and (sftp_root / "done" / "a.sta").exists()
    _drop(sftp_root, "bad.sta", "junk\n")
    res2 = CliRunner().invoke(_app(), ["sftp", "poll"], env=_env(server, db_url, tmp_path))
    assert res2.exit_code == 1 and "quarantined" in res2.stdout and "INGEST_UNKNOWN_FORMAT" in res2.stdout


def test_cli_refused_host_key_exits_2(db_url: str, server: SftpServer, tmp_path: Path) -> None:
    env = _env(server, db_url, tmp_path)
    Path(env["CASHRECON_SFTP_KNOWN_HOSTS"]).write_text("")
    res = CliRunner().invoke(_app(), ["sftp", "poll"], env=env)
    assert res.exit_code == 2 and "SFTP_HOST_KEY_REJECTED" in res.output


def test_cli_without_a_host_exits_2(db_url: str, tmp_path: Path) -> None:
    env = {"CASHRECON_DATABASE_URL": db_url, "CASHRECON_SFTP_HOST": ""}
    res = CliRunner().invoke(_app(), ["sftp", "poll"], env=env)
    assert res.exit_code == 2 and "CASHRECON_SFTP_HOST" in res.output
