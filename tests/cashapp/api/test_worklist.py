"""The worklist: filters, sorting, cursor pagination, ETags, bounded pages, problem documents."""

from __future__ import annotations

from datetime import date

from tests.cashapp.api.conftest import Api, seed


def all_pages(api: Api, query: str, limit: int = 2) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        url = f"/exceptions?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get("clerk", url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return items
        assert pages < 50


def test_pagination_visits_every_item_once_in_order(api: Api) -> None:
    ids = seed(api.engine, n_receipts=7)
    for sort, key in (("age", lambda i: (i["receipt"]["booking_date"], i["id"])),
                      ("-amount", lambda i: (-float(i["receipt"]["amount"]), -i["id"])),
                      ("id", lambda i: i["id"]), ("-created", lambda i: -i["id"])):
        items = all_pages(api, f"&sort={sort}")
        assert sorted(i["id"] for i in items) == sorted(ids["exceptions"]), sort
        if sort != "-created":  # same created_at within one transaction: the id breaks the tie
            assert items == sorted(items, key=key), sort


def test_filters(api: Api) -> None:
    seed(api.engine, n_receipts=6)
    everything = api.get("clerk", "/exceptions?limit=100").json()["items"]
    assert len(everything) == 6
    assert all(i["receipt"]["amount"].count(".") == 1 for i in everything)  # money as strings
    ambiguous = api.get("clerk", "/exceptions?reason=AMBIGUOUS").json()["items"]
    assert {i["reason"] for i in ambiguous} == {"AMBIGUOUS"} and len(ambiguous) == 3
    ranged = api.get("clerk", "/exceptions?currency=EUR&amount_min=100.01&amount_max=100.03").json()
    assert sorted(i["receipt"]["amount"] for i in ranged["items"]) == ["100.01", "100.02", "100.03"]
    assert api.get("clerk", "/exceptions?customer_id=C2").json()["items"] == []
    assert len(api.get("clerk", "/exceptions?customer_id=C1").json()["items"]) == 6
    assert len(api.get("clerk", "/exceptions?account=NL01BANK0001").json()["items"]) == 6
    assert api.get("clerk", "/exceptions?account=OTHER").json()["items"] == []
    # ages relative to today: receipts are booked on 2026-11-01 .. 2026-11-06
    age = (date.today() - date(2026, 11, 3)).days
    older = api.get("clerk", f"/exceptions?min_age_days={age}").json()["items"]
    assert {i["receipt"]["booking_date"] for i in older} == {"2026-11-01", "2026-11-02", "2026-11-03"}
    younger = api.get("clerk", f"/exceptions?max_age_days={age - 1}").json()["items"]
    assert len(younger) == 3
    first = everything[0]["id"]
    assert api.post("clerk", f"/exceptions/{first}/claim").status_code == 200
    mine = api.get("clerk", "/exceptions?assignee=clerk").json()["items"]
    assert [i["id"] for i in mine] == [first]
    claimed = api.get("clerk", "/exceptions?status=claimed").json()["items"]
    assert [i["id"] for i in claimed] == [first]
    opened = api.get("clerk", "/exceptions?status=open").json()["items"]
    assert first not in [i["id"] for i in opened] and len(opened) == 5


def test_item_shows_reason_suggestions_and_etag(api: Api) -> None:
    ids = seed(api.engine, n_receipts=1)
    r = api.get("clerk", f"/exceptions/{ids['exceptions'][0]}")
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'
    body = r.json()
    assert body["reason"] == "NO_CANDIDATE"
    assert body["decision"]["reason"] == "two invoices fit"
    assert body["decision"]["suggestions"] == [{"item_id": 1, "amount": "1.00", "score": 0.8}]
    missing = api.get("clerk", "/exceptions/424242")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "CASHAPP_EXCEPTION_NOT_FOUND"


def test_bad_queries_are_problems_not_crashes(api: Api) -> None:
    seed(api.engine, n_receipts=1)
    for url, code in (("/exceptions?limit=0", "API_BAD_LIMIT"),
                      ("/exceptions?limit=100000", "API_BAD_LIMIT"),
                      ("/exceptions?cursor=garbage", "API_BAD_CURSOR"),
                      ("/exceptions?sort=sideways", "API_VALIDATION_ERROR"),
                      ("/exceptions?amount_min=lots", "API_BAD_AMOUNT"),
                      ("/exceptions?status=lost", "API_VALIDATION_ERROR")):
        r = api.get("clerk", url)
        assert r.status_code == 422, url
        assert r.json()["code"] == code, url
        assert r.json()["request_id"]
    cursor = api.get("clerk", "/exceptions?limit=1&sort=id").json()["next_cursor"]
    assert cursor is None  # one item, one page
    r = api.get("clerk", "/exceptions?sort=amount&cursor=" + "WyJpZCIsIDEsIDFd")  # an "id" cursor
    assert r.status_code == 422 and r.json()["code"] == "API_BAD_CURSOR"


def test_body_limits(api: Api) -> None:
    seed(api.engine, n_receipts=1)
    big = {"kind": "apply", "note": "x" * 70_000}
    r = api.post("clerk", "/exceptions/1/resolve", json=big)  # 70 KB > the 64 KB test limit
    assert r.status_code == 413 and r.json()["code"] == "API_BODY_TOO_LARGE"
    r = api.post("clerk", "/exceptions/1/resolve", content=b"{" * 10,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 422

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        for _ in range(100):
            yield b"x" * 1024

    r = api.post("clerk", "/exceptions/1/resolve", content=chunks(),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "API_BODY_TOO_LARGE"
    assert api.get("clerk", "/exceptions/1").json()["version"] == 1


def test_nul_characters_are_refused_not_crashes(api: Api) -> None:
    """PostgreSQL cannot store NUL in text: refused up front with 422 on both databases."""
    seed(api.engine, n_receipts=1)
    for url in ("/exceptions?customer_id=a%00b", "/audit?actor=%00", "/receipts?status=%00"):
        r = api.get("supervisor", url)
        assert r.status_code == 422 and r.json()["code"] == "API_NUL_CHARACTER", url
    r = api.post("admin", "/users", json={"name": "a\u0000b", "role": "clerk"})
    assert r.status_code == 422 and r.json()["code"] == "API_NUL_CHARACTER"
    r = api.post("clerk", "/exceptions/1/resolve", json={"kind": "non_ar", "gl_code": "a\u0000"})
    assert r.status_code == 422
    bad_key = api.client.get("/me", headers={"Authorization": "Bearer crk_\u0000abc_def"})
    assert bad_key.status_code == 401
    assert api.get("clerk", "/exceptions/1").json()["version"] == 1
