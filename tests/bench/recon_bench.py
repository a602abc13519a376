"""Benchmark of a confirmation run and the aging report over a large generated ledger.

``run(customers=20000, open_items=300000)`` fills a temporary SQLite database with executemany
(customers, open items, and receipts + allocations paying about a third of the items, some of them
after the cut-off), then times ``create_run`` (snapshot, hashes, stored rows; no files),
``verify_run``, the aging report and writing a sample of letters (PDF and CSV/JSON), and returns
the figures. Peak memory is this process's ``ru_maxrss``: run it in a child process of its own.
"""

from __future__ import annotations

import random
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

CUTOFF = date(2026, 9, 30)
LETTER_SAMPLE = 100


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fill(engine: Any, customers: int, open_items: int, seed: int) -> int:
    """Insert the ledger; returns the number of allocations."""
    from sqlalchemy import insert

    from services.cashapp.models import (
        Allocation,
        Customer,
        DecisionRow,
        ImportFile,
        OpenItem,
        Receipt,
        StatementRow,
    )

    rnd = random.Random(seed)
    now = datetime(2026, 10, 1, tzinfo=UTC)
    start = CUTOFF - timedelta(days=200)
    items: list[dict[str, Any]] = []
    allocs: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    for i in range(1, open_items + 1):
        cid = f"C{rnd.randrange(customers):06d}" if i > customers else f"C{i - 1:06d}"
        day = start + timedelta(days=rnd.randrange(230))  # some after the cut-off
        credit = rnd.random() < 0.05
        amount = -rnd.randrange(100, 50_000) if credit else rnd.randrange(1_000, 500_000)
        cur = "USD" if rnd.random() < 0.1 else "EUR"
        items.append({"id": i, "customer_id": cid, "document_number": f"D{i:08d}",
                      "document_type": "credit_note" if credit else "invoice", "document_date": day,
                      "due_date": day + timedelta(days=30), "currency": cur, "amount_minor": amount,
                      "erp_open_minor": amount, "open_amount_minor": amount, "in_snapshot": True,
                      "load_id": 0, "version": 1, "updated_at": now})
        if not credit and rnd.random() < 0.33:
            n = len(receipts) + 1
            paid = day + timedelta(days=rnd.randrange(5, 60))
            receipts.append({"id": n, "statement_id": 1, "line_key": f"K{n}", "account": "ACC", "currency": cur,
                             "booking_date": paid, "amount_minor": amount, "raw": "", "extra_json": "{}",
                             "status": "applied", "version": 1, "is_reversal": False, "created_at": now})
            decisions.append({"id": n, "receipt_id": n, "status": "auto", "customer_id": cid, "reason": "",
                              "amount_minor": amount, "applied_minor": amount, "fee_minor": 0,
                              "writeoff_minor": 0, "unapplied_minor": 0, "short_minor": 0,
                              "residual_class": "none", "suggestions_json": "[]", "is_current": True,
                              "created_by": "engine", "score": 1.0, "created_at": now})
            allocs.append({"decision_id": n, "receipt_id": n, "item_id": i, "customer_id": cid,
                           "document_number": f"D{i:08d}", "currency": cur, "amount_minor": amount,
                           "effective_date": paid, "created_at": now})
    with engine.begin() as conn:
        conn.execute(insert(ImportFile), [{"id": 1, "sha256": "0" * 64, "file_name": "bench", "size_bytes": 0,
                                           "source_format": "mt940", "status": "imported", "imported_at": now,
                                           "credit_total_minor": 0, "debit_total_minor": 0}])
        conn.execute(insert(StatementRow), [{"id": 1, "import_file_id": 1, "source_format": "mt940",
                                             "account": "ACC", "currency": "EUR", "statement_key": "b",
                                             "key_date": CUTOFF, "balances_json": "[]", "content_hash": "",
                                             "integrity_status": "ok", "held": False, "lines_count": 0,
                                             "created_at": now}])
        conn.execute(insert(Customer), [{"customer_id": f"C{c:06d}", "customer_name": f"Customer {c}",
                                         "updated_at": now} for c in range(customers)])
        for table, rows in ((OpenItem, items), (Receipt, receipts), (DecisionRow, decisions),
                            (Allocation, allocs)):
            for k in range(0, len(rows), 50_000):
                conn.execute(insert(table), rows[k:k + 50_000])
    return len(allocs)


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, round(time.perf_counter() - t0, 2)


def run(customers: int = 20_000, open_items: int = 300_000, *, seed: int = 7) -> dict[str, Any]:
    """Fill a temporary database and time a confirmation run, verify, aging and sample letters."""
    from services.recon.usecases.confirm import create_run, verify_run, write_letters
    from services.recon.usecases.reports import aging_report
    from shared.db import make_engine, migrate

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate(engine)
        allocations, fill_s = _timed(_fill, engine, customers, open_items, seed)
        result, run_s = _timed(create_run, engine, CUTOFF)
        verified, verify_s = _timed(verify_run, engine, result.run_id)
        report, aging_s = _timed(aging_report, engine, CUTOFF)
        sample = [f"C{c:06d}" for c in range(min(LETTER_SAMPLE, customers))]
        letters, letters_s = _timed(write_letters, engine, result.run_id, Path(tmp) / "letters",
                                    customers=sample)
        engine.dispose()
    return {
        "customers": customers, "open_items": open_items, "allocations": allocations,
        "fill_s": fill_s, "snapshot_customers": result.customers, "snapshot_items": result.items,
        "confirmation_run_s": run_s, "verify_s": verify_s, "verify_ok": verified.ok,
        "aging_s": aging_s, "aging_rows": report["by_customer"].height,
        "letters_sample": letters, "letters_sample_s": letters_s,
        "letters_per_s": round(letters / letters_s, 1) if letters_s else None,
        "peak_rss_mb": round(_peak_mb(), 1),
    }


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*args), indent=2))
