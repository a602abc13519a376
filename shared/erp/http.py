"""HTTP webhook adapter: signed JSON POSTs with the posting key as ``Idempotency-Key``.

Signature: ``X-Cashrecon-Signature: sha256=<hex>`` where hex is HMAC-SHA256 with the shared secret
over ``"<timestamp>." + body`` and ``X-Cashrecon-Timestamp`` carries the Unix timestamp; putting
the timestamp under the signature lets the receiver refuse replays of old requests.

Retrying a POST is safe only because the receiver de-duplicates by ``Idempotency-Key``: a request
the ERP stored but whose answer we never read (dropped connection) is sent again and answered
"already have it" (any 2xx, or 409).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.erp.base import Ack, PermanentError, Posting, TransientError

SIGNATURE_HEADER = "X-Cashrecon-Signature"
TIMESTAMP_HEADER = "X-Cashrecon-Timestamp"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 30.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Constant-time check of a signature header (for receivers and tests)."""
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class HttpAdapter:
    """POST each posting to ``url``; retries within one call on connection errors, 5xx and 429."""

    name = "http"

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0, attempts: int = 4,
                 backoff: float = 0.5, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self._secret = secret
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def send(self, posting: Posting) -> Ack:
        """Deliver ``posting``; 2xx and 409 are success, other 4xx permanent, the rest transient."""
        body = posting.body()
        last, hint = "no attempt made", None
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self._delay(attempt, hint))
            try:
                response = self._client.post(self.url, content=body, headers=self._headers(posting, body))
            except httpx.TransportError as exc:  # refused, reset, timeout, dropped mid-answer
                last, hint = f"{type(exc).__name__}: {exc}", None
                continue
            ack = self._interpret(posting, response)
            if ack is not None:
                return ack
            last, hint = f"HTTP {response.status_code}", _retry_after(response)
        raise TransientError(f"ERP unavailable after {self.attempts} attempts: {last}",
                             posting_key=posting.posting_key)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff * (2 ** (attempt - 1))
        if retry_after is not None:  # the ERP asked for a pause (429 / 503): honour it, capped
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return delay

    def _headers(self, posting: Posting, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))  # a fresh timestamp per attempt: the receiver checks its age
        return {
            "Content-Type": "application/json",
            "Idempotency-Key": posting.posting_key,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(self._secret, ts, body),
        }

    @staticmethod
    def _interpret(posting: Posting, response: httpx.Response) -> Ack | None:
        """An Ack, ``None`` to retry, or raise ``PermanentError``."""
        status = response.status_code
        if 200 <= status < 300:
            replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
            return Ack(posting.posting_key, _reference(response), duplicate=replayed)
        if status == 409:  # the ERP already has a document under this key
            return Ack(posting.posting_key, _reference(response), duplicate=True)
        if status in RETRY_STATUSES:
            return None
        raise PermanentError(f"ERP refused the posting: HTTP {status}: {response.text[:500]}",
                             posting_key=posting.posting_key, http_status=status)


def _reference(response: httpx.Response) -> str | None:
    try:
        data: Any = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("id", "reference", "document_id"):
            if data.get(key) is not None:
                return str(data[key])[:200]
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:  # an HTTP date: not worth parsing, the exponential backoff applies
        return None
