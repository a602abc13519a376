"""Pair our open items with the lines of a customer's open-item list.

Levels, each only over what the previous left unmatched, all within one currency:

1. same document-number key, trying the keys of :data:`~services.recon.domain.docnum.KEYS` in turn
   (case, separators, leading zeros, then common prefixes such as INV or RG.NR. dropped);
2. same amount and document date, when that pair is unique on both sides (the customer used
   its own voucher number for our invoice);
3. a negative line of the customer against our open cash on account of the same amount (the
   customer lists its payment, we hold it on account).

Among several candidates for one key the one with the same amount wins, then the closest date,
then the lowest item id, so the result never depends on row order beyond the reply's own order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from services.recon.domain.docnum import KEYS
from services.recon.domain.frames import Kind, require, require_not_null

SNAPSHOT_ITEM_COLUMNS: dict[str, Kind] = {
    "item_id": Kind.INT,
    "document_number": Kind.TEXT,
    "document_type": Kind.TEXT,
    "document_date": Kind.DATE,
    "currency": Kind.TEXT,
    "open_minor": Kind.INT,
}
REPLY_ITEM_COLUMNS: dict[str, Kind] = {
    "document_number": Kind.TEXT,
    "document_date": Kind.DATE,
    "amount_minor": Kind.INT,
    "currency": Kind.TEXT,
}
REPLY_ITEM_OPTIONAL: dict[str, Kind] = {"disputed": Kind.BOOL, "note": Kind.TEXT, "line_no": Kind.INT}


@dataclass(slots=True)
class Ours:
    """One of our open items at the cut-off."""

    item_id: int
    number: str
    doc_type: str
    doc_date: date | None
    currency: str
    open_minor: int


@dataclass(slots=True)
class Theirs:
    """One line of the customer's list."""

    line: int
    number: str
    doc_date: date | None
    currency: str
    amount: int
    disputed: bool
    note: str | None


def check_ours(snapshot_items: pl.DataFrame) -> pl.DataFrame:
    """Validate snapshot rows once (columns, types, no null key or amount)."""
    frame = require(snapshot_items, "snapshot_items", SNAPSHOT_ITEM_COLUMNS)
    require_not_null(frame, "snapshot_items", ["item_id", "currency", "open_minor"])
    return frame


def ours_from_rows(rows: Iterable[dict[str, Any]]) -> list[Ours]:
    """Our open items from checked snapshot rows, oldest first."""
    items = [
        Ours(
            r["item_id"],
            r["document_number"] or "",
            r["document_type"] or "",
            r["document_date"],
            r["currency"],
            r["open_minor"],
        )
        for r in rows
    ]
    return sorted(items, key=lambda o: (o.doc_date or date.min, o.item_id))


def read_ours(snapshot_items: pl.DataFrame) -> list[Ours]:
    """Our open items of one customer, oldest first."""
    return ours_from_rows(check_ours(snapshot_items).iter_rows(named=True))


def check_theirs(reply_items: pl.DataFrame) -> pl.DataFrame:
    """Validate reply rows once (required and optional columns)."""
    present = {c: k for c, k in REPLY_ITEM_OPTIONAL.items() if c in reply_items.columns}
    frame = require(reply_items, "reply_items", {**REPLY_ITEM_COLUMNS, **present})
    require_not_null(frame, "reply_items", ["amount_minor", "currency"])
    return frame


def theirs_from_rows(rows: Iterable[dict[str, Any]]) -> list[Theirs]:
    """The customer's lines in reply order; ``line`` is ``line_no`` when given, else the index."""
    out = []
    for index, r in enumerate(rows):
        line = r.get("line_no")
        out.append(
            Theirs(
                index if line is None else line,
                r["document_number"] or "",
                r["document_date"],
                r["currency"],
                r["amount_minor"],
                bool(r.get("disputed")),
                r.get("note"),
            )
        )
    return out


def read_theirs(reply_items: pl.DataFrame) -> list[Theirs]:
    """The lines of one customer's reply (see :func:`theirs_from_rows`)."""
    return theirs_from_rows(check_theirs(reply_items).iter_rows(named=True))


@dataclass(slots=True)
class Matched:
    """Result of matching: pairs and what is left on each side."""

    pairs: list[tuple[Ours, Theirs]]
    ours_left: list[Ours]
    theirs_left: list[Theirs]


def match_items(ours: list[Ours], theirs: list[Theirs]) -> Matched:
    """Pair ``ours`` and ``theirs`` by the levels of the module docstring."""
    state = Matched([], list(ours), list(theirs))
    for key in KEYS:
        _match_by_number(state, key)
    _match_unique(
        state, lambda o: (o.currency, o.open_minor, o.doc_date), lambda t: (t.currency, t.amount, t.doc_date)
    )
    _match_cash_on_account(state)
    return state


def _match_by_number(state: Matched, key: Callable[[str | None], str]) -> None:
    index: dict[tuple[str, str], list[Ours]] = defaultdict(list)
    for o in state.ours_left:
        k = key(o.number)
        if k:
            index[(o.currency, k)].append(o)
    used: set[int] = set()
    theirs_left: list[Theirs] = []
    for t in state.theirs_left:
        bucket = index.get((t.currency, key(t.number)), [])
        candidates = [o for o in bucket if o.item_id not in used]
        if not candidates:
            theirs_left.append(t)
            continue
        best = candidates[0] if len(candidates) == 1 else min(candidates, key=lambda o: _rank(o, t))
        used.add(best.item_id)
        state.pairs.append((best, t))
    state.theirs_left = theirs_left
    state.ours_left = [o for o in state.ours_left if o.item_id not in used]


def _rank(o: Ours, t: Theirs) -> tuple[int, int, int]:
    days = abs((o.doc_date - t.doc_date).days) if o.doc_date and t.doc_date else 1 << 30
    return (0 if o.open_minor == t.amount else 1, days, o.item_id)


def _match_unique(
    state: Matched, our_key: Callable[[Ours], Hashable], their_key: Callable[[Theirs], Hashable]
) -> None:
    ours_by: dict[Hashable, list[Ours]] = defaultdict(list)
    theirs_by: dict[Hashable, list[Theirs]] = defaultdict(list)
    for o in state.ours_left:
        if o.doc_date is not None:
            ours_by[our_key(o)].append(o)
    for t in state.theirs_left:
        if t.doc_date is not None:
            theirs_by[their_key(t)].append(t)
    paired_ours: set[int] = set()
    paired_theirs: set[int] = set()
    for k, ts in theirs_by.items():
        os_ = ours_by.get(k, [])
        if len(ts) == 1 and len(os_) == 1:
            state.pairs.append((os_[0], ts[0]))
            paired_ours.add(os_[0].item_id)
            paired_theirs.add(id(ts[0]))
    state.ours_left = [o for o in state.ours_left if o.item_id not in paired_ours]
    state.theirs_left = [t for t in state.theirs_left if id(t) not in paired_theirs]


def _match_cash_on_account(state: Matched) -> None:
    cash = [o for o in state.ours_left if o.doc_type == "on_account" and o.open_minor < 0]
    paired: set[int] = set()
    theirs_left: list[Theirs] = []
    for t in state.theirs_left:
        hit = next(
            (
                o
                for o in cash
                if o.item_id not in paired and o.currency == t.currency and o.open_minor == t.amount
            ),
            None,
        )
        if t.amount >= 0 or hit is None:
            theirs_left.append(t)
            continue
        paired.add(hit.item_id)
        state.pairs.append((hit, t))
    state.theirs_left = theirs_left
    state.ours_left = [o for o in state.ours_left if o.item_id not in paired]
