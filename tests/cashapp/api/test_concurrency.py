"""Several clerks resolving the same exceptions at once: exactly one wins per item.

Runs on SQLite (writers serialised by BEGIN IMMEDIATE) and PostgreSQL (row locks; the version
check in the UPDATE's WHERE clause is re-evaluated after the winner commits).
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import Session

from services.cashapp.models import Allocation
from services.cashapp.usecases.exceptions import Actor
from services.cashapp.usecases.resolve import LineIn, Resolution
from tests.cashapp.api.conftest import Api, seed
from tests.cashapp.api.test_resolve import check_invariant, open_amount

CLERKS = ("clerk", "clerk2", "supervisor", "supervisor2")


def test_http_clients_race_on_the_same_items(api: Api) -> None:
    ids = seed(api.engine, n_receipts=3)
    items = ids["items"][0::2]  # each receipt's C1 invoice (100.00)
    barrier = threading.Barrier(len(CLERKS) * 2)

    def attempt(who: str, n: int) -> tuple[int, int]:
        e = ids["exceptions"][n % 3]
        etag = api.get(who, f"/exceptions/{e}").headers["etag"]
        barrier.wait()
        body = {"kind": "apply", "lines": [{"open_item_id": items[n % 3], "amount": "100.00"}]}
        r = api.post(who, f"/exceptions/{e}/resolve", json=body, headers={"If-Match": etag})
        return e, r.status_code

    jobs = [(who, n) for n in range(2) for who in CLERKS]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda j: attempt(*j), jobs))
    assert all(code in (200, 409) for _, code in results), results
    wins = Counter(e for e, code in results if code == 200)
    touched = {e for e, _ in results}
    assert all(wins[e] == 1 for e in touched), results
    for n in range(len(touched)):
        assert open_amount(api, items[n]) == 0  # applied once, never twice
        check_invariant(api, ids["receipts"][n])
    with Session(api.engine) as s:
        assert s.execute(select(func.count()).select_from(Allocation)).scalar_one() == len(touched)


def test_use_case_race_many_threads_each_item_once(api: Api) -> None:
    from services.cashapp.usecases.approvals import Limits, resolve_item
    from shared.db import unit_of_work
    from shared.errors import DomainError

    ids = seed(api.engine, n_receipts=4)
    threads, rounds = 6, 4
    barrier = threading.Barrier(threads)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        actor = Actor(f"clerk{t}", "clerk")
        for k in range(rounds):
            e, item = ids["exceptions"][k], ids["items"][2 * k]
            res = Resolution(kind="apply", lines=[LineIn(item, Decimal("100"))])
            barrier.wait()
            try:
                with unit_of_work(api.engine, immediate=True) as s:
                    resolve_item(s, e, actor, res, None, Limits())
                code = "ok"
            except DomainError as exc:
                code = exc.code
            with lock:
                outcomes.append((e, code))

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert len(outcomes) == threads * rounds
    per_item = Counter(e for e, code in outcomes if code == "ok")
    assert all(per_item[e] == 1 for e in ids["exceptions"]), outcomes
    losers = {code for _, code in outcomes if code != "ok"}
    assert losers <= {"CASHAPP_STALE_VERSION", "CASHAPP_NOT_OPEN"}, losers
    for k in range(rounds):
        assert open_amount(api, ids["items"][2 * k]) == 0
        check_invariant(api, ids["receipts"][k])
