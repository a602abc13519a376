"""Import: exactly once, all or nothing, integrity policy both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from services.cashapp.models import (
    FileRejection,
    ImportFile,
    Receipt,
    ReceiptStatus,
    StatementRow,
)
from services.cashapp.usecases.ingest import ingest_path
from tests.cashapp.usecases.mt940_samples import mt940


@pytest.fixture(autouse=True, params=["inline", "ahead"])
def parse_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every import test runs with parsing in this process and in a parse-ahead child."""
    monkeypatch.setenv("CASHRECON_PARSE_AHEAD_BYTES", "0" if request.param == "inline" else "1")
    return str(request.param)


def _count(db: Engine, model: type) -> int:
    with Session(db) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_import_then_same_file_is_duplicate(db: Engine, tmp_path: Path) -> None:
    f = _write(tmp_path, "a.sta", mt940())
    first = ingest_path(db, f)
    assert (first.status, first.statements, first.lines) == ("imported", 1, 1)
    assert first.to_json()["credit_total"] == "150.00"
    again = ingest_path(db, f)
    assert (again.status, again.reason) == ("duplicate", "DUPLICATE_FILE")
    assert _count(db, Receipt) == 1


def test_same_statement_in_new_bytes_is_skipped(db: Engine, tmp_path: Path) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940()))
    res = ingest_path(db, _write(tmp_path, "b.sta", mt940() + "\r\n"))
    assert (res.status, res.reason, res.statements_skipped) == ("duplicate", "DUPLICATE_STATEMENTS", 1)
    assert _count(db, StatementRow) == 1
    assert _count(db, ImportFile) == 2  # the second file is known now too


def test_same_statement_key_different_content_is_a_conflict(db: Engine, tmp_path: Path) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940()))
    changed = mt940(lines=(("2611021102C150,00NTRFINV1//BR001", "CUST A", "INV-2"),))
    res = ingest_path(db, _write(tmp_path, "b.sta", changed))
    assert (res.status, res.reason) == ("quarantined", "INGEST_STATEMENT_CONFLICT")
    assert _count(db, StatementRow) == 1
    assert _count(db, FileRejection) == 1


def test_statement_numbers_reused_next_year_are_new(db: Engine, tmp_path: Path) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940()))
    next_year = mt940(opening="C271101EUR1150,00",
                      lines=(("2711021102C150,00NTRFINV1//BR001", "CUST A", "INV-1"),),
                      closing="C271102EUR1300,00")
    res = ingest_path(db, _write(tmp_path, "b.sta", next_year))
    assert (res.status, res.statements, res.lines) == ("imported", 1, 1)


def test_known_lines_are_not_duplicated_across_statements(db: Engine, tmp_path: Path) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940()))
    overlapping = mt940(seq="00002/001", opening="C261101EUR1000,00", lines=(
        ("2611021102C150,00NTRFINV1//BR001", "CUST A", "INV-1"),
        ("2611021102C50,00NTRFINV2//BR002", "CUST B", "INV-2")), closing="C261102EUR1200,00")
    res = ingest_path(db, _write(tmp_path, "b.sta", overlapping))
    assert (res.status, res.lines, res.lines_skipped) == ("imported", 1, 1)
    assert _count(db, Receipt) == 2


def test_lines_known_before_or_earlier_in_the_file_are_skipped_per_statement(db: Engine, tmp_path: Path) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940()))
    second = mt940(seq="00002/001", opening="C261102EUR1150,00", lines=(
        ("2611021102C150,00NTRFINV1//BR001", "CUST A", "INV-1"),  # stored by a.sta
        ("2611031103C20,00NTRFINV2//BR002", "CUST B", "INV-2")), closing="C261103EUR1320,00")
    third = mt940(seq="00003/001", opening="C261103EUR1320,00", lines=(
        ("2611031103C20,00NTRFINV2//BR002", "CUST B", "INV-2"),  # stored by the statement before
        ("2611041104D5,00NTRFX//BR003", "SUPPLIER", "fee")), closing="C261104EUR1335,00")
    res = ingest_path(db, _write(tmp_path, "b.sta", second + third))
    assert (res.status, res.statements, res.lines, res.lines_skipped, res.held_statements) == (
        "imported", 2, 2, 2, 0)
    assert (res.to_json()["credit_total"], res.to_json()["debit_total"]) == ("20.00", "5.00")
    with Session(db) as s:
        counts = s.execute(select(col(StatementRow.lines_count)).order_by(col(StatementRow.id))).scalars().all()
        refs = s.execute(select(col(Receipt.bank_reference), col(Receipt.status)).order_by(col(Receipt.id))).all()
        f = s.execute(select(ImportFile).where(col(ImportFile.file_name) == "b.sta")).scalar_one()
    assert counts == [1, 1, 1]
    assert [tuple(r) for r in refs] == [("BR001", ReceiptStatus.UNMATCHED), ("BR002", ReceiptStatus.UNMATCHED),
                                        ("BR003", ReceiptStatus.IGNORED)]
    assert (f.lines_count, f.lines_skipped, f.credit_total_minor, f.debit_total_minor) == (2, 2, 2000, 500)


def test_identical_nonref_lines_in_one_statement_are_both_kept(db: Engine, tmp_path: Path) -> None:
    two = mt940(lines=(("2611021102C75,00NTRFNONREF//NONREF", "CUST A", "X"),
                       ("2611021102C75,00NTRFNONREF//NONREF", "CUST A", "X")))
    res = ingest_path(db, _write(tmp_path, "a.sta", two))
    assert (res.status, res.lines) == ("imported", 2)


