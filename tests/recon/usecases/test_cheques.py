"""Cheque lifecycle from a real cheque-log import: hold, deposit matching, return, certified."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from services.cashapp.models import Allocation, ExceptionItem, OpenItem, Receipt
from services.cashapp.usecases.ingest import ingest_path
from services.recon import cheques
from services.recon.domain import as_of_snapshot
from services.recon.models import CustomerFlag
from services.recon.usecases import ledger
from shared.db import unit_of_work
from shared.errors import Conflict, ValidationError
from tests.recon.usecases.world import World, decide

LOG = """cheque_number,drawer_name,drawer_bank,drawer_account,amount,currency,\
received_date,cheque_date,type,status,remittance,deposit_account
1001,Acme Ltd,BANKA,111,100.00,EUR,2026-09-20,2026-09-20,ordinary,received,INV-1,BANK-1
2002,Beta SA,BANKB,222,250.00,EUR,2026-09-21,2026-09-21,certified,received,INV-2,BANK-1
3003,Acme Ltd,BANKA,111,80.00,EUR,2026-09-21,2026-10-15,ordinary,received,INV-3,BANK-1
"""


@pytest.fixture
def chq(world: World, rdb: Engine, tmp_path: Path) -> dict[str, int]:
    path = tmp_path / "cheques.csv"
    path.write_text(LOG)
    ingest_path(rdb, path)
    with unit_of_work(rdb) as s:
        rows = s.execute(select(Receipt)).scalars().all()
        ids = {json.loads(r.extra_json)["cheque_number"]: int(r.id) for r in rows}  # type: ignore[arg-type]
    assert set(ids) == {"1001", "2002", "3003"}
    return ids


def _receipt(engine: Engine, rid: int) -> Receipt:
    with unit_of_work(engine) as s:
        r = s.get(Receipt, rid)
        assert r is not None
        s.expunge(r)
        return r


def test_post_dated_cheque_held_until_its_date(chq: dict[str, int], rdb: Engine, world: World) -> None:
    post = _receipt(rdb, chq["3003"])
    assert not cheques.is_releasable(post, date(2026, 10, 14))
    assert cheques.is_releasable(post, date(2026, 10, 15))
    assert cheques.is_releasable(_receipt(rdb, chq["1001"]), date(2026, 9, 20))
    plain = world.receipt(500, date(2026, 9, 1), customer="X")[0]
    assert cheques.is_releasable(_receipt(rdb, plain), date(2000, 1, 1))  # not a cheque
    with unit_of_work(rdb) as s:
        assert [r.id for r in cheques.held_post_dated(s, date(2026, 10, 1))] == [chq["3003"]]


def test_certified_marked(chq: dict[str, int], rdb: Engine) -> None:
    assert cheques.is_certified(_receipt(rdb, chq["2002"]))
    assert not cheques.is_certified(_receipt(rdb, chq["1001"]))


def test_deposit_line_matched_to_its_cheques(chq: dict[str, int], rdb: Engine, world: World) -> None:
    deposit = world.receipt(35000, date(2026, 9, 22), account="BANK-1", reference="DEP-1")[0]
    with unit_of_work(rdb) as s:
        match = cheques.match_deposit(s, deposit)
    assert match.status == "matched" and set(match.cheque_ids) == {chq["1001"], chq["2002"]}
    for number in ("1001", "2002"):
        extra = json.loads(_receipt(rdb, chq[number]).extra_json)
        assert extra["status"] == "deposited" and extra["deposit_receipt_id"] == deposit
    assert json.loads(_receipt(rdb, chq["3003"]).extra_json)["status"] == "received"
    assert _receipt(rdb, deposit).status == "ignored"
    # The post-dated cheque cannot be in a deposit dated before it, whatever the amount.
    early = world.receipt(8000, date(2026, 9, 25), account="BANK-1")[0]
    with unit_of_work(rdb) as s:
        assert cheques.match_deposit(s, early).status == "none"


def test_deposit_with_two_fitting_subsets_is_ambiguous(world: World, rdb: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(LOG.splitlines()[0] + "\n" + "\n".join(
        f"{n},D{n},B,{n},{a},EUR,2026-09-20,2026-09-20,ordinary,received,,BANK-2"
        for n, a in ((1, "10.00"), (2, "20.00"), (3, "30.00"))) + "\n")
    ingest_path(rdb, path)
    deposit = world.receipt(3000, date(2026, 9, 22), account="BANK-2")[0]
    with unit_of_work(rdb) as s:
        assert cheques.match_deposit(s, deposit).status == "ambiguous"
    assert _receipt(rdb, deposit).status == "applied"  # untouched


def test_returned_cheque_reverses_and_flags(chq: dict[str, int], rdb: Engine, world: World) -> None:
    world.customer("ACME")
    inv = world.item("ACME", "INV-1", 10000, date(2026, 9, 1))
    receipt = decide(rdb, chq["1001"], "ACME")
    original = world.apply(receipt, inv, 10000, date(2026, 9, 20))
    with unit_of_work(rdb) as s:
        result = cheques.return_cheque(s, chq["1001"], returned_on=date(2026, 9, 28))
    assert result.customer_id == "ACME" and result.reopened_item_ids == (inv,)
    with unit_of_work(rdb) as s:
        rev = s.get(Allocation, result.reversal_ids[0])
        item = s.get(OpenItem, inv)
        exc = s.get(ExceptionItem, result.exception_id)
        flags = s.execute(select(CustomerFlag)).scalars().all()
        assert rev is not None and item is not None and exc is not None
        assert (rev.amount_minor, rev.reverses_id, rev.effective_date) == (-10000, original, date(2026, 9, 28))
        assert item.open_amount_minor == 10000
        assert (exc.status, exc.reason, exc.receipt_id) == ("open", "CHEQUE_RETURNED", chq["1001"])
        assert [(f.customer_id, f.flag) for f in flags] == [("ACME", "CHEQUE_RETURNED")]
    r = _receipt(rdb, chq["1001"])
    assert r.status == "exception" and json.loads(r.extra_json)["status"] == "returned"
    assert not cheques.is_releasable(r, date(2027, 1, 1))
    with rdb.connect() as conn:
        docs, apps = ledger.documents(conn), ledger.applications(conn)
    # Paid on the 20th, bounced on the 28th: open at the end of the month, not on the 25th.
    assert as_of_snapshot(docs, apps, date(2026, 9, 25)).height == 0
    assert as_of_snapshot(docs, apps, date(2026, 9, 30))["open_minor"].to_list() == [10000]
    with unit_of_work(rdb) as s, pytest.raises(Conflict):
        cheques.return_cheque(s, chq["1001"], returned_on=date(2026, 9, 29))


def test_not_a_cheque_refused(world: World, rdb: Engine) -> None:
    rid = world.receipt(100, date(2026, 9, 1))[0]
    with unit_of_work(rdb) as s, pytest.raises(ValidationError):
        cheques.return_cheque(s, rid, returned_on=date(2026, 9, 2))


def test_unique_subset() -> None:
    assert cheques.unique_subset([100, 200, 50], 300) == ("matched", (0, 1))
    assert cheques.unique_subset([100, 200, 300], 300) == ("ambiguous", ())
    assert cheques.unique_subset([100, 200], 250) == ("none", ())
    assert cheques.unique_subset([5] * 3, 15) == ("matched", (0, 1, 2))


def test_every_step_is_audited_when_the_audit_log_exists(chq: dict[str, int], rdb: Engine, world: World) -> None:
    from sqlmodel import SQLModel

    from services.cashapp import audit
    from services.cashapp.models_service import AuditLog

    SQLModel.metadata.create_all(rdb, tables=[AuditLog.__table__])  # type: ignore[attr-defined]
    deposit = world.receipt(35000, date(2026, 9, 22), account="BANK-1")[0]
    with unit_of_work(rdb) as s:
        cheques.match_deposit(s, deposit)
        cheques.return_cheque(s, chq["2002"], returned_on=date(2026, 9, 30))
    with unit_of_work(rdb) as s:
        actions = [(r.action, r.entity_id) for r in audit.rows(s)]
        assert audit.verify(s) is None
    assert actions == [("cheque.deposited", str(chq["1001"])), ("cheque.deposited", str(chq["2002"])),
                       ("cheque.deposit_matched", str(deposit)), ("cheque.returned", str(chq["2002"])),
                       ("cheque.reversed", str(chq["2002"]))]
