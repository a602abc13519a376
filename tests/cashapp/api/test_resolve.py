"""Claim, release, reassign and every kind of resolution; the money invariant after each."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp.models import Allocation, DecisionRow, ExceptionItem, OpenItem, Receipt
from tests.cashapp.api.conftest import Api, seed


def check_invariant(api: Api, receipt_id: int) -> DecisionRow:
    """applied + fee + writeoff + unapplied = amount; allocations sum to applied; one current."""
    with Session(api.engine) as s:
        r = s.get(Receipt, receipt_id)
        assert r is not None
        current = s.execute(select(DecisionRow).where(
            col(DecisionRow.receipt_id) == receipt_id, col(DecisionRow.is_current).is_(True))).scalars().all()
        assert len(current) == 1
        d = current[0]
        assert d.applied_minor + d.fee_minor + d.writeoff_minor + d.unapplied_minor == r.amount_minor
        assert d.unapplied_minor >= 0
        allocs = s.execute(select(col(Allocation.amount_minor)).where(
            col(Allocation.receipt_id) == receipt_id)).scalars().all()
        assert sum(allocs) == d.applied_minor
        return d


def open_amount(api: Api, item_id: int) -> int:
    with Session(api.engine) as s:
        item = s.get(OpenItem, item_id)
        assert item is not None
        return item.open_amount_minor


def test_claim_release_reassign(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)
    e = ids["exceptions"][0]
    r = api.post("clerk", f"/exceptions/{e}/claim")
    assert r.status_code == 200 and r.json()["assignee"] == "clerk" and r.headers["etag"] == '"2"'
    again = api.post("clerk", f"/exceptions/{e}/claim")
    assert again.status_code == 200 and again.json()["version"] == 2  # own claim: no change
    other = api.post("clerk2", f"/exceptions/{e}/claim")
    assert other.status_code == 409 and other.json()["code"] == "CASHAPP_NOT_OPEN"
    steal = api.post("clerk2", f"/exceptions/{e}/release")
    assert steal.status_code == 403 and steal.json()["code"] == "CASHAPP_NOT_ASSIGNEE"
    blocked = api.post("clerk2", f"/exceptions/{e}/resolve", json={"kind": "refund"})
    assert blocked.status_code == 409 and blocked.json()["code"] == "CASHAPP_CLAIMED_BY_OTHER"
    assert api.post("clerk", f"/exceptions/{e}/release").json()["status"] == "open"
    moved = api.post("supervisor", f"/exceptions/{e}/reassign", json={"assignee": "clerk2"})
    assert moved.status_code == 200 and moved.json()["assignee"] == "clerk2"
    bad = api.post("supervisor", f"/exceptions/{e}/reassign", json={"assignee": "auditor"})
    assert bad.status_code == 422 and bad.json()["code"] == "CASHAPP_BAD_ASSIGNEE"
    assert api.post("clerk", f"/exceptions/{e}/reassign", json={"assignee": "clerk"}).status_code == 403
    assert api.post("supervisor", f"/exceptions/{e}/release").json()["status"] == "open"


def test_stale_version_is_409_and_changes_nothing(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)
    e, item = ids["exceptions"][0], ids["items"][0]
    etag = api.get("clerk", f"/exceptions/{e}").headers["etag"]
    assert api.post("clerk2", f"/exceptions/{e}/claim", headers={"If-Match": etag}).status_code == 200
    api.post("clerk2", f"/exceptions/{e}/release")
    body = {"kind": "apply", "lines": [{"open_item_id": item, "amount": "100.00"}]}
    stale = api.post("clerk", f"/exceptions/{e}/resolve", json=body, headers={"If-Match": etag})
    assert stale.status_code == 409 and stale.json()["code"] == "CASHAPP_STALE_VERSION"
    assert stale.headers["content-type"].startswith("application/problem+json")
    stale_body = api.post("clerk", f"/exceptions/{e}/resolve", json={**body, "version": 1})
    assert stale_body.status_code == 409
    assert open_amount(api, item) == 10_000
    fresh = api.get("clerk", f"/exceptions/{e}").headers["etag"]
    ok = api.post("clerk", f"/exceptions/{e}/resolve", json=body, headers={"If-Match": fresh})
    assert ok.status_code == 200, ok.text
    again = api.post("clerk", f"/exceptions/{e}/resolve", json=body, headers={"If-Match": fresh})
    assert again.status_code == 409
    assert open_amount(api, item) == 0


def test_partial_application_and_split_across_customers(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)  # receipt 100.00; invoices C1 and C2 at 100.00 each
    e, (c1, c2) = ids["exceptions"][0], ids["items"][:2]
    body = {"kind": "apply", "customer_id": "C1",
            "lines": [{"open_item_id": c1, "amount": "60.00"}, {"open_item_id": c2, "amount": "30.00"}]}
    r = api.post("clerk", f"/exceptions/{e}/resolve", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["applied"], out["unapplied"], out["status"]) == ("90.00", "10.00", "resolved")
    assert open_amount(api, c1) == 4_000 and open_amount(api, c2) == 7_000
    d = check_invariant(api, ids["receipts"][0])
    assert d.status == "manual" and d.created_by == "clerk"
    with Session(api.engine) as s:
        customers = set(s.execute(select(col(Allocation.customer_id))).scalars())
        assert customers == {"C1", "C2"}
        assert s.get(Receipt, ids["receipts"][0]).status == "partial"  # type: ignore[union-attr]
    shown = api.get("auditor", f"/receipts/{ids['receipts'][0]}").json()
    assert [a["amount"] for a in shown["allocations"]] == ["60.00", "30.00"]
    assert len(shown["history"]) == 2 and shown["decision"]["status"] == "manual"


def test_refusals_keep_everything_unchanged(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)
    e, c1 = ids["exceptions"][0], ids["items"][0]
    cases = [
        ({"kind": "apply", "lines": [{"open_item_id": c1, "amount": "100.01"}]}, "CASHAPP_OVER_APPLICATION"),
        ({"kind": "apply", "lines": [{"open_item_id": c1, "amount": "60"},
                                     {"open_item_id": ids["items"][1], "amount": "60"}],
          "customer_id": "C1"}, "CASHAPP_OVER_APPLICATION"),
        ({"kind": "apply", "lines": [{"open_item_id": c1, "amount": "1.001"}]}, "CASHAPP_BAD_AMOUNT"),
        ({"kind": "apply", "lines": [{"open_item_id": 99999, "amount": "1"}]}, "CASHAPP_ITEM_NOT_FOUND"),
        ({"kind": "apply", "lines": [{"open_item_id": c1, "amount": "50"},  # whose is the rest?
                                     {"open_item_id": ids["items"][1], "amount": "10"}]},
         "CASHAPP_BAD_RESOLUTION"),
        ({"kind": "non_ar"}, "CASHAPP_BAD_RESOLUTION"),
        ({"kind": "on_account"}, "CASHAPP_BAD_RESOLUTION"),
        ({"kind": "apply", "writeoff": "1.00", "lines": [{"open_item_id": c1, "amount": "99.00"}]},
         "CASHAPP_BAD_RESOLUTION"),
        ({"kind": "apply", "lines": [{"open_item_id": c1, "amount": 12.5}]}, "API_VALIDATION_ERROR"),
    ]
    for body, code in cases:
        r = api.post("clerk", f"/exceptions/{e}/resolve", json=body)
        assert r.status_code in (404, 422), (body, r.text)
        assert r.json()["code"] == code, (body, r.json())
    assert open_amount(api, c1) == 10_000
    assert api.get("clerk", f"/exceptions/{e}").json()["version"] == 1


def test_writeoff_within_limit_on_account_non_ar_refund(api: Api) -> None:
    ids = seed(api.engine, n_receipts=4, amount_minor=10_000)
    e, items, rec = ids["exceptions"], ids["items"], ids["receipts"]
    # receipt 0 pays 100.00 against an invoice of 100.00 minus fee 1.00 and write-off 4.00 (limit 5)
    body = {"kind": "apply", "fee": "1.00", "writeoff": "4.00", "writeoff_reason": "short paid",
            "lines": [{"open_item_id": items[0], "amount": "95.00"}]}
    r = api.post("clerk", f"/exceptions/{e[0]}/resolve", json=body)
    assert r.status_code == 200, r.text
    assert (r.json()["fee"], r.json()["writeoff"], r.json()["unapplied"]) == ("1.00", "4.00", "0.00")
    assert check_invariant(api, rec[0]).writeoff_minor == 400
    r = api.post("clerk", f"/exceptions/{e[1]}/resolve", json={"kind": "on_account", "customer_id": "C2"})
    assert r.status_code == 200 and r.json()["unapplied"] == "100.01"
    assert check_invariant(api, rec[1]).customer_id == "C2"
    r = api.post("clerk", f"/exceptions/{e[2]}/resolve", json={"kind": "non_ar", "gl_code": "7890"})
    assert r.status_code == 200 and "GL 7890" in r.json()["reason"]
    assert check_invariant(api, rec[2]).residual_class == "non_ar"
    r = api.post("clerk", f"/exceptions/{e[3]}/resolve", json={"kind": "refund", "note": "not ours"})
    assert r.status_code == 200
    assert check_invariant(api, rec[3]).residual_class == "refund"
    with Session(api.engine) as s:
        statuses = {i.status for i in s.execute(select(ExceptionItem)).scalars()}
    assert statuses == {"resolved"}
    assert api.get("clerk", "/exceptions").json()["items"] == []


def test_reversal_restores_open_amounts_and_reopens(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)
    e, c1, rid = ids["exceptions"][0], ids["items"][0], ids["receipts"][0]
    api.post("clerk", f"/exceptions/{e}/resolve",
             json={"kind": "apply", "lines": [{"open_item_id": c1, "amount": "100.00"}]})
    assert open_amount(api, c1) == 0
    denied = api.post("auditor", f"/receipts/{rid}/reverse", json={"reason": "wrong"})
    assert denied.status_code == 403
    r = api.post("clerk", f"/receipts/{rid}/reverse", json={"reason": "wrong customer"})
    assert r.status_code == 200, r.text
    assert (r.json()["applied"], r.json()["unapplied"]) == ("0.00", "100.00")
    assert open_amount(api, c1) == 10_000
    check_invariant(api, rid)
    with Session(api.engine) as s:
        allocs = s.execute(select(Allocation).order_by(col(Allocation.id))).scalars().all()
        assert [a.amount_minor for a in allocs] == [10_000, -10_000]
        assert allocs[1].reverses_id == allocs[0].id  # nothing deleted: a reversal row
    item = api.get("clerk", f"/exceptions/{e}").json()
    assert (item["status"], item["reason"]) == ("open", "REVERSED")
    twice = api.post("clerk", f"/receipts/{rid}/reverse", json={"reason": "again"})
    assert twice.status_code == 409 and twice.json()["code"] == "CASHAPP_NOTHING_TO_REVERSE"
    # and it can be resolved again
    r = api.post("clerk", f"/exceptions/{e}/resolve",
                 json={"kind": "apply", "lines": [{"open_item_id": ids["items"][1], "amount": "100.00"}]})
    assert r.status_code == 200
    check_invariant(api, rid)


def test_resolutions_and_reversals_write_outbox_rows(api: Api) -> None:
    outbox = pytest.importorskip("services.cashapp.models_outbox", reason="ERP outbox not built yet")
    ids = seed(api.engine, n_receipts=2)
    body = {"kind": "apply", "writeoff": "2.00", "writeoff_reason": "rounding",
            "lines": [{"open_item_id": ids["items"][0], "amount": "50.00"}]}
    d = api.post("clerk", f"/exceptions/{ids['exceptions'][0]}/resolve", json=body).json()["decision_id"]
    api.post("clerk", f"/exceptions/{ids['exceptions'][1]}/resolve", json={"kind": "refund"})
    rid = ids["receipts"][0]
    api.post("clerk", f"/receipts/{rid}/reverse", json={"reason": "wrong"})
    with Session(api.engine) as s:
        rows = {r.posting_key: r.kind for r in s.execute(select(outbox.Outbox)).scalars()}
        allocs = s.execute(select(Allocation).order_by(col(Allocation.id))).scalars().all()
    assert rows[f"alloc-{allocs[0].id}"] == "application"
    assert rows[f"alloc-{allocs[1].id}"] == "reversal"
    assert rows[f"wo:{d}"] == "write_off" and rows[f"oa:{d}"] == "on_account"
    assert sorted(rows.values()).count("refund") == 1