@pytest.mark.parametrize("policy", ["hold", "refuse"])
def test_balance_break_policy(db: Engine, tmp_path: Path, policy: str) -> None:
    broken = mt940(closing="C261102EUR1149,99")
    res = ingest_path(db, _write(tmp_path, "a.sta", broken), policy)  # type: ignore[arg-type]
    if policy == "hold":
        assert (res.status, res.held_statements) == ("imported", 1)
        with Session(db) as s:
            st = s.execute(select(StatementRow)).scalar_one()
            assert (st.integrity_status, st.held) == ("balance_mismatch", True)
            assert "difference" in (st.integrity_detail or "")
            assert s.execute(select(Receipt.status)).scalar_one() == ReceiptStatus.HELD
    else:
        assert (res.status, res.reason) == ("quarantined", "INGEST_BALANCE_MISMATCH")
        assert _count(db, Receipt) == 0


@pytest.mark.parametrize("policy", ["hold", "refuse"])
def test_continuity_break_policy(db: Engine, tmp_path: Path, policy: str) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940()))
    gap = mt940(seq="00002/001", opening="C261102EUR1100,00",
                lines=(("2611031103C10,00NTRFX//BR009", "CUST C", "INV-9"),),
                closing="C261103EUR1110,00")
    res = ingest_path(db, _write(tmp_path, "b.sta", gap), policy)  # type: ignore[arg-type]
    if policy == "hold":
        assert (res.status, res.held_statements) == ("imported", 1)
    else:
        assert (res.status, res.reason) == ("quarantined", "INGEST_CONTINUITY_BREAK")
        assert _count(db, Receipt) == 1


def test_continuous_statements_are_ok(db: Engine, tmp_path: Path) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940()))
    nxt = mt940(seq="00002/001", opening="C261102EUR1150,00",
                lines=(("2611031103D50,00NTRFX//BR010", "SUPPLIER", "rent"),),
                closing="C261103EUR1100,00")
    res = ingest_path(db, _write(tmp_path, "b.sta", nxt), "refuse")
    assert (res.status, res.held_statements) == ("imported", 0)
    with Session(db) as s:
        statuses = s.execute(select(Receipt.status).order_by(Receipt.id)).scalars().all()
    assert statuses == [ReceiptStatus.UNMATCHED, ReceiptStatus.IGNORED]  # debits are never applied


def test_second_statement_conflict_rolls_back_the_first(db: Engine, tmp_path: Path) -> None:
    ingest_path(db, _write(tmp_path, "a.sta", mt940(seq="00005/001")))
    good = mt940(seq="00004/001", opening="C261101EUR0,00",
                 lines=(("2611011101C1,00NTRFX//BR100", "X", "Y"),), closing="C261101EUR1,00")
    clash = mt940(seq="00005/001", lines=(("2611021102C150,00NTRFINV1//BR001", "CUST A", "OTHER"),))
    res = ingest_path(db, _write(tmp_path, "b.sta", good + clash))
    assert res.status == "quarantined"
    assert _count(db, StatementRow) == 1  # the good statement of the refused file is not kept


@pytest.mark.parametrize("content, code", [
    (b"", "INGEST_EMPTY_FILE"),
    (b"hello world, this is not a bank file\n", "INGEST_UNKNOWN_FORMAT"),
])
def test_unreadable_files_are_quarantined(db: Engine, tmp_path: Path, content: bytes, code: str) -> None:
    f = tmp_path / "x.dat"
    f.write_bytes(content)
    res = ingest_path(db, f)
    assert (res.status, res.reason) == ("quarantined", code)
    assert _count(db, ImportFile) == 0 and _count(db, StatementRow) == 0


def test_truncated_statement_leaves_nothing(db: Engine, tmp_path: Path) -> None:
    text = mt940() + mt940(seq="00002/001", opening="C261102EUR1150,00", closing="C261103EUR1300,00",
                           lines=(("2611031103C150,00NTRFINV1//BR002", "CUST A", "INV-1"),))
    cut = text[: text.rindex(":62F:") + 8]
    res = ingest_path(db, _write(tmp_path, "cut.sta", cut))
    assert res.status == "quarantined"
    assert _count(db, Receipt) == 0 and _count(db, StatementRow) == 0


def test_prepared_statement_hash_is_the_statement_content_hash() -> None:
    from datetime import date

    from services.cashapp.usecases.ingest_prepare import prepare
    from shared.statements.model import Balance, BankLine, SourceFormat, Statement

    lines = [BankLine(booking_date=date(2026, 3, 2), amount_minor=1500, currency="EUR",
                      bank_reference="B1", remittance="INV-1", extra={"gvc": "166", "n": [1, 2]}),
             BankLine(booking_date=date(2026, 3, 2), amount_minor=-200, currency="EUR", raw="x"),
             BankLine(booking_date=date(2026, 3, 3), amount_minor=300, currency="EUR",
                      extra={"status": "PDNG"})]
    st = Statement(source_format=SourceFormat.MT940, account="DE1", currency="EUR", sequence="7/1",
                   opening=Balance("OPBD", 100, "EUR"), closing=Balance("CLBD", 1400, "EUR"),
                   lines=lines)
    p = prepare(st)
    assert [r[3] for r in p.rows] == [date(2026, 3, 2), date(2026, 3, 2)]  # pending line dropped
    assert p.content_hash == st.content_hash()
    assert p.applicable == [True, False]
    assert p.balance_gap == st.balance_gap() == 0
    assert p.rows[0][-1] == '{"gvc": "166", "n": [1, 2]}' and p.rows[1][-1] == "{}"
    assert p.key == "seq:7/1"
