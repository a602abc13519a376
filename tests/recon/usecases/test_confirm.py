"""Confirmation runs: stored snapshot, immutability against back-dated postings, verify, letters."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, update

from services.recon.domain import SNAPSHOT_COLUMNS
from services.recon.models import ConfirmationItem
from services.recon.usecases.confirm import create_run, stored_snapshot, verify_run
from shared.db import unit_of_work
from shared.errors import ValidationError
from tests.recon.usecases.world import World

CUT = date(2026, 9, 30)


def _ledger(w: World) -> dict[str, int]:
    for c in ("C1", "C2", "C3"):
        w.customer(c)
    ids = {
        "i1": w.item("C1", "INV-1", 10000, date(2026, 8, 1), due=date(2026, 8, 31)),
        "i2": w.item("C1", "INV-2", 5000, date(2026, 9, 10)),
        "cn": w.item("C1", "CN-1", -2000, date(2026, 9, 12), kind="credit_note"),
        "late": w.item("C1", "INV-3", 7000, date(2026, 10, 5)),  # after the cut-off
        "j1": w.item("C2", "INV-9", 30000, date(2026, 7, 1)),
        "k1": w.item("C3", "INV-5", 1000, date(2026, 9, 1), currency="USD"),
    }
    r = w.receipt(10000, date(2026, 9, 20), customer="C1")
    w.apply(r, ids["i1"], 10000, date(2026, 9, 20))  # paid before the cut-off
    r2 = w.receipt(30000, date(2026, 10, 3), customer="C2")
    w.apply(r2, ids["j1"], 30000, date(2026, 10, 3))  # paid after: still open at the cut-off
    return ids


def _expected(w: World, ids: dict[str, int]) -> set[tuple[str, str, int]]:
    return {("C1", "INV-2", 5000), ("C1", "CN-1", -2000), ("C2", "INV-9", 30000), ("C3", "INV-5", 1000)}


def _rows(snap: pl.DataFrame) -> set[tuple[str, str, int]]:
    return {(r["customer_id"], r["document_number"], r["open_minor"]) for r in snap.iter_rows(named=True)}


def test_run_stores_the_as_of_snapshot(world: World, rdb: Engine, tmp_path: Path) -> None:
    ids = _ledger(world)
    run = create_run(rdb, CUT, out_dir=tmp_path)
    assert run.customers == 3 and run.items == 4
    assert _rows(stored_snapshot(rdb, run.run_id)) == _expected(world, ids)
    assert verify_run(rdb, run.run_id).ok


def test_back_dated_posting_after_the_run_changes_nothing(world: World, rdb: Engine, tmp_path: Path) -> None:
    ids = _ledger(world)
    run = create_run(rdb, CUT, out_dir=tmp_path)
    before = stored_snapshot(rdb, run.run_id)
    # A receipt booked later but applied with an effective date before the cut-off, and a
    # back-dated invoice: both change what a new run would say, never the issued one.
    r = world.receipt(5000, date(2026, 10, 10), customer="C1")
    world.apply(r, ids["i2"], 5000, date(2026, 9, 25))
    world.item("C2", "INV-BACK", 800, date(2026, 9, 15))
    assert stored_snapshot(rdb, run.run_id).equals(before)
    assert verify_run(rdb, run.run_id).ok
    again = create_run(rdb, CUT)
    assert ("C1", "INV-2", 5000) not in _rows(stored_snapshot(rdb, again.run_id))
    assert ("C2", "INV-BACK", 800) in _rows(stored_snapshot(rdb, again.run_id))
    assert again.snapshot_hash != run.snapshot_hash


def test_tampered_row_fails_verify(world: World, rdb: Engine) -> None:
    _ledger(world)
    run = create_run(rdb, CUT)
    with unit_of_work(rdb) as s:
        s.execute(update(ConfirmationItem).where(ConfirmationItem.document_number == "INV-9")  # type: ignore[arg-type]
                  .values(open_minor=29999))
    result = verify_run(rdb, run.run_id)
    assert not result.ok
    assert result.customers == ["C2"]
    assert result.actual_hash != result.expected_hash


def test_filters(world: World, rdb: Engine) -> None:
    _ledger(world)
    big = create_run(rdb, CUT, min_balance=Decimal("100"))
    assert _rows(stored_snapshot(rdb, big.run_id)) == {("C2", "INV-9", 30000)}
    listed = create_run(rdb, CUT, customers=["C3"])
    assert listed.customers == 1
    seg = create_run(rdb, CUT, segment="C[12]")
    assert seg.customers == 2
    with pytest.raises(ValidationError) as err:
        create_run(rdb, CUT, customers=["NOBODY"])
    assert err.value.code == "RECON_EMPTY_RUN"


def test_letters_written(world: World, rdb: Engine, tmp_path: Path) -> None:
    _ledger(world)
    run = create_run(rdb, CUT, out_dir=tmp_path)
    assert run.letters == 3
    folder = tmp_path / "C1"
    assert (folder / "letter.pdf").read_bytes().startswith(b"%PDF")
    with (folder / "items.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["customer_id", "document_number", "document_type", "document_date", "due_date",
                             "currency", "amount", "open_amount"]
    assert {(r["document_number"], r["open_amount"]) for r in rows} == {("INV-2", "50.00"), ("CN-1", "-20.00")}
    data = json.loads((folder / "items.json").read_text())
    assert data["balances"] == [{"currency": "EUR", "balance": "30.00"}]
    with (folder / "reply_template.csv").open() as fh:
        assert next(csv.reader(fh)) == ["customer_id", "document_number", "document_date", "amount", "currency",
                                        "disputed", "note"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["customers"] == 3 and summary["balance_by_currency"] == {"EUR": "330.00", "USD": "10.00"}


def test_snapshot_columns_are_the_domain_columns(world: World, rdb: Engine) -> None:
    _ledger(world)
    run = create_run(rdb, CUT)
    assert tuple(stored_snapshot(rdb, run.run_id).columns) == SNAPSHOT_COLUMNS


def test_customer_hashes_equal_the_domain_hash() -> None:
    from services.recon.domain import snapshot_hash
    from services.recon.usecases.hashing import customer_hashes

    snap = pl.DataFrame({
        "customer_id": ["A", "B", "A", "B", "Ä"], "item_id": [1, 2, 3, 4, 5],
        "document_number": ["X1", "Y;2", "X3", None, "ü"], "document_type": ["invoice"] * 5,
        "document_date": [date(2026, 9, d) for d in (1, 2, 3, 4, 5)],
        "due_date": [date(2026, 10, 1), None, date(2026, 10, 3), None, None],
        "currency": ["EUR", "EUR", "USD", "EUR", "JPY"], "amount_minor": [1, -2, 3, 4, 5],
        "open_minor": [1, -2, 3, 4, 5]})
    assert customer_hashes(snap) == {
        c: snapshot_hash(snap.filter(pl.col("customer_id") == c)) for c in ("A", "B", "Ä")}
