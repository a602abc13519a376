"""The deployment files hold together: compose services, health checks, start order, real commands.

No Docker engine is needed: compose.yaml is parsed with pyyaml and every ``cashrecon`` command it
runs is checked against the real CLI (``<command> --help`` through Typer's runner, which also
refuses unknown options); the Dockerfile's COPY sources must exist in the repository.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from services.cashapp.cli import app as cli_app

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
APP_SERVICES = ("migrate", "api", "worker")
REQUIRED_ENV = ("CASHRECON_DATABASE_URL", "CASHRECON_REDIS_URL", "CASHRECON_ERP_URL",
                "CASHRECON_ERP_SECRET", "CASHRECON_WATCH_DIR")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    out = []
    for line in logical:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def known_setting_envs() -> set[str]:
    """Every ``CASHRECON_*`` variable the product's one ``Settings`` object reads."""
    from shared.config import env_names

    return set(env_names())


def is_one_shot(name: str, services: dict[str, Any]) -> bool:
    """Some service waits for this one to finish successfully, and it is never restarted."""
    waited = any(dep.get("condition") == "service_completed_successfully"
                 for svc in services.values()
                 for dep_name, dep in (svc.get("depends_on") or {}).items() if dep_name == name)
    return waited and str(services[name].get("restart", "no")) == "no"


def has_healthcheck(svc: dict[str, Any]) -> bool:
    hc = svc.get("healthcheck") or {}
    return not hc.get("disable") and bool(hc.get("test"))


# --- compose.yaml ----------------------------------------------------------------------------

def test_the_five_services_are_there(services: dict[str, Any]) -> None:
    assert set(services) == {"api", "worker", "migrate", "postgres", "redis"}
    assert str(services["postgres"]["image"]).startswith("postgres:16")
    assert str(services["redis"]["image"]).startswith("redis:7")
    for name in APP_SERVICES:
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / services[name]["build"]["context"]).resolve() == REPO


def test_every_service_has_a_healthcheck_or_is_one_shot(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        assert has_healthcheck(svc) or is_one_shot(name, services), name
    assert is_one_shot("migrate", services)
    assert not has_healthcheck(services["migrate"])  # the image's /health probe would never pass


def test_database_and_redis_healthchecks_use_their_own_probes(services: dict[str, Any]) -> None:
    pg = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in pg
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"] or \
        "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])


def test_api_healthcheck_hits_health_on_the_served_port(services: dict[str, Any]) -> None:
    api = services["api"]
    probe = " ".join(api["healthcheck"]["test"])
    m = re.search(r"http://127\.0\.0\.1:(\d+)/health", probe)
    assert m, probe
    cmd = api["command"]
    port = cmd[cmd.index("--port") + 1] if "--port" in cmd else "8000"
    assert m.group(1) == port
    assert any(str(p).endswith(f":{port}") for p in api["ports"])
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"


def test_health_answers_without_authentication(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from services.cashapp.api.app import create_app
    from shared.db import make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    migrate(eng)
    with TestClient(create_app(eng)) as client:
        r = client.get("/health")
    eng.dispose()
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_worker_healthcheck_names_the_real_arq_settings(services: dict[str, Any]) -> None:
    test = services["worker"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "arq", "--check"]
    module, _, attr = test[3].rpartition(".")
    settings = getattr(importlib.import_module(module), attr)
    assert settings.queue_name and settings.functions
    from services.cashapp.worker import WorkerSettings

    assert settings is WorkerSettings


def test_start_order_waits_for_health_and_for_migrations(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        for dep_name, dep in (svc.get("depends_on") or {}).items():
            assert dep_name in services, (name, dep_name)
            want = ("service_completed_successfully" if is_one_shot(dep_name, services)
                    else "service_healthy")
            assert dep.get("condition") == want, (name, dep_name, dep)
            assert has_healthcheck(services[dep_name]) or want != "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert {"postgres", "redis"} <= set(deps)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_commands_are_real_cashrecon_commands(services: dict[str, Any], service: str) -> None:
    cmd = services[service]["command"]
    cmd = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    result = CliRunner().invoke(cli_app, [*cmd, "--help"])
    assert result.exit_code == 0, (cmd, result.output)
    assert "Usage" in result.output


def test_expected_commands(services: dict[str, Any]) -> None:
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["worker"]["command"][0] == "worker"
    assert services["api"]["command"][0] == "serve"


def test_environment_names_real_settings(services: dict[str, Any]) -> None:
    known = known_setting_envs()
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert isinstance(env, dict), name
        for var in REQUIRED_ENV:
            assert var in env, (name, var)
        unknown = {k for k in env if k.startswith("CASHRECON_")} - known
        assert not unknown, (name, unknown)  # a typo would be silently ignored at run time


def test_urls_point_at_the_compose_services(services: dict[str, Any]) -> None:
    env = services["api"]["environment"]
    db = env["CASHRECON_DATABASE_URL"]
    assert db.startswith("postgresql+psycopg://")
    assert urlsplit(re.sub(r"\$\{[^}]*\}", "secret", db)).hostname == "postgres"  # ${VAR} filled in
    assert urlsplit(env["CASHRECON_REDIS_URL"]).hostname == "redis"


def test_worker_mounts_the_watch_folder(compose: dict[str, Any], services: dict[str, Any]) -> None:
    worker = services["worker"]
    watch = worker["environment"]["CASHRECON_WATCH_DIR"]
    outbox = worker["environment"]["CASHRECON_ERP_OUTBOX_DIR"]
    mounts = {target: source for source, target in (v.split(":")[:2] for v in worker["volumes"])}
    assert watch in mounts and outbox in mounts
    declared = set(compose.get("volumes") or {})
    assert mounts[watch] in declared and mounts[outbox] in declared


# --- Dockerfile ------------------------------------------------------------------------------

def test_dockerfile_base_user_entrypoint_and_healthcheck() -> None:
    ins = dockerfile_instructions()
    froms = [a for i, a in ins if i == "FROM"]
    assert froms and all(a.split()[0] == "python:3.11-slim" for a in froms)
    final = max(n for n, (i, _) in enumerate(ins) if i == "FROM")
    users = [a for i, a in ins[final:] if i == "USER"]
    assert users and users[-1] not in ("root", "0")
    entry = [a for i, a in ins if i == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["cashrecon"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert "cashrecon" in scripts
    health = " ".join(a for i, a in ins if i == "HEALTHCHECK")
    assert "/health" in health and "CMD" in health
    assert any(i == "RUN" and re.search(r"pip install \.(\s|$)", a) for i, a in ins)
    default = json.loads(next(a for i, a in reversed(ins) if i == "CMD"))
    assert CliRunner().invoke(cli_app, [*default, "--help"]).exit_code == 0


def test_dockerfile_copies_files_that_exist() -> None:
    copies = [a for i, a in dockerfile_instructions() if i in ("COPY", "ADD")]
    local = [a for a in copies if not a.startswith("--from")]
    assert local
    for args in local:
        parts = [p for p in args.split() if not p.startswith("--")]
        for src in parts[:-1]:
            assert (REPO / src).exists(), f"COPY source {src} missing in the repository"


def test_dockerfile_environment_names_real_settings() -> None:
    env_lines = " ".join(a for i, a in dockerfile_instructions() if i == "ENV")
    names = set(re.findall(r"(CASHRECON_[A-Z_]+)=", env_lines))
    assert names and names <= known_setting_envs()
