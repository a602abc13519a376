"""Fixtures: the ``db`` of tests/conftest.py and a ledger builder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.recon.usecases.world import World


@pytest.fixture
def rdb(db: Engine) -> Iterator[Engine]:
    """``db`` (its migration carries the reconciliation tables)."""
    yield db


@pytest.fixture
def world(rdb: Engine) -> World:
    """A ledger builder on ``rdb``."""
    return World(rdb)
