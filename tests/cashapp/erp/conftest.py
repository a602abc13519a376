"""Fixtures for the ERP posting tests: a seeded ledger and a local fake ERP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.cashapp.erp.erp_server import FakeErp

SECRET = "test-secret-0123456789abcdef"


@pytest.fixture
def outbox_db(db: Engine) -> Engine:
    """The ``db`` fixture (SQLite, then PostgreSQL); the outbox tables come with the migration."""
    return db


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    server = FakeErp(SECRET).start()
    yield server
    server.stop()
