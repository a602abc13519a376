"""Exactly-once ERP posting, second half: the relay that sends outbox rows to the ERP.

``relay_once`` claims due rows with a lease (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``;
SQLite: inside ``BEGIN IMMEDIATE``), sends each through the ERP adapter and marks it posted. A
relay can die anywhere; whatever it leaves ``sending`` is reclaimed when the lease runs out and
sent again, and the ERP's de-duplication by posting key turns that second send into "already have
it". So: at least once from us, exactly once in the ERP. Rows are written by
:mod:`services.cashapp.usecases.post`.

Fault injection (for the crash tests only): ``CASHRECON_FAULT=<point>[@<n>]`` with point one of
``before_send``, ``after_send`` (the ERP accepted, nothing marked yet), ``after_mark`` makes the
process kill itself with SIGKILL the n-th time (default: first) it reaches that point. Unset, the
hook does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlmodel import Session

from services.cashapp.models import utcnow
from services.cashapp.models_outbox import OutboxStatus, PostingFailure
from services.cashapp.usecases.post import _A, _O, ALLOCATION_KEY_PREFIX
from services.recon import cheques
from shared.db import unit_of_work
from shared.erp.base import Ack, ErpAdapter, PermanentError, Posting, TransientError

log = logging.getLogger(__name__)

FAULT_ENV = "CASHRECON_FAULT"
FAULT_POINTS = ("before_send", "after_send", "after_mark")
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600
MAX_ATTEMPTS = 12  # about a day of backoff, then a person looks
_fault_hits: Counter[str] = Counter()


@dataclass(slots=True)
class RelayResult:
    """Counts of one relay run."""

    run_id: str
    claimed: int = 0
    posted: int = 0
    duplicates: int = 0  # posted, and the ERP said it already had it (an earlier send got through)
    retried: int = 0
    failed: int = 0
    lost: int = 0  # our lease ran out and another relay took the row over
    released: int = 0  # not tried: the ERP was unreachable, so the run stopped early


def fault_point(name: str) -> None:
    """The crash-test hook described in the module docstring; a no-op unless the env var is set."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point != name:
        return
    _fault_hits[name] += 1
    if _fault_hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------- relay

class _Lease:
    """Our claim on a batch; renewed halfway through so a slow batch is not taken over."""

    def __init__(self, engine: Engine, worker_id: str, ids: list[int], seconds: int,
                 clock: Callable[[], datetime]) -> None:
        self.engine, self.worker_id, self.seconds, self.now = engine, worker_id, seconds, clock
        self.held = set(ids)
        self._renew_at = clock() + timedelta(seconds=seconds / 2)

    def holds(self, outbox_id: int) -> bool:
        """Still ours? (renews the whole lease first when half of it has passed)."""
        if self.now() >= self._renew_at:
            self._renew()
        return outbox_id in self.held

    def release(self, outbox_id: int) -> None:
        self.held.discard(outbox_id)

    def _renew(self) -> None:
        now = self.now()
        with unit_of_work(self.engine) as s:
            rows = s.execute(update(_O).where(
                _O.c.id.in_(self.held), _O.c.status == OutboxStatus.SENDING,
                _O.c.lease_owner == self.worker_id).values(
                lease_until=now + timedelta(seconds=self.seconds)).returning(_O.c.id))
            self.held = set(rows.scalars())
        self._renew_at = now + timedelta(seconds=self.seconds / 2)


def relay_once(engine: Engine, adapter: ErpAdapter, worker_id: str, batch: int = 100,
               lease_seconds: int = 60, *, now: datetime | None = None,
               clock: Callable[[], datetime] | None = None,
               max_attempts: int = MAX_ATTEMPTS) -> RelayResult:
    """Claim up to ``batch`` due postings, send them, record the outcome of each.

    ``now`` and ``clock`` (aware UTC) exist for tests: a later ``now`` makes unexpired leases look
    expired; a ``clock`` replaces the wall clock for the whole run (lease renewal included).
    """
    if clock is None:
        skew = (now - utcnow()) if now else timedelta(0)
        clock = lambda: utcnow() + skew  # noqa: E731
    start = clock()
    result = RelayResult(run_id=f"{start:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")
    rows = _claim(engine, worker_id, batch, lease_seconds, start)
    result.claimed = len(rows)
    if not rows:
        return result
    lease = _Lease(engine, worker_id, [r.id for r in rows], lease_seconds, clock)
    claimed = [(r, Posting(r.posting_key, r.kind, json.loads(r.payload_json))) for r in rows]
    if hasattr(adapter, "send_batch"):
        _relay_batch(engine, adapter, claimed, lease, result, max_attempts)
    else:
        for i, (row, posting) in enumerate(claimed):
            if not _relay_one(engine, adapter, row, posting, lease, result, max_attempts):
                # The ERP is down: hammering it with the rest of the batch would only add load.
                _release(engine, lease, [r for r, _ in claimed[i + 1:]], result)
                break
    return result


