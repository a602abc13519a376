"""Shared fixtures: a migrated database per test on SQLite, and again on PostgreSQL.

Database tests take the ``db`` fixture; they run once on SQLite and once on PostgreSQL
(``CASHRECON_TEST_POSTGRES_URL``). Under ``CI=true`` a missing PostgreSQL or Redis is a failure,
never a skip.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from shared.db import make_engine, migrate
from shared.sqlite_wal import CHECKPOINTER

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("CASHRECON_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("CASHRECON_TEST_REDIS_URL")


def require_corpus() -> Path:
    if not CORPUS.is_dir():
        if IN_CI:
            pytest.fail(f"bank-file corpus missing at {CORPUS} (required in CI)")
        pytest.skip(f"bank-file corpus not present at {CORPUS}")
    return CORPUS


@pytest.fixture
def corpus() -> Path:
    return require_corpus()


def _backends() -> list[str]:
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate(eng)
    eng.dispose()
    # Tests copy this file: every page must be in it, none left in a WAL (see shared.sqlite_wal)
    assert CHECKPOINTER.idle()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not path.with_name(path.name + "-wal").exists()
    return path


def _worker_schema() -> str:
    return "t_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CASHRECON_TEST_POSTGRES_URL is not set (required in CI)")
        pytest.skip("PostgreSQL not configured (set CASHRECON_TEST_POSTGRES_URL)")
    schema = _worker_schema()
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # pragma: no cover - only when the server is down
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    finally:
        admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    eng = make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    migrate(eng)
    yield eng
    eng.dispose()


def _truncate_pg(eng: Engine) -> None:
    from sqlmodel import SQLModel

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=_backends())
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty database: SQLite file, or the worker's PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "cashrecon.db"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("pg_engine")
        _truncate_pg(eng)
        yield eng


@pytest.fixture
def db_url(db: Engine) -> str:
    """The URL of ``db`` (with the schema search path for PostgreSQL) for CLI tests."""
    return db.url.render_as_string(hide_password=False)
