"""Property: a truncated or corrupted bank file is imported whole or refused, never in part.

Each example goes through the real import into a fresh database (a copy of the migrated SQLite
template: the all-or-nothing guarantee is the transaction's, and the PostgreSQL transaction path is
the same code, exercised by the corpus import test). Imported statements must be statements of
the original file, unchanged (for cuts), and exactly what the parser reads (for flips); a refusal
must leave no statement, line or file record behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session

from services.cashapp.models import ImportFile, Receipt, StatementRow
from services.cashapp.usecases.ingest import ingest_path
from shared.db import make_engine
from shared.sqlite_wal import CHECKPOINTER
from shared.statements.model import Statement
from shared.statements.registry import detect

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
SAMPLES = [GOLDEN / "mt940" / "gvc_sepa.sta", GOLDEN / "mt940" / "ing_swift_blocks.sta",
           GOLDEN / "camt" / "stmt_053_v08_mixed.xml", GOLDEN / "ofx" / "sgml_102_checking.ofx"]


def _core(st: Statement) -> tuple[object, ...]:
    """What a statement books: identity, booked balances and every line (without raw text).

    Trailing information tags after the closing balance (MT940 :64:/:65:, available balances) may
    be cut off without the file looking cut; they book nothing.
    """
    bal = [(b.type, b.amount_minor, b.date) if b else None for b in (st.opening, st.closing)]
    lines = [(ln.booking_date, ln.value_date, ln.amount_minor, ln.currency, ln.bank_reference,
              ln.counterparty_name, ln.counterparty_account, ln.remittance, ln.end_to_end_reference)
             for ln in st.lines]
    return (st.account, st.currency, st.statement_id, st.sequence, *bal, tuple(lines))


def _hashes(path: Path) -> set[tuple[object, ...]]:
    return {_core(s) for s in detect(path).parse(path)}


ORIGINAL = {p: _hashes(p) for p in SAMPLES}


def _check(template: Path, sample: Path, data: bytes, *, prefix: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "t.db"
        shutil.copy(template, db)
        engine = make_engine(f"sqlite:///{db}")
        f = Path(tmp) / sample.name
        f.write_bytes(data)
        result = ingest_path(engine, f)
        with Session(engine) as s:
            lines = s.execute(select(func.count()).select_from(Receipt)).scalar_one()
            statements = s.execute(select(func.count()).select_from(StatementRow)).scalar_one()
            files = s.execute(select(func.count()).select_from(ImportFile)).scalar_one()
        engine.dispose()
        assert CHECKPOINTER.idle()  # before the folder goes: a checkpoint opening the file makes -shm again
        if result.status == "quarantined":
            assert (lines, statements, files) == (0, 0, 0), result.reason
            assert result.reason and result.reason != "INGEST_INTERNAL_ERROR", result.message
            return
        parsed = list(detect(f).parse(f))
        if prefix:  # a cut file can only hold whole, unchanged statements of the original
            assert {_core(p) for p in parsed} <= ORIGINAL[sample]
        # (a flipped byte inside free text is a different, valid statement: no checksum tells)
        assert statements == result.statements == len(parsed)
        assert lines == result.lines == sum(len(p.lines) for p in parsed)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 1.0))
def test_truncated_file_is_whole_or_refused(sqlite_template: Path, sample: Path, cut: float) -> None:
    data = sample.read_bytes()
    _check(sqlite_template, sample, data[: int(len(data) * cut)], prefix=True)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(1, 255)), min_size=1, max_size=3))
def test_corrupted_file_is_whole_or_refused(sqlite_template: Path, sample: Path,
                                           flips: list[tuple[float, int]]) -> None:
    data = bytearray(sample.read_bytes())
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    _check(sqlite_template, sample, bytes(data), prefix=False)
