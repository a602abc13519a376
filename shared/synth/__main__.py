"""Command line: ``python -m shared.synth --profile demo --out DIR`` or explicit sizes.

Examples::

    python -m shared.synth --seed 7 --customers 200 --open-items 600 --receipts 300 \\
        --formats mt940,camt053,ofx --files 3 --out var/synth
    python -m shared.synth --profile demo --out var/demo
    python -m shared.synth --profile bench --out var/bench
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from shared.synth.world import ALL_FORMATS, World, generate_world
from shared.synth.writers import write_world

PROFILES: dict[str, dict[str, int]] = {
    "demo": {"customers": 40, "open_items": 160, "receipts": 120, "files": 3},
    "bench": {"customers": 30_000, "open_items": 150_000, "receipts": 50_000, "files": 9},
}
DEFAULTS = {"customers": 200, "open_items": 600, "receipts": 300, "files": 3}
DEFAULT_START = date(2026, 3, 2)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m shared.synth``."""
    p = argparse.ArgumentParser(
        prog="python -m shared.synth",
        description="Generate a seeded synthetic AR world as real bank files, "
        "master-data CSVs and a ground-truth file.",
    )
    p.add_argument(
        "--profile", choices=sorted(PROFILES), help="preset sizes: demo (small) or bench (50k receipts)"
    )
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
    p.add_argument("--customers", type=int, help=f"number of customers (default {DEFAULTS['customers']})")
    p.add_argument("--open-items", type=int, help=f"number of open items (default {DEFAULTS['open_items']})")
    p.add_argument("--receipts", type=int, help=f"number of bank lines (default {DEFAULTS['receipts']})")
    p.add_argument("--formats", default=",".join(ALL_FORMATS), help="comma list of mt940,camt053,ofx")
    p.add_argument("--files", type=int, help="number of statement files, at least one per format (default 3)")
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        default=DEFAULT_START,
        help=f"first booking day, ISO date (default {DEFAULT_START})",
    )
    p.add_argument("--days", type=int, help="business days covered (default: ~40 receipts a day, 3-40)")
    p.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def main(argv: list[str] | None = None) -> int:
    """Generate and write a world; prints a one-screen summary unless ``--quiet``."""
    args = build_parser().parse_args(argv)
    sizes = dict(PROFILES[args.profile]) if args.profile else dict(DEFAULTS)
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    began = time.perf_counter()
    try:
        world = generate_world(
            args.seed,
            sizes["customers"],
            sizes["open_items"],
            sizes["receipts"],
            args.start,
            formats=formats,
            days=args.days,
        )
        generated = time.perf_counter()
        paths = write_world(world, args.out, sizes["files"])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = time.perf_counter()
    if not args.quiet:
        _summary(world, paths, generated - began, done - generated)
    return 0


def _summary(world: World, paths: list[Path], gen_s: float, write_s: float) -> None:
    scenarios = Counter(r.truth.scenario for r in world.receipts)
    print(
        f"seed {world.seed}: {len(world.customers)} customers, {len(world.open_items)} open items, "
        f"{len(world.receipts)} receipts; generated in {gen_s:.2f}s, written in {write_s:.2f}s"
    )
    for path in paths:
        print(f"  {path}  ({path.stat().st_size:,} bytes)")
    print("  scenarios: " + ", ".join(f"{k}={v}" for k, v in sorted(scenarios.items())))
    if world.fallbacks:
        print(
            "  re-drawn (no suitable open item left): "
            + ", ".join(f"{k}={v}" for k, v in sorted(world.fallbacks.items()) if v)
        )


if __name__ == "__main__":
    raise SystemExit(main())
