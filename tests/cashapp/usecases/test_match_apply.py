"""``run_match`` writes what the engine decided, exactly, on SQLite and PostgreSQL.

The writes go straight through the driver (see ``match_write``); these tests hold them to
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
from sqlmodel import Session, col

from services.cashapp.models import Allocation, CustomerAccount, DecisionRow, ExceptionItem, OpenItem, Receipt
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
    as_of = _load_demo(db)
    with Session(db) as s:
        OPEN_BEFORE.clear()
        OPEN_BEFORE.update(s.execute(select(OpenItem.id, OpenItem.open_amount_minor)).all())
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


def test_export_is_byte_for_byte_what_csv_writer_writes(matched: Engine, tmp_path: Path) -> None:
    """The export joins its lines itself: with commas, quotes, CR, LF and NULLs in every text
    column, the file must still be the ``csv.writer`` text of the rows, quoting included."""
    import csv
    import io

    from services.cashapp.models import StatementRow
    from services.cashapp.usecases.export import APPLICATION_COLUMNS, export_applications
    from shared.money import format_minor

    d_id, d_rid = col(DecisionRow.id), col(DecisionRow.receipt_id)
    awkward = ["a,b", 'say "hi"', "two\nlines", "cr\rhere", "", None, 'all, "of"\r\nthem']
    with unit_of_work(matched) as s:
        picked = s.execute(select(DecisionRow).where(col(DecisionRow.status) == "auto")
                           .order_by(d_id).limit(len(awkward))).scalars().all()
        for text, d in zip(awkward, picked, strict=True):
            d.customer_id = d.rule_id = d.exception_reason = text
            d.reason, d.residual_class = text or "", text or "none"
            receipt = s.get(Receipt, d.receipt_id)
            assert receipt is not None
            receipt.bank_reference = text
            for a in s.execute(select(Allocation).where(Allocation.decision_id == d.id)).scalars():
                a.document_number = text or "X"
        st = s.get(StatementRow, s.get(Receipt, picked[0].receipt_id).statement_id)  # type: ignore[union-attr]
        assert st is not None
        st.account = 'DE,"89"'
    out = tmp_path / "apps.csv"
    n = export_applications(matched, out)

    with Session(matched) as s:
        rows = s.execute(select(DecisionRow, Receipt, StatementRow)
                         .join(Receipt, col(Receipt.id) == d_rid)
                         .join(StatementRow, col(StatementRow.id) == col(Receipt.statement_id))
                         .where(col(DecisionRow.is_current).is_(True))
                         .where(col(DecisionRow.status).in_(("auto", "exception", "manual")))
                         .order_by(d_rid, d_id)).all()
        allocs = s.execute(select(Allocation).where(col(Allocation.reverses_id).is_(None))
                           .order_by(col(Allocation.id))).scalars().all()
    docs: dict[int, list[Allocation]] = defaultdict(list)
    for a in allocs:
        docs[a.decision_id].append(a)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(APPLICATION_COLUMNS)
    for d, r, st in rows:
        ccy = r.currency
        found: list[Allocation | None] = list(docs.get(d.id or 0, ()))
        for a in found or [None]:
            writer.writerow([r.bank_reference, st.account, r.booking_date.isoformat(),
                             format_minor(d.amount_minor, ccy), ccy, d.status, d.customer_id,
                             a.document_number if a else "", format_minor(a.amount_minor if a else 0, ccy),
                             d.residual_class, d.rule_id, f"{d.score:.3f}", r.id,
                             format_minor(d.fee_minor, ccy), format_minor(d.writeoff_minor, ccy),
                             format_minor(d.unapplied_minor, ccy), d.exception_reason, d.reason])
    assert out.read_bytes() == buf.getvalue().encode("utf-8")
    assert n == sum(len(docs.get(d.id or 0) or [None]) for d, _, _ in rows)


@pytest.mark.parametrize("reverses", [None, 41])
@pytest.mark.parametrize("text", ["plain", 'quote " back\\slash', "Müller & Söhne ÆØÅ \u00a0\u2028", "", None])
def test_allocation_json_is_the_canonical_payload(text: str | None, reverses: int | None) -> None:
    from types import SimpleNamespace

    from services.cashapp.usecases.post import allocation_json, allocation_json_parts, allocation_json_with_ids

    row = SimpleNamespace(id=7, decision_id=3, receipt_id=5, item_id=11, customer_id=text or "C1",
                          document_number=text or "INV-1", currency="JPY" if reverses else "EUR",
                          amount_minor=-123456 if reverses else 98765, effective_date=date(2026, 3, 2),
                          account="DE89 3704", bank_reference=text, reverses_id=reverses)
    assert allocation_json(row) == _canonical(allocation_payload(row))
    parts = allocation_json_parts(row.amount_minor, row.currency, row.account, row.bank_reference, row.customer_id,
                                  row.document_number, row.effective_date, row.item_id, row.receipt_id, reverses)
    assert allocation_json_with_ids(row.id, row.decision_id, parts) == allocation_json(row)


# ---------------------------------------------------------------- decisions made and written in step


def _load_demo(engine: Engine) -> date:
    with unit_of_work(engine) as s:
        load_file(s, "customers", DATA / "customers.csv")
        load_file(s, "open_items", DATA / "open_items.csv")
    for f in sorted((DATA / "statements").iterdir()):
        assert ingest_path(engine, f).status == "imported"
    return demo_as_of()


def demo_as_of() -> date:
    """The day the demo world is matched as of."""
    return date.fromisoformat(json.loads((DATA / "demo.json").read_text())["as_of"])


def _contents(engine: Engine) -> dict[str, list[tuple]]:
    """Every row a match run writes or changes, timestamps left out (they differ run to run)."""
    from sqlalchemy import DateTime

    from services.cashapp.models import CustomerAccount, MatchRun

    out = {}
    with Session(engine) as s:
        for model in (DecisionRow, Allocation, ExceptionItem, Outbox, Receipt, OpenItem, CustomerAccount, MatchRun):
            t = model.__table__  # type: ignore[union-attr]
            cols = [c for c in t.columns if not isinstance(getattr(c.type, "impl", c.type), DateTime)]
            out[t.name] = [tuple(r) for r in s.execute(select(*cols).order_by(t.c.id))]
    return out


def _engine_decisions(engine: Engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(DecisionRow)
                         .where(col(DecisionRow.run_id).is_not(None))).scalar_one()


def break_engine_at(monkeypatch: pytest.MonkeyPatch, at: int) -> None:
    """The engine of ``run_match`` raises ``MATCH_INVARIANT`` instead of its decision number ``at``."""
    from services.cashapp.usecases import match as m
    from shared.errors import DomainError

    real = m.match_iter

    def failing(*args: object, **kwargs: object) -> object:
        for i, d in enumerate(real(*args, **kwargs)):  # type: ignore[arg-type]
            if i == at:
                raise DomainError("engine broke", code="MATCH_INVARIANT")
            yield d

    monkeypatch.setattr(m, "match_iter", failing)


def _no_committer_left() -> bool:
    import threading

    return not any(t.name == "match-committer" for t in threading.enumerate())


def test_match_iter_yields_the_decisions_of_match_and_restores_the_collector(db: Engine) -> None:
    import gc

    from services.cashapp.domain.engine import match, match_iter
    from services.cashapp.usecases.match import load_inputs

    as_of = _load_demo(db)
    with Session(db) as s:
        receipts, items, customers, accounts = load_inputs(s)
    frames = (receipts, items, customers, accounts)
    want = match(*frames, default_rules(), as_of)
    assert gc.isenabled()
    it = match_iter(*frames, default_rules(), as_of)
    first = next(it)
    assert not gc.isenabled()  # paused while the generator is alive
    assert [first, *it] == want and len(want) > 20
    assert gc.isenabled()
    it = match_iter(*frames, default_rules(), as_of)
    next(it)
    it.close()  # left early: the collector runs again
    assert gc.isenabled()


def test_settled_first_gives_the_same_decisions_the_settled_ones_first(db: Engine) -> None:
    import polars as pl

    from services.cashapp.domain.engine import match, match_iter
    from services.cashapp.domain.firstpass import first_pass
    from services.cashapp.domain.inputs import prepare_inputs
    from services.cashapp.usecases.match import load_inputs

    as_of = _load_demo(db)
    with Session(db) as s:
        frames = load_inputs(s)
    want = match(*frames, default_rules(), as_of)
    got = list(match_iter(*frames, default_rules(), as_of, settled_first=True))
    receipts, items, customers, accounts = prepare_inputs(*frames)
    credits = receipts.filter((pl.col("amount_minor") > 0) & ~pl.col("is_reversal"))
    settled, _ = first_pass(credits, items, customers, accounts, default_rules())
    assert 0 < len(settled) < len(want)
    # the settled ones first, then the others, each part in match's order: the same decisions
    assert got == [d for d in want if d.receipt_id in settled] + [d for d in want if d.receipt_id not in settled]


def test_every_way_of_writing_writes_exactly_the_same(
        sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inline, committed behind on a thread, or in a writer process: the same rows."""
    import multiprocessing
    import shutil
    import threading

    from services.cashapp.usecases import match as m
    from shared.db import make_engine

    got = []
    for name in ("behind", "inline", "process"):
        path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
        as_of = _load_demo(eng)
        if name == "inline":
            monkeypatch.setattr(m, "write_behind", m.write_inline)
        committers: list[str] = []
        real = eng.dialect.do_commit
        monkeypatch.setattr(eng.dialect, "do_commit", lambda c, real=real, seen=committers: (
            seen.append(threading.current_thread().name), real(c))[1])
        # (the writer process commits on its own committer thread, out of sight of this one)
        summary = run_match(eng, default_rules(), as_of, batch_size=7,
                            writer_process_min=0 if name == "process" else -1)
        assert summary.auto > 20
        assert ("match-committer" in committers) == (name == "behind")
        got.append(_contents(eng))
        eng.dispose()
    assert got[0] == got[1] == got[2]
    assert _no_committer_left() and not multiprocessing.active_children()


