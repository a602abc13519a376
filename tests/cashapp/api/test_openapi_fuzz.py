"""Schema-driven fuzzing of every operation in the app's own OpenAPI document: never a 5xx.

A stand-in for schemathesis (not installed): hypothesis draws path ids, query parameters and
JSON bodies from the schema (valid and deliberately invalid values), sends them with a key of a
role allowed on the route, and checks that the answer is below 500, that errors are problem
documents, and that every JSON answer validates against the model documented for its status.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cashapp.api.schemas import Problem
from services.cashapp.auth import PERMISSIONS
from services.cashapp.models_service import Role
from tests.cashapp.api.conftest import MODELS, Api, seed
from tests.cashapp.api.test_roles import ROLE_USER, endpoints

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                 st.text(max_size=30), st.floats(allow_nan=False, allow_infinity=False))


def resolve_ref(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def from_schema(spec: dict, schema: dict, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly-valid values for a JSON schema, mixed with junk of the wrong type."""
    schema = resolve_ref(spec, schema)
    if depth > 4:
        return st.none()
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), JUNK)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        return st.one_of(*[from_schema(spec, s, depth + 1) for s in options])
    kind = schema.get("type")
    if kind == "integer":
        return st.one_of(st.integers(schema.get("minimum", -5), schema.get("maximum", 10**6)),
                         st.integers(-(2**64), 2**64))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        if schema.get("format") == "date":
            return st.one_of(st.dates().map(str), st.text(max_size=12))
        money = st.decimals(allow_nan=False, allow_infinity=False, places=2,
                            min_value=-(10**16), max_value=10**16).map(str)
        return st.one_of(st.text(max_size=schema.get("maxLength", 40)), money)
    if kind == "array":
        return st.lists(from_schema(spec, schema.get("items", {}), depth + 1), max_size=4)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        fixed = {k: from_schema(spec, v, depth + 1) for k, v in props.items() if k in required}
        optional = {k: from_schema(spec, v, depth + 1) for k, v in props.items() if k not in required}
        return st.one_of(st.fixed_dictionaries(fixed, optional=optional), JUNK)
    return JUNK


def operation_strategy(spec: dict, path: str, method: str) -> st.SearchStrategy[dict]:
    op = spec["paths"][path][method.lower()]
    params: dict[str, dict[str, Any]] = {"path": {}, "query": {}}
    for p in op.get("parameters", []):
        if p["in"] in params:
            params[p["in"]][p["name"]] = from_schema(spec, p.get("schema", {}))
    body: st.SearchStrategy[Any] = st.none()
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = from_schema(spec, content["application/json"]["schema"])
    path_ids = {k: st.one_of(st.integers(1, 5), v) for k, v in params["path"].items()}
    return st.fixed_dictionaries({"path": st.fixed_dictionaries(path_ids),
                                  "query": st.fixed_dictionaries({}, optional=params["query"]),
                                  "body": body})


def send(api: Api, who: str, method: str, path: str, case: dict) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: str(case["path"][m.group(1)]), path)
    query = {k: ([str(x) for x in v] if isinstance(v, list) else str(v))
             for k, v in case["query"].items() if v is not None}
    if method == "GET":
        return api.client.get(url, params=query, headers=api.h(who))
    if path == "/statements":
        return api.client.post(url, headers=api.h(who), params=query,
                               files={"file": ("f.txt", str(case["body"]).encode(), "text/plain")})
    return api.client.request(method, url, params=query, headers=api.h(who), json=case["body"])




def check(resp: Any, method: str, path: str) -> None:
    assert resp.status_code < 500, (method, path, resp.status_code, resp.text[:500])
    ctype = resp.headers.get("content-type", "")
    if resp.status_code >= 400:
        assert ctype.startswith("application/problem+json"), (method, path, ctype)
        Problem.model_validate(resp.json())
        assert resp.json()["status"] == resp.status_code
    elif ctype.startswith("application/json"):
        model = MODELS[(method, path)].get(resp.status_code)
        assert model is not None, f"{method} {path} {resp.status_code} is undocumented"
        model.model_validate(resp.json())  # the answer matches its documented schema


def test_no_5xx_on_any_operation(api: Api) -> None:
    seed(api.engine, n_receipts=3)
    spec = api.client.get("/openapi.json").json()
    assert spec["components"]["schemas"]["Problem"]
    operations = endpoints(api)
    assert {p for _, p, _ in operations} <= set(spec["paths"])
    for method, path, perm in sorted(operations):
        allowed = [r for r in (Role.CLERK, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR)
                   if r in PERMISSIONS[perm]]
        fuzz(api, spec, ROLE_USER[allowed[0]], method, path)


def fuzz(api: Api, spec: dict, who: str, method: str, path: str) -> None:
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation_strategy(spec, path, method))
    def run(case: dict) -> None:
        check(send(api, who, method, path, case), method, path)

    run()
