"""``run_match`` writes what the engine decided, exactly, on SQLite and PostgreSQL.

The writes go straight through the driver (see ``match._apply_batch``); these tests hold them to
what the ORM reads back: conserved receipts, reduced open amounts, one outbox row per allocation
whose payload is the one the generic enqueue would build, and an idempotent re-run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from services.cashapp.models import Allocation, DecisionRow, ExceptionItem, OpenItem, Receipt
from services.cashapp.models_outbox import Outbox
from services.cashapp.rules import default_rules
from services.cashapp.usecases.ingest import ingest_path
from services.cashapp.usecases.masterdata import load_file
from services.cashapp.usecases.match import run_match
from services.cashapp.usecases.post import (
    ALLOCATION_KEY_PREFIX,
    _canonical,
    allocation_payload,
    enqueue_missing_allocations,
)
from shared.db import unit_of_work

DATA = Path(__file__).resolve().parents[3] / "services" / "cashapp" / "demo_data"


OPEN_BEFORE: dict[int, int] = {}


@pytest.fixture
def matched(db: Engine) -> Engine:
    with unit_of_work(db) as s:
        load_file(s, "customers", DATA / "customers.csv")
        load_file(s, "open_items", DATA / "open_items.csv")
    for f in sorted((DATA / "statements").iterdir()):
        assert ingest_path(db, f).status == "imported"
    with Session(db) as s:
        OPEN_BEFORE.clear()
        OPEN_BEFORE.update(s.execute(select(OpenItem.id, OpenItem.open_amount_minor)).all())
    as_of = date.fromisoformat(json.loads((DATA / "demo.json").read_text())["as_of"])
    summary = run_match(db, default_rules(), as_of, batch_size=7)  # many small batches
    assert summary.auto > 20 and summary.exceptions > 0
    return db


def test_every_decision_conserves_its_receipt_and_open_amounts_drop(matched: Engine) -> None:
    with Session(matched) as s:
        decisions = s.execute(select(DecisionRow)).scalars().all()
        allocs = s.execute(select(Allocation)).scalars().all()
        items = {i.id: i for i in s.execute(select(OpenItem)).scalars()}
        receipts = {r.id: r for r in s.execute(select(Receipt)).scalars()}
    by_decision: dict[int, int] = defaultdict(int)
    by_item: dict[int, int] = defaultdict(int)
    for a in allocs:
        by_decision[a.decision_id] += a.amount_minor
        by_item[a.item_id] += a.amount_minor
        assert a.effective_date == receipts[a.receipt_id].booking_date
        assert a.currency == receipts[a.receipt_id].currency
    for d in decisions:
        assert d.applied_minor + d.fee_minor + d.writeoff_minor + d.unapplied_minor == d.amount_minor
        assert by_decision.get(d.id, 0) == (d.applied_minor if d.status == "auto" else 0)
        assert d.amount_minor == receipts[d.receipt_id].amount_minor
        want = {"auto": ("applied", "partial"), "exception": ("exception",), "ignored": ("ignored",)}
        assert receipts[d.receipt_id].status in want[d.status]
    for iid, item in items.items():
        assert item.open_amount_minor == OPEN_BEFORE[iid] - by_item.get(iid, 0)
        assert item.version == (2 if by_item.get(iid) else 1)


def test_each_allocation_has_one_outbox_row_with_the_generic_payload(matched: Engine) -> None:
    with Session(matched) as s:
        n_alloc = s.execute(select(func.count()).select_from(Allocation)).scalar_one()
        outbox = {o.posting_key: o for o in s.execute(select(Outbox)).scalars()}
        rows = s.execute(
            select(Allocation.id, Allocation.decision_id, Allocation.receipt_id, Allocation.item_id,
                   Allocation.customer_id, Allocation.document_number, Allocation.currency,
                   Allocation.amount_minor, Allocation.reverses_id, Allocation.effective_date,
                   Receipt.account, Receipt.bank_reference).join(Receipt, Receipt.id == Allocation.receipt_id)
        ).all()
    assert len(outbox) == n_alloc == len(rows) > 0
    for r in rows:
        o = outbox[f"{ALLOCATION_KEY_PREFIX}{r.id}"]
        assert (o.kind, o.status, o.attempts) == ("application", "pending", 0)
        assert o.payload_json == _canonical(allocation_payload(r))
    with unit_of_work(matched) as s:
        assert enqueue_missing_allocations(s) == 0  # the backstop finds nothing left out


def test_exceptions_are_queued_once_and_a_rerun_changes_nothing(matched: Engine) -> None:
    def counts() -> tuple[int, ...]:
        with Session(matched) as s:
            return tuple(s.execute(select(func.count()).select_from(m)).scalar_one()
                         for m in (DecisionRow, Allocation, ExceptionItem, Outbox))

    with Session(matched) as s:
        exc_decisions = {d.id for d in s.execute(select(DecisionRow).where(
            DecisionRow.status == "exception")).scalars()}
        items = s.execute(select(ExceptionItem)).scalars().all()
    assert {i.decision_id for i in items} == exc_decisions
    assert all(i.status == "open" and i.version == 1 for i in items)
    before = counts()
    again = run_match(matched, default_rules(), date(2026, 3, 5))
    assert again.receipts == 0 and counts() == before


def test_export_has_one_row_per_document_and_one_per_exception(matched: Engine, tmp_path: Path) -> None:
    import csv

    from services.cashapp.models import StatementRow
    from services.cashapp.usecases.export import APPLICATION_COLUMNS, export_applications
    from shared.money import format_minor

    out = tmp_path / "apps.csv"
    n = export_applications(matched, out)
    with out.open(newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == n and tuple(got[0].keys()) == APPLICATION_COLUMNS
    with Session(matched) as s:
        decisions = s.execute(select(DecisionRow, Receipt, StatementRow)
                              .join(Receipt, Receipt.id == DecisionRow.receipt_id)
                              .join(StatementRow, StatementRow.id == Receipt.statement_id)
                              .where(DecisionRow.status.in_(("auto", "exception")))  # type: ignore[attr-defined]
                              .order_by(DecisionRow.receipt_id)).all()
        allocs = s.execute(select(Allocation).order_by(Allocation.id)).scalars().all()
    docs: dict[int, list[Allocation]] = defaultdict(list)
    for a in allocs:
        docs[a.decision_id].append(a)
    want = []
    for d, r, st in decisions:
        for a in docs.get(d.id) or [None]:
            want.append({
                "bank_reference": r.bank_reference or "", "statement_account": st.account,
                "booking_date": r.booking_date.isoformat(), "receipt_amount": format_minor(r.amount_minor, r.currency),
                "currency": r.currency, "status": d.status, "customer_id": d.customer_id or "",
                "document_number": a.document_number if a else "",
                "applied_amount": format_minor(a.amount_minor if a else 0, r.currency),
                "residual_class": d.residual_class, "rule": d.rule_id or "", "score": f"{d.score:.3f}",
                "receipt_id": str(r.id), "fee_amount": format_minor(d.fee_minor, r.currency),
                "writeoff_amount": format_minor(d.writeoff_minor, r.currency),
                "unapplied_amount": format_minor(d.unapplied_minor, r.currency),
                "exception_reason": d.exception_reason or "", "reason": d.reason})
    assert got == want
    assert {g["status"] for g in got} == {"auto", "exception"}


@pytest.mark.parametrize("reverses", [None, 41])
@pytest.mark.parametrize("text", ["plain", 'quote " back\\slash', "Müller & Söhne ÆØÅ \u00a0\u2028", "", None])
def test_allocation_json_is_the_canonical_payload(text: str | None, reverses: int | None) -> None:
    from services.cashapp.usecases.match import _NewAllocation
    from services.cashapp.usecases.post import allocation_json

    row = _NewAllocation(id=7, decision_id=3, receipt_id=5, item_id=11, customer_id=text or "C1",
                         document_number=text or "INV-1", currency="JPY" if reverses else "EUR",
                         amount_minor=-123456 if reverses else 98765, effective_date=date(2026, 3, 2),
                         account="DE89 3704", bank_reference=text, reverses_id=reverses)
    assert allocation_json(row) == _canonical(allocation_payload(row))
