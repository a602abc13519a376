"""Several relays at once never send the same row at the same time, nor twice.

PostgreSQL: ``FOR UPDATE SKIP LOCKED`` plus the lease; SQLite: the claim runs inside
``BEGIN IMMEDIATE``. The fake ERP answers slowly so that the relays really overlap; it counts the
POSTs per key (each must be exactly 1) and the most requests for one key in flight at once.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models_outbox import Outbox
from services.cashapp.usecases.post import enqueue_posting
from services.cashapp.usecases.relay import relay_once
from shared.db import make_engine, unit_of_work
from shared.erp.http import HttpAdapter
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp

ROWS = 150
RELAYS = 3


def test_concurrent_relays_send_every_row_exactly_once(outbox_db: Engine, erp: FakeErp) -> None:
    with unit_of_work(outbox_db) as s:
        for i in range(ROWS):
            enqueue_posting(s, "non_ar", f"gl-{i:04d}", {"gl_code": "8000", "amount": f"{i}.00",
                                                         "currency": "EUR"})
    erp.delay = 0.002
    url = outbox_db.url.render_as_string(hide_password=False)
    claimed = [0] * RELAYS
    errors: list[BaseException] = []
    start = threading.Barrier(RELAYS)

    def relay(n: int) -> None:
        engine = make_engine(url)  # a relay per process in real life: its own connections
        adapter = HttpAdapter(erp.url, SECRET, attempts=1)
        try:
            start.wait()
            while (got := relay_once(engine, adapter, f"relay-{n}", batch=7).claimed):
                claimed[n] += got
        except BaseException as exc:  # surfaced below: a thread's exception would vanish
            errors.append(exc)
        finally:
            adapter.close()
            engine.dispose()

    threads = [threading.Thread(target=relay, args=(n,)) for n in range(RELAYS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sum(claimed) == ROWS
    assert all(c > 0 for c in claimed), claimed  # they really ran side by side
    assert len(erp.posts) == ROWS and set(erp.posts.values()) == {1}
    assert set(erp.max_in_flight.values()) == {1}
    assert len(erp.documents) == ROWS
    with Session(outbox_db) as s:
        assert set(s.execute(select(Outbox.status)).scalars()) == {"posted"}  # type: ignore[call-overload]
