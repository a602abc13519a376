"""Idempotency-Key: same key and body, same answer and one effect; different body, 422."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from services.cashapp.models import Allocation
from tests.cashapp.api.conftest import Api, seed
from tests.cashapp.api.test_resolve import open_amount


def test_same_key_same_body_replays_one_effect(api: Api) -> None:
    ids = seed(api.engine, n_receipts=2)
    e, item = ids["exceptions"][0], ids["items"][0]
    body = {"kind": "apply", "lines": [{"open_item_id": item, "amount": "40.00"}]}
    key = {"Idempotency-Key": "resolve-1"}
    first = api.post("clerk", f"/exceptions/{e}/resolve", json=body, headers=key)
    second = api.post("clerk", f"/exceptions/{e}/resolve", json=body, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert open_amount(api, item) == 6_000
    with Session(api.engine) as s:
        assert s.execute(select(func.count()).select_from(Allocation)).scalar_one() == 1
    other = api.post("clerk", f"/exceptions/{e}/resolve", json={**body, "note": "x"}, headers=key)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    elsewhere = api.post("clerk", f"/exceptions/{ids['exceptions'][1]}/claim", headers=key)
    assert elsewhere.status_code == 422
    # keys belong to their user: another clerk's identical key is a new request
    theirs = api.post("clerk2", f"/exceptions/{ids['exceptions'][1]}/claim", headers=key)
    assert theirs.status_code == 200


def test_failures_are_not_stored_and_bad_keys_refused(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)
    e = ids["exceptions"][0]
    key = {"Idempotency-Key": "claim-1"}
    api.post("clerk2", f"/exceptions/{e}/claim")
    failed = api.post("clerk", f"/exceptions/{e}/claim", headers=key)
    assert failed.status_code == 409
    api.post("clerk2", f"/exceptions/{e}/release")
    retried = api.post("clerk", f"/exceptions/{e}/claim", headers=key)
    assert retried.status_code == 200 and retried.json()["assignee"] == "clerk"
    bad = api.post("clerk", f"/exceptions/{e}/release", headers={"Idempotency-Key": "a b"})
    assert bad.status_code == 422 and bad.json()["code"] == "IDEMPOTENCY_KEY_INVALID"


def test_user_creation_replays_without_storing_the_api_key(api: Api) -> None:
    key = {"Idempotency-Key": "u-1"}
    a = api.post("admin", "/users", json={"name": "bob", "role": "clerk"}, headers=key)
    b = api.post("admin", "/users", json={"name": "bob", "role": "clerk"}, headers=key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    assert a.json()["api_key"].startswith("crk_") and b.json()["api_key"] is None
    from services.cashapp.models_service import IdempotencyKey

    with Session(api.engine) as s:
        stored = s.execute(select(col(IdempotencyKey.response_json))).scalars().all()
    assert stored and all(a.json()["api_key"] not in text for text in stored)
