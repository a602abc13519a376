"""``cashrecon post failures`` and ``cashrecon post requeue KEY``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from services.cashapp.models_outbox import Outbox
from services.cashapp.models_service import AuditLog
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.erp.factories import seed_allocations
from tests.cashapp.erp.test_cli_worker import make_app, runner


@pytest.fixture
def env(outbox_db: Engine, erp: FakeErp, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("CASHRECON_DATABASE_URL", outbox_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CASHRECON_ERP_URL", erp.url)
    monkeypatch.setenv("CASHRECON_ERP_SECRET", SECRET)
    return outbox_db


def status(db: Engine, key: str) -> str:
    with Session(db) as s:
        return str(s.execute(select(col(Outbox.status)).where(col(Outbox.posting_key) == key)).scalar_one())


def test_list_then_requeue_a_refused_posting(env: Engine, erp: FakeErp) -> None:
    keys = seed_allocations(env, 2)
    erp.reject.add(keys[1])
    res = runner.invoke(make_app(), ["post", "--json"])  # the bare command still relays
    assert res.exit_code == 1 and json.loads(res.output)["failed"] == 1
    res = runner.invoke(make_app(), ["post", "failures", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [(f["posting_key"], f["code"], f["amount"]) for f in doc["items"]] == \
        [(keys[1], "ERP_REJECTED", "1.00")] and doc["more"] is False
    res = runner.invoke(make_app(), ["post", "failures"])
    assert keys[1] in res.output and "1 open failure(s)" in res.output
    res = runner.invoke(make_app(), ["post", "requeue", keys[1], "--reason", "customer fixed"])
    assert res.exit_code == 0, res.output
    assert "outbox is pending" in res.output and status(env, keys[1]) == "pending"
    with Session(env) as s:
        entry = s.execute(select(AuditLog).where(col(AuditLog.action) == "posting.requeue")).scalar_one()
    assert entry.actor.startswith("cli:") and entry.reason == "customer fixed"
    res = runner.invoke(make_app(), ["post", "requeue", keys[1]])
    assert res.exit_code == 1 and "ERP_FAILURE_NOT_FOUND" in res.output
    assert "0 open failure(s)" in runner.invoke(make_app(), ["post", "failures"]).output
    erp.reject.clear()
    res = runner.invoke(make_app(), ["post", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["posted"] == 1
    assert status(env, keys[1]) == "posted"