def relay_until_idle(engine: Engine, adapter: ErpAdapter, worker_id: str, batch: int = 100,
                     lease_seconds: int = 60, max_runs: int = 1000) -> RelayResult:
    """Relay runs until nothing due is left (retries wait for their time); summed counts."""
    total = RelayResult(run_id=f"until-idle-{uuid.uuid4().hex[:8]}")
    for _ in range(max_runs):
        r = relay_once(engine, adapter, worker_id, batch, lease_seconds)
        for f in ("claimed", "posted", "duplicates", "retried", "failed", "lost", "released"):
            setattr(total, f, getattr(total, f) + getattr(r, f))
        if r.claimed < batch or r.retried or r.released:
            break
    return total


def _claim(engine: Engine, worker_id: str, batch: int, lease_seconds: int, now: datetime) -> list[Any]:
    due = or_(and_(_O.c.status == OutboxStatus.PENDING, _O.c.next_attempt_at <= now),
              and_(_O.c.status == OutboxStatus.SENDING, _O.c.lease_until < now))
    with unit_of_work(engine, immediate=True) as s:
        query = select(_O.c.id).where(due).order_by(_O.c.id).limit(batch)
        if s.get_bind().dialect.name == "postgresql":
            # Rows another relay is claiming right now are skipped, not waited for.
            query = query.with_for_update(skip_locked=True)
        ids = _hold_post_dated(s, list(s.execute(query.add_columns(_O.c.posting_key))), now)
        if not ids:
            return []
        s.execute(update(_O).where(_O.c.id.in_(ids)).values(
            status=OutboxStatus.SENDING, lease_owner=worker_id,
            lease_until=now + timedelta(seconds=lease_seconds), attempts=_O.c.attempts + 1))
        return list(s.execute(select(_O.c.id, _O.c.posting_key, _O.c.kind, _O.c.payload_json,
                                     _O.c.attempts).where(_O.c.id.in_(ids)).order_by(_O.c.id)))


def _hold_post_dated(s: Session, due: list[Any], now: datetime) -> list[int]:
    """Ids of ``due`` to send now. The postings of a post-dated cheque are put back, due on the
    cheque's date: the bank will not honour it earlier, so the ERP must not book it earlier."""
    alloc = {int(r.posting_key.removeprefix(ALLOCATION_KEY_PREFIX)): r.id for r in due
             if r.posting_key.startswith(ALLOCATION_KEY_PREFIX)
             and r.posting_key.removeprefix(ALLOCATION_KEY_PREFIX).isdigit()}
    held = cheques.hold_postings(s, list(alloc), now.date())
    for allocation_id, until in held.items():
        s.execute(update(_O).where(_O.c.id == alloc[allocation_id]).values(
            status=OutboxStatus.PENDING, next_attempt_at=datetime.combine(until, time(), UTC),
            lease_owner=None, lease_until=None))
    skip = {alloc[a] for a in held}
    return [r.id for r in due if r.id not in skip]


def _relay_one(engine: Engine, adapter: ErpAdapter, row: Any, posting: Posting, lease: _Lease,
               result: RelayResult, max_attempts: int) -> bool:
    """Send one row; False when the ERP looks unavailable (the caller stops the run)."""
    if not lease.holds(row.id):
        result.lost += 1
        return True
    fault_point("before_send")
    try:
        ack = adapter.send(posting)
    except PermanentError as exc:
        _record_failure(engine, lease, [row], exc.code, exc.message, result)
        return True
    except Exception as exc:  # TransientError, or an adapter bug: never lose the row over it
        _record_retry(engine, lease, [row], exc, result, max_attempts)
        return False
    fault_point("after_send")
    _mark_posted(engine, lease, [(row, ack)], result)
    fault_point("after_mark")
    return True


