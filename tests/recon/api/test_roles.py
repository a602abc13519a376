"""Who may do what with confirmation runs and reports (the full matrix is tests/cashapp/api/test_roles.py)."""

from __future__ import annotations

from services.cashapp.auth import PERMISSIONS
from services.cashapp.models_service import Role
from tests.cashapp.api.conftest import Api
from tests.cashapp.api.test_roles import endpoints
from tests.recon.api.conftest import CUT
from tests.recon.usecases.world import World

REPLY = b"customer_id,currency,confirmed_balance\nC2,EUR,123.45\n"


def test_recon_routes_are_in_the_matrix(api: Api) -> None:
    perms = {(m, p): perm for m, p, perm in endpoints(api)}
    assert perms[("POST", "/recon/runs")] == "recon.create"
    assert perms[("POST", "/recon/runs/{run_id}/responses")] == "recon.responses"
    assert {perms[("GET", p)] for p in ("/reports/aging", "/reports/dso", "/reports/unapplied",
                                        "/reports/kpi")} == {"reports.read"}
    assert PERMISSIONS["reports.read"] == frozenset(Role)


def test_who_does_what(api: Api, ledger: World) -> None:
    body = {"as_of": CUT.isoformat()}
    for who in ("clerk", "auditor", "admin"):
        r = api.post(who, "/recon/runs", json=body)
        assert r.status_code == 403 and r.json()["code"] == "AUTH_FORBIDDEN", who
    run = api.post("supervisor", "/recon/runs", json=body).json()["id"]
    url = f"/recon/runs/{run}/responses"
    for who in ("auditor", "admin"):
        r = api.post(who, url, files={"file": ("r.csv", REPLY)})
        assert r.status_code == 403, who
    assert api.post("clerk", url, files={"file": ("r.csv", REPLY)}).status_code == 200
    assert api.get("admin", f"/recon/runs/{run}").status_code == 403  # customer-level data
    assert api.get("admin", "/reports/aging").status_code == 200  # aggregates
    assert api.client.get("/reports/kpi").status_code == 401
