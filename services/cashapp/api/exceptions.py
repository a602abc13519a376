"""The exceptions worklist and maker-checker approvals over REST.

Versioned resources carry ``ETag: "<version>"``; a change accepts ``If-Match`` (or ``version`` in
the body) and answers 409 ``CASHAPP_STALE_VERSION`` when someone else changed the item first.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from services.cashapp.api import idempotency
from services.cashapp.api import schemas as S
from services.cashapp.api.common import (
    MAX_ID,
    PROBLEM_RESPONSES,
    Id,
    actor_of,
    engine_of,
    etag,
    if_match,
    page_limit,
    settings_of,
)
from services.cashapp.auth import Principal, require
from services.cashapp.models_service import Approval
from services.cashapp.usecases import approvals as appr_uc
from services.cashapp.usecases import exceptions as exc_uc
from services.cashapp.usecases.resolve import LineIn, Resolution
from shared.errors import DomainError, NotFound, ValidationError
from shared.money import to_minor

router = APIRouter(responses=PROBLEM_RESPONSES)
Money = Annotated[str, Field(pattern=r"^-?\d{1,15}(\.\d{1,6})?$", examples=["125.40"],
                             description="A decimal string in the receipt's currency")]
Text = Annotated[str, Field(max_length=1000)]


class VersionBody(BaseModel):
    version: int | None = Field(None, ge=1, le=2**62, description="Expected version (or send If-Match)")


class ReassignBody(VersionBody):
    assignee: str = Field(min_length=1, max_length=64)


class LineBody(BaseModel):
    open_item_id: int = Field(ge=1, le=MAX_ID)
    amount: Money


class ResolveBody(VersionBody):
    """apply: documents and amounts (partial allowed; items of several customers split the
    receipt), optional fee and write-off, the rest stays unapplied on ``customer_id``'s account.
    on_account: everything on ``customer_id``'s account. non_ar: not a customer payment
    (``gl_code``). refund: the money goes back. returned: closes a returned cheque, which brought
    no money (the only resolution such a receipt takes)."""

    kind: Literal["apply", "on_account", "non_ar", "refund", "returned"]
    lines: list[LineBody] = Field(default_factory=list, max_length=500)
    fee: Money = "0"
    writeoff: Money = "0"
    writeoff_reason: Text | None = None
    customer_id: str | None = Field(None, max_length=64)
    gl_code: str | None = Field(None, max_length=64)
    note: Text | None = None

    def resolution(self) -> Resolution:
        return Resolution(kind=self.kind, lines=[LineIn(x.open_item_id, Decimal(x.amount))
                                                 for x in self.lines],
                          fee=Decimal(self.fee), writeoff=Decimal(self.writeoff),
                          writeoff_reason=self.writeoff_reason, customer_id=self.customer_id,
                          gl_code=self.gl_code, note=self.note)


class DecideBody(VersionBody):
    reason: Text | None = None


def _amount(value: str | None, currency: str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        minor = to_minor(Decimal(value), currency or "EUR")
    except (DomainError, ArithmeticError, ValueError):
        raise ValidationError(f"{what} must be a decimal amount", code="API_BAD_AMOUNT") from None
    if abs(minor) > exc_uc.MAX_INT64:  # BIGINT column: a larger bound would overflow the driver
        raise ValidationError(f"{what} is out of range", code="API_BAD_AMOUNT")
    return minor


@router.get("/exceptions", tags=["exceptions"], summary="The worklist: filters, sorting, cursor pages",
            response_model=S.ExceptionPage)
def list_exceptions(
    request: Request,
    status: list[Literal["open", "claimed", "pending", "resolved"]] | None = Query(None),
    customer_id: str | None = Query(None, max_length=64),
    currency: str | None = Query(None, min_length=3, max_length=3),
    amount_min: str | None = Query(None, max_length=24, description="Decimal string"),
    amount_max: str | None = Query(None, max_length=24, description="Decimal string"),
    min_age_days: int | None = Query(None, ge=0, le=36500),
    max_age_days: int | None = Query(None, ge=0, le=36500),
    account: str | None = Query(None, max_length=64),
    assignee: str | None = Query(None, max_length=64),
    reason: str | None = Query(None, max_length=64),
    sort: str = Query("age", pattern=r"^-?(age|amount|id|created)$"),
    cursor: str | None = Query(None, max_length=500),
    limit: int | None = Query(None),
    user: Principal = Depends(require("exceptions.read")),
) -> dict:
    q = exc_uc.WorklistQuery(
        as_of=date.today(), status=list(status) if status else list(exc_uc.UNRESOLVED),
        customer_id=customer_id, currency=currency.upper() if currency else None,
        amount_min_minor=_amount(amount_min, currency, "amount_min"),
        amount_max_minor=_amount(amount_max, currency, "amount_max"),
        min_age_days=min_age_days, max_age_days=max_age_days, account=account,
        assignee=assignee, reason=reason, sort=sort, cursor=cursor, limit=page_limit(request, limit))
    with Session(engine_of(request)) as session:
        items, nxt = exc_uc.list_worklist(session, q)
    return {"items": items, "next_cursor": nxt}


@router.get("/exceptions/{exception_id}", tags=["exceptions"],
            summary="One item with its receipt, reason and suggestions (ETag = version)",
            responses={200: {"model": S.ExceptionPublic}})
def show_exception(request: Request, exception_id: Id,
                   user: Principal = Depends(require("exceptions.read"))) -> JSONResponse:
    from fastapi.encoders import jsonable_encoder

    with Session(engine_of(request)) as session:
        view = exc_uc.get_item(session, exception_id, date.today())
    return JSONResponse(jsonable_encoder(view), headers=etag(view["version"]))


def _item_answer(item: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, exc_uc.snapshot(item) | {"id": item.id}, etag(item.version)


@router.post("/exceptions/{exception_id}/claim", tags=["exceptions"], summary="Take an open item",
             responses={200: {"model": S.ExceptionState}})
def claim(request: Request, exception_id: Id, body: VersionBody | None = None,
          user: Principal = Depends(require("exceptions.claim")),
          digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor, expected = actor_of(request, user), if_match(request, body.version if body else None)
    return idempotency.run(request, user, digest, lambda s: _item_answer(
        exc_uc.claim(s, exception_id, actor, expected)))


@router.post("/exceptions/{exception_id}/release", tags=["exceptions"],
             summary="Give a claimed item back to the queue", responses={200: {"model": S.ExceptionState}})
def release(request: Request, exception_id: Id, body: VersionBody | None = None,
            user: Principal = Depends(require("exceptions.claim")),
            digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor, expected = actor_of(request, user), if_match(request, body.version if body else None)
    return idempotency.run(request, user, digest, lambda s: _item_answer(
        exc_uc.release(s, exception_id, actor, expected)))


@router.post("/exceptions/{exception_id}/reassign", tags=["exceptions"],
             summary="Give an item to another clerk (supervisors)",
             responses={200: {"model": S.ExceptionState}})
def reassign(request: Request, exception_id: Id, body: ReassignBody,
             user: Principal = Depends(require("exceptions.reassign")),
             digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor, expected = actor_of(request, user), if_match(request, body.version)
    return idempotency.run(request, user, digest, lambda s: _item_answer(
        exc_uc.reassign(s, exception_id, actor, body.assignee, expected)))


def _limits(request: Request) -> appr_uc.Limits:
    cfg = settings_of(request)
    return appr_uc.Limits(str(cfg.approval_threshold), str(cfg.writeoff_limit_clerk),
                          str(cfg.writeoff_limit_supervisor))


@router.post("/exceptions/{exception_id}/resolve", tags=["exceptions"],
             summary="Resolve an item (or park it for a supervisor's approval)",
             responses={200: {"model": S.ResolveResult}, 202: {"model": S.ResolveResult}})
def resolve(request: Request, exception_id: Id, body: ResolveBody,
            user: Principal = Depends(require("exceptions.resolve")),
            digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    """200 with the new decision when applied; 202 with the approval when it needs a checker."""
    actor, expected, limits = actor_of(request, user), if_match(request, body.version), _limits(request)

    def work(session: Session) -> tuple[int, Any, dict[str, str]]:
        out = appr_uc.resolve_item(session, exception_id, actor, body.resolution(), expected, limits)
        return (200 if out["status"] == "resolved" else 202), out, etag(out["version"])

    return idempotency.run(request, user, digest, work)


@router.get("/approvals", tags=["approvals"], summary="Maker-checker requests, oldest first",
            response_model=S.ApprovalPage)
def list_approvals(request: Request,
                   status: Literal["pending", "approved", "rejected"] | None = None,
                   after_id: int | None = Query(None, ge=1, le=MAX_ID), limit: int | None = Query(None),
                   user: Principal = Depends(require("approvals.read"))) -> dict:
    n = page_limit(request, limit)
    with Session(engine_of(request)) as session:
        items = appr_uc.list_approvals(session, status, n, after_id)
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == n else None}


@router.get("/approvals/{approval_id}", tags=["approvals"], summary="One approval (ETag = version)",
            responses={200: {"model": S.ApprovalPublic}})
def show_approval(request: Request, approval_id: Id,
                  user: Principal = Depends(require("approvals.read"))) -> JSONResponse:
    from fastapi.encoders import jsonable_encoder

    with Session(engine_of(request)) as session:
        a = session.get(Approval, approval_id)
        if a is None:
            raise NotFound(f"approval {approval_id} not found", code="CASHAPP_APPROVAL_NOT_FOUND")
        view = appr_uc.approval_view(a)
    return JSONResponse(jsonable_encoder(view), headers=etag(a.version))


@router.post("/approvals/{approval_id}/approve", tags=["approvals"],
             summary="Apply a pending resolution (a supervisor other than its maker)",
             responses={200: {"model": S.ApprovalOutcome}})
def approve(request: Request, approval_id: Id, body: DecideBody | None = None,
            user: Principal = Depends(require("approvals.decide")),
            digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor, expected = actor_of(request, user), if_match(request, body.version if body else None)
    return idempotency.run(request, user, digest, lambda s: (200, appr_uc.approve(
        s, approval_id, actor, expected, body.reason if body else None), None))


@router.post("/approvals/{approval_id}/reject", tags=["approvals"],
             summary="Refuse a pending resolution: nothing is applied",
             responses={200: {"model": S.ApprovalOutcome}})
def reject(request: Request, approval_id: Id, body: DecideBody | None = None,
           user: Principal = Depends(require("approvals.decide")),
           digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor, expected = actor_of(request, user), if_match(request, body.version if body else None)
    return idempotency.run(request, user, digest, lambda s: (200, appr_uc.reject(
        s, approval_id, actor, expected, body.reason if body else None), None))
