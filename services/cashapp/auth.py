"""Users, API keys and the role × permission table.

A key looks like ``crk_<key id>_<secret>``: the key id is stored in clear and indexed (one lookup
per request), the secret only as ``sha256(salt + secret)``. The key is shown once, at creation.
:data:`PERMISSIONS` is the one place that says which role may do what; every route depends on
:func:`require` with one of its names, and the role × endpoint test walks that table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.models_service import AppUser, Role
from shared.errors import Conflict, DomainError, NotFound, ValidationError

KEY_PREFIX = "crk_"
ALL = frozenset(Role)
CASH = frozenset({Role.CLERK, Role.SUPERVISOR})
READ_CASH = frozenset({Role.CLERK, Role.SUPERVISOR, Role.AUDITOR})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "me.read": ALL,
    "statements.read": READ_CASH,
    "statements.upload": CASH,
    "receipts.read": READ_CASH,
    "receipts.reverse": CASH,
    "exceptions.read": READ_CASH,
    "exceptions.claim": CASH,
    "exceptions.reassign": frozenset({Role.SUPERVISOR}),
    "exceptions.resolve": CASH,
    "approvals.read": READ_CASH,
    "approvals.decide": frozenset({Role.SUPERVISOR}),
    "rules.read": ALL,
    "rules.write": frozenset({Role.ADMIN}),
    "rules.dry_run": frozenset({Role.SUPERVISOR, Role.ADMIN}),
    "audit.read": frozenset({Role.AUDITOR, Role.SUPERVISOR}),
    "users.read": frozenset({Role.ADMIN, Role.AUDITOR}),
    "users.write": frozenset({Role.ADMIN}),
    # Reconciliation (services/recon/api.py). Confirmation runs and replies are customer-level
    # finance data: the cash team and auditors read them; a quarter-end run is a controlled act
    # (supervisor); clerks work the incoming replies day to day, which classifies differences but
    # moves no cash. The AR reports are aggregates every role may read: the admin tunes the
    # matching rules and needs the auto-match rate by rule to do it.
    "recon.read": READ_CASH,
    "recon.create": frozenset({Role.SUPERVISOR}),
    "recon.responses": CASH,
    "reports.read": ALL,
    # ERP postings (services/cashapp/api/postings.py). Refused postings are read by the cash team
    # and auditors, and by the admin who owns the ERP connection (a refusal is often a mapping or
    # credentials problem). Requeueing asserts "the cause is fixed" and moves cash into the
    # ledger: a supervisor's call, as with approvals.
    "postings.read": READ_CASH | {Role.ADMIN},
    "postings.requeue": frozenset({Role.SUPERVISOR}),
}


class Unauthorized(DomainError):
    code = "AUTH_REQUIRED"
    status = 401


class Forbidden(DomainError):
    code = "AUTH_FORBIDDEN"
    status = 403


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    id: int
    name: str
    role: Role
    writeoff_limit: str | None = None


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def new_key() -> tuple[str, str, str, str]:
    """A fresh key: (full key, key id, salt, hash of the secret)."""
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_hex(16)
    return f"{KEY_PREFIX}{key_id}_{secret}", key_id, salt, _hash(salt, secret)


def parse_role(value: str) -> Role:
    """The role named ``value`` or a ``VALIDATION_ERROR``."""
    try:
        return Role(value)
    except ValueError:
        raise ValidationError(f"unknown role {value!r}; one of {', '.join(Role)}",
                              code="USER_BAD_ROLE") from None


def user_public(user: AppUser) -> dict:
    """What the API shows of a user (never the key hash)."""
    return {"id": user.id, "name": user.name, "role": user.role, "active": user.active,
            "writeoff_limit": user.writeoff_limit,
            "created_at": user.created_at.isoformat()}


def create_user(session: Session, name: str, role: str, *, actor: str = "system",
                actor_role: str = "admin", request_id: str | None = None,
                writeoff_limit: str | None = None) -> tuple[AppUser, str]:
    """Create a user; answers the user and its API key, which is never retrievable again."""
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise ValidationError("a user name is 1..64 printable characters", code="USER_BAD_NAME")
    r = parse_role(role)
    if session.execute(select(col(AppUser.id)).where(col(AppUser.name) == name)).first():
        raise Conflict(f"user {name!r} exists", code="USER_EXISTS")
    key, key_id, salt, digest = new_key()
    user = AppUser(name=name, role=r, key_id=key_id, key_salt=salt, key_hash=digest,
                   writeoff_limit=writeoff_limit)
    session.add(user)
    session.flush()
    audit.record(session, actor, actor_role, "user.create", "app_user", user.id, None,
                 user_public(user), request_id=request_id)
    return user, key


def rotate_key(session: Session, user_id: int, *, actor: str, actor_role: str,
               request_id: str | None = None) -> tuple[AppUser, str]:
    """Replace a user's key (the old one stops working at commit)."""
    user = session.get(AppUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found", code="USER_NOT_FOUND")
    key, user.key_id, user.key_salt, user.key_hash = new_key()
    audit.record(session, actor, actor_role, "user.rotate_key", "app_user", user.id,
                 request_id=request_id)
    return user, key


def set_active(session: Session, user_id: int, active: bool, *, actor: str, actor_role: str,
               request_id: str | None = None) -> AppUser:
    """Activate or deactivate a user (users are never deleted: the audit log names them)."""
    user = session.get(AppUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found", code="USER_NOT_FOUND")
    if user.name == actor and not active:
        raise Conflict("you cannot deactivate yourself", code="USER_SELF_DEACTIVATE")
    before = user_public(user)
    user.active = active
    audit.record(session, actor, actor_role, "user.activate" if active else "user.deactivate",
                 "app_user", user.id, before, user_public(user), request_id=request_id)
    return user


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer crk_...`` header, or ``AUTH_REQUIRED``."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX):
        raise Unauthorized("send Authorization: Bearer <API key>")
    key_id, _, secret = token[len(KEY_PREFIX):].partition("_")
    if len(key_id) != 16 or not all(c in "0123456789abcdef" for c in key_id):
        raise Unauthorized("invalid or inactive API key")
    user = session.execute(select(AppUser).where(col(AppUser.key_id) == key_id)).scalar_one_or_none()
    # compare_digest even for unknown ids keeps the timing the same either way
    expected = user.key_hash if user else "0" * 64
    ok = hmac.compare_digest(expected, _hash(user.key_salt if user else "", secret))
    if user is None or not ok or not user.active:
        raise Unauthorized("invalid or inactive API key")
    assert user.id is not None
    return Principal(id=user.id, name=user.name, role=Role(user.role),
                     writeoff_limit=user.writeoff_limit)


def require(permission: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller, if their role holds ``permission`` (else 401/403)."""
    allowed = PERMISSIONS[permission]

    def dependency(request: Request) -> Principal:
        with Session(request.app.state.engine) as session:
            principal = authenticate(session, request.headers.get("authorization"))
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role} may not {permission}", permission=permission)
        request.state.principal = principal
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency
