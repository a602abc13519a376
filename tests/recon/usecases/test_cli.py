"""The ``recon`` and ``reports`` commands end to end on a real database."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from services.recon.cli import register
from services.recon.models import ConfirmationItem
from shared.db import unit_of_work
from tests.recon.usecases.world import World

runner = CliRunner()
app = typer.Typer()
register(app)


@pytest.fixture
def env(world: World, db_url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("CASHRECON_DATABASE_URL", db_url)
    world.customer("C1")
    world.customer("C2")
    world.item("C1", "INV-1", 10000, date(2026, 9, 1), due=date(2026, 9, 20))  # 10 days overdue
    world.item("C1", "INV-2", 5000, date(2026, 6, 1), due=date(2026, 6, 15))  # 107 days
    world.item("C2", "INV-3", 2500, date(2026, 9, 25), due=date(2026, 10, 25))  # current
    world.item("C2", "CN-1", -500, date(2026, 9, 26), kind="credit_note")
    return world


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_confirm_verify_respond_report(env: World, rdb: Engine, tmp_path: Path) -> None:
    out = _ok(["recon", "confirm", "--as-of", "2026-09-30", "--out", str(tmp_path)])
    assert "run 1 as of 2026-09-30: 2 customer(s), 4 item(s)" in out
    assert (tmp_path / "run-1" / "C1" / "letter.pdf").read_bytes()[:4] == b"%PDF"
    assert json.loads(_ok(["recon", "verify", "1"]))["ok"] is True
    reply = tmp_path / "reply.csv"
    reply.write_text("customer_id,currency,confirmed_balance\nC1,EUR,150.00\nC2,EUR,10.00\n")
    loaded = json.loads(_ok(["recon", "responses", "load", str(reply)]))
    assert loaded["agreed"] == ["C1"] and loaded["disagreed"] == ["C2"]
    report = json.loads(_ok(["recon", "report", "1", "--json"]))
    assert report["replied"] == 2 and report["response_rate_pct"] == "100.0"
    assert report["agreed"] == {"count": 1, "balance_minor": {"EUR": 15000}}
    assert report["differences_by_class"] == {"UNEXPLAINED": {"count": 1, "difference_minor": {"EUR": 1000}}}
    assert "UNEXPLAINED" in _ok(["recon", "report", "1"])
    with unit_of_work(rdb) as s:
        s.execute(update(ConfirmationItem).values(open_minor=1))
    result = runner.invoke(app, ["recon", "verify", "1"])
    assert result.exit_code == 1 and json.loads(result.stdout)["ok"] is False


def test_bad_reply_lines_on_stderr(env: World, tmp_path: Path) -> None:
    _ok(["recon", "confirm", "--as-of", "2026-09-30", "--out", str(tmp_path), "--no-pdf"])
    assert not (tmp_path / "run-1" / "C1" / "letter.pdf").exists()
    reply = tmp_path / "reply.csv"
    reply.write_text("customer_id,currency,confirmed_balance\nC1,EUR,abc\nC2,EUR,1\n")
    result = runner.invoke(app, ["recon", "responses", "load", str(reply), "--run", "1"])
    assert result.exit_code == 2
    assert "line 2: confirmed_balance 'abc'" in result.stderr
    assert "RECON_BAD_REPLY_ROWS" in result.stderr


def test_aging_csv_and_json(env: World) -> None:
    rows = list(csv.DictReader(io.StringIO(_ok(["reports", "aging", "--as-of", "2026-09-30"]))))
    by = {r["customer_id"]: r for r in rows}
    assert by["C1"]["days_1_30"] == "100.00" and by["C1"]["days_over_90"] == "50.00"
    # The credit note is due on its date, four days before the cut-off: it ages like an invoice.
    assert (by["C2"]["current"], by["C2"]["days_1_30"], by["C2"]["total"]) == ("25.00", "-5.00", "20.00")
    data = json.loads(_ok(["reports", "aging", "--as-of", "2026-09-30", "--buckets", "0,60",
                           "--format", "json"]))
    assert data["total"] == [{"currency": "EUR", "current": "25.00", "days_1_60": "95.00",
                              "days_over_60": "50.00", "total": "170.00", "overdue": "145.00",
                              "item_count": 4, "customer_count": 2}]


def test_aging_bad_buckets(env: World) -> None:
    result = runner.invoke(app, ["reports", "aging", "--as-of", "2026-09-30", "--buckets", "30,10"])
    assert result.exit_code == 2 and "RECON_BAD_BUCKETS" in result.stderr


def test_report_date_outside_the_calendar_exits_2(env: World) -> None:
    result = runner.invoke(app, ["reports", "dso", "--as-of", "0001-01-01"])
    assert result.exit_code == 2 and "outside" in result.output + result.stderr


def test_dso_and_unapplied(env: World, tmp_path: Path) -> None:
    target = tmp_path / "dso.json"
    _ok(["reports", "dso", "--as-of", "2026-09-30", "--format", "json", "-o", str(target)])
    dso = json.loads(target.read_text())["dso"]
    assert dso[0]["currency"] == "EUR" and dso[0]["ar_balance"] == "170.00"
    # July-September: 100.00 + 25.00 invoiced over 92 days; 170 / 125 * 92 = 125.1 days.
    assert dso[0]["credit_sales"] == "125.00" and dso[0]["dso_standard_days"] == "125.1"
    assert dso[0]["dso_countback_days"] is not None
    env.receipt(700, date(2026, 9, 29), status="partial", customer="C2")
    rows = list(csv.DictReader(io.StringIO(_ok(["reports", "unapplied", "--as-of", "2026-09-30"]))))
    assert rows == [{"customer_id": "C2", "currency": "EUR", "on_account": "0.00", "credit_note": "-5.00",
                     "unapplied_receipts": "7.00"}]


def test_kpi_json(env: World) -> None:
    env.receipt(100, date(2026, 9, 29), customer="C1")
    env.receipt(100, date(2026, 9, 29), status="exception", customer="C1")
    data = json.loads(_ok(["reports", "kpi"]))
    assert data["auto_match_by_day"][0]["decision_count"] == 2
    assert data["auto_match_by_day"][0]["auto_rate_pct"] == "50.0"
