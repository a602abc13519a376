"""The ERP adapter contract: send one posting, get an acknowledgement or a typed failure.

Adapters never decide retries across relay runs; they raise ``TransientError`` (try again later)
or ``PermanentError`` (a person must look) and the relay records it on the outbox row. An adapter
must be safe to call twice with the same posting: the posting key is the ERP's de-duplication key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from shared.errors import DomainError


@dataclass(frozen=True, slots=True)
class Posting:
    """One document for the ERP. ``payload`` holds money as decimal strings, never floats."""

    posting_key: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        """The canonical JSON body (sorted keys, no spaces): the bytes that get signed."""
        doc = {"posting_key": self.posting_key, "kind": self.kind, "payload": self.payload}
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Ack:
    """The ERP has the posting. ``duplicate``: it already had it from an earlier attempt."""

    posting_key: str
    reference: str | None = None
    duplicate: bool = False


class ErpError(DomainError):
    code = "ERP_ERROR"
    status = 502


class TransientError(ErpError):
    """Worth retrying later: connection trouble, timeouts, 5xx, 429."""

    code = "ERP_UNAVAILABLE"


class PermanentError(ErpError):
    """The ERP refused the posting (validation, auth, unknown document): retrying will not help."""

    code = "ERP_REJECTED"
    status = 422


@runtime_checkable
class ErpAdapter(Protocol):
    """Sends postings one at a time."""

    name: str

    def send(self, posting: Posting) -> Ack:
        """Deliver ``posting``; raise ``TransientError`` or ``PermanentError`` on failure."""
        ...


@runtime_checkable
class BatchErpAdapter(Protocol):
    """Sends a relay run's postings together (one file per run): all delivered, or an error."""

    name: str

    def send(self, posting: Posting) -> Ack: ...

    def send_batch(self, postings: Sequence[Posting], run_id: str) -> list[Ack]:
        """Deliver every posting of one relay run at once, in order."""
        ...
