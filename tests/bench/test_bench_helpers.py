"""The bench's own helpers: its figures must not depend on the day they are made."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.bench.run import _neighbours, _truth_as_of


def test_the_as_of_date_is_the_worlds_last_booking_date(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    rows = [{"bank_reference": "B1", "booking_date": "2026-03-02"},
            {"bank_reference": "B2", "booking_date": "2026-04-24"},
            {"bank_reference": "B3", "booking_date": "2026-03-30"}]
    truth.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    assert _truth_as_of(truth) == date(2026, 4, 24)


def test_a_truth_file_without_lines_is_refused(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    truth.write_text("\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no booking dates"):
        _truth_as_of(truth)


def test_busy_neighbours_run_while_asked_and_are_gone_after() -> None:
    with _neighbours(2) as procs:
        assert len(procs) == 2
        assert all(p.poll() is None for p in procs)  # running (a busy loop never ends by itself)
    assert all(p.returncode is not None for p in procs)  # killed and waited for
