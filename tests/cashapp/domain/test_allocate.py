"""Subset search, and the allocation invariant under random worlds (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cashapp.domain import DecisionStatus
from services.cashapp.domain.allocate import find_subsets
from tests.cashapp.domain.frames import item, receipt, run

# --- subset search ------------------------------------------------------------------------------------


def test_subset_unique_and_proven() -> None:
    res = find_subsets([100, 250, 410, 77], 350, max_size=3, max_nodes=10_000)
    assert res.solutions == ((0, 1),) and res.exhausted


def test_subset_two_solutions_stop_early() -> None:
    res = find_subsets([100, 200, 300, 400], 500, max_size=3, max_nodes=10_000)
    assert len(res.solutions) == 2 and not res.exhausted


def test_subset_with_credit_notes() -> None:
    res = find_subsets([100, 250, -50, 77], 300, max_size=4, max_nodes=10_000, min_size=2)
    assert res.solutions == ((0, 1, 2),) and res.exhausted


def test_subset_respects_size_and_minimum() -> None:
    assert find_subsets([100, 200, 300], 600, max_size=2, max_nodes=10_000).solutions == ()
    assert find_subsets([100, 200], 100, max_size=2, max_nodes=10_000, min_size=2).solutions == ()


def test_subset_node_cap_means_not_proven() -> None:
    amounts = [1_000_000 + 7_919 * i * i for i in range(30)]
    res = find_subsets(amounts, amounts[3] + amounts[17], max_size=5, max_nodes=50)
    assert not res.exhausted


@given(st.lists(st.integers(-5_000, 50_000).filter(lambda v: v != 0), min_size=1, max_size=9), st.integers(1, 100_000))
@settings(max_examples=200, deadline=None)
def test_subset_search_agrees_with_brute_force(amounts: list[int], target: int) -> None:
    brute = [
        c for k in range(1, 5) for c in combinations(range(len(amounts)), k) if sum(amounts[i] for i in c) == target
    ]
    res = find_subsets(amounts, target, max_size=4, max_nodes=1_000_000, limit=2)
    assert res.exhausted == (len(brute) < 2)
    assert len(res.solutions) == min(len(brute), 2)
    assert all(s in brute for s in res.solutions)


# --- the allocation invariant over random worlds -----------------------------------------------------

_amounts = st.integers(1_00, 5_000_00)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[dict], list[dict], list[tuple[str, str, str]]]:
    n_items = draw(st.integers(1, 12))
    items = []
    for i in range(n_items):
        amount = draw(_amounts)
        sign = -1 if draw(st.integers(0, 9)) == 0 else 1
        partial = draw(st.integers(0, 4)) == 0
        open_amount = sign * (amount // 2 if partial else amount)
        items.append(
            item(
                i + 1,
                f"C{draw(st.integers(1, 3))}",
                f"INV-2026-{i + 1:06d}",
                sign * amount,
                open_amount_minor=open_amount,
                document_date=date(2026, 3, 1) - timedelta(days=draw(st.integers(0, 20))),
            )
        )
    receipts = []
    for r in range(draw(st.integers(1, 10))):
        picked = draw(st.lists(st.sampled_from(items), min_size=0, max_size=3, unique_by=lambda x: x["item_id"]))
        base = sum(i["open_amount_minor"] for i in picked) or draw(_amounts)
        delta = draw(st.sampled_from([0, 0, 0, -1, 1, -250, 250, -2_000, 2_000, -20_000]))
        amount = draw(st.sampled_from([base + delta, -abs(base), base]))
        text = " ".join(i["document_number"] for i in picked)
        typo: bool = draw(st.booleans())
        if picked and typo:
            text = text[:-2] + text[-1:] + text[-2]  # a typo
        receipts.append(
            receipt(
                r + 1,
                amount,
                remittance=text or None,
                counterparty_account=draw(st.sampled_from([None, "DE01", "DE02"])),
                counterparty_name=draw(st.sampled_from([None, "Customer C1", "Someone"])),
                booking_date=date(2026, 3, 1) + timedelta(days=draw(st.integers(0, 15))),
                is_reversal=draw(st.integers(0, 14)) == 0,
            )
        )
    accounts = [("C1", "iban", "DE01"), ("C2", "iban", "DE02")]
    return receipts, items, accounts


@given(worlds())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_decision_balances_and_no_document_is_over_applied(world: tuple) -> None:
    receipts, items, accounts = world
    decisions = run(receipts, items, accounts=accounts)
    assert sorted(d.receipt_id for d in decisions) == sorted(r["receipt_id"] for r in receipts)
    by_id = {r["receipt_id"]: r for r in receipts}
    cleared: dict[int, int] = defaultdict(int)
    for d in decisions:
        # applied + charges + write-off + unapplied == receipt, exactly
        assert d.applied_minor + d.fee_minor + d.writeoff_minor + d.unapplied_minor == d.amount_minor
        assert d.applied_minor == sum(a.amount_minor for a in d.allocations)
        assert d.amount_minor == by_id[d.receipt_id]["amount_minor"]
        if d.status is not DecisionStatus.AUTO:
            assert d.allocations == () and d.unapplied_minor == d.amount_minor
            continue
        assert d.amount_minor > 0 and not by_id[d.receipt_id]["is_reversal"]
        assert d.unapplied_minor >= 0 and d.short_minor >= 0
        assert d.fee_minor <= 0 and 0 <= d.score <= 1
        for a in d.allocations:
            cleared[a.item_id] += a.amount_minor
    open_of = {i["item_id"]: i["open_amount_minor"] for i in items}
    for item_id, total in cleared.items():
        # never more than was open, never the wrong sign
        opened = open_of[item_id]
        assert (0 < total <= opened) if opened > 0 else (opened <= total < 0)
