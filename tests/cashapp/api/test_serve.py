"""``serve`` runs the API under uvicorn against the configured database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.db import make_engine, migrate, unit_of_work
from tests.cashapp.api.conftest import REPO_ROOT

LAUNCH = ("import typer; from services.cashapp.cli_service import register; "
          "app = typer.Typer(); app.command('noop')(lambda: None); register(app); app()")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_and_authenticated_calls(tmp_path: Path) -> None:
    from services.cashapp.auth import create_user

    url = f"sqlite:///{tmp_path / 'svc.db'}"
    eng = make_engine(url)
    migrate(eng)
    with unit_of_work(eng, immediate=True) as s:
        _, key = create_user(s, "ann", "auditor")
    eng.dispose()
    port = free_port()
    env = {**os.environ, "CASHRECON_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "serve", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert me.status_code == 200 and me.json()["name"] == "ann"
        assert me.headers["x-request-id"]
        assert httpx.get(f"{base}/me", timeout=5).status_code == 401
        assert "/exceptions" in httpx.get(f"{base}/openapi.json", timeout=5).json()["paths"]
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
