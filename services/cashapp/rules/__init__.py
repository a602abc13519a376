"""The shipped rule files. The one place that reads a package file; the domain stays pure."""

from __future__ import annotations

from functools import cache
from importlib import resources

from services.cashapp.domain.rules import RuleSet, load_rules


def default_rules_text() -> str:
    """The text of the shipped ``default.toml`` (documented defaults)."""
    return resources.files(__package__).joinpath("default.toml").read_text(encoding="utf-8")


@cache
def default_rules() -> RuleSet:
    """The shipped default rule set, validated (cached: a RuleSet is immutable)."""
    return load_rules(default_rules_text())
