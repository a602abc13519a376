"""Rule set: loading, validation errors naming the key path, shipped defaults."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from services.cashapp.domain.rules import AmountSubset, RuleSet, load_rules
from services.cashapp.rules import default_rules, default_rules_text
from shared.errors import ValidationError


def test_default_rules_load_and_are_versioned() -> None:
    rules = default_rules()
    assert rules.version == "2026.1"
    assert rules.order()[:2] == ["reference.exact", "reference.fuzzy"]
    assert rules.ingest.on_balance_break == "hold"
    assert rules.tolerances.bank_charge.max_abs == Decimal("25.00")


def test_model_defaults_equal_the_shipped_file() -> None:
    # A rule file only needs to state what it changes: the model's defaults are the shipped ones.
    shipped = default_rules().model_dump(exclude={"version", "description"})
    bare = RuleSet(version="x").model_dump(exclude={"version", "description"})
    assert shipped == bare


def test_minimal_file_is_enough() -> None:
    rules = load_rules('version = "7"\n')
    assert rules.version == "7"
    assert rules.settings(AmountSubset).max_size == 5


def _problems(text: str) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as err:
        load_rules(text)
    assert err.value.code == "RULES_INVALID"
    return err.value.details["errors"]


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ("description = 'no version'", "version", "Field required"),
        ('version = "1"\n[tolerances.bank_charge]\nmax_pct = "abc"', "tolerances.bank_charge.max_pct", "decimal"),
        ('version = "1"\n[tolerances.bank_charge]\nmax_abs = "-1"', "tolerances.bank_charge.max_abs", ">= 0"),
        (
            'version = "1"\n[tolerances.bank_charge]\nmax_absolute = "1"',
            "tolerances.bank_charge.max_absolute",
            "Extra inputs",
        ),
        ('version = "1"\n[scoring]\nauto = 1.5', "scoring.auto", "less than or equal"),
        ('version = "1"\n[scoring]\nauto = 0.5\nsuggest = 0.6', "scoring", "suggest must not be above auto"),
        (
            'version = "1"\n[tolerances.short_payment]\naction = "ignore"',
            "tolerances.short_payment.action",
            "leave_open",
        ),
        ('version = "1"\n[ingest]\non_balance_break = "maybe"', "ingest.on_balance_break", "hold"),
        ('version = "1"\n[[strategies]]\nid = "magic"', "strategies[0]", "magic"),
        (
            'version = "1"\n[[strategies]]\nid = "amount.exact"\n[[strategies]]\nid = "amount.exact"',
            "strategies",
            "duplicate strategy ids",
        ),
        (
            'version = "1"\n[[strategies]]\nid = "amount.subset"\nmax_size = 1',
            "strategies[0].max_size",
            "greater than or equal",
        ),
        (
            'version = "1"\n[[references.schemes]]\nname = "x"\npattern = "(unclosed"',
            "references.schemes[0].pattern",
            "invalid regular expression",
        ),
        (
            'version = "1"\n[[strategies]]\nid = "non_ar"\nkeywords = ["(?<=x)y"]',
            "strategies[0].keywords[0]",
            "invalid regular expression",
        ),
    ],
)
def test_invalid_rules_name_the_key_and_the_problem(text: str, path: str, words: str) -> None:
    problems = _problems(text)
    assert any(p["path"] == path and words in p["problem"] for p in problems), problems


def test_toml_syntax_error_is_rules_invalid() -> None:
    problems = _problems('version = "1"\n[scoring\nauto = 1')
    assert problems[0]["path"] == "(file)"


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as err:
        load_rules('version = "1"\n[scoring]\nauto = 2\n[tolerances.bank_charge]\nmax_pct = "x"')
    assert "scoring.auto" in err.value.message and "tolerances.bank_charge.max_pct" in err.value.message


def test_disabled_strategy_is_not_in_the_order() -> None:
    rules = load_rules(
        'version = "1"\n[[strategies]]\nid = "amount.exact"\nenabled = false\n[[strategies]]\nid = "reference.exact"'
    )
    assert rules.order() == ["reference.exact"]
    assert rules.strategy("amount.exact") is None


def test_limit_in_minor_units_per_currency() -> None:
    rules = load_rules('version = "1"\n[tolerances.bank_charge]\nmax_abs = "25.50"\nby_currency = { JPY = "3000" }')
    limit = rules.tolerances.bank_charge
    assert limit.abs_minor("EUR") == 2550
    assert limit.abs_minor("JPY") == 3000
    assert limit.abs_minor("KWD") == 25500  # three minor digits


def test_fractional_limit_is_floored_in_a_currency_without_minor_units() -> None:
    rules = load_rules('version = "1"\n[tolerances.bank_charge]\nmax_abs = "25.50"')
    assert rules.tolerances.bank_charge.abs_minor("JPY") == 25


def test_percentages_accept_numbers_and_strings_exactly() -> None:
    rules = load_rules(
        'version = "1"\n[tolerances.bank_charge]\nmax_pct = 1.1\n[tolerances.short_payment]\nmax_pct = "2.3"'
    )
    assert rules.tolerances.bank_charge.max_pct == Decimal("1.1")
    assert rules.tolerances.short_payment.max_pct == Decimal("2.3")


def test_default_file_documents_every_section() -> None:
    text = default_rules_text()
    data = tomllib.loads(text)
    assert set(data) >= {"version", "scoring", "references", "names", "strategies", "tolerances", "ingest"}
    assert text.count("#") > 40  # the defaults are explained in place
