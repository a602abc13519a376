"""Timing of the reconciliation domain on a synthetic ledger (not a test: prints figures).

``python -m tests.recon.domain.bench_domain`` builds a seeded ledger with 20,000 customers and
about 300,000 items open at the cut-off (plus cleared, reversed and later documents), then times
the snapshot with per-customer balances, its hash, the cash split around the cut-off, the aging
report and the reconciliation of 6,000 item replies. ``make bench`` can call :func:`run`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import polars as pl

from services.recon.domain import (
    aging,
    aging_total,
    as_of_snapshot,
    balances,
    cash_around_cutoff,
    reconcile_replies,
    snapshot_hash,
)

CUTOFF = date(2026, 9, 30)
T = TypeVar("T")

# Fate of a generated document: weights chosen so that ~77 % are open at the cut-off.
_FATES = ("open", "partial", "cleared_before", "cleared_after", "reversed", "later")
_FATE_WEIGHTS = (60, 10, 20, 5, 2, 3)
_TYPES = ("invoice", "credit_note", "deduction", "on_account")
_TYPE_WEIGHTS = (85, 8, 3, 4)


def generate_ledger(
    customers: int = 20_000, documents: int = 390_000, seed: int = 7
) -> dict[str, pl.DataFrame]:
    """A seeded ledger: ``documents`` and ``applications`` frames with the domain's columns."""
    rng = random.Random(seed)
    docs: dict[str, list[Any]] = {
        k: []
        for k in (
            "item_id",
            "customer_id",
            "document_number",
            "document_type",
            "document_date",
            "due_date",
            "currency",
            "amount_minor",
            "recorded_at",
        )
    }
    apps: dict[str, list[Any]] = {
        k: []
        for k in (
            "item_id",
            "receipt_id",
            "amount_minor",
            "effective_date",
            "recorded_at",
            "receipt_booking_date",
        )
    }
    fates = rng.choices(_FATES, _FATE_WEIGHTS, k=documents)
    types = rng.choices(_TYPES, _TYPE_WEIGHTS, k=documents)
    receipt = 0
    for item_id in range(1, documents + 1):
        fate, dtype = fates[item_id - 1], types[item_id - 1]
        cust = rng.randrange(customers)
        currency = "EUR" if cust % 10 else ("USD" if cust % 50 else "JPY")
        doc_date = CUTOFF + timedelta(days=rng.randint(1, 20) if fate == "later" else -rng.randint(0, 180))
        magnitude = rng.randint(1_000, 2_000_000)
        amount = -magnitude if dtype in ("credit_note", "on_account") else magnitude
        docs["item_id"].append(item_id)
        docs["customer_id"].append(f"C{cust:06d}")
        docs["document_number"].append(f"{'CN' if dtype == 'credit_note' else 'INV'}-2026-{item_id:06d}")
        docs["document_type"].append(dtype)
        docs["document_date"].append(doc_date)
        docs["due_date"].append(doc_date + timedelta(days=30))
        docs["currency"].append(currency)
        docs["amount_minor"].append(amount)
        # One in twenty postings is back-dated: recorded after the cut-off, dated before it.
        docs["recorded_at"].append(
            doc_date + timedelta(days=rng.randint(1, 40) if rng.random() < 0.05 else 0)
        )
        if fate in ("open", "later"):
            continue
        receipt += 1
        paid = amount // 2 if fate == "partial" else amount
        when = CUTOFF + timedelta(days=rng.randint(1, 20)) if fate == "cleared_after" else doc_date
        rows = [(paid, when)]
        if fate == "reversed":
            rows.append((-paid, when + timedelta(days=rng.randint(1, 60))))
        for value, eff in rows:
            apps["item_id"].append(item_id)
            apps["receipt_id"].append(receipt)
            apps["amount_minor"].append(value)
            apps["effective_date"].append(eff)
            apps["recorded_at"].append(eff)
            apps["receipt_booking_date"].append(when)
    return {"documents": pl.DataFrame(docs), "applications": pl.DataFrame(apps)}


def item_replies(snapshot: pl.DataFrame, replies: int = 6_000, seed: int = 11) -> pl.DataFrame:
    """Open-item replies of the first ``replies`` customers: their items, a few dropped or changed."""
    rng = random.Random(seed)
    chosen = snapshot.get_column("customer_id").unique().sort().head(replies)
    rows = snapshot.filter(pl.col("customer_id").is_in(chosen.implode())).to_dicts()
    out = []
    for r in rows:
        roll = rng.random()
        if roll < 0.03:
            continue
        amount = r["open_minor"] - (100 if roll < 0.05 else 0)
        out.append(
            {
                "customer_id": r["customer_id"],
                "document_number": r["document_number"].lower(),
                "document_date": r["document_date"],
                "amount_minor": amount,
                "currency": r["currency"],
            }
        )
    return pl.DataFrame(out)


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _rss_mb() -> float:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        return float("nan")
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def run(customers: int = 20_000, documents: int = 390_000, replies: int = 6_000) -> dict[str, float]:
    """Build the ledger, time each step, print and return the figures (seconds, MB)."""
    ledger, t_gen = _timed(lambda: generate_ledger(customers, documents))
    docs, apps = ledger["documents"], ledger["applications"]
    snap, t_snap = _timed(lambda: as_of_snapshot(docs, apps, CUTOFF))
    bal, t_bal = _timed(lambda: balances(snap))
    _, t_hash = _timed(lambda: snapshot_hash(snap))
    cash, t_cash = _timed(lambda: cash_around_cutoff(docs, apps, CUTOFF))
    _, t_aging = _timed(lambda: aging_total(aging(snap, CUTOFF)))
    reply = item_replies(snap, replies)
    results, t_recon = _timed(
        lambda: reconcile_replies(
            snap,
            item_replies=reply,
            receipts_after_cutoff=cash.receipts_after_cutoff,
            unapplied_cash=cash.unapplied_cash,
            cleared_before_cutoff=cash.cleared_before_cutoff,
        )
    )
    figures = {
        "documents": float(docs.height),
        "applications": float(apps.height),
        "open_items": float(snap.height),
        "customers_with_balance": float(bal.get_column("customer_id").n_unique()),
        "generate_s": t_gen,
        "snapshot_s": t_snap,
        "balances_s": t_bal,
        "hash_s": t_hash,
        "cash_split_s": t_cash,
        "aging_s": t_aging,
        "replies": float(len(results)),
        "reconcile_replies_s": t_recon,
        "rss_mb": _rss_mb(),
    }
    for name, value in figures.items():
        print(f"{name:>24}: {value:,.3f}" if name.endswith("_s") else f"{name:>24}: {value:,.0f}")
    return figures


if __name__ == "__main__":
    run()
