"""Customer replies through the whole path: file, reconciliation, stored statuses and differences."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from services.recon.domain import DifferenceClass as C
from services.recon.models import Confirmation, ConfirmationDifference, ConfirmationReply
from services.recon.usecases.confirm import create_run
from services.recon.usecases.responses import load_responses
from shared.db import unit_of_work
from shared.errors import ValidationError
from tests.recon.usecases.world import World

CUT = date(2026, 9, 30)
D = date(2026, 9, 1)


def _world(w: World) -> int:
    for c in ("C1", "C2", "C3"):
        w.customer(c)
    for number, amount in (("INV-1", 10000), ("INV-2", 20000), ("INV-3", 30000), ("INV-5", 50000),
                           ("INV-6", 60000), ("INV-7", 7000)):
        w.item("C1", number, amount, D)
    w.item("C1", "CN-4", -4000, D, kind="credit_note")
    inv2 = w.item("C1", "INV-2B", 1, D)  # settled before the cut-off: not in the snapshot
    w.apply(w.receipt(1, date(2026, 8, 1), customer="C1"), inv2, 1, date(2026, 8, 1))
    w.item("C2", "A-1", 12345, D)
    w.item("C3", "B-1", 5000, D, currency="USD")
    run = create_run(w.engine, CUT).run_id
    # After the run: INV-2 paid by a receipt booked after the cut-off; 70.00 received before it and
    # still unapplied (an exception in cash application).
    w.apply(w.receipt(20000, date(2026, 10, 3), customer="C1"), _id(w, "INV-2"), 20000, date(2026, 10, 3))
    w.receipt(7000, date(2026, 9, 28), status="exception", customer="C1")
    return run


def _id(w: World, number: str) -> int:
    from services.cashapp.models import OpenItem

    with unit_of_work(w.engine) as s:
        return int(s.execute(select(col(OpenItem.id)).where(col(OpenItem.document_number) == number)).scalar_one())


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_item_reply_with_every_class(world: World, rdb: Engine, tmp_path: Path) -> None:
    run = _world(world)
    reply = _file(tmp_path, "c1.csv", (
        "customer_id,document_number,document_date,amount,currency,disputed,note\n"
        "C1,INV-1,2026-09-01,100.00,EUR,,\n"
        "C1,INV-5,2026-09-01,490.00,EUR,,\n"
        "C1,INV-6,2026-09-01,600.00,EUR,yes,quality claim\n"
        "C1,XYZ-1,2026-09-15,1.23,EUR,,\n"))
    result = load_responses(rdb, run, reply)
    assert result.disagreed == ["C1"] and result.agreed == []
    expected = Counter([C.PAYMENT_IN_TRANSIT, C.INVOICE_NOT_RECORDED, C.CREDIT_NOTE_NOT_RECORDED,
                        C.AMOUNT_DIFFERS, C.DISPUTED, C.UNAPPLIED_CASH, C.UNEXPLAINED])
    assert Counter(result.results[0].classes()) == expected
    assert set(expected) == set(C)
    with unit_of_work(rdb) as s:
        diffs = s.execute(select(ConfirmationDifference)).scalars().all()
        conf = s.execute(select(Confirmation).where(col(Confirmation.customer_id) == "C1")).scalar_one()
        replies = s.execute(select(ConfirmationReply)).scalars().all()
    assert Counter(d.difference_class for d in diffs) == Counter(c.value for c in expected.elements())
    assert all(d.status == "open" for d in diffs)
    assert sum(d.difference_minor for d in diffs) == (10000 + 20000 + 30000 + 50000 + 60000 + 7000 - 4000) - (
        10000 + 49000 + 60000 + 123)
    assert conf.status == "disagreed" and conf.received_at is not None
    assert [r.line_no for r in replies] == [2, 3, 4, 5]
    by_doc = {d.document_number: d.difference_class for d in diffs}
    assert by_doc["INV-5"] == "AMOUNT_DIFFERS" and by_doc["INV-2"] == "PAYMENT_IN_TRANSIT"


def test_balance_replies_agree_and_disagree(world: World, rdb: Engine, tmp_path: Path) -> None:
    run = _world(world)
    reply = _file(tmp_path, "bal.csv", "customer_id;currency;confirmed_balance\nC2;EUR;123,45\nC3;USD;40.00\n")
    result = load_responses(rdb, run, reply)
    assert result.kind == "balance"
    assert result.agreed == ["C2"] and result.disagreed == ["C3"]
    with unit_of_work(rdb) as s:
        status = {c: st for c, st in s.execute(select(col(Confirmation.customer_id), col(Confirmation.status)))}
        diffs = s.execute(select(ConfirmationDifference)).scalars().all()
    assert status == {"C1": "issued", "C2": "closed", "C3": "disagreed"}
    assert [(d.customer_id, d.currency, d.difference_minor) for d in diffs] == [("C3", "USD", 1000)]


def test_second_reply_supersedes_differences(world: World, rdb: Engine, tmp_path: Path) -> None:
    run = _world(world)
    load_responses(rdb, run, _file(tmp_path, "a.csv", "customer_id,currency,confirmed_balance\nC3,USD,40\n"))
    load_responses(rdb, run, _file(tmp_path, "b.csv", "customer_id,currency,confirmed_balance\nC3,USD,50\n"))
    with unit_of_work(rdb) as s:
        diffs = s.execute(select(col(ConfirmationDifference.status))).scalars().all()
        conf = s.execute(select(col(Confirmation.status)).where(col(Confirmation.customer_id) == "C3")).scalar_one()
    assert diffs == ["superseded"] and conf == "closed"


def test_bad_rows_reported_by_line_nothing_loaded(world: World, rdb: Engine, tmp_path: Path) -> None:
    run = _world(world)
    reply = _file(tmp_path, "bad.csv", (
        "customer_id,document_number,document_date,amount,currency,disputed\n"
        "C1,INV-1,2026-09-01,100.00,EUR,\n"
        "C1,INV-2,01/09/2026,200.00,EUR,\n"
        "C9,INV-3,2026-09-01,300.00,EUR,\n"
        "\n"
        "C1,INV-5,2026-09-01,12.345,EUR,\n"
        "C1,INV-6,2026-09-01,600.00,EURO,\n"
        "C1,INV-7,2026-09-01,70.00,EUR,maybe\n"
        "C1,INV-8,2026-09-01,70.00,EUR,,extra\n"))
    with pytest.raises(ValidationError) as err:
        load_responses(rdb, run, reply)
    assert err.value.code == "RECON_BAD_REPLY_ROWS"
    assert [e["line"] for e in err.value.details["errors"]] == [3, 4, 6, 7, 8, 9]
    assert "document_date" in err.value.details["errors"][0]["reason"]
    assert "not in this confirmation run" in err.value.details["errors"][1]["reason"]
    with unit_of_work(rdb) as s:
        assert s.execute(select(ConfirmationReply)).first() is None
        assert set(s.execute(select(col(Confirmation.status))).scalars()) == {"issued"}


def test_unknown_header_refused(world: World, rdb: Engine, tmp_path: Path) -> None:
    run = _world(world)
    with pytest.raises(ValidationError) as err:
        load_responses(rdb, run, _file(tmp_path, "x.csv", "who,what\nC1,1\n"))
    assert err.value.code == "RECON_BAD_REPLY_HEADER"
