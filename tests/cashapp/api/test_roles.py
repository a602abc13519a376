"""The role × endpoint matrix, walked from ``auth.PERMISSIONS`` and the app's own routes."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlmodel import Session

from services.cashapp.api.app import ROUTERS
from services.cashapp.auth import PERMISSIONS
from services.cashapp.models_service import AuditLog, Role
from tests.cashapp.api.conftest import Api

PUBLIC = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
ROLE_USER = {Role.CLERK: "clerk", Role.SUPERVISOR: "supervisor", Role.AUDITOR: "auditor",
             Role.ADMIN: "admin"}


def endpoints(api: Api) -> list[tuple[str, str, str]]:
    """(method, path, permission) of every guarded route."""
    out = []
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, APIRoute) or route.path in PUBLIC:
            continue
        perms = [getattr(d.call, "permission") for d in route.dependant.dependencies  # noqa: B009
                 if hasattr(d.call, "permission")]
        assert len(perms) == 1, f"{route.path} must depend on exactly one require(...)"
        for method in route.methods or ():
            out.append((method, route.path, perms[0]))
    return out


def call(api: Api, who: str | None, method: str, path: str) -> Any:
    url = re.sub(r"\{[^}]+\}", "999999", path)
    headers = api.h(who) if who else {}
    if method == "GET":
        return api.client.get(url, headers=headers)
    return api.client.request(method, url, headers=headers, json={})


def audit_rows(api: Api) -> int:
    with Session(api.engine) as s:
        return int(s.execute(select(func.count()).select_from(AuditLog)).scalar_one())


def test_every_route_is_guarded_and_every_permission_used(api: Api) -> None:
    eps = endpoints(api)
    assert len(eps) >= 25
    assert {p for _, _, p in eps} == set(PERMISSIONS)


def test_role_matrix(api: Api) -> None:
    before = audit_rows(api)
    checked = 0
    for method, path, perm in endpoints(api):
        for role, who in ROLE_USER.items():
            r = call(api, who, method, path)
            assert r.status_code < 500, (method, path, who, r.text)
            if role in PERMISSIONS[perm]:
                assert r.status_code not in (401, 403), (method, path, who, r.text)
            else:
                assert r.status_code == 403, (method, path, who, r.status_code)
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["code"] == "AUTH_FORBIDDEN"
            checked += 1
    assert checked == len(endpoints(api)) * 4
    # nothing existed at id 999999: no role changed anything, so nothing was audited
    assert audit_rows(api) == before


def test_anonymous_and_bad_keys_get_401(api: Api) -> None:
    for method, path, _ in endpoints(api):
        r = call(api, None, method, path)
        assert r.status_code == 401, (method, path)
        assert r.json()["code"] == "AUTH_REQUIRED"
        assert r.headers["www-authenticate"] == "Bearer"
    good = api.keys["clerk"]
    for bad in (good[:-2] + "xx", "crk_0000000000000000_nope", good.replace("crk_", "abc_"), ""):
        r = api.client.get("/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
    assert api.client.get("/health").status_code == 200


def test_auditor_reads_everything_changes_nothing(api: Api) -> None:
    reads = [(p, perm) for m, p, perm in endpoints(api) if m == "GET" and "{" not in p]
    assert len(reads) >= 8
    for path, perm in reads:
        r = api.get("auditor", path)
        assert r.status_code == (200 if Role.AUDITOR in PERMISSIONS[perm] else 403), path
    assert all(Role.AUDITOR not in PERMISSIONS[perm] for m, _, perm in endpoints(api) if m != "GET")


def test_admin_manages_users_and_rules_but_cannot_apply_cash(api: Api) -> None:
    assert Role.ADMIN in PERMISSIONS["users.write"] and Role.ADMIN in PERMISSIONS["rules.write"]
    cash = [p for p in PERMISSIONS if p.startswith(("exceptions.", "receipts.", "approvals.",
                                                    "statements."))]
    assert all(Role.ADMIN not in PERMISSIONS[p] for p in cash)
    r = api.post("admin", "/users", json={"name": "newbie", "role": "clerk"})
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    assert api.client.get("/me", headers={"Authorization": f"Bearer {key}"}).json()["role"] == "clerk"
    uid = r.json()["id"]
    assert api.post("admin", f"/users/{uid}/deactivate").status_code == 200
    assert api.client.get("/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    rotated = api.post("admin", f"/users/{uid}/rotate-key")
    assert api.post("admin", f"/users/{uid}/activate").status_code == 200
    assert api.client.get("/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    new_key = rotated.json()["api_key"]
    assert api.client.get("/me", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    listed = api.get("auditor", "/users").json()["items"]
    assert "api_key" not in listed[0] and "key_hash" not in listed[0]
    dup = api.post("admin", "/users", json={"name": "newbie", "role": "clerk"})
    assert dup.status_code == 409 and dup.json()["code"] == "USER_EXISTS"
