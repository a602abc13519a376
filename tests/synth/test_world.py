"""The generated world: determinism, scenario coverage, and a ground truth that is unambiguous."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from shared.synth import SCENARIOS, Deductions, Outcome, Residual, World, generate_world
from shared.synth.mix import DEFAULT_MIX, discount_minor, validate_mix
from shared.synth.remit import doc_key
from shared.synth.scenarios import scenario_counts, subset_count

from .conftest import DEFAULT_SIZE, START, default_world


def _snapshot(w: World) -> tuple[object, ...]:
    return (w.customers, w.open_items, w.receipts, w.house_accounts, w.business_days)


def test_same_seed_same_world_other_seed_other_world(world: World) -> None:
    assert _snapshot(default_world(7)) == _snapshot(world)
    assert default_world(8).receipts != world.receipts


def test_generation_ignores_global_random_state(world: World) -> None:
    import random

    random.seed(12345)
    assert _snapshot(default_world(7)) == _snapshot(world)


def test_every_scenario_appears_in_a_default_size_world(world: World) -> None:
    present = Counter(r.truth.scenario for r in world.receipts)
    assert set(present) == {s.name for s in SCENARIOS}
    assert len(world.receipts) == DEFAULT_SIZE["receipts"]
    assert not any(world.fallbacks.values()), world.fallbacks


def test_mix_matches_the_requested_counts(world: World) -> None:
    expected = scenario_counts(DEFAULT_SIZE["receipts"], DEFAULT_MIX)
    assert Counter(r.truth.scenario for r in world.receipts) == Counter(expected)


def test_default_mix_is_mostly_reference_bearing() -> None:
    with_ref = sum(s.weight for s in SCENARIOS if s.has_reference)
    assert sum(DEFAULT_MIX.values()) == 1000
    assert 600 <= with_ref <= 700


def test_custom_mix_and_validation() -> None:
    w = generate_world(3, 50, 200, 40, START, mix={"exact_docnum": 1, "debit": 1})
    assert Counter(r.truth.scenario for r in w.receipts) == {"exact_docnum": 20, "debit": 20}
    with pytest.raises(ValueError, match="unknown scenarios"):
        validate_mix({"nope": 3})
    with pytest.raises(ValueError):
        validate_mix({"debit": 0})


def test_customers_are_distinct_and_international(world: World) -> None:
    ids = [c.customer_id for c in world.customers]
    assert len(set(ids)) == len(ids) and all(i[0] == "C" and len(i) == 7 for i in ids)
    names = [c.customer_name for c in world.customers]
    assert len(set(names)) == len(names)
    assert {c.country for c in world.customers} >= {"DE", "NL", "FR", "GB", "CH", "US"}
    assert any(ch in "".join(names) for ch in "äöüéèà")
    for c in world.customers:
        assert c.name_variants and c.customer_name not in c.name_variants


def test_open_items_are_well_formed(world: World) -> None:
    numbers = [it.document_number for it in world.open_items]
    assert len(set(numbers)) == len(numbers)
    assert len({doc_key(n) for n in numbers}) == len(numbers)
    types = Counter(it.document_type for it in world.open_items)
    assert types["invoice"] > 10 * types["credit_note"] > 0
    assert {it.currency for it in world.open_items} == {"EUR", "CHF", "GBP", "USD"}
    partial = 0
    for it in world.open_items:
        assert isinstance(it.amount_minor, int) and 0 < it.open_amount_minor <= it.amount_minor
        assert it.due_date >= it.document_date
        partial += it.open_amount_minor < it.amount_minor
    assert partial > 0
    assert any(n.startswith("INV-") for n in numbers) and any(n.isdigit() and len(n) == 8 for n in numbers)
    assert any(n.startswith("00") and len(n) == 10 for n in numbers)


def test_each_document_is_paid_by_at_most_one_receipt(world: World) -> None:
    used = Counter(a.document_number for r in world.receipts for a in r.truth.allocations)
    assert used and max(used.values()) == 1


def test_bank_references_are_unique_and_short(world: World) -> None:
    refs = [r.bank_reference for r in world.receipts]
    assert len(set(refs)) == len(refs)
    assert all(0 < len(ref) <= 16 for ref in refs)


def test_truth_is_internally_consistent(world: World) -> None:
    items = {it.document_number: it for it in world.open_items}
    for r in world.receipts:
        t = r.truth
        assert isinstance(r.amount_minor, int)
        assert t.outcome is next(s.outcome for s in SCENARIOS if s.name == t.scenario)
        if t.outcome is Outcome.IGNORE:
            assert r.amount_minor < 0 and not t.allocations
            continue
        assert r.amount_minor > 0
        if t.outcome is Outcome.APPLY or t.scenario == "ambiguous_amount":
            assert t.customer_id and t.allocations
            docs = [items[a.document_number] for a in t.allocations]
            assert {d.customer_id for d in docs} == {t.customer_id}
            assert {d.currency for d in docs} == {r.currency}
            assert r.amount_minor - sum(d.signed_open_minor for d in docs) == t.residual_minor
        else:
            assert t.customer_id is None and not t.allocations


def test_allocations_and_residuals_follow_the_convention(world: World) -> None:
    items = {it.document_number: it for it in world.open_items}
    ded = Deductions()
    for r in world.receipts:
        t = r.truth
        for a in t.allocations:
            doc = items[a.document_number]
            cleared = (
                doc.signed_open_minor if t.residual_class is not Residual.SHORT_PAYMENT else r.amount_minor
            )
            assert a.amount_minor == cleared
        if t.residual_class is Residual.BANK_CHARGE:
            assert ded.charge_min <= -t.residual_minor <= ded.charge_max
        elif t.residual_class is Residual.SHORT_PAYMENT:
            assert ded.short_min <= -t.residual_minor <= ded.short_max
            open_amount = r.amount_minor - t.residual_minor
            assert -t.residual_minor * 1000 <= open_amount * ded.short_max_permille
        elif t.residual_class is Residual.OVERPAYMENT:
            assert ded.over_min <= t.residual_minor <= ded.over_max
        elif t.residual_class is Residual.DISCOUNT:
            doc = items[t.allocations[0].document_number]
            assert -t.residual_minor == discount_minor(doc.amount_minor, ded.discount_pct)
            assert (
                doc.document_date <= r.booking_date <= doc.document_date + timedelta(days=ded.discount_days)
            )
        else:
            assert t.residual_minor == 0


def _group(world: World, customer_id: str, currency: str) -> list[int]:
    return [
        it.signed_open_minor
        for it in world.open_items
        if it.customer_id == customer_id and it.currency == currency and it.open_amount_minor
    ]


def test_amount_only_scenarios_are_unambiguous(world: World) -> None:
    customers = {c.customer_id: c for c in world.customers}
    known = {i for c in world.customers for i in c.ibans}
    for r in world.receipts:
        t = r.truth
        if t.scenario not in (
            "iban_unique_amount",
            "name_unique_amount",
            "iban_subset_sum",
            "ambiguous_amount",
        ):
            continue
        assert t.customer_id is not None
        group = _group(world, t.customer_id, r.currency)
        if t.scenario == "ambiguous_amount":
            assert group.count(r.amount_minor) >= 2
            continue
        if len(group) <= 12:
            assert subset_count(group, r.amount_minor) == 1, t
        assert group.count(r.amount_minor) == (1 if t.scenario != "iban_subset_sum" else 0)
        if t.scenario.startswith("iban_"):
            assert r.payer_account in customers[t.customer_id].ibans
        else:
            assert not customers[t.customer_id].ibans and r.payer_account not in known


def test_fuzzy_references_never_spell_another_document(world: World) -> None:
    keys = {doc_key(it.document_number) for it in world.open_items}
    digit_keys = {doc_key(re.sub(r"\D", "", it.document_number)) for it in world.open_items}
    fuzzy = [r for r in world.receipts if r.truth.scenario == "fuzzy_reference"]
    assert fuzzy
    for r in fuzzy:
        target = r.truth.allocations[0].document_number
        assert target not in r.remittance and doc_key(target) not in doc_key(r.remittance)
        assert not any(doc_key(w) in keys for w in r.remittance.split())
        assert not any(
            doc_key(re.sub(r"\D", "", w)) in digit_keys for w in r.remittance.split() if w[-1].isdigit()
        )


def test_structured_references_point_at_their_documents(world: World) -> None:
    items = {it.document_number: it for it in world.open_items}
    for r in world.receipts:
        if r.creditor_reference:
            doc = items[r.truth.allocations[0].document_number]
            assert r.creditor_reference == doc.payment_reference
            assert r.creditor_reference_type == ("SCOR" if doc.payment_reference.startswith("RF") else "QRR")
    qrr = [r for r in world.receipts if r.truth.scenario == "qrr_reference"]
    assert qrr and all(r.currency == "CHF" and r.creditor_reference_type == "QRR" for r in qrr)


def test_detail_scenarios_land_on_accounts_that_carry_details(world: World) -> None:
    by_account = {a.account: a for a in world.house_accounts}
    for r in world.receipts:
        acc = by_account[r.account]
        assert acc.currency == r.currency
        if r.truth.scenario in ("e2e_reference", "iban_unique_amount", "iban_subset_sum"):
            assert acc.carries_details, r.truth.scenario


def test_third_party_payers_are_not_the_customer(world: World) -> None:
    customers = {c.customer_id: c for c in world.customers}
    third = [r for r in world.receipts if r.truth.scenario == "third_party"]
    assert third
    for r in third:
        owner = customers[r.truth.customer_id or ""]
        assert r.payer_name != owner.customer_name and r.payer_account not in owner.ibans


def test_formats_decide_the_house_accounts() -> None:
    w = generate_world(5, 60, 200, 80, START, formats=("ofx",))
    assert {a.format for a in w.house_accounts} == {"ofx"}
    assert not any(r.truth.scenario in ("e2e_reference", "iban_unique_amount") for r in w.receipts)
    assert sum(w.fallbacks.values()) > 0
    with pytest.raises(ValueError):
        generate_world(5, 10, 10, 10, START, formats=("pdf",))


def test_receipts_fall_in_the_period_on_business_days(world: World) -> None:
    days = set(world.business_days)
    assert all(r.booking_date in days for r in world.receipts)
    assert all(r.value_date <= r.booking_date for r in world.receipts)
    assert len(days) >= 3


TEXT_REFERENCED = (
    "exact_docnum",
    "erp_number",
    "multi_invoice",
    "multi_with_credit_note",
    "third_party",
    "bank_charges",
    "short_payment",
    "early_discount",
    "overpayment",
)


def test_referenced_documents_are_written_in_full(world: World) -> None:
    """Every document a text-referenced receipt clears is spelled in its remittance (the running
    number at least: prefixes, zero padding and separators vary), within the 140-character limit."""
    for r in world.receipts:
        assert len(r.remittance) <= 140
        if r.truth.scenario not in TEXT_REFERENCED:
            continue
        digits = re.sub(r"\D", "", r.remittance)
        for a in r.truth.allocations:
            assert a.document_number[-6:] in digits, (a.document_number, r.remittance)


def test_e2e_scenario_carries_the_document_in_the_end_to_end_id(world: World) -> None:
    e2e = [r for r in world.receipts if r.truth.scenario == "e2e_reference"]
    assert e2e
    for r in e2e:
        number = r.truth.allocations[0].document_number
        assert number[-6:] in re.sub(r"\D", "", r.end_to_end_id)
        assert number[-6:] not in re.sub(r"\D", "", r.remittance)
