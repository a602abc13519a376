"""The matching engine stays pure: no database, network, files, clock, environment or randomness.

Walks the syntax tree of every module in ``services/cashapp/domain`` and fails on I/O imports
and calls. The checker is itself tested on snippets that must fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[3] / "services" / "cashapp" / "domain"

FORBIDDEN_MODULES = {
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "requests",
    "urllib",
    "http",
    "aiohttp",
    "redis",
    "arq",
    "psycopg",
    "psycopg2",
    "sqlite3",
    "os",
    "pathlib",
    "socket",
    "ssl",
    "subprocess",
    "shutil",
    "io",
    "tempfile",
    "glob",
    "fnmatch",
    "pickle",
    "shelve",
    "time",
    "random",
    "secrets",
    "uuid",
    "threading",
    "multiprocessing",
    "asyncio",
    "concurrent",
    "logging",
    "sys",
    "importlib",
    "watchfiles",
    "lxml",
    "mt940",
    "ofxparse",
    "typer",
    "pydantic_settings",
    "shared.db",
    "shared.config",
    "shared.statements",
}
FORBIDDEN_CALLS = {"open", "print", "input", "eval", "exec", "__import__", "breakpoint", "getenv"}
# Clock reads and frame I/O, whatever object they hang off (datetime.now(), date.today(), pl.read_csv()).
FORBIDDEN_ATTRIBUTES = {
    "now",
    "utcnow",
    "today",
    "time",
    "perf_counter",
    "monotonic",
    "environ",
    "getenv",
    "system",
    "popen",
    "urlopen",
    "read_text",
    "write_text",
    "read_bytes",
    "write_bytes",
}
FORBIDDEN_ATTRIBUTE_PREFIXES = ("read_", "scan_", "write_", "sink_")


def _module_of(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return [node.module or ""] if node.level == 0 else []


def violations(source: str, name: str = "<snippet>") -> list[str]:
    """Every forbidden import or call in ``source`` as ``name:line: what``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for mod in _module_of(node):
                if any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN_MODULES):
                    found.append(f"{name}:{node.lineno}: imports {mod}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{name}:{node.lineno}: calls {func.id}()")
            if isinstance(func, ast.Attribute) and (
                func.attr in FORBIDDEN_ATTRIBUTES or func.attr.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES)
            ):
                found.append(f"{name}:{node.lineno}: calls .{func.attr}()")
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            found.append(f"{name}:{node.lineno}: reads .environ")
    return found


def _modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_domain_has_modules() -> None:
    names = {p.name for p in _modules()}
    assert {"engine.py", "rules.py", "references.py", "allocate.py", "dryrun.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_domain_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_domain_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


@pytest.mark.parametrize(
    "snippet",
    [
        "import os",
        "import os.path",
        "from pathlib import Path",
        "import sqlalchemy as sa",
        "from sqlmodel import Session",
        "import httpx",
        "from redis import Redis",
        "import arq.worker",
        "import socket",
        "import subprocess",
        "import shutil",
        "from io import StringIO",
        "import time",
        "import random",
        "from shared.db import engine",
        "import requests",
        "x = open('f')",
        "print('x')",
        "from datetime import datetime\nd = datetime.now()",
        "from datetime import date\nd = date.today()",
        "import polars as pl\npl.read_csv('x')",
        "def f(df):\n    df.write_parquet('x')",
        "import polars as pl\npl.scan_parquet('x')",
    ],
)
def test_checker_catches(snippet: str) -> None:
    assert violations(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "import polars as pl",
        "from datetime import date, timedelta",
        "from decimal import Decimal",
        "from rapidfuzz import fuzz",
        "from shared.money import to_minor",
        "import tomllib\ntomllib.loads('')",
        "from .rules import RuleSet",
    ],
)
def test_checker_allows(snippet: str) -> None:
    assert violations(snippet) == []
