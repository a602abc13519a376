"""Throughput of ``match`` on a synthetic world (not a test: prints figures, asserts nothing).

Run: ``.venv/bin/python -m tests.cashapp.domain.bench_engine [receipts] [items] [customers]``
(default 50,000 receipts against 150,000 open items of 30,000 customers).
"""

from __future__ import annotations

import resource
import sys
import time
from datetime import date

from services.cashapp.domain import match
from services.cashapp.rules import default_rules
from tests.cashapp.domain.world import make_world


def main(argv: list[str]) -> None:
    receipts = int(argv[0]) if argv else 50_000
    items = int(argv[1]) if len(argv) > 1 else receipts * 3
    customers = int(argv[2]) if len(argv) > 2 else receipts * 3 // 5
    world = make_world(7, receipts, customers, items)
    rules = default_rules()
    wall, cpu = time.perf_counter(), time.process_time()
    decisions = match(world.receipts, world.open_items, world.customers, world.accounts, rules, date(2026, 6, 30))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    applicable = [d for d in decisions if world.truth[d.receipt_id][2] is not None]
    auto = [d for d in applicable if d.status == "auto"]
    right = [
        d
        for d in auto
        if {a.document_number: a.amount_minor for a in d.allocations} == world.truth[d.receipt_id][2]
        and d.customer_id == world.truth[d.receipt_id][1]
    ]
    print(f"{receipts} receipts, {items} open items, {customers} customers")
    print(f"match: wall {wall:.2f} s ({receipts / wall:,.0f} receipts/s), cpu {cpu:.2f} s (all threads)")
    print(f"auto {len(auto) / len(applicable):.2%} of applicable, precision {len(right) / max(len(auto), 1):.3%}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"peak memory of the process (world generation included): {peak:,.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
