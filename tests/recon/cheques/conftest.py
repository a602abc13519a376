"""Fixtures for the cheque lifecycle: the ``db`` of tests/conftest.py, a ledger, a local ERP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.recon.usecases.world import World


@pytest.fixture
def world(db: Engine) -> World:
    """A ledger builder on ``db`` (customers and open items)."""
    return World(db)


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    """A real local HTTP ERP that records and de-duplicates postings."""
    server = FakeErp(SECRET).start()
    yield server
    server.stop()
