"""Customer and open-item loads: validated by line, all or nothing, re-load replaces."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models import Customer, CustomerAccount, OpenItem
from services.cashapp.usecases.masterdata import load_customers, load_open_items
from shared.db import unit_of_work
from shared.errors import ValidationError

CUSTOMERS = b"""customer_id,customer_name,iban
C1,Alpha GmbH,DE89370400440532013000
C1,Alpha GmbH,
C2,Beta B.V.,NL91 ABNA 0417 1643 00
"""
HEADER = ("customer_id,customer_name,document_number,document_type,document_date,due_date,"
          "currency,amount,open_amount,payment_reference\n")
ITEMS = (HEADER
         + "C1,Alpha GmbH,INV-1,invoice,2026-10-01,2026-10-31,EUR,100.00,100.00,RF18539007547034\n"
         + "C1,Alpha GmbH,CN-1,credit_note,2026-10-05,2026-10-05,EUR,20.00,20.00,\n"
         + "C3,Gamma Ltd,90004512,invoice,2026-10-02,2026-11-01,JPY,5000,2500,\n").encode()


def _load(db: Engine, fn, data: bytes) -> object:  # type: ignore[no-untyped-def]
    with unit_of_work(db) as s:
        return fn(s, data, "f.csv")


def test_customers_load_with_accounts(db: Engine) -> None:
    res = _load(db, load_customers, CUSTOMERS)
    assert res.rows == 3 and res.inserted == 2  # type: ignore[attr-defined]
    with Session(db) as s:
        accs = s.execute(select(CustomerAccount.customer_id, CustomerAccount.value_norm)
                         .order_by(CustomerAccount.customer_id)).all()
    assert [tuple(a) for a in accs] == [("C1", "DE89370400440532013000"), ("C2", "NL91ABNA0417164300")]


def test_customers_reload_replaces_master_accounts(db: Engine) -> None:
    _load(db, load_customers, CUSTOMERS)
    res = _load(db, load_customers, b"customer_id,customer_name,iban\nC1,Alpha AG,\n")
    assert res.updated == 1  # type: ignore[attr-defined]
    with Session(db) as s:
        assert s.get(Customer, "C1").customer_name == "Alpha AG"  # type: ignore[union-attr]
        ids = s.execute(select(CustomerAccount.customer_id)).scalars().all()
    assert ids == ["C2"]


@pytest.mark.parametrize("body, line, fragment", [
    ("C1,Alpha,DE00370400440532013000\n", 2, "check digits"),
    (",Alpha,\n", 2, "customer_id is empty"),
    ("C1,Alpha,\nC1,Other,\n", 3, "differs from line 2"),
])
def test_customers_bad_rows_load_nothing(db: Engine, body: str, line: int, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        _load(db, load_customers, ("customer_id,customer_name,iban\n" + body).encode())
    assert err.value.code == "MASTERDATA_BAD_ROWS"
    first = err.value.details["errors"][0]
    assert first["line"] == line and fragment in first["reason"]
    with Session(db) as s:
        assert s.execute(select(Customer)).first() is None


def test_open_items_load_signs_and_minor_units(db: Engine) -> None:
    res = _load(db, load_open_items, ITEMS)
    assert res.inserted == 3  # type: ignore[attr-defined]
    with Session(db) as s:
        rows = {r.document_number: r for r in s.execute(select(OpenItem)).scalars()}
        assert (rows["INV-1"].amount_minor, rows["INV-1"].open_amount_minor) == (10000, 10000)
        assert (rows["CN-1"].amount_minor, rows["CN-1"].open_amount_minor) == (-2000, -2000)
        assert (rows["90004512"].amount_minor, rows["90004512"].open_amount_minor) == (5000, 2500)
        assert s.get(Customer, "C3") is not None  # created from the extract


def test_open_items_reload_replaces_snapshot(db: Engine) -> None:
    _load(db, load_open_items, ITEMS)
    second = (HEADER + "C1,Alpha GmbH,INV-1,invoice,2026-10-01,2026-10-31,EUR,100.00,40.00,\n"
              + "C1,Alpha GmbH,INV-2,invoice,2026-10-09,2026-11-08,EUR,7.00,7.00,\n").encode()
    res = _load(db, load_open_items, second)
    assert (res.inserted, res.updated, res.removed) == (1, 1, 2)  # type: ignore[attr-defined]
    with Session(db) as s:
        active = {r.document_number: r.open_amount_minor for r in s.execute(
            select(OpenItem).where(OpenItem.in_snapshot.is_(True))).scalars()}  # type: ignore[attr-defined]
    assert active == {"INV-1": 4000, "INV-2": 700}


@pytest.mark.parametrize("row, fragment", [
    ("C1,A,X1,invoice,2026-10-01,2026-10-31,EUR,1.005,1.005,\n", "bad amount"),
    ("C1,A,X1,bill,2026-10-01,2026-10-31,EUR,1.00,1.00,\n", "document_type"),
    ("C1,A,X1,invoice,01.10.2026,2026-10-31,EUR,1.00,1.00,\n", "YYYY-MM-DD"),
    ("C1,A,X1,invoice,2026-10-01,2026-10-31,EUR,1.00,2.00,\n", "larger than amount"),
    ("C1,A,X1,invoice,2026-10-01,2026-10-31,EURO,1.00,1.00,\n", "currency"),
])
def test_open_items_bad_rows_reported_by_line(db: Engine, row: str, fragment: str) -> None:
    data = (HEADER + "C1,A,OK1,invoice,2026-10-01,2026-10-31,EUR,1.00,1.00,\n" + row).encode()
    with pytest.raises(ValidationError) as err:
        _load(db, load_open_items, data)
    errors = err.value.details["errors"]
    assert len(errors) == 1 and errors[0]["line"] == 3 and fragment in errors[0]["reason"]
    with Session(db) as s:
        assert s.execute(select(OpenItem)).first() is None


def test_open_items_missing_column(db: Engine) -> None:
    with pytest.raises(ValidationError) as err:
        _load(db, load_open_items, b"customer_id,document_number\nC1,X\n")
    assert err.value.code == "MASTERDATA_MISSING_COLUMN"
