"""The CLI contracts: command names, options and the ``ingest --json`` fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cashapp.cli import app
from tests.cashapp.usecases.mt940_samples import mt940

runner = CliRunner()
INGEST_FIELDS = {"path", "status", "reason", "format", "statements", "lines", "credit_total",
                 "debit_total"}


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CASHRECON_DATABASE_URL", db_url)
    return db_url


def test_every_command_has_help() -> None:
    for args in (["--help"], ["ingest", "--help"], ["watch", "--help"], ["customers", "load", "--help"],
                 ["open-items", "load", "--help"], ["match", "--help"],
                 ["export", "applications", "--help"], ["rules", "dry-run", "--help"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
        assert "Usage" in res.output


def test_ingest_json_contract(env: str, tmp_path: Path) -> None:
    good = tmp_path / "good.sta"
    good.write_text(mt940())
    bad = tmp_path / "bad.txt"
    bad.write_text("nothing here\n")
    res = runner.invoke(app, ["ingest", "--json", str(good), str(bad), str(good)])
    assert res.exit_code == 1  # a quarantined file makes the exit code non-zero
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["imported", "quarantined", "duplicate"]
    assert all(r.keys() >= INGEST_FIELDS for r in rows)
    first = rows[0]
    assert (first["format"], first["statements"], first["lines"]) == ("mt940", 1, 1)
    assert (first["credit_total"], first["debit_total"], first["reason"]) == ("150.00", "0.00", None)
    assert rows[1]["reason"] == "INGEST_UNKNOWN_FORMAT"
    assert rows[2]["reason"] == "DUPLICATE_FILE"
    assert good.exists()  # not moved unless asked


def test_ingest_folder_with_move(env: str, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.sta").write_text(mt940())
    res = runner.invoke(app, ["ingest", "--move", str(folder)])
    assert res.exit_code == 0, res.output
    assert "imported" in res.stdout
    assert not (folder / "a.sta").exists()
    assert len(list((folder / "archive").glob("*a.sta"))) == 1


def test_master_data_bad_rows_exit_2(env: str, tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("customer_id,customer_name,iban\nC1,,\n")
    res = runner.invoke(app, ["customers", "load", str(f)])
    assert res.exit_code == 2
    assert "line 2: customer_name is empty" in res.stderr


def test_watch_once(env: str, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.sta").write_text(mt940())
    res = runner.invoke(app, ["watch", str(inbox), "--once", "--stable-seconds", "0"])
    assert res.exit_code == 0, res.output
    assert len(list((inbox / "archive").glob("*"))) == 2  # the file and its reason JSON
