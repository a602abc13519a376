"""Item-level reconciliation: every difference class, exactly, and the balance invariant."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.recon.domain import (
    DifferenceClass,
    ReconInputError,
    compare_items,
    differences_frame,
    reconcile_items,
    reconcile_replies,
)
from tests.recon.domain.helpers import cash, ours, reply

C = DifferenceClass
PIT, INR, CNNR, AMT = (
    C.PAYMENT_IN_TRANSIT,
    C.INVOICE_NOT_RECORDED,
    C.CREDIT_NOTE_NOT_RECORDED,
    C.AMOUNT_DIFFERS,
)
DISP, UC, UNX = C.DISPUTED, C.UNAPPLIED_CASH, C.UNEXPLAINED


@dataclass
class Case:
    ours: pl.DataFrame
    theirs: pl.DataFrame
    expected: list[DifferenceClass]
    after: pl.DataFrame | None = None
    unapplied: pl.DataFrame | None = None
    before: pl.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)


BASE = ((1, "INV-2026-000101", 10_000), (2, "INV-2026-000102", 20_000))
THEIRS_BASE = (("INV-2026-000101", 10_000), ("INV-2026-000102", 20_000))

CASES: dict[str, Case] = {
    "agreed": Case(ours(*BASE), reply(*THEIRS_BASE), []),
    "agreed, numbers written their way, any order": Case(
        ours(*BASE, (3, "CN-2026-000007", -500)),
        reply(("cn 2026/7", -500), ("2026000102", 20_000), ("RG.NR. 2026-101", 10_000)),
        [],
    ),
    "agreed, their own voucher number, same amount and date": Case(
        ours(*BASE), reply(("INV-2026-000101", 10_000), ("AP-VOUCHER-889", 20_000)), []
    ),
    "agreed, they list our cash on account as their payment": Case(
        ours(*BASE, (3, "OA-1", -7_000)), reply(*THEIRS_BASE, ("PAY 0927", -7_000, False, "EUR", -3)), []
    ),
    "payment in transit: receipt after cut-off applied to the item": Case(
        ours(*BASE), reply(THEIRS_BASE[0]), [PIT], after=cash((50, 2, "INV-2026-000102", 20_000))
    ),
    "payment in transit: unapplied receipt after cut-off with its amount": Case(
        ours(*BASE), reply(THEIRS_BASE[0]), [PIT], after=cash((50, None, None, 20_000))
    ),
    "payment in transit: partial payment closes the amount gap": Case(
        ours(*BASE),
        reply(THEIRS_BASE[0], ("INV-2026-000102", 5_000)),
        [PIT],
        after=cash((50, 2, "INV-2026-000102", 15_000)),
    ),
    "payment in transit: they list their payment we received later": Case(
        ours(*BASE),
        reply(*THEIRS_BASE, ("payment 29.09.", -20_000)),
        [PIT],
        after=cash((50, 2, "INV-2026-000102", 20_000)),
    ),
    "payment in transit, reverse: they list an item we cleared just before": Case(
        ours(BASE[0]),
        reply(*THEIRS_BASE),
        [PIT],
        before=cash((40, 2, "INV-2026-000102", 20_000, -2)),
    ),
    "payment in transit, reverse: part cleared just before the cut-off": Case(
        ours(BASE[0], (2, "INV-2026-000102", 8_000)),
        reply(*THEIRS_BASE),
        [PIT],
        before=cash((40, 2, "INV-2026-000102", 12_000, -1)),
    ),
    "invoice not recorded": Case(ours(*BASE), reply(THEIRS_BASE[0]), [INR]),
    "credit note not recorded": Case(ours(*BASE, (3, "CN-2026-000007", -500)), reply(*THEIRS_BASE), [CNNR]),
    "amount differs": Case(ours(*BASE), reply(THEIRS_BASE[0], ("INV-2026-000102", 19_000)), [AMT]),
    "amount differs when the receipt does not cover the gap exactly": Case(
        ours(*BASE),
        reply(THEIRS_BASE[0], ("INV-2026-000102", 5_000)),
        [AMT],
        after=cash((50, 2, "INV-2026-000102", 14_999)),
    ),
    "disputed by the reply, same amount": Case(
        ours(*BASE), reply(THEIRS_BASE[0], ("INV-2026-000102", 20_000, True)), [DISP]
    ),
    "disputed line we do not know": Case(ours(*BASE), reply(*THEIRS_BASE, ("CLAIM-77", 3_000, True)), [DISP]),
    "deduction we carry that they do not list": Case(
        ours(*BASE, (3, "DED-5", 1_200)), reply(*THEIRS_BASE), [DISP]
    ),
    "unapplied cash on account pays the missing invoice": Case(
        ours(*BASE, (3, "OA-9", -20_000)), reply(THEIRS_BASE[0]), [UC, UC]
    ),
    "cash on account nobody mentions": Case(ours(*BASE, (3, "OA-9", -900)), reply(*THEIRS_BASE), [UC]),
    "unapplied receipt later applied to the missing invoice": Case(
        ours(*BASE), reply(THEIRS_BASE[0]), [UC], unapplied=cash((60, 2, "INV-2026-000102", 20_000, -3))
    ),
    "unapplied receipt still unapplied, same amount": Case(
        ours(*BASE), reply(THEIRS_BASE[0]), [UC], unapplied=cash((60, None, None, 20_000, -3))
    ),
    "one unapplied receipt pays several invoices": Case(
        ours(*BASE, (3, "INV-2026-000103", 5_000)),
        reply(),
        [UC, UC, UC],
        unapplied=cash((60, None, None, 35_000, -3)),
    ),
    "one receipt after the cut-off pays several invoices": Case(
        ours(*BASE), reply(), [PIT, PIT], after=cash((50, None, None, 30_000))
    ),
    "unexplained: they list an item we do not know": Case(
        ours(*BASE), reply(*THEIRS_BASE, ("INV-2026-009999", 4_000)), [UNX]
    ),
    "unexplained: short payment after the cut-off": Case(
        ours(*BASE), reply(THEIRS_BASE[0]), [PIT, UNX], after=cash((50, 2, "INV-2026-000102", 19_000))
    ),
    "unexplained: same number in another currency": Case(
        ours(*BASE), reply(THEIRS_BASE[0], ("INV-2026-000102", 20_000, False, "USD")), [UNX, INR]
    ),
    "a receipt explains only once": Case(
        ours(*BASE, (3, "INV-2026-000103", 20_000)),
        reply(THEIRS_BASE[0]),
        [PIT, INR],
        after=cash((50, None, None, 20_000)),
    ),
}


def _run(case: Case) -> list[DifferenceClass]:
    diffs = compare_items(
        case.ours, case.theirs, case.after, case.unapplied, cleared_before_cutoff=case.before
    )
    return [d.difference_class for d in diffs]


@pytest.mark.parametrize("name", list(CASES))
def test_each_reply_produces_exactly_its_classes(name: str) -> None:
    case = CASES[name]
    assert Counter(_run(case)) == Counter(case.expected)


def test_every_class_is_exercised_by_the_table() -> None:
    assert {c for case in CASES.values() for c in case.expected} == set(DifferenceClass)


def test_one_reply_with_every_class_at_once() -> None:
    snap = ours(
        (1, "INV-1", 10_000),  # agreed
        (2, "INV-2", 20_000),  # paid after the cut-off -> in transit
        (3, "INV-3", 30_000),  # not on their list -> invoice not recorded
        (4, "CN-4", -4_000),  # not on their list -> credit note not recorded
        (5, "INV-5", 50_000),  # they show 49,000 -> amount differs
        (6, "INV-6", 60_000),  # they dispute it
        (7, "INV-7", 7_000),  # paid by cash we hold on account
        (8, "OA-8", -7_000),
    )
    theirs = reply(("INV-1", 10_000), ("INV-5", 49_000), ("INV-6", 60_000, True), ("XYZ-1", 123))
    result = reconcile_items("C1", snap, theirs, cash((90, 2, "INV-2", 20_000)), None)
    assert Counter(result.classes()) == Counter([PIT, INR, CNNR, AMT, DISP, UC, UC, UNX])
    assert not result.agreed
    assert result.our_balance == {"EUR": 166_000}
    assert result.their_balance == {"EUR": 119_123}
    by_item = {d.item_id: d for d in result.differences if d.item_id}
    assert by_item[2].receipt_ids == (90,)
    assert by_item[7].related_item_ids == (8,)
    assert by_item[5].difference_minor == 1_000
    assert "INV-3" in by_item[3].reason and "missing from the customer's list" in by_item[3].reason
    frame = differences_frame([result])
    assert frame.height == 8
    assert frame["difference_minor"].sum() == 166_000 - 119_123


def test_agreed_result_has_equal_balances() -> None:
    result = reconcile_items("C1", ours(*BASE), reply(*THEIRS_BASE))
    assert result.agreed and result.differences == ()
    assert result.our_balance == result.their_balance == {"EUR": 30_000}
    assert result.to_dict()["reply_kind"] == "items"


def test_disputed_line_keeps_the_note_and_line_number() -> None:
    theirs = reply(("INV-2026-000102", 20_000, True)).with_columns(pl.lit(17).alias("line_no"))
    [diff] = [d for d in compare_items(ours(BASE[1]), theirs, None, None)]
    assert diff.difference_class is DISP
    assert diff.their_line == 17
    assert "quality claim" in diff.reason


def test_reply_with_float_amount_is_refused() -> None:
    bad = reply(*THEIRS_BASE).with_columns(pl.col("amount_minor").cast(pl.Float64))
    with pytest.raises(ReconInputError, match="amount_minor"):
        compare_items(ours(*BASE), bad, None, None)


# --- the invariant over generated replies --------------------------------------------------------

_PREFIX = {"invoice": "INV", "credit_note": "CN", "deduction": "DED", "on_account": "OA"}


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, pl.DataFrame]:
    """Our items, a perturbed copy as the customer's list, and random cash around the cut-off."""
    n = draw(st.integers(0, 12))
    items = []
    for item_id in range(1, n + 1):
        kind = draw(st.sampled_from(list(_PREFIX)))
        sign = -1 if kind in ("credit_note", "on_account") else 1
        amount = sign * draw(st.sampled_from([500, 1_000, 2_500, 10_000, draw(st.integers(1, 50_000))]))
        items.append(
            (item_id, f"{_PREFIX[kind]}-{item_id:04d}", amount, draw(st.sampled_from(["EUR", "USD"])))
        )
    lines = []
    for _item_id, number, amount, currency in items:
        action = draw(st.sampled_from(["same", "same", "drop", "change", "dispute", "reformat"]))
        if action == "drop":
            continue
        value = amount + draw(st.integers(-3_000, 3_000)) if action == "change" else amount
        text = number.lower().replace("-", " ") if action == "reformat" else number
        lines.append((text, value, action == "dispute", currency))
    for k in range(draw(st.integers(0, 3))):
        lines.append((f"X-{k}", draw(st.integers(-20_000, 20_000)), draw(st.booleans()), "EUR"))
    ids = [i[0] for i in items]

    def cash_rows(base: int) -> list[tuple[Any, ...]]:
        rows = []
        for r in range(draw(st.integers(0, 4))):
            item = draw(st.sampled_from([None, *ids])) if ids else None
            amount = draw(st.sampled_from([500, 1_000, 2_500, 10_000, draw(st.integers(1, 30_000))]))
            rows.append((base + r, item, None, amount, 2, draw(st.sampled_from(["EUR", "USD"]))))
        return rows

    return {
        "ours": ours(*items),
        "theirs": reply(*lines),
        "after": cash(*cash_rows(100)),
        "unapplied": cash(*cash_rows(200)),
        "before": cash(*cash_rows(300)),
    }


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_differences_always_add_up_to_the_balance_gap(world: dict[str, pl.DataFrame]) -> None:
    result = reconcile_items(
        "C1",
        world["ours"],
        world["theirs"],
        world["after"],
        world["unapplied"],
        cleared_before_cutoff=world["before"],
    )
    covered: dict[str, int] = defaultdict(int)
    for d in result.differences:
        covered[d.currency] += d.difference_minor
        assert not d.reason.startswith("balance gap"), "the safety net fired: an item was not accounted for"
        assert d.reason
    for currency in set(result.our_balance) | set(result.their_balance):
        gap = result.our_balance.get(currency, 0) - result.their_balance.get(currency, 0)
        assert covered[currency] == gap
    assert result.agreed == (not result.differences)


