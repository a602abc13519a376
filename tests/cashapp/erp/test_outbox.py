"""The outbox and its relay: enqueue in the caller's transaction, post, retry, fail, reclaim."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from services.cashapp.models import Allocation, utcnow
from services.cashapp.models_outbox import Outbox, PostingFailure
from services.cashapp.usecases.post import (
    enqueue_decisions,
    enqueue_missing_allocations,
    enqueue_posting,
    requeue_failed,
)
from services.cashapp.usecases.relay import relay_once
from shared.db import unit_of_work
from shared.erp.http import HttpAdapter
from shared.errors import Conflict, ValidationError
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.erp.factories import seed_allocations


def http(erp: FakeErp, attempts: int = 1) -> HttpAdapter:
    return HttpAdapter(erp.url, SECRET, attempts=attempts, backoff=0.0, sleep=lambda _s: None)


def rows(db: Engine) -> dict[str, Outbox]:
    with Session(db) as s:
        return {o.posting_key: o for o in s.exec(select(Outbox)).scalars()}  # type: ignore[call-overload]


def later(minutes: int = 5):  # type: ignore[no-untyped-def]
    return utcnow() + timedelta(minutes=minutes)


def test_enqueue_is_part_of_the_callers_transaction(outbox_db: Engine) -> None:
    with pytest.raises(RuntimeError), unit_of_work(outbox_db) as s:
        enqueue_posting(s, "on_account", "acct-1", {"amount": "10.00", "currency": "EUR"})
        raise RuntimeError("the business change failed")
    assert rows(outbox_db) == {}
    with unit_of_work(outbox_db) as s:
        assert enqueue_posting(s, "on_account", "acct-1", {"amount": "10.00", "currency": "EUR"})
    assert rows(outbox_db)["acct-1"].status == "pending"


def test_enqueue_same_key_twice_is_one_row_and_different_content_is_refused(outbox_db: Engine) -> None:
    with unit_of_work(outbox_db) as s:
        assert enqueue_posting(s, "write_off", "wo-1", {"amount": "0.50", "currency": "EUR"})
    with unit_of_work(outbox_db) as s:
        assert not enqueue_posting(s, "write_off", "wo-1", {"currency": "EUR", "amount": "0.50"})
    with pytest.raises(Conflict) as info, unit_of_work(outbox_db) as s:
        enqueue_posting(s, "write_off", "wo-1", {"amount": "0.51", "currency": "EUR"})
    assert info.value.code == "ERP_POSTING_KEY_REUSED"
    assert len(rows(outbox_db)) == 1


@pytest.mark.parametrize(("kind", "payload", "code"), [
    ("application", {"amount": 1.5}, "ERP_PAYLOAD_FLOAT"),
    ("application", {"lines": [{"amount": 0.1}]}, "ERP_PAYLOAD_FLOAT"),
    ("transfer", {"amount": "1.50"}, "ERP_POSTING_KIND"),
])
def test_enqueue_refuses_floats_and_unknown_kinds(outbox_db: Engine, kind: str, payload: dict,
                                                  code: str) -> None:
    with pytest.raises(ValidationError) as info, unit_of_work(outbox_db) as s:
        enqueue_posting(s, kind, "k-1", payload)
    assert info.value.code == code


def test_allocations_post_once_and_are_marked(outbox_db: Engine, erp: FakeErp) -> None:
    keys = seed_allocations(outbox_db, 3)
    res = relay_once(outbox_db, http(erp), "w1")
    assert (res.claimed, res.posted, res.duplicates) == (3, 3, 0)
    assert erp.documents_per_key() == dict.fromkeys(keys, 1)
    doc = erp.documents[0]
    assert (doc["kind"], doc["payload"]["amount"]) == ("application", "1.00")
    got = rows(outbox_db)
    assert all(o.status == "posted" and o.posted_at and o.erp_reference for o in got.values())
    with Session(outbox_db) as s:
        assert all(a.posted_at is not None for a in s.exec(select(Allocation)).scalars())  # type: ignore[call-overload]
    assert relay_once(outbox_db, http(erp), "w1").claimed == 0  # nothing left, nothing re-sent
    assert sum(erp.posts.values()) == 3


def test_missing_allocation_rows_are_swept_in_once(outbox_db: Engine) -> None:
    seed_allocations(outbox_db, 2)
    with unit_of_work(outbox_db) as s:
        s.execute(Outbox.__table__.delete().where(Outbox.posting_key.like("alloc-%")))  # type: ignore[attr-defined]
        assert enqueue_missing_allocations(s) == 2
        assert enqueue_missing_allocations(s) == 0
    assert len(rows(outbox_db)) == 2


def test_enqueue_decisions_is_idempotent(outbox_db: Engine) -> None:
    keys = seed_allocations(outbox_db, 2)
    with Session(outbox_db) as s:
        [did] = set(s.execute(select(Allocation.decision_id)).scalars())  # type: ignore[call-overload]
    with unit_of_work(outbox_db) as s:
        assert enqueue_decisions(s, [did]) == 0  # seeding enqueued them already
        s.execute(Outbox.__table__.delete().where(Outbox.posting_key == keys[0]))  # type: ignore[attr-defined]
        assert enqueue_decisions(s, [did, 999]) == 1
    assert sorted(rows(outbox_db)) == sorted(keys)


def test_transient_failure_waits_with_backoff_then_posts(outbox_db: Engine, erp: FakeErp) -> None:
    [key] = seed_allocations(outbox_db, 1)
    erp.fail_next = 1
    now = utcnow()
    res = relay_once(outbox_db, http(erp), "w1", now=now)
    assert (res.retried, res.posted) == (1, 0)
    row = rows(outbox_db)[key]
    assert row.status == "pending" and row.attempts == 1 and "503" in (row.last_error or "")
    assert row.next_attempt_at >= now + timedelta(seconds=30)
    assert relay_once(outbox_db, http(erp), "w1", now=now + timedelta(seconds=1)).claimed == 0
    res = relay_once(outbox_db, http(erp), "w1", now=now + timedelta(seconds=31))
    assert res.posted == 1 and rows(outbox_db)[key].status == "posted"


def test_an_unreachable_erp_stops_the_run_and_hands_the_rest_back(outbox_db: Engine,
                                                                  erp: FakeErp) -> None:
    keys = seed_allocations(outbox_db, 3)
    erp.fail_next = 100
    now = utcnow()
    res = relay_once(outbox_db, http(erp), "w1", now=now)
    assert (res.claimed, res.retried, res.released) == (3, 1, 2)
    assert sum(erp.posts.values()) == 1  # one try, not one per row
    got = rows(outbox_db)
    assert [(got[k].status, got[k].attempts) for k in keys] == [("pending", 1), ("pending", 0),
                                                                 ("pending", 0)]
    assert got[keys[1]].next_attempt_at <= now < got[keys[0]].next_attempt_at
    erp.fail_next = 0
    res = relay_once(outbox_db, http(erp), "w1", now=now + timedelta(seconds=31))
    assert res.posted == 3 and erp.documents_per_key() == dict.fromkeys(keys, 1)


def test_permanent_refusal_fails_the_row_for_a_person(outbox_db: Engine, erp: FakeErp) -> None:
    keys = seed_allocations(outbox_db, 2)
    erp.reject.add(keys[0])
    res = relay_once(outbox_db, http(erp), "w1")
    assert (res.failed, res.posted) == (1, 1)
    assert rows(outbox_db)[keys[0]].status == "failed"
    with Session(outbox_db) as s:
        [failure] = s.exec(select(PostingFailure)).scalars()  # type: ignore[call-overload]
    assert (failure.posting_key, failure.code, failure.status) == (keys[0], "ERP_REJECTED", "open")
    assert failure.receipt_id is not None
    assert relay_once(outbox_db, http(erp), "w1", now=later(60 * 24)).claimed == 0  # never retried alone
    erp.reject.clear()
    with unit_of_work(outbox_db) as s:
        assert requeue_failed(s, keys[0])
    assert relay_once(outbox_db, http(erp), "w1").posted == 1
    assert erp.documents_per_key() == dict.fromkeys(keys, 1)


def test_retries_run_out_into_a_failure(outbox_db: Engine, erp: FakeErp) -> None:
    [key] = seed_allocations(outbox_db, 1)
    erp.fail_next = 100
    res = relay_once(outbox_db, http(erp), "w1", max_attempts=1)
    assert res.failed == 1 and rows(outbox_db)[key].status == "failed"
    with Session(outbox_db) as s:
        code = s.execute(select(PostingFailure.code)).scalar_one()  # type: ignore[call-overload]
    assert code == "ERP_RETRIES_EXHAUSTED"


def test_a_live_lease_is_respected_and_an_expired_one_reclaimed(outbox_db: Engine, erp: FakeErp) -> None:
    keys = seed_allocations(outbox_db, 2)
    with unit_of_work(outbox_db) as s:  # a relay that claimed the rows and vanished
        s.execute(Outbox.__table__.update().values(  # type: ignore[attr-defined]
            status="sending", lease_owner="dead", lease_until=utcnow() + timedelta(seconds=60)))
    assert relay_once(outbox_db, http(erp), "w2").claimed == 0
    res = relay_once(outbox_db, http(erp), "w2", now=later(2))
    assert res.posted == 2 and erp.documents_per_key() == dict.fromkeys(keys, 1)


def test_payload_money_is_decimal_strings_only(outbox_db: Engine) -> None:
    seed_allocations(outbox_db, 1)
    with Session(outbox_db) as s:
        payload = json.loads(s.execute(select(Outbox.payload_json)).scalar_one())  # type: ignore[call-overload]
    assert payload["amount"] == "1.00" and isinstance(payload["allocation_id"], int)
    with Session(outbox_db) as s:
        n = s.execute(select(func.count()).select_from(Outbox)).scalar_one()
    assert n == 1
