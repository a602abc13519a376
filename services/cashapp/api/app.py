"""The FastAPI application: routers, problem documents, request ids and body limits.

``create_app(engine, settings)`` builds one app; ``cashrecon serve`` runs it with uvicorn.
Every error leaves as ``application/problem+json`` (RFC 9457) with a stable ``code``. Bodies are
bounded while they stream in: a JSON body by ``max_body_bytes``, an upload by
``max_upload_bytes``.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.cashapp.api import audit as audit_api
from services.cashapp.api import exceptions as exceptions_api
from services.cashapp.api import postings as postings_api
from services.cashapp.api import rules as rules_api
from services.cashapp.api import statements as statements_api
from services.cashapp.api import users as users_api
from services.cashapp.api.common import problem
from services.cashapp.api.schemas import Health, Problem
from services.recon import api as recon_api
from shared.config import Settings
from shared.errors import DomainError

log = logging.getLogger(__name__)
UPLOAD_PATHS = ("/statements",)
UPLOAD_PATTERN = re.compile(r"^/recon/runs/\d+/responses$")  # customer reply files
ROUTERS = (users_api.router, statements_api.router, exceptions_api.router, rules_api.router,
           audit_api.router, postings_api.router, recon_api.router)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HTTP_CODES = {400: "API_BAD_REQUEST", 401: "AUTH_REQUIRED", 403: "AUTH_FORBIDDEN",
              404: "API_NOT_FOUND", 405: "API_METHOD_NOT_ALLOWED", 413: "API_BODY_TOO_LARGE",
              415: "API_UNSUPPORTED_MEDIA_TYPE"}


class BodyTooLarge(StarletteHTTPException):
    code = "API_BODY_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class NulCharacter(StarletteHTTPException):
    """PostgreSQL text cannot hold NUL; no field of this API needs one, so refuse it up front."""

    code = "API_NUL_CHARACTER"

    def __init__(self) -> None:
        super().__init__(422, "NUL characters are not accepted in text")


class Guard:
    """ASGI middleware: request id, and a body limit enforced while the body streams in."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id", "")
        rid = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        upload = scope["method"] == "POST" and (scope["path"] in UPLOAD_PATHS
                                                or UPLOAD_PATTERN.match(scope["path"]) is not None)
        limit = self.settings.max_upload_bytes if upload else self.settings.max_body_bytes
        raw = (scope.get("query_string") or b"") + (scope.get("raw_path") or b"")
        if b"%00" in raw or b"\x00" in raw:
            await problem(None, 422, NulCharacter.code, NulCharacter().detail,
                          headers={"X-Request-ID": rid})(scope, receive, send)
            return
        is_json = "json" in headers.get("content-type", "")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            resp = problem(None, 413, "API_BODY_TOO_LARGE", f"request body larger than {limit} bytes",
                           headers={"X-Request-ID": rid})
            await resp(scope, receive, send)
            return
        seen, tail = 0, b""

        async def limited() -> Message:
            nonlocal seen, tail
            msg = await receive()
            if msg["type"] == "http.request":
                chunk = msg.get("body", b"")
                seen += len(chunk)
                if seen > limit:  # FastAPI re-raises HTTPException raised while reading a body
                    raise BodyTooLarge(limit)
                if is_json and b"\\u0000" in tail + chunk:
                    raise NulCharacter()
                tail = (tail + chunk)[-6:]
            return msg

        async def tagged(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(msg)

        await self.app(scope, limited, tagged)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(request, exc.status, exc.code, exc.message, headers=headers,
                       **jsonable_encoder(exc.details))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Any:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        return problem(request, 422, "API_VALIDATION_ERROR", "the request is not valid",
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        code = getattr(exc, "code", None) or HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        return problem(request, exc.status_code, code, str(exc.detail),
                       headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(request, 500, "INTERNAL_ERROR", "an internal error occurred; see the logs")


def default_engine(settings: Settings | None = None) -> Engine:
    """The configured database, migrated (the ``cashrecon serve`` default)."""
    from shared.db import make_engine, migrate

    eng = make_engine((settings or Settings()).database_url)
    migrate(eng)
    return eng


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    """The REST API over ``engine`` (default: the configured database) with ``settings``
    (default: read from the environment); routes read them with ``settings_of(request)``."""
    settings = settings or Settings()
    app = FastAPI(title="cashrecon", version="0.1.0", docs_url="/docs",
                  description="Cash application and reconciliation for AR teams. Authenticate "
                              "with `Authorization: Bearer <API key>`. Money is a decimal string.")
    app.state.engine = engine if engine is not None else default_engine(settings)
    app.state.settings = settings
    _install_handlers(app)
    app.add_middleware(Guard, settings=settings)

    @app.get("/health", tags=["service"], summary="Liveness: answers without authentication",
             response_model=Health)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    _add_problem_schema(app)
    return app


def _add_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = \
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        schema["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