@settings(max_examples=100, deadline=None)
@given(worlds(), st.randoms(use_true_random=False))
def test_a_reply_that_is_our_own_list_agrees_in_any_order(world: dict[str, pl.DataFrame], rnd: Any) -> None:
    snap = world["ours"]
    mine = snap.select(
        "customer_id",
        "document_number",
        "document_date",
        pl.col("open_minor").alias("amount_minor"),
        "currency",
    )
    order = list(range(mine.height))
    rnd.shuffle(order)
    result = reconcile_items("C1", snap[rnd.sample(range(snap.height), snap.height)], mine[order])
    assert result.agreed, result.differences


def test_batch_gives_the_same_results_as_one_by_one() -> None:
    snap = pl.concat([ours(*BASE, customer="C1"), ours((3, "INV-2026-000103", 5_000), customer="C2")])
    items = pl.concat(
        [reply(THEIRS_BASE[0], customer="C1"), reply(("INV-2026-000103", 5_000), customer="C2")]
    )
    after = cash((50, 2, "INV-2026-000102", 20_000), customer="C1")
    balance = pl.DataFrame(
        {"customer_id": ["C2", "C9"], "currency": ["EUR", "EUR"], "confirmed_balance_minor": [5_000, 1]}
    )
    results = reconcile_replies(
        snap, item_replies=items, balance_replies=balance, receipts_after_cutoff=after
    )
    assert [(r.customer_id, r.reply_kind.value, r.agreed) for r in results] == [
        ("C1", "items", False),
        ("C2", "balance", True),
        ("C2", "items", True),
        ("C9", "balance", False),
    ]
    one = reconcile_items(
        "C1", snap.filter(pl.col("customer_id") == "C1"), items.filter(pl.col("customer_id") == "C1"), after
    )
    assert results[0] == one
    assert results[3].classes() == [UNX]


def test_batch_matches_integer_snapshot_ids_with_text_reply_ids() -> None:
    snap = ours(*BASE).with_columns(pl.lit(7).alias("customer_id"))
    items = reply(*THEIRS_BASE, customer="7")
    [result] = reconcile_replies(snap, item_replies=items)
    assert result.agreed and result.our_balance == {"EUR": 30_000}
