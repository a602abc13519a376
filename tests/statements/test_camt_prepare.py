"""prepare() on every camt corpus and golden statement: the reference line keys and content hash.

prepare() computes both inline (one loop, the repr of each line written directly); these are the
definitions it must keep: ``line_keys`` and ``Statement.content_hash`` (stored in databases to tell
re-sends from conflicting statements, so never to change).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from services.cashapp.usecases.ingest_prepare import line_keys, prepare
from shared.errors import ParseError
from shared.statements.camt import CamtParser
from shared.statements.model import Statement
from tests.statements.camt_helpers import CAMT_FILES

FILES = CAMT_FILES


def _statements(path: Path) -> list[Statement]:
    out: list[Statement] = []
    try:
        for st in CamtParser().parse(path):
            out.append(st)
    except ParseError:
        pass
    return out


@pytest.mark.parametrize("path", FILES, ids=[p.name[:80] for p in FILES])
def test_prepare_keeps_the_reference_keys_and_hash(path: Path) -> None:
    for st in _statements(path):
        p = prepare(copy.deepcopy(st))
        booked = copy.deepcopy(st)
        booked.lines = [ln for ln in booked.lines if not ln.extra or ln.extra.get("status") != "PDNG"]
        assert [row[0] for row in p.rows] == line_keys(booked)
        assert p.content_hash == booked.content_hash()
        assert p.lines_total == sum(ln.amount_minor for ln in booked.lines)
