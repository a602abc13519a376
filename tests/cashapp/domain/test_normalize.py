"""Normalisation of references, names and accounts; Python and polars twins agree; check digits."""

from __future__ import annotations

import polars as pl
import pytest

from services.cashapp.domain.normalize import (
    RefNormalizer,
    account_expr,
    compact_text_expr,
    grouped_text_expr,
    name_expr,
    normalize_account,
    normalize_name,
    qrr_check_digit,
    qrr_valid,
    rf_make,
    rf_valid,
    rf_valid_prefix,
)
from services.cashapp.rules import default_rules

RULES = default_rules()
REF = RefNormalizer(RULES.references.strip_prefixes)
LEGAL, STOP = RULES.names.legal_forms, RULES.names.stopwords

REFS = [
    ("INV-2026-004512", "2026004512", "2026-4512"),
    ("inv 2026 004512", "2026004512", "2026-4512"),
    ("INV-2026-4512", "20264512", "2026-4512"),
    ("RE: 2026/004512", "2026004512", "2026-4512"),
    ("RG.NR. 2026-004512", "2026004512", "2026-4512"),
    ("Rg-Nr 2026004512", "2026004512", "2026004512"),
    ("#90004512", "90004512", "90004512"),
    ("0090004512", "90004512", "90004512"),
    ("Rechnung INV 2026-00 4512", "2026004512", "2026-4512"),
    ("RF18 5390 0754 7034", "RF18539007547034", "RF18-5390-754-7034"),
    ("CN-2026-000017", "CN2026000017", "CN-2026-17"),
    ("INVOICE", "INVOICE", ""),
    ("", "", ""),
]


@pytest.mark.parametrize(("text", "compact", "grouped"), REFS)
def test_reference_keys(text: str, compact: str, grouped: str) -> None:
    assert REF.compact(text) == compact
    assert REF.grouped(text) == grouped


def test_polars_reference_keys_agree_with_python() -> None:
    prefixes = RULES.references.strip_prefixes
    texts = [t for t, _, _ in REFS] + ["re re inv 0", "INVRE5 RE", "00", "re0012-00-a0b", "ß-1234"]
    out = pl.DataFrame({"t": texts}).select(
        compact_text_expr(pl.col("t"), prefixes).alias("c"), grouped_text_expr(pl.col("t"), prefixes).alias("g")
    )
    assert out["c"].to_list() == [REF.compact(t) for t in texts]
    assert out["g"].to_list() == [REF.grouped(t) for t in texts]


NAMES = [
    ("Müller Maschinenbau GmbH", "muller maschinenbau"),
    ("Mueller Maschinenbau G.m.b.H.", "muller maschinenbau"),
    ("MULLER MASCHINENBAU GMBH & CO. KG", "muller maschinenbau"),
    ("Weiß Logistik AG", "weiss logistik"),
    ("Weiss Logistik Aktiengesellschaft", "weiss logistik"),
    ("Thornton Systems Ltd", "thornton systems"),
    ("Thornton Systems Limited", "thornton systems"),
    ("Société Générale S.A.", "societe generale"),
    ("Wiśniewski & Wójcik Sp. z o.o.", "wisniewski wojcik"),
    ("Wiśniewski & Wójcik Sp.z o.o.", "wisniewski wojcik"),
    ("Ibáñez López S.L.", "ibanez lopez"),
    ("GmbH", "gmbh"),  # nothing but a legal form: kept rather than emptied
    ("", ""),
]


@pytest.mark.parametrize(("raw", "norm"), NAMES)
def test_name_normalisation(raw: str, norm: str) -> None:
    assert normalize_name(raw, LEGAL, STOP) == norm


def test_polars_names_agree_with_python() -> None:
    raws = [r for r, _ in NAMES] + ["Æble & Øre ApS", "İstanbul Ticaret A.Ş.", "Straße der Einheit eG"]
    out = pl.DataFrame({"n": raws}).select(name_expr(pl.col("n"), LEGAL, STOP).alias("n"))["n"].to_list()
    assert out == [normalize_name(r, LEGAL, STOP) for r in raws]


def test_legal_forms_written_naturally_in_rules_still_match() -> None:
    assert (
        normalize_name("Acme Gesellschaft mit beschränkter Haftung", ["Gesellschaft mit beschränkter Haftung"])
        == "acme"
    )
    assert normalize_name("Acme G.m.b.H.", ["GmbH"]) == "acme"


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("de89370400440532013000", "DE89370400440532013000"),
        ("0012345678", "12345678"),
        ("", ""),
        (None, ""),
    ],
)
def test_accounts(raw: str | None, norm: str) -> None:
    assert normalize_account(raw) == norm
    assert pl.DataFrame({"a": [raw]}, schema={"a": pl.Utf8}).select(account_expr(pl.col("a")))["a"][0] == norm


@pytest.mark.parametrize(
    ("ref", "valid"),
    [
        ("RF18539007547034", True),
        ("RF18 5390 0754 7034", True),
        ("rf18539007547034", True),
        ("RF18539007547043", False),
        ("RF19539007547034", False),
        ("RF18", False),
        ("XX18539007547034", False),
    ],
)
def test_rf_check_digits(ref: str, valid: bool) -> None:
    assert rf_valid(ref) is valid


def test_rf_make_round_trips_and_catches_every_single_substitution() -> None:
    ref = rf_make("2026004512")
    assert rf_valid(ref)
    for i in range(4, len(ref)):
        for d in "0123456789":
            if d != ref[i]:
                assert not rf_valid(ref[:i] + d + ref[i + 1 :])


def test_rf_valid_prefix_finds_where_a_spaced_reference_ends() -> None:
    assert rf_valid_prefix("RF18539007547034THANKS") == "RF18539007547034"
    assert rf_valid_prefix("RF18539007547043") is None


@pytest.mark.parametrize(
    ("ref", "valid"),
    [
        ("210000000003139471430009017", True),
        ("21 00000 00003 13947 14300 09017", True),
        ("210000000003139471430009018", False),
        ("21000000000313947143000901", False),
    ],
)
def test_qrr_check_digit(ref: str, valid: bool) -> None:
    assert qrr_valid(ref) is valid
    assert qrr_check_digit("21000000000313947143000901") == "7"
