"""The jobs: a real arq worker on the local Redis end to end, and the same functions inline.

A bank file is queued for ingestion; the worker imports it, matches it against an open invoice,
enqueues the allocation's posting and relays it to the local fake ERP, each step as its own job.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.models import Allocation
from services.cashapp.models_outbox import Outbox
from services.cashapp.usecases.masterdata import load_customers, load_open_items
from services.cashapp.worker import (
    WorkerSettings,
    default_job_id,
    enqueue_or_run,
    relay_job_id,
)
from shared.config import Settings
from shared.db import unit_of_work
from tests.cashapp.erp.conftest import SECRET
from tests.cashapp.erp.erp_server import FakeErp
from tests.cashapp.usecases.mt940_samples import mt940
from tests.conftest import IN_CI, REDIS_URL

CUSTOMERS = b"customer_id,customer_name,iban\nC1,Acme BV,NL91ABNA0417164300\n"
OPEN_ITEMS = (b"customer_id,customer_name,document_number,document_type,document_date,due_date,"
              b"currency,amount,open_amount\n"
              b"C1,Acme BV,INV-2026-004512,invoice,2026-10-01,2026-10-31,EUR,150.00,150.00\n")


def redis_url() -> str:
    if not REDIS_URL:
        if IN_CI:
            pytest.fail("CASHRECON_TEST_REDIS_URL is not set (required in CI)")
        pytest.skip("Redis not configured (set CASHRECON_TEST_REDIS_URL)")
    return REDIS_URL


def setup_ledger(db: Engine, tmp_path: Path) -> Path:
    with unit_of_work(db) as s:
        load_customers(s, CUSTOMERS, "customers.csv")
        load_open_items(s, OPEN_ITEMS, "open_items.csv")
    f = tmp_path / "statement.sta"
    # A unique statement reference: a unique file hash, hence unique job ids on a shared Redis.
    f.write_text(mt940(ref=f"S{uuid.uuid4().hex[:12]}",
                       lines=(("2611021102C150,00NTRFINV1//BR001", "Acme BV", "INV-2026-004512"),)))
    return f


def configure(monkeypatch: pytest.MonkeyPatch, db: Engine, erp: FakeErp, tmp_path: Path,
              redis: str | None) -> None:
    monkeypatch.setenv("CASHRECON_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CASHRECON_ERP_URL", erp.url)
    monkeypatch.setenv("CASHRECON_ERP_SECRET", SECRET)
    monkeypatch.setenv("CASHRECON_WATCH_DIR", str(tmp_path / "inbox"))
    monkeypatch.setenv("CASHRECON_QUEUE_NAME", f"cashrecon-test-{uuid.uuid4().hex[:8]}")
    if redis:
        monkeypatch.setenv("CASHRECON_REDIS_URL", redis)
    else:
        monkeypatch.delenv("CASHRECON_REDIS_URL", raising=False)


def assert_posted_once(db: Engine, erp: FakeErp) -> None:
    with Session(db) as s:
        [alloc] = s.exec(select(Allocation)).scalars()  # type: ignore[call-overload]
        statuses = set(s.execute(select(Outbox.status)).scalars())  # type: ignore[call-overload]
    assert alloc.document_number == "INV-2026-004512" and alloc.posted_at is not None
    assert statuses == {"posted"}
    assert erp.documents_per_key() == {f"alloc-{alloc.id}": 1}
    doc = erp.documents[0]
    assert (doc["kind"], doc["payload"]["amount"], doc["payload"]["document_number"]) == (
        "application", "150.00", "INV-2026-004512")


async def _run_worker_burst(redis: str, statement: Path) -> tuple[int, int, object, object]:
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.worker import create_worker

    queue = Settings().queue_name
    settings = RedisSettings.from_dsn(redis)
    first = await enqueue_or_run("ingest_file_job", str(statement))
    again = await enqueue_or_run("ingest_file_job", str(statement))  # same file hash, same job id
    worker = create_worker(WorkerSettings, redis_settings=settings, queue_name=queue,  # type: ignore[arg-type]
                           burst=True, cron_jobs=[], handle_signals=False, poll_delay=0.05)
    try:
        await worker.main()
    finally:
        await worker.close()
    pool = await create_pool(settings)
    try:
        sha = default_job_id("ingest_file_job", str(statement)).removeprefix("ingest:")
        keys = [k async for k in pool.scan_iter(match=f"arq:*{sha}*")]
        keys += [queue, f"{queue}:health-check"]
        await pool.delete(*keys)
    finally:
        await pool.aclose()
    return worker.jobs_complete, worker.jobs_failed, first, again


def test_real_arq_worker_ingests_matches_and_posts(outbox_db: Engine, erp: FakeErp, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    redis = redis_url()
    statement = setup_ledger(outbox_db, tmp_path)
    configure(monkeypatch, outbox_db, erp, tmp_path, redis)
    complete, failed, first, again = asyncio.run(_run_worker_burst(redis, statement))
    assert first is not None and again is None
    assert (complete, failed) == (3, 0)  # ingest -> match -> post, each a job
    assert_posted_once(outbox_db, erp)


def test_without_redis_the_same_chain_runs_inline(outbox_db: Engine, erp: FakeErp, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    statement = setup_ledger(outbox_db, tmp_path)
    configure(monkeypatch, outbox_db, erp, tmp_path, None)
    result = asyncio.run(enqueue_or_run("ingest_file_job", str(statement)))
    assert result["status"] == "imported"
    assert_posted_once(outbox_db, erp)
    # Every job is safe to run twice: nothing new is imported, matched or sent.
    assert asyncio.run(enqueue_or_run("ingest_file_job", str(statement)))["status"] == "duplicate"
    assert asyncio.run(enqueue_or_run("match_job", "2026-11-30"))["enqueued"] == 0
    assert asyncio.run(enqueue_or_run("post_job"))["claimed"] == 0
    assert sum(erp.posts.values()) == 1


def test_watch_folder_scan_job_imports_and_posts(outbox_db: Engine, erp: FakeErp, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    statement = setup_ledger(outbox_db, tmp_path)
    configure(monkeypatch, outbox_db, erp, tmp_path, None)
    monkeypatch.setenv("CASHRECON_STABLE_SECONDS", "0")
    (tmp_path / "inbox").mkdir()
    statement.rename(tmp_path / "inbox" / statement.name)
    out = asyncio.run(enqueue_or_run("scan_inbox", cfg=Settings()))
    assert out == {"files": 1, "imported": 1}
    assert_posted_once(outbox_db, erp)


def test_job_ids_are_deterministic(tmp_path: Path) -> None:
    f = tmp_path / "a.sta"
    f.write_text(mt940())
    assert default_job_id("ingest_file_job", str(f)) == default_job_id("ingest_file_job", str(f))
    assert default_job_id("ingest_file_job", str(f)).startswith("ingest:")
    assert default_job_id("match_job", "2026-11-30") == "match:2026-11-30"
    assert relay_job_id().startswith("relay:")
