"""Upload a bank file through the API, list and show statements and receipts; rule sets."""

from __future__ import annotations

from pathlib import Path

from tests.cashapp.api.conftest import Api

OFX = Path(__file__).resolve().parents[2] / "golden" / "ofx" / "sgml_102_checking.ofx"


def upload(api: Api, who: str, data: bytes, name: str = "march.ofx", **headers: str):  # type: ignore[no-untyped-def]
    return api.post(who, "/statements", files={"file": (name, data, "application/octet-stream")},
                    headers=headers)


def test_upload_is_idempotent_and_listed(api: Api) -> None:
    data = OFX.read_bytes()
    first = upload(api, "clerk", data)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["status"], body["format"], body["lines"]) == ("imported", "ofx", 4)
    assert body["credit_total"] == "1262.50" and body["path"] == "march.ofx"
    again = upload(api, "clerk", data, name="copy.ofx")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    statements = api.get("auditor", "/statements").json()["items"]
    assert len(statements) == 1 and statements[0]["integrity_status"] == "unchecked"
    shown = api.get("clerk", f"/statements/{statements[0]['id']}").json()
    assert shown["file"]["name"] == "march.ofx" and shown["lines_count"] == 4
    receipts = api.get("clerk", f"/receipts?statement_id={statements[0]['id']}").json()["items"]
    assert len(receipts) == 4 and all(isinstance(r["amount"], str) for r in receipts)
    page = api.get("clerk", "/receipts?limit=3").json()
    assert len(page["items"]) == 3
    rest = api.get("clerk", f"/receipts?limit=3&before_id={page['next_before_id']}").json()
    assert len(rest["items"]) == 1 and rest["next_before_id"] is None
    one = api.get("clerk", f"/receipts/{receipts[0]['id']}").json()
    assert one["allocations"] == [] and "history" in one
    actions = [x["action"] for x in api.get("auditor", "/audit?entity=import_file").json()["items"]]
    assert actions == ["statement.upload.imported", "statement.upload.duplicate"]


def test_refused_and_oversized_uploads(api: Api) -> None:
    r = upload(api, "clerk", b"hello, this is not a bank file\n")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "INGEST_UNKNOWN_FORMAT" and r.json()["result"]["status"] == "quarantined"
    big = upload(api, "clerk", b"x" * (300 * 1024))  # the test limit is 256 KiB
    assert big.status_code == 413 and big.json()["code"] == "API_BODY_TOO_LARGE"
    assert api.get("clerk", "/statements").json()["items"] == []
    assert upload(api, "auditor", OFX.read_bytes()).status_code == 403
    assert upload(api, "admin", OFX.read_bytes()).status_code == 403


def test_upload_idempotency_key(api: Api) -> None:
    data = OFX.read_bytes()
    a = upload(api, "clerk", data, **{"Idempotency-Key": "up-1"})
    b = upload(api, "clerk", data, **{"Idempotency-Key": "up-1"})
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    other = upload(api, "clerk", data + b"\n", **{"Idempotency-Key": "up-1"})
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_rules_read_upload_validate(api: Api) -> None:
    active = api.get("clerk", "/rules")
    assert active.status_code == 200
    assert active.json()["source"] in ("defaults", "file")
    bad = api.post("admin", "/rules", json={"toml": 'version = "v2"\n[scoring]\nauto = 2.0\n'})
    assert bad.status_code == 422 and bad.json()["code"] == "RULES_INVALID"
    assert any(e["path"] == "scoring.auto" for e in bad.json()["errors"])
    broken = api.post("admin", "/rules", json={"toml": "version = "})
    assert broken.status_code == 422 and broken.json()["code"] == "RULES_INVALID"
    assert api.post("supervisor", "/rules", json={"toml": 'version = "v2"\n'}).status_code == 403
    ok = api.post("admin", "/rules", json={"toml": 'version = "v2"\n'})
    assert ok.status_code == 201, ok.text
    now = api.get("auditor", "/rules").json()
    assert (now["version"], now["source"]) == ("v2", f"upload:{ok.json()['id']}")
    dup = api.post("admin", "/rules", json={"toml": 'version = "v2"\n'})
    assert dup.status_code == 409 and dup.json()["code"] == "RULES_VERSION_EXISTS"
    assert [v["version"] for v in api.get("clerk", "/rules/versions").json()["items"]] == ["v2"]


def test_rules_dry_run_validates_first(api: Api) -> None:
    bad = api.post("supervisor", "/rules/dry-run", json={"toml": 'version = "x"\n[nonsense]\n'})
    assert bad.status_code == 422 and bad.json()["code"] == "RULES_INVALID"
    r = api.post("admin", "/rules/dry-run", json={"toml": 'version = "x"\n', "as_of": "2026-11-20"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == "x" and body["receipts"] == 0 and body["changed"] == 0
    assert api.post("clerk", "/rules/dry-run", json={"toml": 'version = "x"\n'}).status_code == 403
