"""Users and API keys (admins), and ``/me`` for everyone. A key is shown once, at creation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp import auth
from services.cashapp.api import idempotency
from services.cashapp.api import schemas as S
from services.cashapp.api.common import MAX_ID, PROBLEM_RESPONSES, Id, actor_of, engine_of, page_limit
from services.cashapp.auth import Principal, require
from services.cashapp.models_service import AppUser, Role

router = APIRouter(tags=["users"], responses=PROBLEM_RESPONSES)


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    writeoff_limit: str | None = Field(None, pattern=r"^\d{1,12}(\.\d{1,6})?$",
                                       description="Own write-off limit (decimal); default by role")


@router.get("/me", summary="Who am I", response_model=S.Me)
def me(user: Principal = Depends(require("me.read"))) -> dict:
    return {"id": user.id, "name": user.name, "role": user.role,
            "writeoff_limit": user.writeoff_limit}


@router.get("/users", summary="Users (never their keys)", response_model=S.UserPage)
def list_users(request: Request, after_id: int | None = Query(None, ge=1, le=MAX_ID),
               limit: int | None = Query(None),
               user: Principal = Depends(require("users.read"))) -> dict:
    n = page_limit(request, limit)
    stmt = select(AppUser).order_by(col(AppUser.id)).limit(n)
    if after_id:
        stmt = stmt.where(col(AppUser.id) > after_id)
    with Session(engine_of(request)) as session:
        items = [auth.user_public(u) for u in session.execute(stmt).scalars()]
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == n else None}


@router.post("/users", status_code=201, summary="Create a user; the answer holds its key, once",
             responses={201: {"model": S.UserWithKey}})
def create_user(request: Request, body: UserCreate,
                user: Principal = Depends(require("users.write")),
                digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor = actor_of(request, user)

    def work(session: Session) -> tuple[int, Any, None]:
        created, key = auth.create_user(session, body.name, body.role, actor=actor.name,
                                        actor_role=actor.role, request_id=actor.request_id,
                                        writeoff_limit=body.writeoff_limit)
        return 201, {**auth.user_public(created), "api_key": key}, None

    return idempotency.run(request, user, digest, work, secret_fields=("api_key",))


def _state_change(request: Request, user: Principal, digest: str, user_id: Id, what: str) -> JSONResponse:
    actor = actor_of(request, user)

    def work(session: Session) -> tuple[int, Any, None]:
        if what == "rotate":
            changed, key = auth.rotate_key(session, user_id, actor=actor.name,
                                           actor_role=actor.role, request_id=actor.request_id)
            return 200, {**auth.user_public(changed), "api_key": key}, None
        changed = auth.set_active(session, user_id, what == "activate", actor=actor.name,
                                  actor_role=actor.role, request_id=actor.request_id)
        return 200, auth.user_public(changed), None

    return idempotency.run(request, user, digest, work, secret_fields=("api_key",))


@router.post("/users/{user_id}/deactivate", summary="Deactivate a user (users are never deleted)",
             responses={200: {"model": S.UserPublic}})
def deactivate(request: Request, user_id: Id, user: Principal = Depends(require("users.write")),
               digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    return _state_change(request, user, digest, user_id, "deactivate")


@router.post("/users/{user_id}/activate", summary="Activate a user again",
             responses={200: {"model": S.UserPublic}})
def activate(request: Request, user_id: Id, user: Principal = Depends(require("users.write")),
             digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    return _state_change(request, user, digest, user_id, "activate")


@router.post("/users/{user_id}/rotate-key", summary="Replace a user's key; the answer holds it, once",
             responses={200: {"model": S.UserWithKey}})
def rotate_key(request: Request, user_id: Id, user: Principal = Depends(require("users.write")),
               digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    return _state_change(request, user, digest, user_id, "rotate")
