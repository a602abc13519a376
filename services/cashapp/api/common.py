"""Helpers shared by the routers: problem documents, actors, ETags, page sizes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from services.cashapp.auth import Principal
from services.cashapp.usecases.exceptions import Actor
from shared.config import Settings
from shared.errors import ValidationError

PROBLEM = "application/problem+json"
MAX_ID = 2**31 - 1  # INTEGER primary keys: a larger id can only be "not found", never an error
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="Identifier")]
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Content too large",
          415: "Unsupported media type", 422: "Unprocessable content", 500: "Internal error",
          503: "Service unavailable"}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": TITLES[code],
           "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for code in (401, 403, 404, 409, 422)
}


def problem(request: Request | None, status: int, code: str, detail: str,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document with a stable ``code``."""
    body = {"type": f"urn:cashrecon:problem:{code.lower()}", "title": TITLES.get(status, "Error"),
            "status": status, "detail": detail, "code": code}
    if request is not None:
        body["instance"] = request.url.path
        body["request_id"] = getattr(request.state, "request_id", None)
    body.update({k: v for k, v in extra.items() if k not in body})
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM,
                        headers=headers)


def engine_of(request: Request) -> Engine:
    """The app's database engine."""
    return request.app.state.engine  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    """The app's settings (the one ``Settings`` object it was created with)."""
    return request.app.state.settings  # type: ignore[no-any-return]


def actor_of(request: Request, p: Principal) -> Actor:
    """The use-case actor of an authenticated request."""
    return Actor(p.name, str(p.role), getattr(request.state, "request_id", None), p.writeoff_limit)


def page_limit(request: Request, limit: int | None) -> int:
    """A page size bounded by the configured maximum."""
    top = settings_of(request).max_page_size
    if limit is None:
        return min(50, top)
    if limit < 1 or limit > top:
        raise ValidationError(f"limit must be 1..{top}", code="API_BAD_LIMIT")
    return limit


def if_match(request: Request, body_version: int | None = None) -> int | None:
    """The version a client expects: ``If-Match: "3"`` (an ETag) or the body's ``version``."""
    raw = request.headers.get("if-match")
    if raw is None:
        return body_version
    tag = raw.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or len(tag) > 18:
        raise ValidationError("If-Match must be an ETag given by this API", code="API_BAD_IF_MATCH")
    return int(tag)


def etag(version: int) -> dict[str, str]:
    """The ETag header of a versioned resource."""
    return {"ETag": f'"{version}"'}
