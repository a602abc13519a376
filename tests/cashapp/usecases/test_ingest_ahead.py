"""Parse-ahead (a second process parses while this one writes) imports exactly what inline does."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models import FileRejection, ImportFile, Receipt, StatementRow
from services.cashapp.usecases import ingest_ahead
from services.cashapp.usecases.ingest import ingest_path
from tests.cashapp.usecases.mt940_samples import mt940

DEMO = Path(__file__).resolve().parents[3] / "services" / "cashapp" / "demo_data" / "statements"
RECEIPT_FIELDS = ("line_key", "account", "currency", "booking_date", "value_date", "amount_minor",
                  "bank_reference", "end_to_end_reference", "counterparty_name", "counterparty_account",
                  "remittance", "creditor_reference", "is_reversal", "raw", "extra_json", "status")


def _snapshot(db: Engine) -> tuple[list[tuple], list[tuple]]:
    with Session(db) as s:
        receipts = sorted(tuple(getattr(r, f) for f in RECEIPT_FIELDS)
                          for r in s.execute(select(Receipt)).scalars())
        statements = sorted((st.account, st.statement_key, st.key_date, st.content_hash, st.lines_count,
                             st.integrity_status, st.held) for st in s.execute(select(StatementRow)).scalars())
    return receipts, statements


def _reset(db: Engine) -> None:
    with Session(db) as s:
        for m in (Receipt, StatementRow, ImportFile, FileRejection):
            s.execute(m.__table__.delete())  # type: ignore[attr-defined]
        s.commit()


def test_ahead_imports_exactly_what_inline_does(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_ahead, "BATCH_LINES", 3)  # many small messages
    files = sorted(DEMO.iterdir())
    inline = [ingest_path(db, f, parse_ahead_bytes=0).to_json() for f in files]
    want = _snapshot(db)
    _reset(db)
    ahead = [ingest_path(db, f, parse_ahead_bytes=1).to_json() for f in files]
    assert ahead == inline and all(r["status"] == "imported" for r in ahead)
    assert _snapshot(db) == want and len(want[0]) > 50
    assert multiprocessing.active_children() == []


def test_a_refusal_in_the_child_is_the_same_refusal(db: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    camt = next(f for f in sorted(DEMO.iterdir()) if f.suffix == ".xml")
    bad.write_bytes(camt.read_bytes()[: camt.stat().st_size * 2 // 3])  # cut mid-document
    inline = ingest_path(db, bad, parse_ahead_bytes=0)
    _reset(db)
    ahead = ingest_path(db, bad, parse_ahead_bytes=1)
    assert ahead.status == inline.status == "quarantined"
    assert ahead.reason == inline.reason and ahead.reason.startswith("INGEST_")
    assert _snapshot(db) == ([], [])


def test_a_refusal_in_the_parent_stops_the_child_and_leaves_nothing(db: Engine, tmp_path: Path) -> None:
    first = mt940(seq="00001/001", lines=(("2611021102C150,00NTRFINV1//BR001", "A", "INV-1"),))
    clash = mt940(seq="00001/001", lines=(("2611021102C150,00NTRFINV1//BR002", "A", "INV-2"),))
    path = tmp_path / "two.sta"
    path.write_text(first + clash * 1)
    res = ingest_path(db, path, parse_ahead_bytes=1)
    assert (res.status, res.reason) == ("quarantined", "INGEST_STATEMENT_CONFLICT")
    assert _snapshot(db) == ([], [])
    assert multiprocessing.active_children() == []


def test_a_child_that_dies_quarantines_the_file(db: Engine, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def die(_st: object) -> None:
        os._exit(3)

    monkeypatch.setattr(ingest_ahead, "prepare", die)
    monkeypatch.setattr(ingest_ahead, "_POLL_SECONDS", 0.05)
    path = tmp_path / "one.sta"
    path.write_text(mt940())
    res = ingest_path(db, path, parse_ahead_bytes=1)
    assert (res.status, res.reason) == ("quarantined", "INGEST_INTERNAL_ERROR")
    assert "code 3" in (res.message or "")
    assert _snapshot(db) == ([], [])


def test_small_files_and_zero_stay_inline(tmp_path: Path) -> None:
    p = tmp_path / "f.sta"
    p.write_text(mt940())
    assert not ingest_ahead.use_parse_ahead(p, 0)
    assert not ingest_ahead.use_parse_ahead(p, p.stat().st_size + 1)
    assert ingest_ahead.use_parse_ahead(p, p.stat().st_size) == ((os.cpu_count() or 1) >= 2)
