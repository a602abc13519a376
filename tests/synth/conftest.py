"""Shared synthetic worlds for the synth tests: generated once per session, written once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shared.synth import World, generate_world
from shared.synth.writers import write_world

START = date(2026, 3, 2)
# The CLI's default size: every scenario must appear in it.
DEFAULT_SIZE = {"customers": 200, "open_items": 600, "receipts": 300}


def default_world(seed: int) -> World:
    """A world of the CLI's default size."""
    return generate_world(
        seed, DEFAULT_SIZE["customers"], DEFAULT_SIZE["open_items"], DEFAULT_SIZE["receipts"], START
    )


@pytest.fixture(scope="session")
def world() -> World:
    return default_world(7)


@pytest.fixture(scope="session")
def written(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_world(world, out, files=5)
    return out


@pytest.fixture(scope="session")
def big_world() -> World:
    """Large enough for rare features (batch entries, fallbacks) to show up reliably."""
    return generate_world(11, customers=1_500, open_items=6_000, receipts=3_000, start=START)
