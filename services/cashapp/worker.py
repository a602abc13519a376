"""Background jobs on arq (Redis): ingest a file, match, post to the ERP, scan the watch folder.

Jobs are thin coroutines: the work runs in a thread (the use cases are synchronous database
code) with the engine, settings and ERP adapter taken from ``ctx``. arq may run any job more
than once, so every job is idempotent on its own: ingest by file hash, match only touches
unmatched receipts, posting rests on the outbox and the ERP's de-duplication by posting key.
Job ids are deterministic (``ingest:<sha256>``, ``match:<as_of>…``, ``relay:<minute>``) so the
same work is not queued twice while one copy waits.

Without ``CASHRECON_REDIS_URL`` ``enqueue_or_run`` runs the same functions inline, chained jobs
included: the embedded default for the CLI and the demo.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from arq import create_pool
from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import func

from services.cashapp.ruleset import balance_policy
from services.cashapp.usecases.sftp import sftp_poll_job
from shared.config import Settings
from shared.db import make_engine, unit_of_work
from shared.erp import make_adapter

log = logging.getLogger(__name__)

Job = Callable[..., Awaitable[dict[str, Any]]]


def worker_id() -> str:
    """Identifies this process as a lease owner (host, pid and a random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_ctx(cfg: Settings | None = None) -> dict[str, Any]:
    """The resources every job takes from ``ctx``; ``ctx["settings"]`` is the one ``Settings``."""
    cfg = cfg or Settings()
    return {"settings": cfg, "engine": make_engine(cfg.database_url),
            "adapter": make_adapter(cfg.erp), "worker_id": worker_id()}


def close_ctx(ctx: dict[str, Any]) -> None:
    """Release what ``build_ctx`` opened."""
    close = getattr(ctx.get("adapter"), "close", None)
    if close:
        close()
    if ctx.get("engine") is not None:
        ctx["engine"].dispose()


async def startup(ctx: dict[str, Any]) -> None:
    """arq ``on_startup``: resources for the whole life of the worker."""
    ctx.update(build_ctx())


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq ``on_shutdown``."""
    close_ctx(ctx)


def _today() -> date:
    return datetime.now(UTC).date()


def relay_job_id(now: datetime | None = None) -> str:
    """One queued relay per minute is enough: a relay takes everything that is due."""
    return f"relay:{(now or datetime.now(UTC)):%Y%m%d%H%M}"


def default_job_id(function: str, *args: Any) -> str:
    """The deterministic id of a job (the same work gets the same id)."""
    if function == "ingest_file_job":
        from services.cashapp.usecases.ingest import file_sha256

        return f"ingest:{file_sha256(Path(args[0]))}"
    if function == "match_job":
        return f"match:{args[0] if args and args[0] else _today().isoformat()}"
    if function == "sftp_poll_job":
        return f"sftp:{datetime.now(UTC):%Y%m%d%H%M%S}"
    if function == "scan_inbox":
        return f"scan:{datetime.now(UTC):%Y%m%d%H%M%S}"
    return relay_job_id()


async def _chain(ctx: dict[str, Any], function: str, *args: Any, job_id: str) -> None:
    """The next step: queued on Redis inside a worker, run right away inline."""
    redis = ctx.get("redis")
    if redis is not None:
        await redis.enqueue_job(function, *args, _job_id=job_id)
    else:
        await JOBS[function](ctx, *args)


async def ingest_file_job(ctx: dict[str, Any], path: str) -> dict[str, Any]:
    """Import one bank file; a new import queues matching."""
    from services.cashapp.usecases.ingest import ingest_path

    policy = balance_policy(ctx["settings"], ctx["engine"])
    result = await asyncio.to_thread(ingest_path, ctx["engine"], Path(path), policy)
    if result.status == "imported":
        await _chain(ctx, "match_job", _today().isoformat(), job_id=f"match:{result.sha256}")
    return result.to_json()


def _match_and_enqueue(ctx: dict[str, Any], as_of: date) -> dict[str, Any]:
    from services.cashapp.ruleset import active_rules
    from services.cashapp.usecases.match import run_match
    from services.cashapp.usecases.post import enqueue_missing_allocations

    summary = run_match(ctx["engine"], active_rules(ctx["settings"], ctx["engine"]), as_of)
    # run_match enqueues its postings in the same transaction as the allocations; this sweep only
    # catches allocations made by older code paths without an outbox row.
    with unit_of_work(ctx["engine"]) as session:
        enqueued = enqueue_missing_allocations(session)
    return {"run_id": summary.run_id, "receipts": summary.receipts, "auto": summary.auto,
            "exceptions": summary.exceptions, "ignored": summary.ignored, "enqueued": enqueued}


async def match_job(ctx: dict[str, Any], as_of: str | None = None) -> dict[str, Any]:
    """Match every unmatched receipt as of ``as_of`` (ISO date; today when empty), then post."""
    day = date.fromisoformat(as_of) if as_of else _today()
    out = await asyncio.to_thread(_match_and_enqueue, ctx, day)
    if out["enqueued"] or out["auto"]:
        await _chain(ctx, "post_job", job_id=relay_job_id())
    return out


async def post_job(ctx: dict[str, Any]) -> dict[str, Any]:
    """Relay due outbox rows to the ERP until none is left (retries wait for their time)."""
    from services.cashapp.usecases.relay import relay_until_idle

    cfg: Settings = ctx["settings"]
    r = await asyncio.to_thread(relay_until_idle, ctx["engine"], ctx["adapter"], ctx["worker_id"],
                                cfg.relay_batch, cfg.relay_lease_seconds)
    return {"claimed": r.claimed, "posted": r.posted, "duplicates": r.duplicates,
            "retried": r.retried, "failed": r.failed, "lost": r.lost, "released": r.released}


async def scan_inbox(ctx: dict[str, Any]) -> dict[str, Any]:
    """Import every complete file in the watch folder; new imports queue matching."""
    from services.cashapp.usecases.inbox import scan_once

    cfg: Settings = ctx["settings"]
    results = await asyncio.to_thread(scan_once, ctx["engine"], cfg.watch_dir, balance_policy(cfg, ctx["engine"]),
                                      cfg.stable_seconds)
    imported = sorted(r.sha256 for r in results if r.status == "imported" and r.sha256)
    if imported:
        tag = hashlib.sha256(",".join(imported).encode()).hexdigest()[:16]
        await _chain(ctx, "match_job", _today().isoformat(), job_id=f"match:{tag}")
    return {"files": len(results), "imported": len(imported)}


JOBS: dict[str, Job] = {"ingest_file_job": ingest_file_job, "match_job": match_job,
                        "post_job": post_job, "scan_inbox": scan_inbox, "sftp_poll_job": sftp_poll_job}


async def enqueue_or_run(function: str, *args: Any, job_id: str | None = None,
                         cfg: Settings | None = None, ctx: dict[str, Any] | None = None) -> Any:
    """Queue ``function`` on Redis when configured (returns the arq Job, or None when a job with
    that id is queued already); otherwise run it inline now (returns its result)."""
    cfg = cfg or Settings()
    if function not in JOBS:
        raise KeyError(f"unknown job {function!r}")
    if cfg.redis_url:
        pool = await create_pool(RedisSettings.from_dsn(cfg.redis_url),
                                 default_queue_name=cfg.queue_name)
        try:
            return await pool.enqueue_job(function, *args, _job_id=job_id or default_job_id(function, *args))
        finally:
            await pool.aclose()
    own = ctx is None
    run_ctx = ctx if ctx is not None else build_ctx(cfg)
    try:
        return await JOBS[function](run_ctx, *args)
    finally:
        if own:
            close_ctx(run_ctx)


def enqueue_or_run_sync(function: str, *args: Any, **kwargs: Any) -> Any:
    """``enqueue_or_run`` for synchronous callers (the CLI)."""
    return asyncio.run(enqueue_or_run(function, *args, **kwargs))


_IMPORT_SETTINGS = Settings()  # arq reads WorkerSettings' attributes: the settings when it was imported


class WorkerSettings:
    """``arq services.cashapp.worker.WorkerSettings`` or ``cashrecon worker``."""

    functions: ClassVar[list[Any]] = [func(ingest_file_job, max_tries=5), func(match_job, max_tries=5),
                 func(post_job, max_tries=5, keep_result=0), func(scan_inbox, max_tries=3, keep_result=0),
                 func(sftp_poll_job, max_tries=1, keep_result=0)]
    cron_jobs: ClassVar[list[Any]] = [
        cron(scan_inbox, name="scan_inbox_cron", second={0, 15, 30, 45}, run_at_startup=True),
        cron(post_job, name="relay_cron", second=5),  # retries become due on their own schedule
        cron(sftp_poll_job, name="sftp_poll_cron", second=20, run_at_startup=True),  # no-op without a host
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(_IMPORT_SETTINGS.redis_url or "redis://127.0.0.1:6379/0")
    queue_name = _IMPORT_SETTINGS.queue_name
    health_check_interval = 30  # `arq --check` notices a dead worker within a minute
    job_timeout = _IMPORT_SETTINGS.job_timeout_seconds
    max_tries = 5
