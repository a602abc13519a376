"""``Idempotency-Key`` for every state-changing POST.

The answer to a successful request is stored in the same transaction as its effect, keyed by
(user, key). The same key with the same method, path and body replays the stored answer (one
effect, same answer); the same key with anything else is refused with 422. Failed requests are
not stored, so a client may retry them with the same key. Two concurrent requests with the same
key: the unique constraint lets one commit; the other rolls back and replays the winner's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from services.cashapp.api.common import engine_of
from services.cashapp.auth import Principal
from services.cashapp.models_service import IdempotencyKey
from shared.db import unit_of_work
from shared.errors import ValidationError

Work = Callable[[Session], tuple[int, Any, dict[str, str] | None]]


async def body_digest(request: Request) -> str:
    """sha256 of the request body (FastAPI has already read and cached it for JSON bodies)."""
    return hashlib.sha256(await request.body()).hexdigest()


def idempotency_key(request: Request) -> str | None:
    """The client's key, validated: 1..200 visible ASCII characters."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip().strip('"')
    if not key or len(key) > 200 or not all(33 <= ord(c) < 127 for c in key):
        raise ValidationError("Idempotency-Key must be 1..200 visible ASCII characters",
                              code="IDEMPOTENCY_KEY_INVALID")
    return key


def _lookup(session: Session, user: str, key: str) -> IdempotencyKey | None:
    return session.execute(select(IdempotencyKey).where(
        col(IdempotencyKey.user_name) == user, col(IdempotencyKey.key) == key)).scalar_one_or_none()


def _replay(stored: IdempotencyKey, method: str, path: str, digest: str) -> JSONResponse:
    if (stored.method, stored.path, stored.body_hash) != (method, path, digest):
        raise ValidationError("this Idempotency-Key was used for a different request",
                              code="IDEMPOTENCY_KEY_REUSED")
    return JSONResponse(json.loads(stored.response_json), status_code=stored.status_code,
                        headers={"Idempotent-Replayed": "true"})


def lookup(request: Request, principal: Principal, digest: str) -> JSONResponse | None:
    """The stored answer for this request's key, if any (422 when the key was used otherwise)."""
    key = idempotency_key(request)
    if key is None:
        return None
    with Session(engine_of(request)) as session:
        stored = _lookup(session, principal.name, key)
    return _replay(stored, request.method, request.url.path, digest) if stored else None


def run(request: Request, principal: Principal, digest: str, work: Work,
        secret_fields: tuple[str, ...] = ()) -> JSONResponse:
    """Run ``work`` in one transaction (SQLite: ``BEGIN IMMEDIATE``), storing its answer with
    the effect when the client sent an ``Idempotency-Key``. ``secret_fields`` (an API key shown
    once) are never stored: a replay answers them as ``null``."""
    key = idempotency_key(request)
    replay = lookup(request, principal, digest)
    if replay is not None:
        return replay
    try:
        with unit_of_work(engine_of(request), immediate=True) as session:
            status, payload, headers = work(session)
            body = jsonable_encoder(payload)
            if key is not None:
                session.add(IdempotencyKey(
                    user_name=principal.name, key=key, method=request.method,
                    path=request.url.path[:300], body_hash=digest, status_code=status,
                    response_json=json.dumps(_redact(body, secret_fields))))
                session.flush()
    except IntegrityError:
        replay = lookup(request, principal, digest) if key else None
        if replay is not None:  # a concurrent request with the same key won
            return replay
        raise
    return JSONResponse(body, status_code=status, headers=headers)


def _redact(body: Any, fields: tuple[str, ...]) -> Any:
    if isinstance(body, dict) and fields:
        return {k: (None if k in fields else v) for k, v in body.items()}
    return body


def remember(request: Request, principal: Principal, digest: str, status: int, body: Any) -> None:
    """Store an answer computed outside :func:`run` (file uploads import in their own
    transaction and are idempotent by content anyway)."""
    key = idempotency_key(request)
    if key is None:
        return
    try:
        with unit_of_work(engine_of(request)) as session:
            session.add(IdempotencyKey(
                user_name=principal.name, key=key, method=request.method,
                path=request.url.path[:300], body_hash=digest, status_code=status,
                response_json=json.dumps(jsonable_encoder(body))))
    except IntegrityError:
        pass  # a concurrent upload with the same key stored the same answer
