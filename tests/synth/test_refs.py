"""Check digits: published examples first, then every reference the generator emits."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from shared.synth import World, refs


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "CH9300762011623852957",
        "NL91ABNA0417164300",
        "FR7630006000011234567890189",
        "BE68539007547034",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "PL61109010140000071219812874",
        "AT611904300234573201",
        "DE89 3704 0044 0532 0130 00",
    ],
)
def test_published_ibans_are_valid(iban: str) -> None:
    assert refs.iban_is_valid(iban)


@pytest.mark.parametrize(
    "iban",
    ["DE88370400440532013000", "DE89370400440532013001", "GB82WEST12345698765423", "XX", "1234567890123456"],
)
def test_broken_ibans_are_invalid(iban: str) -> None:
    assert not refs.iban_is_valid(iban)


@pytest.mark.parametrize(
    ("function", "args", "expected"),
    [
        (refs._fr_rib_key, ("30006", "00001", "12345678901"), "89"),
        (refs._be_check, ("5390075470",), "34"),
        (refs._es_dc, ("2100", "0418", "0200051332"), "45"),
        (refs._it_cin, ("05428", "11101", "000000123456"), "X"),
    ],
)
def test_national_check_digits_match_published_examples(
    function: Callable[..., str], args: tuple[str, ...], expected: str
) -> None:
    assert function(*args) == expected


@pytest.mark.parametrize("country", refs.IBAN_COUNTRIES)
def test_random_ibans_are_valid_for_every_country(country: str) -> None:
    rng = random.Random(country)
    for _ in range(200):
        iban = refs.random_iban(rng, country)
        assert iban.startswith(country)
        assert refs.iban_is_valid(iban), iban


def test_rf_reference_matches_iso_11649_example() -> None:
    assert refs.rf_reference("539007547034") == "RF18539007547034"
    assert refs.rf_is_valid("RF18 5390 0754 7034")
    assert not refs.rf_is_valid("RF19539007547034")
    assert not refs.rf_is_valid("RF18539007547043")


def test_qrr_matches_six_example() -> None:
    assert refs.qrr_reference("21000000000313947143000901") == "210000000003139471430009017"
    assert refs.qrr_is_valid("21 00000 00003 13947 14300 09017")
    assert not refs.qrr_is_valid("210000000003139471430009018")
    assert not refs.qrr_is_valid("21000000000313947143000901")
    assert refs.qrr_print_form("210000000003139471430009017") == "21 00000 00003 13947 14300 09017"


@pytest.mark.parametrize("bad", ["", "Ä1", "A" * 22, "AB-12"])
def test_rf_reference_refuses_bad_bases(bad: str) -> None:
    with pytest.raises(ValueError):
        refs.rf_reference(bad)


def test_every_generated_reference_is_valid(world: World) -> None:
    ibans = [i for c in world.customers for i in (*c.ibans, *c.other_accounts) if i[:2].isalpha()]
    ibans += [a.account for a in world.house_accounts if a.account[:2].isalpha()]
    ibans += [r.payer_account for r in world.receipts if r.payer_account[:2].isalpha()]
    assert len(ibans) > 300
    assert all(refs.iban_is_valid(i) for i in ibans)
    payment_refs = [it.payment_reference for it in world.open_items if it.payment_reference]
    rf = [p for p in payment_refs if p.startswith("RF")]
    qrr = [p for p in payment_refs if not p.startswith("RF")]
    assert rf and qrr
    assert all(refs.rf_is_valid(p) for p in rf)
    assert all(refs.qrr_is_valid(p) for p in qrr)
    assert len(set(payment_refs)) == len(payment_refs)


def test_some_customers_have_no_iban_in_master_data(world: World) -> None:
    without = [c for c in world.customers if not c.ibans]
    several = [c for c in world.customers if len(c.ibans) > 1]
    assert 0 < len(without) < len(world.customers) // 2
    assert several
