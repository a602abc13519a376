"""Fixtures of the reconciliation REST tests: the service's ``api`` over a small AR ledger."""

from __future__ import annotations

from datetime import date

import pytest

from tests.cashapp.api.conftest import Api, api  # noqa: F401 - the ``api`` fixture, reused
from tests.recon.usecases.world import World

CUT = date(2026, 9, 30)
D = date(2026, 9, 1)


@pytest.fixture
def ledger(api: Api) -> World:  # noqa: F811 - the imported fixture
    """C1 (EUR invoices, a credit note, one settled item), C2 (EUR), C3 (USD); cash after the cut-off."""
    w = World(api.engine)
    for c in ("C1", "C2", "C3"):
        w.customer(c)
    for number, amount in (("INV-1", 10000), ("INV-2", 20000), ("INV-5", 50000)):
        w.item("C1", number, amount, D, due=date(2026, 7, 1))
    w.item("C1", "CN-4", -4000, D, kind="credit_note")
    settled = w.item("C1", "INV-9", 1500, D)
    w.apply(w.receipt(1500, date(2026, 9, 10), customer="C1"), settled, 1500, date(2026, 9, 10))
    w.item("C2", "A-1", 12345, D)
    w.item("C3", "B-1", 5000, D, currency="USD")
    w.receipt(7000, date(2026, 9, 28), status="exception", customer="C1")  # unapplied cash
    return w
