"""AR reports over REST: JSON by default, CSV on request, decimal strings for money."""

from __future__ import annotations

import csv
import io

import pytest

from tests.cashapp.api.conftest import Api
from tests.recon.api.conftest import CUT
from tests.recon.usecases.world import World


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_aging_json(api: Api, ledger: World) -> None:
    r = api.get("auditor", "/reports/aging", params={"as_of": CUT.isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["as_of"] == "2026-09-30" and body["buckets"] == [0, 30, 60, 90]
    assert {row["customer_id"] for row in body["by_customer"]} == {"C1", "C2", "C3"}
    totals = {row["currency"]: row for row in body["total"]}
    assert set(totals) == {"EUR", "USD"}
    money = [v for v in totals["EUR"].values() if isinstance(v, str) and "." in v]
    assert money and all(isinstance(v, str) for v in money)  # decimal strings, never floats
    assert totals["EUR"]["total"] == "883.45" and totals["EUR"]["customer_count"] == 2
    c1 = next(row for row in body["by_customer"] if row["customer_id"] == "C1")
    # INV-1/2/5 due 1 July are 91 days late; the credit note (dated 1 September) is 1-30
    assert c1["days_over_90"] == "800.00" and c1["days_1_30"] == "-40.00"


def test_aging_csv_by_format_and_by_accept(api: Api, ledger: World) -> None:
    by_param = api.get("clerk", "/reports/aging", params={"as_of": CUT.isoformat(), "format": "csv"})
    by_accept = api.get("clerk", "/reports/aging", params={"as_of": CUT.isoformat()},
                        headers={"Accept": "text/csv"})
    for r in (by_param, by_accept):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = csv_rows(r.text)
        assert sorted(row["customer_id"] for row in rows) == ["C1", "C2", "C3"]
    assert by_param.text == by_accept.text
    total = api.get("clerk", "/reports/aging", params={"as_of": CUT.isoformat(), "format": "csv",
                                                        "total": "true"})
    assert sorted(row["currency"] for row in csv_rows(total.text)) == ["EUR", "USD"]
    json_wins = api.get("clerk", "/reports/aging", params={"as_of": CUT.isoformat()},
                        headers={"Accept": "application/json, text/csv"})
    assert json_wins.headers["content-type"].startswith("application/json")


def test_aging_custom_and_bad_buckets(api: Api, ledger: World) -> None:
    r = api.get("clerk", "/reports/aging", params={"as_of": CUT.isoformat(), "buckets": "0,45"})
    assert r.status_code == 200 and r.json()["buckets"] == [0, 45]
    for bad in ("90,30", "x", "", "-1,5", ",".join(str(i) for i in range(20))):
        r = api.get("clerk", "/reports/aging", params={"buckets": bad})
        assert r.status_code == 422 and r.json()["code"] == "API_BAD_BUCKETS", bad


def test_dso_json_and_csv(api: Api, ledger: World) -> None:
    r = api.get("supervisor", "/reports/dso", params={"as_of": CUT.isoformat()})
    assert r.status_code == 200
    body = r.json()
    assert body["months"] == 3 and body["by_customer"] is False
    assert {row["currency"] for row in body["dso"]} == {"EUR", "USD"}
    per = api.get("supervisor", "/reports/dso", params={"as_of": CUT.isoformat(), "by_customer": True,
                                                         "format": "csv"})
    assert {row["customer_id"] for row in csv_rows(per.text)} == {"C1", "C2", "C3"}
    assert api.get("supervisor", "/reports/dso", params={"months": 0}).status_code == 422


def test_unapplied_json_and_csv(api: Api, ledger: World) -> None:
    r = api.get("admin", "/reports/unapplied", params={"as_of": CUT.isoformat()})
    assert r.status_code == 200
    rows = r.json()["unapplied"]
    c1 = [row for row in rows if row["customer_id"] == "C1"]
    assert c1 and "70.00" in c1[0].values()  # the unapplied receipt of 28 September
    text = api.get("admin", "/reports/unapplied", params={"as_of": CUT.isoformat(), "format": "csv"}).text
    assert "70.00" in text and text.splitlines()[0].startswith(tuple("abcdefghijklmnopqrstuvwxyz"))


def test_kpi_json_and_csv(api: Api, ledger: World) -> None:
    body = api.get("admin", "/reports/kpi").json()
    assert set(body) == {"auto_match_by_day", "auto_match_by_rule", "exceptions_by_reason",
                         "time_to_resolve"}
    assert body["auto_match_by_day"], body
    text = api.get("admin", "/reports/kpi", params={"format": "csv"}).text
    sections = [line for line in text.splitlines() if line.startswith("# ")]
    assert sections == ["# auto_match_by_day", "# auto_match_by_rule", "# exceptions_by_reason",
                        "# time_to_resolve"]


@pytest.mark.parametrize("path", ["/reports/aging", "/reports/dso", "/reports/unapplied", "/reports/kpi"])
def test_reports_on_an_empty_ledger(api: Api, path: str) -> None:
    for fmt in ("json", "csv"):
        r = api.get("auditor", path, params={"format": fmt})
        assert r.status_code == 200, r.text
    assert api.get("auditor", path, params={"format": "xml"}).status_code == 422


def test_report_dates_outside_the_calendar_are_422(api) -> None:  # type: ignore[no-untyped-def]
    for path in ("/reports/dso", "/reports/aging", "/reports/unapplied"):
        r = api.get("auditor", f"{path}?as_of=0001-01-01")
        assert r.status_code == 422, (path, r.text)
