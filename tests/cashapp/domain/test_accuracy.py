"""The engine on a seeded synthetic world: accuracy targets, and the fast path changes nothing."""

from __future__ import annotations

from datetime import date

from services.cashapp.domain import DecisionStatus, match
from services.cashapp.rules import default_rules
from tests.cashapp.domain.world import make_world

AS_OF = date(2026, 6, 30)


def test_auto_rate_and_precision_on_a_synthetic_world() -> None:
    w = make_world(11, 3000)
    decisions = match(w.receipts, w.open_items, w.customers, w.accounts, default_rules(), AS_OF)
    applicable = [d for d in decisions if w.truth[d.receipt_id][2] is not None]
    auto = [d for d in applicable if d.status is DecisionStatus.AUTO]
    right = [
        d
        for d in auto
        if d.customer_id == w.truth[d.receipt_id][1]
        and {a.document_number: a.amount_minor for a in d.allocations} == w.truth[d.receipt_id][2]
    ]
    assert len(auto) / len(applicable) >= 0.97
    assert len(right) / len(auto) >= 0.999
    # nothing that is not a customer payment is ever applied
    others = [d for d in decisions if w.truth[d.receipt_id][2] is None]
    assert all(d.status is not DecisionStatus.AUTO for d in others)
    assert all(d.balanced for d in decisions)


def test_fast_path_gives_the_same_decisions_as_the_per_receipt_path() -> None:
    # With non_ar first the fast path is off and every receipt goes through the per-receipt loop;
    # without a non-AR keyword non_ar does nothing, so the reference receipts decide the same way.
    w = make_world(12, 1500)
    rules = default_rules()
    order = ["non_ar"] + [s for s in rules.order() if s != "non_ar"]
    slow = rules.model_copy(update={"strategies": sorted(rules.strategies, key=lambda s: order.index(s.id))})
    args = (w.receipts, w.open_items, w.customers, w.accounts)
    fast_d = {d.receipt_id: d for d in match(*args, rules, AS_OF)}
    slow_d = {d.receipt_id: d for d in match(*args, slow, AS_OF)}
    same = [
        rid
        for rid, d in fast_d.items()
        if d.rule_id == "reference.exact" and d.score == 1.0 and w.truth[rid][0] != "non_ar"
    ]
    assert len(same) > 500
    for rid in same:
        assert fast_d[rid] == slow_d[rid]
