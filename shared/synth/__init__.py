"""Seeded synthetic accounts-receivable worlds: customers, open items, receipts with ground truth,
written as real MT940 / CAMT.053 / OFX files plus master-data CSVs (see ``python -m shared.synth``)."""

from shared.synth.mix import DEFAULT_MIX, SCENARIOS, Deductions, Outcome, Residual
from shared.synth.world import (
    ALL_FORMATS,
    Allocation,
    Customer,
    HouseAccount,
    OpenItem,
    Receipt,
    Truth,
    World,
    generate_world,
)

__all__ = [
    "ALL_FORMATS",
    "DEFAULT_MIX",
    "SCENARIOS",
    "Allocation",
    "Customer",
    "Deductions",
    "HouseAccount",
    "OpenItem",
    "Outcome",
    "Receipt",
    "Residual",
    "Truth",
    "World",
    "generate_world",
]
