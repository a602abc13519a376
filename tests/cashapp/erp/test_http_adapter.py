"""The HTTP adapter against the local fake ERP: signing, retries, de-duplication, refusals."""

from __future__ import annotations

import pytest

from shared.erp.base import PermanentError, Posting, TransientError
from shared.erp.http import HttpAdapter, sign, verify
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp

POSTING = Posting("alloc-1", "application", {"amount": "150.00", "currency": "EUR"})


def adapter(erp: FakeErp, secret: str = SECRET, attempts: int = 4) -> HttpAdapter:
    return HttpAdapter(erp.url, secret, attempts=attempts, backoff=0.0, sleep=lambda _s: None)


def test_signature_covers_timestamp_and_body() -> None:
    body = POSTING.body()
    header = sign(SECRET, "1700000000", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(SECRET, "1700000000", body, header)
    assert not verify(SECRET, "1700000001", body, header)
    assert not verify(SECRET, "1700000000", body.replace(b"150.00", b"151.00"), header)
    assert not verify("another-secret-0123456789", "1700000000", body, header)


def test_body_is_canonical_json_with_decimal_strings() -> None:
    assert POSTING.body() == (b'{"kind":"application","payload":{"amount":"150.00","currency":"EUR"},'
                              b'"posting_key":"alloc-1"}')


def test_first_send_stores_and_a_resend_is_a_duplicate(erp: FakeErp) -> None:
    a = adapter(erp)
    first = a.send(POSTING)
    again = a.send(POSTING)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.reference == again.reference == "ERP-1"
    assert erp.documents_per_key() == {"alloc-1": 1}
    assert erp.documents[0]["payload"]["amount"] == "150.00"


def test_409_already_have_it_is_success(erp: FakeErp) -> None:
    erp.mode = "conflict"
    a = adapter(erp)
    a.send(POSTING)
    ack = a.send(POSTING)
    assert ack.duplicate and erp.documents_per_key() == {"alloc-1": 1}


def test_503_is_retried_with_backoff_until_it_succeeds(erp: FakeErp) -> None:
    erp.fail_next = 2
    pauses: list[float] = []
    a = HttpAdapter(erp.url, SECRET, attempts=4, backoff=0.5, sleep=pauses.append)
    ack = a.send(POSTING)
    assert not ack.duplicate and erp.posts["alloc-1"] == 3
    assert pauses == [0.5, 1.0]  # exponential (the server's Retry-After: 0 asks for no more)


def test_429_is_retried_too(erp: FakeErp) -> None:
    erp.fail_next, erp.fail_status = 1, 429
    assert adapter(erp).send(POSTING).reference == "ERP-1"


def test_persistent_503_becomes_transient_error(erp: FakeErp) -> None:
    erp.fail_next = 10
    with pytest.raises(TransientError) as info:
        adapter(erp, attempts=3).send(POSTING)
    assert "HTTP 503" in info.value.message and erp.posts["alloc-1"] == 3
    assert erp.documents == []


def test_connection_dropped_after_store_is_retried_and_deduplicated(erp: FakeErp) -> None:
    erp.drop_after_store = 1  # the ERP stored it; our side saw the connection die
    ack = adapter(erp).send(POSTING)
    assert ack.duplicate and erp.posts["alloc-1"] == 2
    assert erp.documents_per_key() == {"alloc-1": 1}


def test_unreachable_erp_is_transient() -> None:
    with pytest.raises(TransientError):
        HttpAdapter("http://127.0.0.1:9/postings", SECRET, attempts=2, backoff=0.0,
                    sleep=lambda _s: None).send(POSTING)


def test_wrong_secret_is_refused_for_good(erp: FakeErp) -> None:
    with pytest.raises(PermanentError) as info:
        adapter(erp, secret="not-the-shared-secret-123").send(POSTING)
    assert info.value.details["http_status"] == 401
    assert erp.bad_signatures == 1 and erp.documents == []


def test_validation_refusal_is_permanent_and_not_retried(erp: FakeErp) -> None:
    erp.reject.add("alloc-1")
    with pytest.raises(PermanentError):
        adapter(erp).send(POSTING)
    assert erp.posts["alloc-1"] == 1
