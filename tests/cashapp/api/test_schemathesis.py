"""schemathesis over the app's own OpenAPI document: no 5xx, every answer matches its schema.

The schema is loaded from the ASGI app itself, so every route any router adds is covered. Each
operation runs on a seeded database as a supervisor; read operations also run as an auditor, and
routes a supervisor may not call (admin-only) also run as their first allowed role, so their
handlers are reached rather than stopped at 403. Examples are few per operation (the goal is
"never a 5xx, never an undocumented shape", not exhaustive search) to keep the test fast.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import select, update
from sqlmodel import Session, col

from services.cashapp.auth import PERMISSIONS
from services.cashapp.models_service import AppUser, Role
from services.recon.usecases.confirm import create_run
from tests.cashapp.api.conftest import AS_OF, Api, seed
from tests.cashapp.api.test_roles import ROLE_USER, endpoints

CHECKS = [not_a_server_error, response_schema_conformance]
EXAMPLES = 10
KEY_COLUMNS = (col(AppUser.id), col(AppUser.key_id), col(AppUser.key_salt), col(AppUser.key_hash),
               col(AppUser.active))
ORDER = (Role.SUPERVISOR, Role.CLERK, Role.ADMIN, Role.AUDITOR)


@pytest.fixture
def seeded(api: Api) -> Api:
    """The API over a worklist of three exceptions and a confirmation run of its open items."""
    seed(api.engine, n_receipts=3)
    create_run(api.engine, AS_OF)
    return api


def operations(api: Api) -> list[Any]:
    """Every operation of the app's OpenAPI document, as served by the app under test."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    return [result.ok() for result in loaded.get_all_operations()]  # type: ignore[union-attr]


def callers(api: Api, method: str, path: str) -> list[str]:
    """The users to send one generated case as (see the module docstring)."""
    perms = {(m, p): perm for m, p, perm in endpoints(api)}
    perm = perms.get((method, path))
    if perm is None:  # public routes (/health)
        return ["supervisor"]
    allowed = PERMISSIONS[perm]
    who = ["supervisor"]
    if Role.SUPERVISOR not in allowed:
        who.append(ROLE_USER[next(r for r in ORDER if r in allowed)])
    if method == "GET" and Role.AUDITOR in allowed:
        who.append("auditor")
    return who


def strategy(operation: Any) -> st.SearchStrategy[Any]:
    """Valid cases mixed with invalid ones (where the schema leaves room for invalid data)."""
    modes = [operation.as_strategy(GenerationMode.POSITIVE)]
    names = re.findall(r"\{(\w+)\}", operation.path)
    if names:  # random ids are nearly always 404: also aim at the seeded rows (ids 1..3)
        modes += [operation.as_strategy(GenerationMode.POSITIVE,
                                        path_parameters=dict.fromkeys(names, i))
                  for i in (1, 2, 3)]
    with contextlib.suppress(Exception):  # nothing in this operation can be negated
        modes.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(*modes)


def saved_keys(api: Api) -> list[dict[str, Any]]:
    """The test users' key columns and active flags."""
    with Session(api.engine) as s:
        return [dict(row._mapping) for row in s.execute(select(*KEY_COLUMNS))]


def restore_keys(api: Api, saved: list[dict[str, Any]]) -> None:
    """Undo what the user operations did to the test users (deactivated, keys rotated), so the
    next operation is not answered 401 because an earlier one locked its caller out."""
    with Session(api.engine) as s:
        for row in saved:
            s.execute(update(AppUser).where(col(AppUser.id) == row["id"]).values(**row))
        s.commit()


def fuzz(api: Api, operation: Any, seen: dict[str, set[int]]) -> None:
    """Run one operation's generated cases as each of its callers, noting the statuses seen."""
    who = callers(api, operation.method.upper(), operation.path)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy(operation))
    def run(case: Any) -> None:
        for user in who:
            # the generated case may carry its own (random) bearer token: ours wins
            case.headers = {**(case.headers or {}), **api.h(user)}
            resp = case.call_and_validate(checks=CHECKS)
            seen.setdefault(operation.label, set()).add(resp.status_code)

    run()


def test_every_operation_conforms(seeded: Api) -> None:
    """No 5xx and a schema-conformant answer, for every role that may call each operation."""
    ops = operations(seeded)
    assert len(ops) >= 25
    failed: dict[str, str] = {}
    seen: dict[str, set[int]] = {}
    keys = saved_keys(seeded)
    for operation in ops:
        try:
            fuzz(seeded, operation, seen)
            restore_keys(seeded, keys)
        except Exception as exc:  # report every failing operation at once
            failed[f"{operation.method.upper()} {operation.path}"] = str(exc)[:2000]
    assert not failed, "\n\n".join(f"{k}: {v}" for k, v in failed.items())
    # the cases reached the handlers: most operations answered a success at least once
    succeeded = [label for label, codes in seen.items() if any(c < 300 for c in codes)]
    assert len(seen) == len(ops)
    assert len(succeeded) >= len(ops) // 2, seen


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


def test_out_of_range_numbers_are_422_not_500(seeded: Api) -> None:
    """Found by fuzzing: amounts and cursor ids beyond BIGINT reached the driver (OverflowError)."""
    for params in ({"amount_min": "1e30"}, {"amount_max": "-99999999999999999999"},
                   {"cursor": _cursor("age", "2026-01-01", 2**70)},
                   {"sort": "amount", "cursor": _cursor("amount", 2**70, 1)}):
        r = seeded.get("clerk", "/exceptions", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["code"] in ("API_BAD_AMOUNT", "API_BAD_CURSOR")
    assert seeded.get("clerk", "/exceptions", params={"amount_min": "1.00"}).status_code == 200