def test_a_batch_that_fails_rolls_back_alone_and_stops_the_run(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cashapp.usecases import match as m

    as_of = _load_demo(db)
    with Session(db) as s:
        unmatched = s.execute(select(func.count()).select_from(Receipt)
                              .where(col(Receipt.status) == "unmatched")).scalar_one()
    real, calls = m.write_batch, []

    def write(session: Session, batch: object) -> None:
        calls.append(batch)
        real(session, batch)  # type: ignore[arg-type]
        if len(calls) == 3:
            raise RuntimeError("disk full")  # after the batch's writes: they must roll back

    monkeypatch.setattr(m, "write_batch", write)
    with pytest.raises(RuntimeError, match="disk full"):
        run_match(db, default_rules(), as_of, batch_size=7)
    assert len(calls) == 3 and _no_committer_left()
    assert _engine_decisions(db) == 14  # the two batches before it, committed
    with Session(db) as s:
        assert s.execute(select(func.count()).select_from(Receipt)
                         .where(col(Receipt.status) == "unmatched")).scalar_one() == unmatched - 14
        assert (s.execute(select(func.count()).select_from(Allocation)).scalar_one()
                == s.execute(select(func.count()).select_from(Outbox)).scalar_one())
    monkeypatch.undo()
    again = run_match(db, default_rules(), as_of, batch_size=7)  # picks up where it stopped
    assert again.receipts == unmatched - 14 and _engine_decisions(db) == unmatched


def test_a_commit_that_fails_stops_the_run_and_no_later_batch_is_committed(
        db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import event

    from services.cashapp.usecases import match as m

    as_of = _load_demo(db)
    real_write = m.write_batch
    commits: list[int] = []

    def write(session: Session, batch: object) -> None:
        real_write(session, batch)  # type: ignore[arg-type]
        n = len(commits)
        commits.append(n)

        @event.listens_for(session, "before_commit")
        def _fail(_s: Session) -> None:
            if n == 1:
                raise RuntimeError("commit refused")

    monkeypatch.setattr(m, "write_batch", write)
    with pytest.raises(RuntimeError, match="commit refused"):
        run_match(db, default_rules(), as_of, batch_size=7)
    assert _no_committer_left()
    assert _engine_decisions(db) == 7  # the first batch only


def test_an_error_while_deciding_stops_the_committer(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from shared.errors import DomainError

    as_of = _load_demo(db)
    break_engine_at(monkeypatch, 20)
    with pytest.raises(DomainError, match="engine broke"):
        run_match(db, default_rules(), as_of, batch_size=7)
    assert _no_committer_left() and gc.isenabled()
    assert _engine_decisions(db) == 14  # the batches written before the error are committed


def test_run_match_on_sqlite_in_memory_commits_inline() -> None:
    from shared.db import make_engine, migrate

    eng = make_engine("sqlite://")
    migrate(eng)
    as_of = _load_demo(eng)
    summary = run_match(eng, default_rules(), as_of, batch_size=7)
    assert summary.auto > 20 and _engine_decisions(eng) == summary.receipts
    eng.dispose()


def test_a_receipt_decided_meanwhile_stops_its_batch(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone else (a second run, a clerk) moves a receipt on from unmatched during the run:
    the batch holding it rolls back instead of applying its cash a second time."""
    from sqlalchemy import update

    from services.cashapp.usecases import match as m
    from shared.errors import Conflict

    as_of = _load_demo(db)
    with Session(db) as s:
        unmatched = s.execute(select(func.count()).select_from(Receipt)
                              .where(col(Receipt.status) == "unmatched")).scalar_one()
    real, calls = m.write_batch, []

    def write(session: Session, batch: m.Batch) -> None:
        calls.append(batch)
        if len(calls) == 2:  # the second batch's first receipt is taken by another writer first
            rid = batch.statuses[0][1]
            session.execute(update(Receipt).where(col(Receipt.id) == rid).values(status="applied"))
        real(session, batch)

    monkeypatch.setattr(m, "write_batch", write)
    with pytest.raises(Conflict) as err:
        run_match(db, default_rules(), as_of, batch_size=7)
    assert err.value.code == "CASHAPP_STALE_VERSION"
    first_allocations = len(calls[0].allocations)
    assert first_allocations > 0
    assert _engine_decisions(db) == 7 and _no_committer_left()  # the first batch only
    with Session(db) as s:  # the second batch wrote nothing (its own status change went with it)
        assert s.execute(select(func.count()).select_from(Receipt)
                         .where(col(Receipt.status) == "unmatched")).scalar_one() == unmatched - 7
        assert s.execute(select(func.count()).select_from(Allocation)).scalar_one() == first_allocations


def test_suggestions_are_stored_as_asdict_would_give_them() -> None:
    import json
    from dataclasses import asdict

    from services.cashapp.domain.decision import Suggestion
    from services.cashapp.usecases.match_write import _plain

    s = Suggestion("C1", (3, 4), ("INV-1", "Ünïcode \"q\""), (100, -5), 0.855, "payer name like C1's")
    assert _plain(s) == asdict(s)
    assert json.dumps([_plain(s)], default=str) == json.dumps([asdict(s)], default=str)
    empty = Suggestion(None, (), (), (), 0.0, "")
    assert json.dumps([_plain(empty)]) == json.dumps([asdict(empty)])


def test_an_alias_is_offered_by_one_batch_only(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a batch is written while the one before still commits: it must not insert an
    alias that batch learned (it cannot see it yet, and the unique constraint would refuse it)."""
    from services.cashapp.usecases import match as m

    as_of = _load_demo(db)
    real, batches = m.write_batch, []

    def write(session: Session, batch: m.Batch) -> None:
        batches.append(batch)
        real(session, batch)

    monkeypatch.setattr(m, "write_batch", write)
    run_match(db, default_rules(), as_of, batch_size=7)
    offered = [{(kind, norm) for _, kind, _, norm in b.aliases} for b in batches]
    assert sum(len(o) for o in offered) > 10
    assert sum(len(o) for o in offered) == len(set().union(*offered))  # none offered twice
    with Session(db) as s:  # and every one of them is in the database
        stored = {(kind, norm) for kind, norm in s.execute(select(CustomerAccount.kind, CustomerAccount.value_norm))}
    assert set().union(*offered) <= stored


def test_sqlite_loads_the_same_frames_as_the_rows_give(sqlite_template: Path, tmp_path: Path) -> None:
    """The JSON-array load of SQLite gives what the driver's rows give: values, nulls, types,
    dates, booleans, text that needs escaping, and empty results."""
    import shutil

    from polars.testing import assert_frame_equal
    from sqlalchemy import update

    from services.cashapp.usecases import match as m
    from shared.db import make_engine

    path = tmp_path / "f.db"
    shutil.copy(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    _load_demo(eng)
    odd = 'quote " back\\slash\nnew line, comma; Ünïcode ✓ \t tab \x01'
    with unit_of_work(eng) as s:
        first = s.execute(select(Receipt.id).order_by(Receipt.id)).scalars().first()
        s.execute(update(Receipt).where(col(Receipt.id) == first)
                  .values(remittance=odd, value_date=None, is_reversal=True, counterparty_name=None))
    wheres = {"receipt": (m.RECEIPT_COLUMNS, "status IN (?, ?)", ("unmatched", "applied"), m._RECEIPT_TYPES),
              "open_item": (m.ITEM_COLUMNS, "in_snapshot = ?", (True,), m._ITEM_TYPES),
              "customer": (("customer_id", "customer_name"), "customer_id IS NOT NULL", (), {}),
              "customer_account": (("customer_id", "kind", "value", "source"), "id IS NOT NULL", (), {})}
    with Session(eng) as s:
        conn = s.connection()
        for table, (columns, where, params, types) in wheres.items():
            fast = m._frame_sqlite(conn, table, columns, where, params, types)
            rows = m._frame_rows(conn, table, columns, where, params, types)
            assert fast.height > 0
            assert_frame_equal(fast, rows)
            none = m._frame_sqlite(conn, table, columns, "1 = 0", (), types)
            assert none.height == 0 and none.schema == rows.schema
        got = m._frame_sqlite(conn, "receipt", m.RECEIPT_COLUMNS, "id = ?", (first,), m._RECEIPT_TYPES)
        assert got.row(0, named=True)["remittance"] == odd and got["is_reversal"].to_list() == [True]
        assert got["value_date"].to_list() == [None] and got["counterparty_name"].to_list() == [None]
    eng.dispose()
