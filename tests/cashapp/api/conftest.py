"""Fixtures of the REST API tests: one user per role and a seeded worklist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from services.cashapp.api.app import ROUTERS, create_app
from services.cashapp.auth import create_user
from services.cashapp.models import (
    Customer,
    DecisionRow,
    ExceptionItem,
    ImportFile,
    OpenItem,
    Receipt,
    StatementRow,
)
from services.cashapp.models_service import Role
from shared.config import Settings
from shared.db import unit_of_work

REPO_ROOT = Path(__file__).resolve().parents[3]
AS_OF = date(2026, 11, 20)
def response_models() -> dict[tuple[str, str], dict[int, Any]]:
    """The documented model of each (method, path, status) answer."""
    out: dict[tuple[str, str], dict[int, Any]] = {}
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, APIRoute):
            continue
        models = {int(k): v["model"] for k, v in route.responses.items()
                  if isinstance(v, dict) and "model" in v and str(k).isdigit()}
        if route.response_model is not None:
            models[route.status_code or 200] = route.response_model
        for method in route.methods or ():
            out[(method, route.path)] = models
    return out


MODELS = response_models()


@dataclass
class Api:
    """A test client and one API key per role (plus a second clerk and supervisor)."""

    engine: Engine
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def h(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}

    def get(self, who: str, url: str, **kw: Any) -> Any:
        return conforms(self.client.get(url, headers=self.h(who, **kw.pop("headers", {})), **kw))

    def post(self, who: str, url: str, **kw: Any) -> Any:
        return conforms(self.client.post(url, headers=self.h(who, **kw.pop("headers", {})), **kw))


def conforms(resp: Any) -> Any:
    """Every successful JSON answer of every test must match its documented model."""
    if resp.status_code < 300 and resp.headers.get("content-type", "").startswith("application/json"):
        path = resp.request.url.path
        route = next((k for k in MODELS if k[0] == resp.request.method and _match(k[1], path)), None)
        assert route is not None, path
        model = MODELS[route].get(resp.status_code)
        assert model is not None, f"{route} {resp.status_code} is undocumented"
        model.model_validate(resp.json())
    return resp


def _match(template: str, path: str) -> bool:
    return re.fullmatch(re.sub(r"\{\w+\}", r"[^/]+", template), path) is not None


USERS = {"clerk": Role.CLERK, "clerk2": Role.CLERK, "supervisor": Role.SUPERVISOR,
         "supervisor2": Role.SUPERVISOR, "auditor": Role.AUDITOR, "admin": Role.ADMIN}
SETTINGS = dict(approval_threshold="1000", writeoff_limit_clerk="5",
                writeoff_limit_supervisor="50", max_page_size=100, max_body_bytes=64 * 1024,
                max_upload_bytes=256 * 1024)


def make_users(engine: Engine) -> dict[str, str]:
    keys = {}
    with unit_of_work(engine, immediate=True) as session:
        for name, role in USERS.items():
            _, keys[name] = create_user(session, name, role, actor="test")
    return keys


@pytest.fixture
def api(db: Engine) -> Iterator[Api]:
    app = create_app(db, Settings(**SETTINGS))  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(db, client, make_users(db))


def seed(engine: Engine, n_receipts: int = 3, amount_minor: int = 10_000,
         currency: str = "EUR") -> dict[str, list[int]]:
    """Customers C1/C2, two open invoices per receipt, and one exception per receipt."""
    out: dict[str, list[int]] = {"exceptions": [], "receipts": [], "items": []}
    with unit_of_work(engine) as s:
        s.add_all([Customer(customer_id="C1", customer_name="Acme"),
                   Customer(customer_id="C2", customer_name="Globex")])
        f = ImportFile(sha256="f" * 64, file_name="t.sta", size_bytes=1, source_format="mt940",
                       status="imported")
        s.add(f)
        s.flush()
        st = StatementRow(import_file_id=f.id, source_format="mt940", account="NL01BANK0001",  # type: ignore[arg-type]
                          currency=currency, statement_key="seq:1", key_date=AS_OF,
                          content_hash="c" * 64, integrity_status="ok")
        s.add(st)
        s.flush()
        for i in range(n_receipts):
            r = Receipt(statement_id=st.id, line_key=f"k{i}", account="NL01BANK0001",  # type: ignore[arg-type]
                        currency=currency, booking_date=date(2026, 11, 1 + i % 19),
                        amount_minor=amount_minor + i, counterparty_name=f"Payer {i}",
                        remittance=f"INV-{i}", status="exception")
            s.add(r)
            s.flush()
            for j, cust in enumerate(("C1", "C2")):
                oi = OpenItem(customer_id=cust, document_number=f"INV-{i}-{j}",
                              document_type="invoice", document_date=date(2026, 10, 1),
                              due_date=date(2026, 10, 31), currency=currency,
                              amount_minor=amount_minor, erp_open_minor=amount_minor,
                              open_amount_minor=amount_minor)
                s.add(oi)
                s.flush()
                out["items"].append(oi.id)  # type: ignore[arg-type]
            d = DecisionRow(receipt_id=r.id, status="exception", customer_id="C1",  # type: ignore[arg-type]
                            reason="two invoices fit", exception_reason="AMBIGUOUS",
                            amount_minor=r.amount_minor, unapplied_minor=r.amount_minor,
                            suggestions_json='[{"item_id": 1, "amount_minor": 100, "score": 0.8}]')
            s.add(d)
            s.flush()
            e = ExceptionItem(receipt_id=r.id, decision_id=d.id,  # type: ignore[arg-type]
                              reason="AMBIGUOUS" if i % 2 else "NO_CANDIDATE")
            s.add(e)
            s.flush()
            out["exceptions"].append(e.id)  # type: ignore[arg-type]
            out["receipts"].append(r.id)  # type: ignore[arg-type]
    return out
