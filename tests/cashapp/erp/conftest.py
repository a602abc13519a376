"""Fixtures for the ERP posting tests: outbox tables, a seeded ledger, a local fake ERP.

The outbox tables are not in the Alembic migration yet (the lead regenerates it), so they are
created here on top of the migrated schema, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import SQLModel

import services.cashapp.models_outbox as models_outbox
from tests.cashapp.erp.erp_server import FakeErp

SECRET = "test-secret-0123456789abcdef"
OUTBOX_TABLES = [models_outbox.Outbox.__table__, models_outbox.PostingFailure.__table__]  # type: ignore[attr-defined]


def create_outbox_tables(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=OUTBOX_TABLES, checkfirst=True)


@pytest.fixture(scope="session")
def pg_engine(pg_engine: Engine) -> Engine:
    # The root fixture truncates every table in the metadata, ours included: create them first.
    create_outbox_tables(pg_engine)
    return pg_engine


@pytest.fixture
def outbox_db(db: Engine) -> Engine:
    """The ``db`` fixture (SQLite, then PostgreSQL) with the outbox tables."""
    create_outbox_tables(db)
    return db


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    server = FakeErp(SECRET).start()
    yield server
    server.stop()
