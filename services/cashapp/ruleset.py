"""Where the active rule set comes from: the configured TOML file, else the shipped defaults."""

from __future__ import annotations

from shared.config import Settings
from services.cashapp.domain.rules import RuleSet, load_rules
from services.cashapp.rules import default_rules


def active_rules(cfg: Settings) -> RuleSet:
    """The rule set in force (validated; a bad file raises ``RULES_INVALID``)."""
    if cfg.rules_file:
        return load_rules(cfg.rules_file.read_text(encoding="utf-8"))
    return default_rules()
