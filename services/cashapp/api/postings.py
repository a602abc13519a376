"""ERP postings for people: refused postings to fix and requeue, and the outbox for support.

A refused posting (``posting_failure``) is the ERP saying "no" for good: a customer it does not
know, a closed period. A supervisor fixes the cause in the ERP or master data, then requeues;
the requeue is audited in its own transaction and accepts ``Idempotency-Key``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from services.cashapp.api import idempotency
from services.cashapp.api.common import MAX_ID, PROBLEM_RESPONSES, Id, actor_of, engine_of, page_limit
from services.cashapp.api.schemas import _Out
from services.cashapp.auth import Principal, require
from services.cashapp.usecases import failures as uc

router = APIRouter(tags=["postings"], responses=PROBLEM_RESPONSES)
CURSOR_HELP = "Cursor: the next_before_id of the previous page"


class _Summary(_Out):
    customer_id: str | None
    document_number: str | None
    currency: str | None
    amount: str | None  # decimal string, as sent to the ERP


class PostingFailurePublic(_Summary):
    id: int
    outbox_id: int
    posting_key: str
    kind: str
    receipt_id: int | None
    code: str
    message: str
    status: str
    created_at: datetime
    resolved_at: datetime | None
    outbox_status: str | None


class PostingFailureDetail(PostingFailurePublic):
    attempts: int | None
    last_error: str | None
    payload: dict[str, Any] | None


class PostingFailurePage(_Out):
    items: list[PostingFailurePublic]
    next_before_id: int | None


class OutboxPublic(_Summary):
    id: int
    posting_key: str
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    lease_owner: str | None
    lease_until: datetime | None
    erp_reference: str | None
    created_at: datetime
    posted_at: datetime | None


class OutboxPage(_Out):
    items: list[OutboxPublic]
    next_before_id: int | None


class RequeueBody(BaseModel):
    reason: str | None = Field(None, max_length=1000, description="What was fixed (audited)")


@router.get("/postings/failures", summary="Postings the ERP refused for good, newest first",
            response_model=PostingFailurePage)
def list_failures(
    request: Request,
    status: Literal["open", "requeued"] = "open",
    before_id: int | None = Query(None, ge=1, le=MAX_ID, description=CURSOR_HELP),
    limit: int | None = Query(None),
    user: Principal = Depends(require("postings.read")),
) -> dict:
    n = page_limit(request, limit)
    with Session(engine_of(request)) as session:
        items, nxt = uc.list_failures(session, status, before_id, n)
    return {"items": items, "next_before_id": nxt}


@router.get("/postings/failures/{failure_id}", summary="One refused posting with its payload",
            response_model=PostingFailureDetail)
def show_failure(request: Request, failure_id: Id,
                 user: Principal = Depends(require("postings.read"))) -> dict:
    with Session(engine_of(request)) as session:
        return uc.get_failure(session, failure_id)


@router.post("/postings/failures/{failure_id}/requeue",
             summary="Send a refused posting again once its cause is fixed (409 if not open)",
             responses={200: {"model": PostingFailureDetail}})
def requeue_failure(request: Request, failure_id: Id, body: RequeueBody | None = None,
                    user: Principal = Depends(require("postings.requeue")),
                    digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor, reason = actor_of(request, user), body.reason if body else None
    return idempotency.run(request, user, digest, lambda s: (
        200, uc.requeue(s, failure_id, actor, reason), None))


@router.get("/postings", summary="Outbox rows for support, newest first", response_model=OutboxPage)
def list_postings(
    request: Request,
    status: Literal["pending", "sending", "posted", "failed"] | None = None,
    posting_key: str | None = Query(None, max_length=200),
    before_id: int | None = Query(None, ge=1, le=MAX_ID, description=CURSOR_HELP),
    limit: int | None = Query(None),
    user: Principal = Depends(require("postings.read")),
) -> dict:
    n = page_limit(request, limit)
    with Session(engine_of(request)) as session:
        items, nxt = uc.list_outbox(session, status, posting_key, before_id, n)
    return {"items": items, "next_before_id": nxt}
