"""Cash entries that may explain differences, each usable once.

A :class:`CashBook` holds one of the cash frames of :mod:`services.recon.domain.cash` for one
customer. Explaining a difference *takes* entries so that one receipt never explains two
differences. Only exact amounts explain anything: a near miss is left for a person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from services.recon.domain.cash import CASH_COLUMNS
from services.recon.domain.docnum import KEYS
from services.recon.domain.frames import require, require_not_null


@dataclass(slots=True)
class CashEntry:
    """A receipt, or the part of it applied to one document."""

    receipt_id: int
    item_id: int | None
    number: str | None
    currency: str
    amount: int
    booked: date | None
    used: bool = False


def check_cash(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Validate a cash frame once (columns, types, no null receipt, currency or amount)."""
    checked = require(frame, name, CASH_COLUMNS)
    require_not_null(checked, name, ["receipt_id", "currency", "amount_minor"])
    return checked


class CashBook:
    """The entries of one cash frame with take-once lookups."""

    def __init__(self, entries: list[CashEntry]) -> None:
        self.entries = sorted(entries, key=lambda e: (e.booked or date.min, e.receipt_id, e.item_id or 0))

    @classmethod
    def from_frame(cls, frame: pl.DataFrame | None, name: str) -> CashBook:
        """Read a frame with :data:`~services.recon.domain.cash.CASH_COLUMNS` (None = empty)."""
        if frame is None or frame.height == 0:
            return cls([])
        return cls.from_rows(check_cash(frame, name).iter_rows(named=True))

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> CashBook:
        """Build from rows of a frame already passed through :func:`check_cash`."""
        return cls(
            [
                CashEntry(
                    r["receipt_id"],
                    r["item_id"],
                    r["document_number"],
                    r["currency"],
                    r["amount_minor"],
                    r["receipt_booking_date"],
                )
                for r in rows
            ]
        )

    def _free(self, currency: str) -> list[CashEntry]:
        return [e for e in self.entries if not e.used and e.currency == currency]

    @staticmethod
    def _take(entries: list[CashEntry]) -> list[CashEntry]:
        for e in entries:
            e.used = True
        return entries

    def for_item(self, item_id: int, currency: str) -> list[CashEntry]:
        """Free entries applied to ``item_id`` (not taken)."""
        return [e for e in self._free(currency) if e.item_id == item_id]

    def take_item_exact(self, item_id: int, currency: str, amount: int) -> list[CashEntry]:
        """Take the entries applied to ``item_id`` if they sum exactly to ``amount``, else none."""
        found = self.for_item(item_id, currency)
        return self._take(found) if found and sum(e.amount for e in found) == amount else []

    def take_item_up_to(self, item_id: int, currency: str, limit: int) -> list[CashEntry]:
        """Take entries applied to ``item_id`` while their running sum stays within ``limit``."""
        taken, total = [], 0
        for e in self.for_item(item_id, currency):
            if e.amount > 0 and total + e.amount <= limit:
                taken.append(e)
                total += e.amount
        return self._take(taken)

    def take_number_exact(self, number: str, currency: str, amount: int) -> list[CashEntry]:
        """Take entries applied to a document numbered like ``number`` summing to ``amount``."""
        for key in KEYS:
            wanted = key(number)
            found = [e for e in self._free(currency) if wanted and key(e.number) == wanted]
            if found and sum(e.amount for e in found) == amount:
                return self._take(found)
        return []

    def receipts(self, currency: str, *, unassigned_only: bool) -> dict[int, list[CashEntry]]:
        """Free entries grouped by receipt, in booking order."""
        grouped: dict[int, list[CashEntry]] = defaultdict(list)
        for e in self._free(currency):
            if not unassigned_only or e.item_id is None:
                grouped[e.receipt_id].append(e)
        return grouped

    def take_receipt_exact(self, currency: str, amount: int, *, unassigned_only: bool) -> list[CashEntry]:
        """Take the first whole receipt whose free entries sum exactly to ``amount``."""
        for entries in self.receipts(currency, unassigned_only=unassigned_only).values():
            if sum(e.amount for e in entries) == amount:
                return self._take(entries)
        return []

    def take_all_if_total(self, currency: str, amount: int, *, unassigned_only: bool) -> list[CashEntry]:
        """Take every free (unassigned) entry if together they sum exactly to ``amount``."""
        found = [e for es in self.receipts(currency, unassigned_only=unassigned_only).values() for e in es]
        return self._take(found) if found and sum(e.amount for e in found) == amount else []


@dataclass(slots=True)
class Books:
    """The three cash books of one customer."""

    after: CashBook
    unapplied: CashBook
    before: CashBook

    @classmethod
    def from_frames(
        cls, after: pl.DataFrame | None, unapplied: pl.DataFrame | None, before: pl.DataFrame | None
    ) -> Books:
        """The books of one customer from its three cash frames (None = empty)."""
        return cls(
            CashBook.from_frame(after, "receipts_after_cutoff"),
            CashBook.from_frame(unapplied, "unapplied_cash"),
            CashBook.from_frame(before, "cleared_before_cutoff"),
        )


def receipt_refs(entries: list[CashEntry]) -> list[tuple[int, date | None]]:
    """Distinct (receipt id, booking date) of ``entries`` in order, for reasons."""
    seen: dict[int, date | None] = {}
    for e in entries:
        seen.setdefault(e.receipt_id, e.booked)
    return list(seen.items())
