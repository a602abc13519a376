"""The cheque lifecycle end to end through the real use cases and a local HTTP ERP.

Cheque log 1 (received; one post-dated, one certified) -> match applies them -> the relay posts
the due ones and holds the post-dated one until its date -> cheque log 2 (deposited) and an
MT940 deposit line for two cheques -> the deposit is linked, not applied -> cheque log 3 (one
returned) -> reversal, invoice open again, customer flagged, exception, reversal posted.
Dates are relative to today because the outbox schedules postings on the wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp import audit
from services.cashapp.models import Allocation, ExceptionItem, OpenItem, Receipt, utcnow
from services.cashapp.models_outbox import Outbox
from services.cashapp.rules import default_rules
from services.cashapp.usecases.ingest import IngestResult, ingest_path
from services.cashapp.usecases.match import run_match
from services.cashapp.usecases.relay import relay_once
from services.recon.models import CustomerFlag
from shared.erp.http import HttpAdapter
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.usecases.mt940_samples import mt940
from tests.recon.usecases.world import World

BANK = "NL91ABNA0417164300"
HEADER = ("cheque_number,drawer_name,drawer_bank,drawer_account,amount,currency,received_date,"
          "cheque_date,type,status,remittance,deposit_account")
INVOICES = {"1001": ("ACME", "INV-2026-000101", 10000), "2002": ("BETA", "INV-2026-000202", 25000),
            "3003": ("ACME", "INV-2026-000303", 8000)}


def today() -> date:
    return utcnow().date()


def cheque_log(statuses: dict[str, str] | None = None) -> str:
    """The three cheques with the given statuses (default received); 3003 is post-dated."""
    got, later = today() - timedelta(days=5), today() + timedelta(days=20)
    rows = (("1001", "Acme Ltd", "BANKA", "111", "100.00", got, "ordinary"),
            ("2002", "Beta SA", "BANKB", "222", "250.00", got, "certified"),
            ("3003", "Acme Ltd", "BANKA", "111", "80.00", later, "ordinary"))
    lines = [f"{n},{name},{bank},{acct},{amount},EUR,{got},{dated},{kind},"
             f"{(statuses or {}).get(n, 'received')},{INVOICES[n][1]},{BANK}"
             for n, name, bank, acct, amount, dated, kind in rows]
    return "\n".join([HEADER, *lines]) + "\n"


def deposit_statement(amount: str = "350,00") -> str:
    """An MT940 day statement of ``BANK`` with one deposit credit of two cheques."""
    day = today() - timedelta(days=3)
    before, after = (day - timedelta(days=1)).strftime("%y%m%d"), day.strftime("%y%m%d")
    return mt940(account=BANK, opening=f"C{before}EUR1000,00", closing=f"C{after}EUR1350,00",
                 lines=((f"{after}{day:%m%d}C{amount}NTRFDEP001//BR001", "OWN ACCOUNT", "CHEQUE DEPOSIT"),))


def ingest(db: Engine, tmp_path: Path, name: str, text: str) -> IngestResult:
    path = tmp_path / name
    path.write_text(text)
    return ingest_path(db, path)


def cheque_ids(db: Engine) -> dict[str, int]:
    with Session(db) as s:
        rows = s.execute(select(Receipt).where(Receipt.transaction_code == "CHEQUE")).scalars()  # type: ignore[arg-type]
        return {json.loads(r.extra_json)["cheque_number"]: int(r.id) for r in rows}  # type: ignore[arg-type]


def extra(db: Engine, rid: int) -> dict:
    with Session(db) as s:
        r = s.get(Receipt, rid)
        assert r is not None
        return {**json.loads(r.extra_json), "_status": r.status}


def outbox(db: Engine) -> dict[int, Outbox]:
    """Outbox rows of allocations, by allocation id."""
    with Session(db) as s:
        rows = s.execute(select(Outbox)).scalars().all()
        return {int(o.posting_key.removeprefix("alloc-")): o for o in rows}


def allocations(db: Engine, rid: int) -> list[Allocation]:
    with Session(db) as s:
        return list(s.execute(select(Allocation).where(Allocation.receipt_id == rid)  # type: ignore[arg-type]
                              .order_by(Allocation.id)).scalars())  # type: ignore[arg-type]


def open_amounts(db: Engine) -> dict[str, int]:
    with Session(db) as s:
        return {i.document_number: i.open_amount_minor for i in s.execute(select(OpenItem)).scalars()}


def relay(db: Engine, erp: FakeErp, now: datetime | None = None):  # type: ignore[no-untyped-def]
    adapter = HttpAdapter(erp.url, SECRET, attempts=1, backoff=0.0, sleep=lambda _s: None)
    return relay_once(db, adapter, "relay-1", now=now)


def seed(world: World) -> None:
    world.customer("ACME", "Acme Ltd")
    world.customer("BETA", "Beta SA")
    for customer, number, amount in INVOICES.values():
        world.item(customer, number, amount, today() - timedelta(days=30))


def test_cheque_lifecycle_end_to_end(db: Engine, world: World, erp: FakeErp, tmp_path: Path) -> None:
    seed(world)
    first = ingest(db, tmp_path, "log1.csv", cheque_log())
    assert (first.status, first.lines, first.lines_updated) == ("imported", 3, 0)
    ids = cheque_ids(db)
    run_match(db, default_rules(), today())
    assert open_amounts(db) == dict.fromkeys((n for _, n, _ in INVOICES.values()), 0)
    assert extra(db, ids["2002"])["type"] == "certified"

    # The relay posts what is due; the post-dated cheque's application waits for its date.
    apps = {n: int(allocations(db, rid)[0].id) for n, rid in ids.items()}  # type: ignore[arg-type]
    relay(db, erp)
    posted = set(erp.documents_per_key())
    assert posted == {f"alloc-{apps['1001']}", f"alloc-{apps['2002']}"}
    held = outbox(db)[apps["3003"]]
    cheque_day = today() + timedelta(days=20)
    assert held.status == "pending"
    assert held.next_attempt_at.replace(tzinfo=UTC) == datetime.combine(cheque_day, time(), UTC)
    assert relay(db, erp, now=datetime.combine(cheque_day, time(9), UTC)).posted == 1
    assert f"alloc-{apps['3003']}" in erp.documents_per_key()

    # Log 2 only changes statuses: imported, not a duplicate. Then the bank's deposit line.
    second = ingest(db, tmp_path, "log2.csv", cheque_log({"1001": "deposited", "2002": "deposited"}))
    assert (second.status, second.lines, second.lines_skipped, second.lines_updated) == ("imported", 0, 3, 2)
    assert second.to_json()["lines_updated"] == 2
    assert [extra(db, ids[n])["status"] for n in ("1001", "2002", "3003")] == ["deposited", "deposited", "received"]
    assert ingest(db, tmp_path, "bank.sta", deposit_statement()).lines == 1
    run_match(db, default_rules(), today())
    with Session(db) as s:
        deposit = s.execute(select(Receipt).where(Receipt.account == BANK,  # type: ignore[arg-type]
                                                  Receipt.transaction_code != "CHEQUE")).scalar_one()  # type: ignore[arg-type]
    assert deposit.status == "ignored" and allocations(db, int(deposit.id)) == []  # type: ignore[arg-type]
    assert sorted(json.loads(deposit.extra_json)["cheque_deposit"]) == sorted([ids["1001"], ids["2002"]])
    assert extra(db, ids["1001"])["deposit_receipt_id"] == deposit.id
    assert "deposit_receipt_id" not in extra(db, ids["3003"])

    # Log 3: cheque 1001 bounced.
    third = ingest(db, tmp_path, "log3.csv", cheque_log({"1001": "returned", "2002": "deposited"}))
    assert (third.status, third.lines_updated) == ("imported", 1)
    original, reversal = allocations(db, ids["1001"])
    assert (reversal.amount_minor, reversal.reverses_id) == (-original.amount_minor, original.id)
    assert open_amounts(db)["INV-2026-000101"] == 10000
    assert open_amounts(db)["INV-2026-000202"] == 0
    assert extra(db, ids["1001"])["_status"] == "exception"
    with Session(db) as s:
        flags = [(f.customer_id, f.flag) for f in s.execute(select(CustomerFlag)).scalars()]
        exc = s.execute(select(ExceptionItem).where(ExceptionItem.receipt_id == ids["1001"])).scalar_one()  # type: ignore[arg-type]
    assert flags == [("ACME", "CHEQUE_RETURNED")] and (exc.status, exc.reason) == ("open", "CHEQUE_RETURNED")
    assert outbox(db)[int(reversal.id)].kind == "reversal"  # type: ignore[arg-type]
    assert relay(db, erp).posted == 1
    doc = next(d for d in erp.documents if d["posting_key"] == f"alloc-{reversal.id}")
    assert doc["kind"] == "reversal"

    with Session(db) as s:
        actions = [r.action for r in audit.rows(s)]
        assert audit.verify(s) is None
    assert actions.count("cheque.posting_held") == 1
    assert actions.count("cheque.deposited") == 4  # by log 2, then linked to the deposit line
    for step in ("cheque.deposit_matched", "cheque.returned", "cheque.reversed"):
        assert actions.count(step) == 1, step


def test_a_move_backwards_refuses_the_whole_log(db: Engine, world: World, tmp_path: Path) -> None:
    seed(world)
    ingest(db, tmp_path, "log1.csv", cheque_log({"2002": "cleared"}))
    ids = cheque_ids(db)
    bad = ingest(db, tmp_path, "log2.csv", cheque_log({"1001": "deposited", "2002": "received"}))
    assert (bad.status, bad.reason) == ("quarantined", "RECON_CHEQUE_BAD_TRANSITION")
    assert "2002" in (bad.message or "") and "cleared" in (bad.message or "")
    # Nothing of that file was kept: 1001's forward move is rolled back with it.
    assert extra(db, ids["1001"])["status"] == "received"
    assert extra(db, ids["2002"])["status"] == "cleared"


def test_the_same_statuses_again_are_a_duplicate(db: Engine, tmp_path: Path) -> None:
    ingest(db, tmp_path, "log1.csv", cheque_log())
    again = ingest(db, tmp_path, "log1-copy.csv", cheque_log().replace("\n", "\r\n"))
    assert (again.status, again.lines_updated) == ("duplicate", 0)


def test_returned_before_its_date_posts_application_and_reversal_on_the_date(
        db: Engine, world: World, erp: FakeErp, tmp_path: Path) -> None:
    seed(world)
    ingest(db, tmp_path, "log1.csv", cheque_log())
    run_match(db, default_rules(), today())
    ids = cheque_ids(db)
    relay(db, erp)
    ingest(db, tmp_path, "log2.csv", cheque_log({"3003": "returned"}))
    app, rev = allocations(db, ids["3003"])
    relay(db, erp)
    assert not {f"alloc-{app.id}", f"alloc-{rev.id}"} & set(erp.documents_per_key())
    relay(db, erp, now=datetime.combine(today() + timedelta(days=20), time(9), UTC))
    keys = [d["posting_key"] for d in erp.documents]
    assert keys[-2:] == [f"alloc-{app.id}", f"alloc-{rev.id}"]  # the ERP sees them in order


def test_cleared_then_returned_is_a_return(db: Engine, world: World, tmp_path: Path) -> None:
    seed(world)
    ingest(db, tmp_path, "log1.csv", cheque_log())
    run_match(db, default_rules(), today())
    ids = cheque_ids(db)
    assert ingest(db, tmp_path, "log2.csv", cheque_log({"2002": "cleared"})).lines_updated == 1
    assert ingest(db, tmp_path, "log3.csv", cheque_log({"2002": "returned"})).lines_updated == 1
    assert open_amounts(db)["INV-2026-000202"] == 25000
    assert (extra(db, ids["2002"])["status"], extra(db, ids["2002"])["_status"]) == ("returned", "exception")
    # The same bytes as log 2 are a duplicate file; a new log saying cleared again is refused.
    assert ingest(db, tmp_path, "log2-again.csv", cheque_log({"2002": "cleared"})).reason == "DUPLICATE_FILE"
    late = ingest(db, tmp_path, "log4.csv", cheque_log({"1001": "deposited", "2002": "cleared"}))
    assert (late.status, late.reason) == ("quarantined", "RECON_CHEQUE_BAD_TRANSITION")


def test_a_cheque_first_seen_returned_is_never_applied(db: Engine, world: World, tmp_path: Path) -> None:
    # The first log that names cheque 2002 already calls it returned: it bounced before anyone
    # logged it received. It is no cash: the matcher must not apply it (its invoice stays open);
    # it goes to a person as a returned cheque, like one that bounced after it was applied.
    seed(world)
    result = ingest(db, tmp_path, "log1.csv", cheque_log({"2002": "returned"}))
    assert result.status == "imported"
    ids = cheque_ids(db)
    got = extra(db, ids["2002"])
    assert (got["status"], got["_status"]) == ("returned", "exception")
    assert got["returned_on"] == (today() - timedelta(days=5)).isoformat()  # the day the log books it
    summary = run_match(db, default_rules(), today())
    assert summary.auto == 2  # 1001 and 3003, not 2002
    assert open_amounts(db)["INV-2026-000202"] == 25000
    assert allocations(db, ids["2002"]) == []
    with Session(db) as s:
        item = s.execute(select(ExceptionItem).where(
            ExceptionItem.receipt_id == ids["2002"])).scalar_one()  # type: ignore[arg-type]
        assert (item.reason, item.status) == ("CHEQUE_RETURNED", "open")
        actions = [r.action for r in audit.rows(s) if r.entity_id == str(ids["2002"])]
        assert actions == ["cheque.returned", "cheque.reversed"]
    # A later log repeating it as returned changes nothing; one calling it received is refused.
    again = ingest(db, tmp_path, "log2.csv", cheque_log({"2002": "returned", "1001": "deposited"}))
    assert (again.status, again.lines_updated) == ("imported", 1)
    back = ingest(db, tmp_path, "log3.csv", cheque_log({"1001": "deposited"}))
    assert (back.status, back.reason) == ("quarantined", "RECON_CHEQUE_BAD_TRANSITION")


def test_a_returned_cheque_is_closed_as_returned_never_with_money(db: Engine, world: World, tmp_path: Path) -> None:
    # A bounced cheque brought no money: a clerk cannot apply it, put it on account, refund it or
    # book it to a GL account from the worklist (each would move cash that never arrived).
    from decimal import Decimal

    import pytest

    from services.cashapp.usecases.approvals import Limits, resolve_item
    from services.cashapp.usecases.exceptions import Actor
    from services.cashapp.usecases.resolve import LineIn, Resolution, plan
    from shared.errors import Conflict, ValidationError

    seed(world)
    ingest(db, tmp_path, "log1.csv", cheque_log({"2002": "returned"}))
    ids = cheque_ids(db)
    with Session(db) as s:
        item = s.execute(select(ExceptionItem).where(
            ExceptionItem.receipt_id == ids["2002"])).scalar_one()  # type: ignore[arg-type]
        doc = s.execute(select(OpenItem).where(OpenItem.document_number == "INV-2026-000202")).scalar_one()  # type: ignore[arg-type]
        item_id, doc_id = int(item.id), int(doc.id)  # type: ignore[arg-type]
    clerk = Actor("clerk1", "clerk")
    for res in (Resolution("apply", lines=[LineIn(doc_id, Decimal("250.00"))]),
                Resolution("on_account", customer_id="BETA"), Resolution("refund"),
                Resolution("non_ar", gl_code="8000")):
        with Session(db) as s, pytest.raises(Conflict) as err:
            resolve_item(s, item_id, clerk, res, None, Limits())
        assert err.value.code == "CASHAPP_CHEQUE_RETURNED", res.kind
    assert open_amounts(db)["INV-2026-000202"] == 25000
    # What closes it: "returned", which books nothing (no allocation, no posting) and no approval.
    with Session(db) as s:
        posted = s.execute(select(Outbox)).scalars().all()
        done = resolve_item(s, item_id, clerk, Resolution("returned", note="drawer asked to pay again"),
                            None, Limits(approval_threshold="100"))
        s.commit()
    assert (done["status"], done["applied"], done["unapplied"]) == ("resolved", "0.00", "250.00")
    assert allocations(db, ids["2002"]) == []
    assert open_amounts(db)["INV-2026-000202"] == 25000
    with Session(db) as s:
        assert len(s.execute(select(Outbox)).scalars().all()) == len(posted)
        assert s.get(ExceptionItem, item_id).status == "resolved"  # type: ignore[union-attr]
        assert s.get(Receipt, ids["2002"]).status == "ignored"  # type: ignore[union-attr]
    # ... and only a returned cheque: another receipt cannot be closed that way.
    with Session(db) as s, pytest.raises(ValidationError) as bad:
        plan(s, s.get(Receipt, ids["1001"]), Resolution("returned"))  # type: ignore[arg-type]
    assert bad.value.code == "CASHAPP_BAD_RESOLUTION"


def test_a_returned_cheque_is_no_unapplied_cash_of_its_customer(db: Engine, world: World, tmp_path: Path) -> None:
    # Applied, then returned: its applications are reversed, but its amount is no credit the
    # customer holds (a balance confirmation or the unapplied-cash report must not show it).
    from services.recon.usecases import ledger

    seed(world)
    ingest(db, tmp_path, "log1.csv", cheque_log())
    run_match(db, default_rules(), today())
    ids = cheque_ids(db)
    with db.connect() as conn:  # received and applied in full: nothing unapplied
        assert ids["2002"] not in ledger.unapplied_receipts(conn)["receipt_id"].to_list()
    ingest(db, tmp_path, "log2.csv", cheque_log({"2002": "returned"}))
    assert extra(db, ids["2002"])["_status"] == "exception"
    with db.connect() as conn:
        assert ids["2002"] not in ledger.unapplied_receipts(conn)["receipt_id"].to_list()
