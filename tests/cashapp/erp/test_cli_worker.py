"""``cashrecon post`` and ``cashrecon worker`` as mounted by ``register``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from services.cashapp.cli_worker import register
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.erp.factories import seed_allocations

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_post_sends_everything_due_and_prints_counts(outbox_db: Engine, erp: FakeErp,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    keys = seed_allocations(outbox_db, 2)
    monkeypatch.setenv("CASHRECON_DATABASE_URL", outbox_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CASHRECON_ERP_URL", erp.url)
    monkeypatch.setenv("CASHRECON_ERP_SECRET", SECRET)
    res = runner.invoke(make_app(), ["post", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"claimed": 2, "posted": 2, "duplicates": 0, "retried": 0,
                                      "failed": 0, "lost": 0, "released": 0}
    assert erp.documents_per_key() == dict.fromkeys(keys, 1)
    res = runner.invoke(make_app(), ["post"])
    assert res.exit_code == 0 and "claimed=0" in res.output


def test_post_refuses_an_http_adapter_without_a_real_secret(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASHRECON_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("CASHRECON_ERP_URL", "http://127.0.0.1:9/postings")
    monkeypatch.setenv("CASHRECON_ERP_SECRET", "short")
    res = runner.invoke(make_app(), ["post"])
    assert res.exit_code == 2 and "CONFIG_INVALID" in res.output


def test_worker_needs_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASHRECON_REDIS_URL", raising=False)
    res = runner.invoke(make_app(), ["worker", "--burst"])
    assert res.exit_code == 2 and "CASHRECON_REDIS_URL" in res.output
