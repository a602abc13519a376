"""Property: the stored snapshot equals an independent recomputation, and later postings
(including back-dated ones) never change an issued run."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from services.recon.usecases.confirm import create_run, stored_snapshot, verify_run
from tests.recon.usecases.world import World

CUT = date(2026, 9, 30)
_counter = itertools.count()

offsets = st.integers(min_value=-60, max_value=30)  # days from the cut-off
doc = st.tuples(offsets, st.integers(min_value=-50_000, max_value=100_000).filter(bool))
payment = st.tuples(st.integers(min_value=0, max_value=5), offsets, st.integers(min_value=1, max_value=60_000))
worlds = st.tuples(st.lists(doc, min_size=1, max_size=6), st.lists(payment, max_size=6),
                   st.lists(payment, max_size=4))


def _day(offset: int) -> date:
    return CUT + timedelta(days=offset)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(worlds)
def test_stored_snapshot_is_the_as_of_ledger(world: World, rdb: Engine,
                                             data: tuple[list, list, list]) -> None:  # type: ignore[type-arg]
    docs, pays, later = data
    cust = f"P{next(_counter)}"
    world.customer(cust)
    ids, expected = [], {}
    for n, (offset, amount) in enumerate(docs):
        kind = "credit_note" if amount < 0 else "invoice"
        ids.append(world.item(cust, f"D{n}", amount, _day(offset), kind=kind))
        if offset <= 0:
            expected[f"D{n}"] = amount
    for index, offset, amount in pays:
        target = index % len(ids)
        signed = amount if docs[target][1] > 0 else -amount
        world.apply(world.receipt(amount, _day(offset), customer=cust), ids[target], signed, _day(offset))
        number = f"D{target}"
        if number in expected and offset <= 0:
            expected[number] -= signed
    want = {(cust, k, v) for k, v in expected.items() if v}
    if not want:
        return
    run = create_run(rdb, CUT, customers=[cust])
    got = stored_snapshot(rdb, run.run_id)
    assert {(r["customer_id"], r["document_number"], r["open_minor"]) for r in got.iter_rows(named=True)} == want
    # Postings after the run, back-dated before the cut-off: the issued run does not move.
    for index, offset, amount in later:
        target = index % len(ids)
        signed = amount if docs[target][1] > 0 else -amount
        world.apply(world.receipt(amount, _day(5)), ids[target], signed, _day(min(offset, 0)))
    world.item(cust, "BACKDATED", 999, _day(-3))
    assert stored_snapshot(rdb, run.run_id).equals(got)
    assert verify_run(rdb, run.run_id).ok
