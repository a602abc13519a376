"""Domain errors with stable codes.

Every error a user can see carries a code that scripts may rely on (``INGEST_BALANCE_MISMATCH``,
``CASHAPP_STALE_VERSION`` ...). The REST layer renders them as RFC 9457 problem documents; the CLI
prints ``code: message``.
"""

from __future__ import annotations

import pickle
from typing import Any


class DomainError(Exception):
    """Base class: a stable ``code``, a human ``message``, an HTTP ``status`` and details."""

    code = "DOMAIN_ERROR"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        if code:
            self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class ParseError(DomainError):
    """A bank file could not be read faithfully (``INGEST_PARSE_ERROR`` or a more specific code)."""

    code = "INGEST_PARSE_ERROR"
    status = 422


class HostileInputError(ParseError):
    """The file tries something dangerous (entity expansion, external entities, DTDs)."""

    code = "INGEST_HOSTILE_XML"


class FormatError(DomainError):
    """No parser, or more than one, claims a file."""

    code = "INGEST_UNKNOWN_FORMAT"
    status = 415


class ImportRefused(DomainError):
    """The file parsed but may not be imported (conflict, integrity policy ...)."""

    code = "INGEST_REFUSED"
    status = 409


class ValidationError(DomainError):
    """Bad master data or configuration input."""

    code = "VALIDATION_ERROR"
    status = 422


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409


def portable(exc: BaseException, fallback: type[Exception]) -> BaseException:
    """``exc`` if it survives pickling (to cross to another process), else a ``fallback`` naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return fallback(f"{type(exc).__name__}: {exc}")
    return exc
