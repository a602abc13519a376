"""Cut a world's receipts into bank statements and files.

One statement per house account and business day with movements, numbered consecutively per
account; each opening balance is the previous closing balance. Each format's period is split
into ``k`` consecutive date windows, one file each, so statements chain across files too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby

from shared.money import exponent, split_minor
from shared.synth.world import ALL_FORMATS, HouseAccount, Receipt, World

EXTENSIONS = {"mt940": "sta", "camt053": "xml", "ofx": "ofx"}


def decimal_text(minor: int, currency: str) -> str:
    """Same text as :func:`shared.money.format_minor` (``-12.30``), in integer arithmetic only:
    the writers format about 400,000 amounts for a bench world, and Decimal is the slow part."""
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    whole, frac = divmod(abs(minor), 10**exp)
    return f"{'-' if minor < 0 else ''}{whole}.{frac:0{exp}d}"


@dataclass(slots=True)
class StatementOut:
    """One statement to write: an account's movements of one business day."""

    account: HouseAccount
    number: int  # consecutive per account
    day: date  # booking day the statement covers
    prev_day: date  # date of the opening balance (the previous statement's day)
    opening_minor: int
    closing_minor: int
    receipts: list[Receipt]


@dataclass(slots=True)
class FilePlan:
    """One output file: its name, format, date window and statements."""

    name: str
    format: str
    first_day: date
    last_day: date
    statements: list[StatementOut] = field(default_factory=list)


def writer_rng(world: World) -> random.Random:
    """The writers' own random stream (string seeds hash with SHA-512: stable across runs)."""
    return random.Random(f"cashrecon-synth-writers-{world.seed}")


def account_statements(world: World, rng: random.Random) -> dict[str, list[StatementOut]]:
    """Daily statements per account, chained: opening = previous closing, numbers consecutive."""
    out: dict[str, list[StatementOut]] = {}
    by_account = {a.account: a for a in world.house_accounts}
    for acc_id, group in groupby(world.receipts, key=lambda r: r.account):
        acc = by_account[acc_id]
        balance = rng.randrange(5_000_000, 500_000_000)
        number = rng.randrange(1, 200)
        prev = world.business_days[0] - timedelta(days=1)
        stmts = out.setdefault(acc_id, [])
        for day, day_group in groupby(group, key=lambda r: r.booking_date):
            lines = list(day_group)
            closing = balance + sum(r.amount_minor for r in lines)
            stmts.append(StatementOut(acc, number, day, prev, balance, closing, lines))
            balance, prev, number = closing, day, number + 1
    return out


def plan_files(world: World, files: int) -> list[FilePlan]:
    """Assign statements to ``files`` files: every format in use gets at least one, the rest are
    spread evenly; a format's files cover consecutive date windows."""
    formats = [f for f in ALL_FORMATS if any(a.format == f for a in world.house_accounts)]
    if files < len(formats):
        raise ValueError(f"need at least {len(formats)} files for formats {', '.join(formats)}")
    per_format = split_minor(files, [1] * len(formats))
    stmts = account_statements(world, writer_rng(world))
    days = world.business_days
    plans: list[FilePlan] = []
    for fmt, k in zip(formats, per_format, strict=True):
        k = min(k, len(days))
        sizes = split_minor(len(days), [1] * k)
        start = 0
        for size in sizes:
            window = days[start : start + size]
            start += size
            plan = FilePlan("", fmt, window[0], window[-1])
            for acc in world.house_accounts:
                if acc.format == fmt:
                    plan.statements += [
                        s for s in stmts.get(acc.account, []) if window[0] <= s.day <= window[-1]
                    ]
            plans.append(plan)
    for n, plan in enumerate(plans, start=1):
        plan.name = (
            f"{n:02d}_{plan.format}_{plan.first_day:%Y%m%d}-{plan.last_day:%Y%m%d}.{EXTENSIONS[plan.format]}"
        )
    return plans
