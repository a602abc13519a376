"""Maker-checker: above the threshold a supervisor other than the maker decides."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from services.cashapp.models import Allocation
from tests.cashapp.api.conftest import Api, seed
from tests.cashapp.api.test_resolve import check_invariant, open_amount


def big_seed(api: Api) -> dict[str, list[int]]:
    return seed(api.engine, n_receipts=2, amount_minor=500_000)  # 5,000.00 > threshold 1,000


def allocations(api: Api) -> int:
    with Session(api.engine) as s:
        return int(s.execute(select(func.count()).select_from(Allocation)).scalar_one())


def test_above_threshold_waits_and_approval_applies(api: Api) -> None:
    ids = big_seed(api)
    e, item = ids["exceptions"][0], ids["items"][0]
    body = {"kind": "apply", "lines": [{"open_item_id": item, "amount": "5000.00"}]}
    r = api.post("clerk", f"/exceptions/{e}/resolve", json=body)
    assert r.status_code == 202, r.text
    appr = r.json()["approval_id"]
    assert r.json()["status"] == "pending_approval" and "threshold" in r.json()["why"]
    assert allocations(api) == 0 and open_amount(api, item) == 500_000
    assert api.get("clerk", f"/exceptions/{e}").json()["status"] == "pending"
    again = api.post("clerk2", f"/exceptions/{e}/resolve", json=body)
    assert again.status_code == 409  # parked: nobody else resolves it meanwhile
    listed = api.get("auditor", "/approvals?status=pending").json()["items"]
    assert [a["id"] for a in listed] == [appr] and listed[0]["amount"] == "5000.00"
    assert api.post("clerk", f"/approvals/{appr}/approve").status_code == 403  # clerks never check
    ok = api.post("supervisor", f"/approvals/{appr}/approve", json={"reason": "checked"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["approval"]["status"] == "approved" and ok.json()["applied"] == "5000.00"
    assert open_amount(api, item) == 0 and allocations(api) == 1
    d = check_invariant(api, ids["receipts"][0])
    assert d.created_by == "clerk" and "approved by supervisor" in d.reason
    twice = api.post("supervisor2", f"/approvals/{appr}/approve")
    assert twice.status_code == 409 and twice.json()["code"] == "CASHAPP_APPROVAL_DECIDED"
    assert allocations(api) == 1


def test_maker_cannot_approve_own_and_reject_has_no_effect(api: Api) -> None:
    ids = big_seed(api)
    e, item = ids["exceptions"][0], ids["items"][0]
    body = {"kind": "apply", "lines": [{"open_item_id": item, "amount": "2000.00"}]}
    appr = api.post("supervisor", f"/exceptions/{e}/resolve", json=body).json()["approval_id"]
    own = api.post("supervisor", f"/approvals/{appr}/approve")
    assert own.status_code == 403 and own.json()["code"] == "CASHAPP_MAKER_IS_CHECKER"
    own_reject = api.post("supervisor", f"/approvals/{appr}/reject")
    assert own_reject.status_code == 403
    rej = api.post("supervisor2", f"/approvals/{appr}/reject", json={"reason": "wrong invoice"})
    assert rej.status_code == 200 and rej.json()["approval"]["status"] == "rejected"
    assert allocations(api) == 0 and open_amount(api, item) == 500_000
    back = api.get("supervisor", f"/exceptions/{e}").json()
    assert (back["status"], back["assignee"]) == ("claimed", "supervisor")
    late = api.post("supervisor2", f"/approvals/{appr}/approve")
    assert late.status_code == 409
    assert allocations(api) == 0


def test_writeoff_above_own_limit_needs_approval(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)  # 100.00 receipt, clerk limit 5.00, supervisor 50.00
    e, item = ids["exceptions"][0], ids["items"][0]
    body = {"kind": "apply", "writeoff": "10.00", "writeoff_reason": "dispute",
            "lines": [{"open_item_id": item, "amount": "90.00"}]}
    r = api.post("clerk", f"/exceptions/{e}/resolve", json=body)
    assert r.status_code == 202 and "limit" in r.json()["why"]
    appr = r.json()["approval_id"]
    etag = api.get("supervisor", f"/approvals/{appr}").headers["etag"]
    ok = api.post("supervisor", f"/approvals/{appr}/approve", headers={"If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert check_invariant(api, ids["receipts"][0]).writeoff_minor == 1_000


def test_approval_rechecks_open_amounts(api: Api) -> None:
    ids = big_seed(api)
    (e1, e2), item = ids["exceptions"], ids["items"][0]
    body = {"kind": "apply", "lines": [{"open_item_id": item, "amount": "5000.00"}]}
    appr = api.post("clerk", f"/exceptions/{e1}/resolve", json=body).json()["approval_id"]
    other = api.post("supervisor", f"/exceptions/{e2}/resolve", json={**body, "lines": [
        {"open_item_id": item, "amount": "800.00"}]})
    assert other.status_code == 200  # below the threshold: applied at once
    r = api.post("supervisor", f"/approvals/{appr}/approve")
    assert r.status_code == 422 and r.json()["code"] == "CASHAPP_OVER_APPLICATION"
    assert api.get("auditor", f"/approvals/{appr}").json()["status"] == "pending"
    assert open_amount(api, item) == 500_000 - 80_000
