from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ParseError
from shared.iban import is_valid_iban
from shared.money import format_minor, from_minor, parse_decimal, split_minor, to_minor


@pytest.mark.parametrize("text, value", [
    ("1234.56", "1234.56"), ("1234,56", "1234.56"), ("1.234,56", "1234.56"),
    ("1,234.56", "1234.56"), ("-0,5", "-0.5"), ("+7", "7"), ("12,", "12.0"),
])
def test_parse_decimal(text: str, value: str) -> None:
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1.2.x", "NaN", "Infinity"])
def test_parse_decimal_refuses(text: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_decimal(text)
    assert err.value.code == "INGEST_BAD_AMOUNT"


@pytest.mark.parametrize("amount, ccy, minor", [
    ("12.30", "EUR", 1230), ("5000", "JPY", 5000), ("1.234", "KWD", 1234), ("12.300", "EUR", 1230),
])
def test_to_minor_exact(amount: str, ccy: str, minor: int) -> None:
    assert to_minor(Decimal(amount), ccy) == minor
    assert from_minor(minor, ccy) == Decimal(amount).quantize(from_minor(1, ccy))


@pytest.mark.parametrize("amount, ccy", [("12.305", "EUR"), ("1.5", "JPY")])
def test_to_minor_never_rounds(amount: str, ccy: str) -> None:
    with pytest.raises(ParseError):
        to_minor(Decimal(amount), ccy)


def test_format_minor() -> None:
    assert format_minor(-5, "EUR") == "-0.05" and format_minor(7, "JPY") == "7"


@given(st.integers(-10**12, 10**12), st.lists(st.integers(0, 10**6), min_size=1, max_size=12))
def test_split_conserves_the_whole(total: int, weights: list[int]) -> None:
    parts = split_minor(total, weights)
    assert sum(parts) == total and len(parts) == len(weights)


@pytest.mark.parametrize("iban, ok", [
    ("DE89370400440532013000", True), ("NL91 ABNA 0417 1643 00", True),
    ("DE89370400440532013001", False), ("XX", False),
])
def test_iban(iban: str, ok: bool) -> None:
    assert is_valid_iban(iban) is ok


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["EUR", "JPY", "KWD", "CLF", "usd", "XXX"]))
def test_format_minor_is_the_decimal_string(minor: int, ccy: str) -> None:
    assert format_minor(minor, ccy) == str(from_minor(minor, ccy))
