"""Confirmation runs over REST: create, list, report, verify, load replies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from services.cashapp.models_service import AuditLog
from services.recon.models import ConfirmationItem
from tests.cashapp.api.conftest import Api
from tests.recon.api.conftest import CUT
from tests.recon.usecases.world import World

ITEM_REPLY = ("customer_id,document_number,document_date,amount,currency,disputed\n"
              "C1,INV-1,2026-09-01,100.00,EUR,\n"
              "C1,INV-2,2026-09-01,200.00,EUR,\n"
              "C1,INV-5,2026-09-01,490.00,EUR,\n"
              "C1,CN-4,2026-09-01,-40.00,EUR,\n")


def make_run(api: Api, **body: Any) -> dict:
    r = api.post("supervisor", "/recon/runs", json={"as_of": CUT.isoformat(), **body})
    assert r.status_code == 201, r.text
    return r.json()


def upload(api: Api, who: str, run_id: int, text: str, name: str = "reply.csv") -> Any:
    return api.post(who, f"/recon/runs/{run_id}/responses",
                    files={"file": (name, text.encode(), "text/csv")})


def audit_actions(api: Api) -> list[str]:
    with Session(api.engine) as s:
        return [a for (a,) in s.execute(select(col(AuditLog.action)).order_by(col(AuditLog.seq)))]


def test_create_list_and_verify(api: Api, ledger: World) -> None:
    run = make_run(api)
    assert run["customers"] == 3 and run["items"] == 6  # INV-9 was settled before the cut-off
    assert run["as_of"] == "2026-09-30" and len(run["snapshot_hash"]) == 64
    assert run["filter"] == "all customers"
    small = make_run(api, min_balance="100.00", segment="C*")
    assert small["customers"] == 2  # C3 owes 50.00 USD only
    listed = api.get("auditor", "/recon/runs").json()
    assert [r["id"] for r in listed["items"]] == [small["id"], run["id"]]
    page = api.get("clerk", "/recon/runs", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_after_id"] == small["id"]
    rest = api.get("clerk", "/recon/runs", params={"before_id": page["next_after_id"]}).json()
    assert [r["id"] for r in rest["items"]] == [run["id"]] and rest["next_after_id"] is None
    ok = api.get("auditor", f"/recon/runs/{run['id']}/verify").json()
    assert ok["ok"] is True and ok["expected_hash"] == run["snapshot_hash"]
    assert audit_actions(api).count("recon.run.create") == 2


def test_verify_finds_an_edited_snapshot(api: Api, ledger: World) -> None:
    run = make_run(api)
    with Session(api.engine) as s:
        s.execute(update(ConfirmationItem).where(ConfirmationItem.customer_id == "C2")  # type: ignore[arg-type]
                  .values(open_minor=1))
        s.commit()
    bad = api.get("supervisor", f"/recon/runs/{run['id']}/verify").json()
    assert bad["ok"] is False and bad["mismatched_customers"] == ["C2"]


def test_empty_run_and_bad_body_are_422(api: Api, ledger: World) -> None:
    r = api.post("supervisor", "/recon/runs", json={"as_of": "2026-08-01"})
    assert r.status_code == 422 and r.json()["code"] == "RECON_EMPTY_RUN"
    r = api.post("supervisor", "/recon/runs", json={"as_of": CUT.isoformat(), "min_balance": "1e9"})
    assert r.status_code == 422 and r.json()["code"] == "API_VALIDATION_ERROR"


def test_idempotent_create(api: Api, ledger: World) -> None:
    h = {"Idempotency-Key": "run-q3"}
    first = api.post("supervisor", "/recon/runs", json={"as_of": CUT.isoformat()}, headers=h)
    again = api.post("supervisor", "/recon/runs", json={"as_of": CUT.isoformat()}, headers=h)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len(api.get("supervisor", "/recon/runs").json()["items"]) == 1
    other = api.post("supervisor", "/recon/runs", json={"as_of": "2026-09-29"}, headers=h)
    assert other.status_code == 422


def test_replies_then_report(api: Api, ledger: World) -> None:
    run = make_run(api)
    before = api.get("auditor", f"/recon/runs/{run['id']}").json()
    assert before["replied"] == 0 and before["response_rate_pct"] == "0.0"
    assert before["no_reply"] == {"count": 3, "balance": {"EUR": "883.45", "USD": "50.00"}}
    assert sum(before["open_confirmations_by_age_days"].values()) == 3
    items = upload(api, "clerk", run["id"], ITEM_REPLY)
    assert items.status_code == 200, items.text
    assert items.json()["kind"] == "items" and items.json()["disagreed"] == ["C1"]
    assert items.json()["differences_by_class"] == {"AMOUNT_DIFFERS": 1}  # INV-5: 490 vs 500
    bal = upload(api, "supervisor", run["id"],
                 "customer_id,currency,confirmed_balance\nC2,EUR,123.45\nC3,USD,40.00\n")
    assert bal.json()["agreed"] == ["C2"] and bal.json()["disagreed"] == ["C3"]
    report = api.get("clerk", f"/recon/runs/{run['id']}").json()
    assert report["customers"] == 3 and report["replied"] == 3
    assert report["response_rate_pct"] == "100.0"
    assert report["agreed"] == {"count": 1, "balance": {"EUR": "123.45"}}
    assert report["disagreed"] == {"count": 2, "balance": {"EUR": "760.00", "USD": "50.00"}}
    by_class = report["differences_by_class"]
    assert sum(v["count"] for v in by_class.values()) == 2
    assert by_class["AMOUNT_DIFFERS"]["difference"]["EUR"] == "10.00"
    assert [v["difference"].get("USD") for v in by_class.values() if "USD" in v["difference"]] == ["10.00"]
    assert sum(report["open_confirmations_by_age_days"].values()) == 2
    assert audit_actions(api).count("recon.responses.load") == 2


def test_bad_reply_rows_are_422_with_every_line(api: Api, ledger: World) -> None:
    run = make_run(api)
    r = upload(api, "clerk", run["id"], "customer_id,currency,confirmed_balance\n"
               "C1,EUR,10.00\nC9,EUR,1.00\nC2,EURO,1.00\nC3,USD,abc\n")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "RECON_BAD_REPLY_ROWS"
    assert [e["line"] for e in body["errors"]] == [3, 4, 5]
    assert "not in this confirmation run" in body["errors"][0]["reason"]
    header = upload(api, "clerk", run["id"], "who,what\nC1,1\n")
    assert header.status_code == 422 and header.json()["code"] == "RECON_BAD_REPLY_HEADER"
    junk = upload(api, "clerk", run["id"], "")
    assert junk.status_code == 422
    report = api.get("clerk", f"/recon/runs/{run['id']}").json()
    assert report["replied"] == 0  # nothing was loaded


def test_unreadable_reply_file_is_422(api: Api, ledger: World) -> None:
    run = make_run(api)
    r = api.post("clerk", f"/recon/runs/{run['id']}/responses",
                 files={"file": ("x.csv", b"customer_id,currency,confirmed_balance\nC1,EUR,\x81\x8d\n")})
    assert r.status_code == 422 and r.json()["code"] == "RECON_BAD_REPLY_FILE"


def test_unknown_run_is_404(api: Api, ledger: World) -> None:
    for url in ("/recon/runs/424242", "/recon/runs/424242/verify"):
        r = api.get("auditor", url)
        assert r.status_code == 404 and r.json()["code"] == "RECON_RUN_NOT_FOUND", url
    r = upload(api, "clerk", 424242, ITEM_REPLY)
    assert r.status_code == 404 and r.json()["code"] == "RECON_RUN_NOT_FOUND"
    with Session(api.engine) as s:
        assert s.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 6  # the users


def test_reply_upload_bounded_by_upload_limit_not_body_limit(api: Api, ledger: World) -> None:
    run = make_run(api)
    # 64 KiB JSON-body limit in the tests, 256 KiB upload limit: a 100 KiB reply is accepted
    big = "customer_id,currency,confirmed_balance,note\n" + "C2,EUR,123.45,x\n" * 6400
    r = upload(api, "clerk", run["id"], big)
    assert r.status_code == 200, r.text[:300]
    huge = upload(api, "clerk", run["id"], big * 3)
    assert huge.status_code == 413


def test_run_and_its_audit_entry_commit_together(api: Api, ledger: World,
                                                  monkeypatch: Any) -> None:
    from services.cashapp import audit
    from services.recon.models import ConfirmationRun

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit, "record", broken)
    r = api.post("supervisor", "/recon/runs", json={"as_of": CUT.isoformat()})
    assert r.status_code == 500
    with Session(api.engine) as s:  # no run without its audit entry
        assert s.execute(select(func.count()).select_from(ConfirmationRun)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(ConfirmationItem)).scalar_one() == 0
