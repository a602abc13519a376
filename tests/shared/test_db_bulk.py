"""Driver-level bulk writes read back exactly as ORM writes do, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.cashapp.models import ImportFile, Receipt, StatementRow
from shared.db import bulk_insert, select_in, unit_of_work


def _statement(s: Session) -> int:
    f = ImportFile(sha256="a" * 64, file_name="f.sta", size_bytes=1, source_format="mt940", status="imported")
    s.add(f)
    s.flush()
    st = StatementRow(import_file_id=f.id, source_format="mt940", account="DE1", currency="EUR",
                      statement_key="seq:1", key_date=date(2026, 3, 1), content_hash="h",
                      integrity_status="ok")
    s.add(st)
    s.flush()
    assert st.id is not None
    return st.id


def test_bulk_insert_matches_orm_types_and_fills_defaults(db: Engine) -> None:
    cols = ("statement_id", "line_key", "account", "currency", "booking_date", "value_date",
            "amount_minor", "remittance", "raw", "extra_json", "is_reversal", "status")
    with unit_of_work(db) as s:
        sid = _statement(s)
        rows = [(sid, f"k{i}", "DE1", "EUR", date(2026, 3, 1 + i % 2), None if i else date(2026, 3, 5),
                 -5 if i == 2 else 1234 + i, "Rg 4711 \u00fc", "raw", "{}", i == 1, "unmatched")
                for i in range(3)]
        assert bulk_insert(s.connection(), Receipt.__table__, cols, rows) == 3  # type: ignore[attr-defined]
    with Session(db) as s:
        got = s.exec(select(Receipt).order_by(Receipt.line_key)).all()
    assert [(r.line_key, r.booking_date, r.value_date, r.amount_minor, r.is_reversal) for r in got] == [
        ("k0", date(2026, 3, 1), date(2026, 3, 5), 1234, False),
        ("k1", date(2026, 3, 2), None, 1235, True),
        ("k2", date(2026, 3, 1), None, -5, False),
    ]
    assert got[0].remittance == "Rg 4711 \u00fc"
    assert got[0].version == 1  # a Python-side default filled in
    assert isinstance(got[0].created_at, datetime)
    assert got[0].created_at.astimezone(UTC).year >= 2026
    assert got[0].created_at == got[2].created_at  # one default for the whole call


def test_select_in_finds_only_stored_values_across_chunks(db: Engine) -> None:
    cols = ("statement_id", "line_key", "account", "currency", "booking_date", "amount_minor", "raw",
            "extra_json")
    with unit_of_work(db) as s:
        sid = _statement(s)
        bulk_insert(s.connection(), Receipt.__table__, cols,  # type: ignore[attr-defined]
                    [(sid, f"k{i}", "DE1", "EUR", date(2026, 3, 1), i, "", "{}") for i in range(25)],
                    chunk=7)
        wanted = [f"k{i}" for i in range(0, 50, 2)]
        found = select_in(s.connection(), Receipt.__table__.c.line_key, wanted, chunk=4)  # type: ignore[attr-defined]
    assert sorted(found) == sorted(f"k{i}" for i in range(0, 25, 2))


def test_bulk_insert_of_nothing_writes_nothing(db: Engine) -> None:
    with unit_of_work(db) as s:
        assert bulk_insert(s.connection(), Receipt.__table__, ("line_key",), []) == 0  # type: ignore[attr-defined]


def test_bulk_insert_with_lead_values_binds_empty_columns_as_null(db: Engine) -> None:
    cols = ("statement_id", "status", "line_key", "account", "currency", "booking_date", "value_date",
            "amount_minor", "bank_reference", "remittance", "raw", "extra_json", "is_reversal")
    with unit_of_work(db) as s:
        sid = _statement(s)
        lead = [(sid, "unmatched"), (sid, "ignored")]
        rows = [("k0", "DE1", "EUR", date(2026, 3, 1), date(2026, 3, 2), 40, "B1", "", "r", "{}", False),
                ("k1", "DE1", "EUR", date(2026, 3, 1), None, -20, None, None, "", "{}", True),
                ("k0", "DE1", "EUR", date(2026, 3, 9), None, 7, None, None, "", "{}", False)]
        conn = s.connection()
        with pytest.raises(ValueError):
            bulk_insert(conn, Receipt.__table__, cols, rows, lead=lead)  # type: ignore[attr-defined]
        bulk_insert(conn, Receipt.__table__, cols, rows, lead=[*lead, lead[0]],  # type: ignore[attr-defined]
                    on_conflict_ignore="line_key")
    with Session(db) as s:
        got = s.exec(select(Receipt).order_by(col(Receipt.id))).all()
    assert [(r.statement_id, r.status, r.line_key, r.value_date, r.amount_minor, r.bank_reference,
             r.remittance, r.is_reversal) for r in got] == [
        (sid, "unmatched", "k0", date(2026, 3, 2), 40, "B1", "", False),
        (sid, "ignored", "k1", None, -20, None, None, True),  # the third row's key was taken
    ]
    if db.dialect.name == "sqlite":  # stored as an ORM insert stores them: NULL, text, integer
        with db.connect() as conn:
            types = conn.exec_driver_sql(
                "SELECT typeof(value_date), typeof(bank_reference), typeof(remittance), typeof(is_reversal), "
                "typeof(created_at) FROM receipt ORDER BY id").all()
        assert [tuple(t) for t in types] == [("text", "text", "text", "integer", "text"),
                                             ("null", "null", "null", "integer", "text")]