def _release(engine: Engine, lease: _Lease, rows: list[Any], result: RelayResult) -> None:
    """Hand untried rows back: due again at once, and this claim does not count as an attempt."""
    if not rows:
        return
    with unit_of_work(engine) as s:
        for row in rows:
            lease.release(row.id)
            res = s.connection().execute(update(_O).where(_mine(row.id, lease.worker_id)).values(
                status=OutboxStatus.PENDING, attempts=_O.c.attempts - 1, lease_owner=None,
                lease_until=None))
            result.released += res.rowcount


def _relay_batch(engine: Engine, adapter: Any, claimed: Sequence[tuple[Any, Posting]], lease: _Lease,
                 result: RelayResult, max_attempts: int) -> None:
    rows = [r for r, _ in claimed]
    fault_point("before_send")
    try:
        acks = adapter.send_batch([p for _, p in claimed], result.run_id)
    except PermanentError as exc:
        _record_failure(engine, lease, rows, exc.code, exc.message, result)
        return
    except Exception as exc:
        _record_retry(engine, lease, rows, exc, result, max_attempts)
        return
    fault_point("after_send")
    _mark_posted(engine, lease, list(zip(rows, acks, strict=True)), result)
    fault_point("after_mark")


def _mine(row_id: int, worker_id: str) -> Any:
    return and_(_O.c.id == row_id, _O.c.status == OutboxStatus.SENDING, _O.c.lease_owner == worker_id)


def _mark_posted(engine: Engine, lease: _Lease, done: list[tuple[Any, Ack]], result: RelayResult) -> None:
    at = lease.now()
    with unit_of_work(engine) as s:
        conn = s.connection()
        for row, ack in done:
            lease.release(row.id)
            res = conn.execute(update(_O).where(_mine(row.id, lease.worker_id)).values(
                status=OutboxStatus.POSTED, posted_at=at, erp_reference=ack.reference,
                lease_owner=None, lease_until=None, last_error=None))
            if res.rowcount != 1:  # another relay took over after our lease ran out; the ERP de-dups
                result.lost += 1
                continue
            result.posted += 1
            result.duplicates += int(ack.duplicate)
            if row.posting_key.startswith(ALLOCATION_KEY_PREFIX):
                aid = int(row.posting_key.removeprefix(ALLOCATION_KEY_PREFIX))
                conn.execute(update(_A).where(_A.c.id == aid, _A.c.posted_at.is_(None))
                             .values(posted_at=at))


def _record_retry(engine: Engine, lease: _Lease, rows: list[Any], exc: Exception, result: RelayResult,
                  max_attempts: int) -> None:
    if not isinstance(exc, TransientError):
        log.exception("ERP adapter failed unexpectedly; the posting will be retried", exc_info=exc)
    exhausted = [r for r in rows if r.attempts >= max_attempts]
    if exhausted:
        _record_failure(engine, lease, exhausted, "ERP_RETRIES_EXHAUSTED",
                        f"gave up after {max_attempts} attempts: {exc}", result)
    at = lease.now()
    with unit_of_work(engine) as s:
        for row in rows:
            if row.attempts >= max_attempts:
                continue
            lease.release(row.id)
            delay = min(RETRY_BASE_SECONDS * 2 ** (row.attempts - 1), RETRY_CAP_SECONDS)
            res = s.connection().execute(update(_O).where(_mine(row.id, lease.worker_id)).values(
                status=OutboxStatus.PENDING, next_attempt_at=at + timedelta(seconds=delay),
                last_error=str(exc)[:2000], lease_owner=None, lease_until=None))
            result.retried += res.rowcount


def _record_failure(engine: Engine, lease: _Lease, rows: list[Any], code: str, message: str,
                    result: RelayResult) -> None:
    """Refused for good: the row stops, and a person gets a ``posting_failure`` to look at."""
    at = lease.now()
    with unit_of_work(engine) as s:
        for row in rows:
            lease.release(row.id)
            res = s.connection().execute(update(_O).where(_mine(row.id, lease.worker_id)).values(
                status=OutboxStatus.FAILED, last_error=f"{code}: {message}"[:2000],
                lease_owner=None, lease_until=None))
            if res.rowcount != 1:
                result.lost += 1
                continue
            result.failed += 1
            payload = json.loads(row.payload_json)
            receipt_id = payload.get("receipt_id")
            s.add(PostingFailure(outbox_id=row.id, posting_key=row.posting_key, kind=row.kind,
                                 receipt_id=receipt_id if isinstance(receipt_id, int) else None,
                                 code=code[:64], message=message, created_at=at))
