"""A real local HTTP server standing in for the ERP: verifies signatures, stores, de-duplicates.

It keeps every accepted document in arrival order (``documents``), answers a repeated
``Idempotency-Key`` with its first answer (200 + ``Idempotent-Replayed: true``, or 409 in
``mode="conflict"``), counts every signed POST per key (``posts``) and the most requests for one key
it ever had in flight at once (``max_in_flight``). It can be told to fail the next N requests
(``fail_next``), to store and then drop the connection without answering (``drop_after_store``),
to refuse keys for good (``reject``), and to answer slowly (``delay``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.erp.http import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

MAX_CLOCK_SKEW_SECONDS = 300


class FakeErp:
    def __init__(self, secret: str, mode: str = "replay") -> None:
        self.secret = secret
        self.mode = mode
        self.lock = threading.Lock()
        self.documents: list[dict[str, Any]] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.posts: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.bad_signatures = 0
        self.fail_next = 0
        self.fail_status = 503
        self.drop_after_store = 0
        self.reject: set[str] = set()
        self.delay = 0.0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/postings"

    def start(self) -> FakeErp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def documents_per_key(self) -> Counter[str]:
        return Counter(d["posting_key"] for d in self.documents)

    def handle(self, key: str, body: bytes, ts: str, sig: str) -> tuple[int, dict[str, Any], bool]:
        """(status, answer, drop): the ERP's side of one request."""
        if not (ts and sig and verify(self.secret, ts, body, sig)) or \
                abs(time.time() - int(ts)) > MAX_CLOCK_SKEW_SECONDS:
            with self.lock:
                self.bad_signatures += 1
            return 401, {"error": "bad signature"}, False
        doc = json.loads(body)
        if doc.get("posting_key") != key:
            return 400, {"error": "Idempotency-Key differs from posting_key"}, False
        with self.lock:
            self.posts[key] += 1
            self.in_flight[key] += 1
            self.max_in_flight[key] = max(self.max_in_flight[key], self.in_flight[key])
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._decide(key, doc)
        finally:
            with self.lock:
                self.in_flight[key] -= 1

    def _decide(self, key: str, doc: dict[str, Any]) -> tuple[int, dict[str, Any], bool]:
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status, {"error": "try later"}, False
            if key in self.reject:
                return 422, {"error": "unknown customer"}, False
            if key in self.answers:
                return (409 if self.mode == "conflict" else 200), self.answers[key], False
            self.documents.append(doc)
            answer = {"id": f"ERP-{len(self.documents)}", "posting_key": key}
            self.answers[key] = answer
            drop = self.drop_after_store > 0
            self.drop_after_store -= int(drop)
            return 201, answer, drop


def _handler(erp: FakeErp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, answer, drop = erp.handle(self.headers.get("Idempotency-Key", ""), body,
                                              self.headers.get(TIMESTAMP_HEADER, ""),
                                              self.headers.get(SIGNATURE_HEADER, ""))
            if drop:  # stored, but the caller never hears about it
                self.close_connection = True
                return
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 200:
                self.send_header("Idempotent-Replayed", "true")
            if status in (429, 503):
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler
