"""API and worker figures for ``make bench``: worklist and resolve latency, pipeline throughput.

``run(receipts=100_000)`` fills a temporary SQLite database with executemany (statements,
receipts, their decisions, about 10% of them exception items, customers) and API users, starts
the real API (``cashrecon serve``) under uvicorn in a child process on 127.0.0.1, and measures
from this process with httpx:

* p50/p95 of ``GET /exceptions`` (page size 50) over a mix of filters and sort orders, walking
  each one a few pages deep with the cursor;
* p50/p95 of ``POST /exceptions/{id}/claim`` and ``/resolve`` (put on account), one clerk taking
  items one after another, each request with an ``Idempotency-Key``;
* receipts per second through ingest -> match -> post on the inline worker path
  (``enqueue_or_run`` without Redis, the file ERP adapter into a temporary folder) over a set of
  generated MT940 and CAMT.053 files.

Request counts are fixed and every phase has a time budget; the server is always stopped. The
approval threshold of the server is raised so that every resolve applies at once: this measures
the resolve path, not the maker-checker one. Figures depend on the machine; nothing is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
LAUNCH = "from services.cashapp.cli import app; app()"
ACCOUNTS = ("NL91ABNA0417164300", "DE89370400440532013000", "GB29NWBK60161331926819",
            "FR1420041010050500013M02606")
REASONS = ("AMBIGUOUS", "NO_CANDIDATE", "UNKNOWN_PAYER", "AMOUNT_MISMATCH", "NON_AR")
PAGE = 50
CHUNK = 20_000
WORKLIST_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("oldest first", {}),
    ("largest first", {"sort": "-amount"}),
    ("newest first", {"sort": "-age"}),
    ("one reason", {"reason": "AMBIGUOUS"}),
    ("EUR 500..5000", {"currency": "EUR", "amount_min": "500", "amount_max": "5000", "sort": "amount"}),
    ("older than 30 days", {"min_age_days": 30, "sort": "id"}),
    ("one account", {"account": ACCOUNTS[1], "sort": "-created"}),
    ("one customer", {"customer_id": "C00042"}),
)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 / p95 / max in milliseconds (nearest rank) of latencies given in seconds."""
    if not samples:
        return {"n": 0}
    s = sorted(samples)

    def rank(p: float) -> float:
        return round(s[min(len(s) - 1, max(0, int(p * len(s) + 0.999999) - 1))] * 1000, 2)

    return {"n": len(s), "p50_ms": rank(0.50), "p95_ms": rank(0.95), "max_ms": round(s[-1] * 1000, 2)}


# --- filling the database ---------------------------------------------------------------------

def _receipt_rows(rnd: random.Random, receipts: int, customers: int, today: date,
                  now: datetime) -> tuple[list[dict], list[dict], list[dict]]:
    """Receipts, one current decision each, and an open exception item for every tenth."""
    recs, decs, excs = [], [], []
    for i in range(1, receipts + 1):
        cid = f"C{rnd.randrange(customers):05d}"
        booked = today - timedelta(days=rnd.randrange(0, 180))
        ccy = "USD" if rnd.random() < 0.1 else "EUR"
        amount = int(rnd.lognormvariate(11.0, 1.2)) + 100  # median about 600.00, a long tail
        exception = i % 10 == 0
        doc = f"INV-{rnd.randrange(10**7):07d}"
        recs.append({
            "id": i, "statement_id": 1 + (i - 1) // 1000, "line_key": f"bench-{i:09d}",
            "account": ACCOUNTS[i % len(ACCOUNTS)], "currency": ccy, "booking_date": booked,
            "value_date": booked, "amount_minor": amount, "bank_reference": f"BR{i:010d}",
            "end_to_end_reference": "NOTPROVIDED" if i % 3 else f"E2E-{doc}",
            "customer_reference": None, "transaction_code": "NTRF",
            "counterparty_name": f"Customer {cid} GmbH", "counterparty_account": f"DE{i % 97:02d}5001051{i:011d}",
            "counterparty_bic": "DEUTDEFFXXX", "remittance": f"Payment {doc} order {rnd.randrange(10**6)}",
            "creditor_reference": None, "creditor_reference_type": None, "is_reversal": False,
            "raw": "", "extra_json": "{}", "status": "exception" if exception else "applied",
            "version": 1, "created_at": now})
        decs.append(_decision(rnd, i, cid, amount, doc, exception, now))
        if exception:
            created = datetime.combine(booked, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)
            excs.append({"id": i // 10, "receipt_id": i, "decision_id": i, "status": "open",
                         "reason": decs[-1]["exception_reason"], "assignee": None, "version": 1,
                         "created_at": created, "updated_at": created})
    return recs, decs, excs


def _decision(rnd: random.Random, i: int, cid: str, amount: int, doc: str, exception: bool,
              now: datetime) -> dict:
    reason = REASONS[rnd.randrange(len(REASONS))] if exception else None
    suggestions = [{"customer_id": cid, "item_ids": [rnd.randrange(1, 10**6)], "document_numbers": [doc],
                    "amounts": [amount - k * 100], "score": round(0.9 - 0.1 * k, 2),
                    "reason": "reference and amount within tolerance"} for k in range(3 if exception else 0)]
    return {
        "id": i, "receipt_id": i, "run_id": None, "status": "exception" if exception else "auto",
        "customer_id": None if exception and reason == "UNKNOWN_PAYER" else cid,
        "rule_id": None if exception else "exact_reference", "ruleset_version": "bench-1",
        "score": 0.62 if exception else 1.0,
        "reason": f"{reason}: two documents fit" if exception else f"reference {doc} and exact amount",
        "exception_reason": reason, "amount_minor": amount, "applied_minor": 0 if exception else amount,
        "fee_minor": 0, "writeoff_minor": 0, "unapplied_minor": amount if exception else 0,
        "short_minor": 0, "residual_class": "none", "suggestions_json": json.dumps(suggestions),
        "is_current": True, "created_by": "engine", "created_at": now}


def fill(engine: Any, receipts: int, seed: int = 7) -> dict[str, int]:
    """Insert statements, receipts, decisions, exception items and customers in bulk."""
    from sqlalchemy import insert

    from services.cashapp.models import Customer, DecisionRow, ExceptionItem, ImportFile, Receipt, StatementRow

    rnd = random.Random(seed)
    today, now = date.today(), datetime.now(UTC)
    customers = max(100, receipts // 50)
    recs, decs, excs = _receipt_rows(rnd, receipts, customers, today, now)
    statements = [{"id": k, "import_file_id": 1, "source_format": "camt053", "account": ACCOUNTS[k % len(ACCOUNTS)],
                   "currency": "EUR", "statement_key": f"bench:{k}", "key_date": today, "balances_json": "[]",
                   "content_hash": f"{k:064x}", "integrity_status": "ok", "held": False, "lines_count": 1000,
                   "created_at": now} for k in range(1, (receipts + 999) // 1000 + 1)]
    with engine.begin() as conn:
        conn.execute(insert(ImportFile), [{"id": 1, "sha256": "b" * 64, "file_name": "bench.xml", "size_bytes": 0,
                                           "source_format": "camt053", "status": "imported", "imported_at": now,
                                           "credit_total_minor": 0, "debit_total_minor": 0}])
        conn.execute(insert(Customer), [{"customer_id": f"C{c:05d}", "customer_name": f"Customer C{c:05d} GmbH",
                                         "updated_at": now} for c in range(customers)])
        for table, rows in ((StatementRow, statements), (Receipt, recs), (DecisionRow, decs),
                            (ExceptionItem, excs)):
            for k in range(0, len(rows), CHUNK):
                conn.execute(insert(table), rows[k:k + CHUNK])
    return {"receipts": len(recs), "exceptions": len(excs), "customers": customers, "statements": len(statements)}


def make_keys(engine: Any) -> dict[str, str]:
    """One clerk and one auditor; answers their API keys."""
    from services.cashapp.auth import create_user
    from shared.db import unit_of_work

    keys = {}
    with unit_of_work(engine, immediate=True) as session:
        for name, role in (("bench-clerk", "clerk"), ("bench-auditor", "auditor")):
            keys[role] = create_user(session, name, role, actor="bench")[1]
    return keys


# --- the server -------------------------------------------------------------------------------

def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(db_url: str, log: Path, startup_s: float = 60.0) -> Iterator[str]:
    """``cashrecon serve`` on 127.0.0.1 in a child process; yields its base URL, always stops it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CASHRECON_REDIS_URL"}
    env.update(CASHRECON_DATABASE_URL=db_url, CASHRECON_APPROVAL_THRESHOLD="1000000000")
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:  # a file, not a pipe: access logs must never block the server
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(proc, base, log, startup_s)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def _wait_healthy(proc: subprocess.Popen, base: str, log: Path, startup_s: float) -> None:
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the API did not answer /health within {startup_s} s")


# --- measurements -----------------------------------------------------------------------------

def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    t0 = time.perf_counter()
    resp = call()
    return resp, time.perf_counter() - t0


def measure_worklist(client: httpx.Client, calls: int, budget_s: float, pages_deep: int = 5) -> dict[str, Any]:
    """``calls`` list requests cycling through the filter variants, each a few pages deep."""
    deadline = time.monotonic() + budget_s
    samples: list[float] = []
    by_variant: dict[str, list[float]] = {name: [] for name, _ in WORKLIST_VARIANTS}
    statuses: Counter[int] = Counter()
    rows = 0
    while len(samples) < calls and time.monotonic() < deadline:
        for name, params in WORKLIST_VARIANTS:
            cursor = None
            for _ in range(pages_deep):
                if len(samples) >= calls or time.monotonic() >= deadline:
                    break
                q = {**params, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
                resp, dt = _timed(lambda q=q: client.get("/exceptions", params=q))  # type: ignore[misc]
                samples.append(dt)
                by_variant[name].append(dt)
                statuses[resp.status_code] += 1
                if resp.status_code != 200:
                    break
                body = resp.json()
                rows += len(body["items"])
                cursor = body["next_cursor"]
                if not cursor:
                    break
    return {**percentiles(samples), "statuses": dict(statuses), "rows_returned": rows,
            "by_variant_p50_ms": {k: percentiles(v).get("p50_ms") for k, v in by_variant.items()}}


def measure_resolve(client: httpx.Client, items: list[tuple[int, str]], budget_s: float) -> dict[str, Any]:
    """Claim then resolve (on account) each item; latency of each call and of the pair."""
    deadline = time.monotonic() + budget_s
    claims: list[float] = []
    resolves: list[float] = []
    statuses: Counter[str] = Counter()
    for item_id, customer in items:
        if time.monotonic() >= deadline:
            break
        resp, dt = _timed(lambda i=item_id: client.post(  # type: ignore[misc]
            f"/exceptions/{i}/claim", json={"version": 1}, headers={"Idempotency-Key": uuid.uuid4().hex}))
        claims.append(dt)
        statuses[f"claim {resp.status_code}"] += 1
        if resp.status_code != 200:
            continue
        body = {"kind": "on_account", "customer_id": customer, "version": resp.json()["version"],
                "note": "bench: unidentified, parked on account"}
        resp, dt = _timed(lambda i=item_id, b=body: client.post(  # type: ignore[misc]
            f"/exceptions/{i}/resolve", json=b, headers={"Idempotency-Key": uuid.uuid4().hex}))
        resolves.append(dt)
        statuses[f"resolve {resp.status_code}"] += 1
    pairs = [a + b for a, b in zip(claims, resolves, strict=False)]
    return {"claim": percentiles(claims), "resolve": percentiles(resolves),
            "claim_plus_resolve": percentiles(pairs), "statuses": dict(statuses)}


def pick_items(engine: Any, n: int) -> list[tuple[int, str]]:
    """``n`` open exception items spread over the whole table, with a customer to park cash on."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT e.id, d.customer_id FROM exception_item e JOIN decision d ON d.id = e.decision_id "
            "WHERE e.status = 'open' ORDER BY e.id")).all()
    step = max(1, len(rows) // max(1, n))
    return [(r[0], r[1] or "C00001") for r in rows[::step][:n]]


def api_figures(tmp: Path, receipts: int, worklist_calls: int, resolve_items: int,
                budget_s: float) -> dict[str, Any]:
    """Fill, serve, measure the worklist and the resolve calls."""
    from shared.db import make_engine, migrate

    url = f"sqlite:///{tmp / 'api.db'}"
    engine = make_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    sizes = fill(engine, receipts)
    keys = make_keys(engine)
    fill_s = time.perf_counter() - t0
    items = pick_items(engine, resolve_items)
    engine.dispose()
    with serve(url, tmp / "api.log") as base, httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {keys['clerk']}"}) as client:
        worklist = measure_worklist(client, worklist_calls, budget_s)
        resolve = measure_resolve(client, items, budget_s)
    return {**sizes, "fill_s": round(fill_s, 2), "worklist": worklist, "resolve": resolve}


# --- worker throughput ------------------------------------------------------------------------

def worker_figures(tmp: Path, receipts: int, seed: int = 5) -> dict[str, Any]:
    """Generated bank files through ingest -> match -> post on the inline worker path."""
    from shared.synth.__main__ import main as synth

    out = tmp / "synth"
    start = date.today() - timedelta(days=70)  # bookings end before today, the worker's as_of
    code = synth(["--seed", str(seed), "--customers", str(max(10, receipts * 2 // 5)),
                  "--open-items", str(receipts * 3), "--receipts", str(receipts), "--formats", "mt940,camt053",
                  "--files", "2", "--start", start.isoformat(), "--out", str(out), "--quiet"])
    if code:
        raise RuntimeError(f"shared.synth exited with {code}")
    engine, ctx, cfg = _worker_ctx(tmp, out)
    try:
        from services.cashapp.worker import enqueue_or_run

        files = sorted(p for p in out.iterdir() if p.suffix in (".sta", ".xml"))
        t0 = time.perf_counter()
        for path in files:  # ingest chains match, match chains post, all inline without Redis
            asyncio.run(enqueue_or_run("ingest_file_job", str(path), cfg=cfg, ctx=ctx))
        seconds = time.perf_counter() - t0
        counts = _pipeline_counts(engine)
    finally:
        engine.dispose()
    erp_rows = len(ctx["adapter"].written_keys())
    return {"files": len(files), "seconds": round(seconds, 2),
            "receipts_per_s": round(counts["receipts"] / seconds, 1) if seconds else None,
            **counts, "erp_documents": erp_rows}


def _worker_ctx(tmp: Path, synth_dir: Path) -> tuple[Any, dict[str, Any], Any]:
    from services.cashapp.usecases.masterdata import load_file
    from services.cashapp.worker import worker_id
    from shared.config import Settings
    from shared.db import make_engine, migrate, unit_of_work
    from shared.erp.file import FileAdapter

    url = f"sqlite:///{tmp / 'worker.db'}"
    engine = make_engine(url)
    migrate(engine)
    with unit_of_work(engine) as s:
        load_file(s, "customers", synth_dir / "customers.csv")
        load_file(s, "open_items", synth_dir / "open_items.csv")
    cfg = Settings(database_url=url, redis_url=None, watch_dir=tmp / "inbox", rules_file=None,
                   on_balance_break=None)
    ctx = {"settings": cfg, "engine": engine,
           "adapter": FileAdapter(tmp / "erp-outbox"), "worker_id": worker_id()}
    return engine, ctx, cfg


def _pipeline_counts(engine: Any) -> dict[str, Any]:
    from sqlalchemy import text

    with engine.connect() as conn:
        receipts = conn.execute(text("SELECT count(*) FROM receipt")).scalar_one()
        decided = dict(conn.execute(text(
            "SELECT status, count(*) FROM decision WHERE is_current GROUP BY status")).all())
        outbox = dict(conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
    return {"receipts": receipts, "decisions": decided, "outbox": outbox}


def run(receipts: int = 100_000, *, worklist_calls: int = 300, resolve_items: int = 200,
        worker_receipts: int = 5_000, budget_s: float = 600.0) -> dict[str, Any]:
    """All the API and worker figures as one dict (latencies in ms, throughput in receipts/s)."""
    with tempfile.TemporaryDirectory(prefix="cashrecon-api-bench-") as tmp:
        api = api_figures(Path(tmp), receipts, worklist_calls, resolve_items, budget_s)
        worker = worker_figures(Path(tmp), worker_receipts)
    return {"api": api, "worker": worker}


if __name__ == "__main__":  # pragma: no cover
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(json.dumps(run(n), indent=2, default=str))
