"""The reconciliation domain stays pure: no I/O, database, environment or clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[3] / "services" / "recon" / "domain"
FORBIDDEN_MODULES = {
    "os",
    "io",
    "pathlib",
    "shutil",
    "socket",
    "subprocess",
    "tempfile",
    "time",
    "random",
    "sqlite3",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "fastapi",
    "starlette",
    "httpx",
    "requests",
    "urllib",
    "arq",
    "redis",
    "psycopg",
    "watchfiles",
    "typer",
    "shared.db",
    "shared.config",
    "services.cashapp",
}
FORBIDDEN_CALLS = {"open", "input", "print"}
FORBIDDEN_ATTRIBUTES = {
    "now",
    "today",
    "utcnow",
    "getenv",
    "environ",
    "read_csv",
    "write_csv",
    "read_parquet",
}


def _modules() -> list[Path]:
    return sorted(DOMAIN.glob("*.py"))


def test_domain_exists() -> None:
    assert len(_modules()) >= 7


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert not any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES), (
                f"{path.name}:{getattr(node, 'lineno', '?')} imports {name}"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {node.func.id}()"
        if isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN_ATTRIBUTES, f"{path.name}:{node.lineno} uses .{node.attr}"


def test_modules_stay_small() -> None:
    for path in _modules():
        assert len(path.read_text().splitlines()) < 400, path.name
