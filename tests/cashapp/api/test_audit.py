"""The hash-chained audit log: every change recorded, tampering found, CSV export, CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from services.cashapp import audit
from services.cashapp.cli_service import register
from tests.cashapp.api.conftest import Api, seed


def make_history(api: Api) -> None:
    ids = seed(api.engine, n_receipts=2)
    e = ids["exceptions"][0]
    api.post("clerk", f"/exceptions/{e}/claim", headers={"X-Request-ID": "req-claim-1"})
    api.post("clerk", f"/exceptions/{e}/resolve",
             json={"kind": "apply", "lines": [{"open_item_id": ids["items"][0], "amount": "10.00"}]})
    api.post("admin", "/users", json={"name": "eve", "role": "auditor"})


def test_changes_are_recorded_with_actor_and_request_id(api: Api) -> None:
    make_history(api)
    entries = api.get("auditor", "/audit?limit=100").json()["items"]
    actions = [x["action"] for x in entries]
    assert actions.count("user.create") == 7  # six fixture users and eve
    assert {"exception.claim", "exception.resolve.apply"} <= set(actions)
    claim = next(x for x in entries if x["action"] == "exception.claim")
    assert (claim["actor"], claim["role"], claim["request_id"]) == ("clerk", "clerk", "req-claim-1")
    assert '"status":"open"' in claim["before_json"] and '"status":"claimed"' in claim["after_json"]
    assert [x["seq"] for x in entries] == list(range(1, len(entries) + 1))
    page = api.get("auditor", "/audit?limit=3&after_seq=2").json()
    assert [x["seq"] for x in page["items"]] == [3, 4, 5] and page["next_after_seq"] == 5
    only = api.get("auditor", "/audit?actor=clerk").json()["items"]
    assert {x["actor"] for x in only} == {"clerk"}
    assert api.get("clerk", "/audit").status_code == 403


def test_verify_finds_the_tampered_row(api: Api) -> None:
    make_history(api)
    assert api.get("auditor", "/audit/verify").json() == {
        "ok": True, "first_broken_seq": None, "entries": 9}
    with api.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET after_json = '{}' WHERE seq = 8"))
    report = api.get("auditor", "/audit/verify").json()
    assert report["ok"] is False and report["first_broken_seq"] == 8


def test_verify_finds_a_deleted_row_and_a_relinked_chain(api: Api) -> None:
    make_history(api)
    with api.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    with Session(api.engine) as s:
        assert audit.verify(s) == 4
    with api.engine.begin() as conn:  # renumber to hide the gap: the links still break
        conn.execute(text("UPDATE audit_log SET seq = seq - 1 WHERE seq > 4"))
    with Session(api.engine) as s:
        assert audit.verify(s) == 4


def test_csv_export(api: Api) -> None:
    make_history(api)
    r = api.get("auditor", "/audit/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert tuple(rows[0]) == audit.CSV_FIELDS and len(rows) == 10
    buf = io.StringIO()
    with Session(api.engine) as s:
        assert audit.export_csv(s, buf) == 9
    assert list(csv.reader(io.StringIO(buf.getvalue()))) == rows


@pytest.fixture
def cli(api: Api, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("CASHRECON_DATABASE_URL", api.engine.url.render_as_string(hide_password=False))
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    return app


def test_cli_users_create_and_audit(api: Api, cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["users", "create", "carol", "--role", "supervisor"])
    assert res.exit_code == 0, res.output
    key = res.output.strip().splitlines()[-1]
    assert key.startswith("crk_")
    me = api.client.get("/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert (me["name"], me["role"]) == ("carol", "supervisor")
    bad = runner.invoke(cli, ["users", "create", "dave", "--role", "emperor"])
    assert bad.exit_code == 2 and "USER_BAD_ROLE" in bad.output
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0 and "ok: 7 audit entries" in ok.output
    out = tmp_path / "audit.csv"
    exp = runner.invoke(cli, ["audit", "export", "-o", str(out)])
    assert exp.exit_code == 0 and len(out.read_text().splitlines()) == 8
    with api.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1 and "seq 2" in broken.output
