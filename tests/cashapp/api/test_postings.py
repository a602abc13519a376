"""Refused ERP postings over REST: a clerk sees them, a supervisor requeues them, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp.models_outbox import Outbox
from services.cashapp.models_service import AuditLog
from services.cashapp.usecases.relay import relay_once
from shared.erp.http import HttpAdapter
from tests.cashapp.api.conftest import Api
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.erp.factories import seed_allocations


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    server = FakeErp(SECRET).start()
    yield server
    server.stop()


def relay(api: Api, erp: FakeErp) -> None:
    relay_once(api.engine, HttpAdapter(erp.url, SECRET, attempts=1, backoff=0.0,
                                       sleep=lambda _s: None), "w1")


def refused(api: Api, erp: FakeErp, n: int = 2, refuse: int = 1) -> list[str]:
    """``n`` allocations relayed once; the ERP refuses the first ``refuse`` of them for good."""
    keys = seed_allocations(api.engine, n)
    erp.reject.update(keys[:refuse])
    relay(api, erp)
    return keys


def outbox(api: Api, key: str) -> Outbox:
    with Session(api.engine) as s:
        return s.execute(select(Outbox).where(col(Outbox.posting_key) == key)).scalar_one()


def test_clerk_sees_the_refusal_with_its_amount(api: Api, erp: FakeErp) -> None:
    keys = refused(api, erp)
    for who in ("clerk", "auditor", "admin", "supervisor"):
        r = api.get(who, "/postings/failures")
        assert r.status_code == 200, (who, r.text)
    [item] = r.json()["items"]
    assert (item["posting_key"], item["code"], item["status"]) == (keys[0], "ERP_REJECTED", "open")
    assert (item["amount"], item["currency"], item["customer_id"]) == ("1.00", "EUR", "C1")
    assert item["outbox_status"] == "failed" and item["receipt_id"] is not None
    assert r.json()["next_before_id"] is None
    one = api.get("clerk", f"/postings/failures/{item['id']}").json()
    assert one["payload"]["document_number"] == item["document_number"] and one["attempts"] == 1
    assert "unknown customer" in one["last_error"]
    failed = api.get("clerk", "/postings", params={"status": "failed"}).json()["items"]
    posted = api.get("clerk", "/postings", params={"status": "posted"}).json()["items"]
    assert [o["posting_key"] for o in failed] == [keys[0]]
    assert [o["posting_key"] for o in posted] == [keys[1]] and posted[0]["erp_reference"]
    assert api.get("clerk", "/postings/failures", params={"status": "requeued"}).json()["items"] == []


def test_supervisor_requeues_once_and_it_is_audited(api: Api, erp: FakeErp) -> None:
    keys = refused(api, erp)
    fid = api.get("clerk", "/postings/failures").json()["items"][0]["id"]
    url = f"/postings/failures/{fid}/requeue"
    denied = api.post("clerk", url, json={})
    assert denied.status_code == 403 and denied.json()["code"] == "AUTH_FORBIDDEN"
    assert outbox(api, keys[0]).status == "failed"
    r = api.post("supervisor", url, json={"reason": "customer C1 created in the ERP"},
                 headers={"Idempotency-Key": "rq-1"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["outbox_status"]) == ("requeued", "pending")
    row = outbox(api, keys[0])
    assert (row.status, row.attempts) == ("pending", 0)
    with Session(api.engine) as s:
        [entry] = s.execute(select(AuditLog).where(col(AuditLog.action) == "posting.requeue")).scalars()
    assert (entry.actor, entry.entity_id, entry.reason) == ("supervisor", str(fid),
                                                            "customer C1 created in the ERP")
    assert '"status":"open"' in entry.before_json and '"status":"requeued"' in entry.after_json
    replay = api.post("supervisor", url, json={"reason": "customer C1 created in the ERP"},
                      headers={"Idempotency-Key": "rq-1"})
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    again = api.post("supervisor2", url, json={})
    assert again.status_code == 409 and again.json()["code"] == "ERP_FAILURE_NOT_OPEN"
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["failure_status"] == "requeued"
    assert api.get("clerk", "/postings/failures").json()["items"] == []
    erp.reject.clear()
    relay(api, erp)
    assert outbox(api, keys[0]).status == "posted"
    assert erp.documents_per_key() == dict.fromkeys(keys, 1)


def test_failures_page_newest_first_with_a_cursor(api: Api, erp: FakeErp) -> None:
    refused(api, erp, n=3, refuse=3)
    first = api.get("auditor", "/postings/failures", params={"limit": 2}).json()
    ids = [f["id"] for f in first["items"]]
    assert ids == sorted(ids, reverse=True) and first["next_before_id"] == ids[-1]
    rest = api.get("auditor", "/postings/failures",
                   params={"limit": 2, "before_id": first["next_before_id"]}).json()
    assert len(rest["items"]) == 1 and rest["items"][0]["id"] < ids[-1]
    assert rest["next_before_id"] is None
    big = api.get("clerk", "/postings/failures", params={"limit": 10_000})
    assert big.status_code == 422 and big.json()["code"] == "API_BAD_LIMIT"


def test_unknown_failure_is_a_problem(api: Api) -> None:
    for r in (api.get("clerk", "/postings/failures/4242"),
              api.post("supervisor", "/postings/failures/4242/requeue")):
        assert r.status_code == 404 and r.json()["code"] == "ERP_FAILURE_NOT_FOUND"
    bad = api.get("clerk", "/postings", params={"status": "lost"})
    assert bad.status_code == 422
