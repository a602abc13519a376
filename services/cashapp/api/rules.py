"""The matching rule set: read the active one, upload a new version (validated), dry-run one.

Uploaded versions are kept (``rule_set_version``); the newest is the active one. Without any
upload, the configured rule file or the shipped defaults are active. Nothing is applied by a
dry run.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.api import idempotency
from services.cashapp.api import schemas as S
from services.cashapp.api.common import PROBLEM_RESPONSES, actor_of, engine_of, page_limit, settings_of
from services.cashapp.auth import Principal, require
from services.cashapp.domain.rules import load_rules
from services.cashapp.models_service import RuleSetVersion
from services.cashapp.ruleset import rules_with_source
from shared.errors import Conflict

router = APIRouter(tags=["rules"], responses=PROBLEM_RESPONSES)


class RulesBody(BaseModel):
    toml: str = Field(min_length=1, max_length=256 * 1024, description="Rule-set TOML text")


class DryRunBody(RulesBody):
    as_of: date | None = Field(None, description="Day the matcher treats as today")


def parse_rules(text: str) -> Any:
    """Validate rule-set TOML with the domain's loader (``RULES_INVALID`` with key paths)."""
    return load_rules(text)


def active_rules_source(request: Request, session: Session) -> tuple[str, Any]:
    """(where from, RuleSet): the newest uploaded version, else the configured file/defaults."""
    return rules_with_source(settings_of(request), session)


@router.get("/rules", summary="The active rule set", response_model=S.RulesPublic)
def show_rules(request: Request, user: Principal = Depends(require("rules.read"))) -> dict:
    with Session(engine_of(request)) as session:
        source, rules = active_rules_source(request, session)
    return {"source": source, "version": rules.version, "rules": rules.model_dump(mode="json")}


@router.get("/rules/versions", summary="Uploaded rule-set versions, newest first",
            response_model=S.RuleVersionPage)
def list_versions(request: Request, limit: int | None = Query(None),
                  user: Principal = Depends(require("rules.read"))) -> dict:
    n = page_limit(request, limit)
    with Session(engine_of(request)) as session:
        rows = session.execute(select(RuleSetVersion).order_by(col(RuleSetVersion.id).desc())
                               .limit(n)).scalars().all()
    return {"items": [{"id": r.id, "version": r.version, "sha256": r.sha256,
                       "created_by": r.created_by, "created_at": r.created_at} for r in rows]}


@router.post("/rules", status_code=201, summary="Upload and activate a new rule-set version",
             responses={201: {"model": S.RuleUploadResult}})
def upload_rules(request: Request, body: RulesBody,
                 user: Principal = Depends(require("rules.write")),
                 digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    rules = parse_rules(body.toml)
    actor = actor_of(request, user)

    def work(session: Session) -> tuple[int, Any, None]:
        if session.execute(select(col(RuleSetVersion.id)).where(
                col(RuleSetVersion.version) == rules.version)).first():
            raise Conflict(f"rule-set version {rules.version} exists; bump `version`",
                           code="RULES_VERSION_EXISTS")
        prev = active_rules_source(request, session)[1].version
        row = RuleSetVersion(version=rules.version, toml=body.toml, created_by=actor.name,
                             sha256=hashlib.sha256(body.toml.encode()).hexdigest())
        session.add(row)
        session.flush()
        audit.record(session, actor.name, actor.role, "rules.upload", "rule_set_version", row.id,
                     {"version": prev}, {"version": rules.version, "sha256": row.sha256},
                     request_id=actor.request_id)
        return 201, {"id": row.id, "version": rules.version, "sha256": row.sha256}, None

    return idempotency.run(request, user, digest, work)


@router.post("/rules/dry-run", summary="Re-score stored receipts under a rule set; applies nothing",
             response_model=S.DryRunReport)
def dry_run(request: Request, body: DryRunBody,
            user: Principal = Depends(require("rules.dry_run"))) -> dict:
    rules = parse_rules(body.toml)
    from services.cashapp.usecases.dryrun import dry_run_report

    report = dry_run_report(engine_of(request), rules, body.as_of or date.today())
    return {"version": rules.version, **report}
