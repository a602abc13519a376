"""Leases: a slow batch renews its lease so nobody takes it over; a lost lease is never marked.

The relay runs on a test clock that jumps 40 s per send (lease: 60 s), so renewal and expiry are
exercised without waiting and without wall-clock asserts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from services.cashapp.models import utcnow
from services.cashapp.models_outbox import Outbox
from services.cashapp.usecases.relay import relay_once
from shared.db import unit_of_work
from shared.erp.base import Ack, Posting
from shared.erp.http import HttpAdapter
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.erp.factories import seed_allocations

STEP = timedelta(seconds=40)


class SlowSend:
    """The real HTTP adapter, with the test clock moving on by ``STEP`` at each send."""

    name = "http"

    def __init__(self, erp: FakeErp, clock: list[datetime], during: Callable[[int], None]) -> None:
        self.http = HttpAdapter(erp.url, SECRET, attempts=1)
        self.clock, self.during, self.sends = clock, during, 0

    def send(self, posting: Posting) -> Ack:
        self.sends += 1
        ack = self.http.send(posting)
        self.clock[0] += STEP
        self.during(self.sends)
        return ack


def statuses(db: Engine) -> list[str]:
    with Session(db) as s:
        return list(s.execute(select(Outbox.status).order_by(Outbox.id)).scalars())  # type: ignore[call-overload]


def test_a_slow_batch_renews_its_lease_and_is_not_taken_over(outbox_db: Engine, erp: FakeErp) -> None:
    keys = seed_allocations(outbox_db, 4)
    clock = [utcnow()]
    thief_claims: list[int] = []

    def thief(sends: int) -> None:  # another relay polling meanwhile, on the same clock
        res = relay_once(outbox_db, HttpAdapter(erp.url, SECRET, attempts=1), "thief", now=clock[0])
        thief_claims.append(res.claimed)

    res = relay_once(outbox_db, SlowSend(erp, clock, thief), "slow", lease_seconds=60,
                     clock=lambda: clock[0])
    # 160 s of sending under a 60 s lease: without renewal the thief would claim at +80 s.
    assert thief_claims == [0, 0, 0, 0]
    assert (res.posted, res.lost) == (4, 0)
    assert erp.documents_per_key() == dict.fromkeys(keys, 1) and set(erp.posts.values()) == {1}


def test_a_lost_lease_is_not_marked_and_the_rest_is_not_sent(outbox_db: Engine, erp: FakeErp) -> None:
    seed_allocations(outbox_db, 3)
    clock = [utcnow()]

    def taken_over(sends: int) -> None:
        if sends == 1:  # our lease ran out and another relay claimed every row
            with unit_of_work(outbox_db) as s:
                s.execute(update(Outbox).values(lease_owner="other"))  # type: ignore[arg-type]

    res = relay_once(outbox_db, SlowSend(erp, clock, taken_over), "slow", clock=lambda: clock[0])
    assert (res.posted, res.lost) == (0, 3)
    assert sum(erp.posts.values()) == 1  # the renewal check stopped rows 2 and 3 before sending
    assert statuses(outbox_db) == ["sending"] * 3  # left to their new owner


def test_expired_lease_rows_go_to_the_next_relay(outbox_db: Engine, erp: FakeErp) -> None:
    keys = seed_allocations(outbox_db, 2)
    start = utcnow()
    with unit_of_work(outbox_db) as s:
        s.execute(update(Outbox).values(status="sending", lease_owner="gone",  # type: ignore[arg-type]
                                        lease_until=start + timedelta(seconds=60)))
    assert relay_once(outbox_db, HttpAdapter(erp.url, SECRET), "next", now=start + timedelta(seconds=59)
                      ).claimed == 0
    res = relay_once(outbox_db, HttpAdapter(erp.url, SECRET), "next", now=start + timedelta(seconds=61))
    assert res.posted == 2 and erp.documents_per_key() == dict.fromkeys(keys, 1)
