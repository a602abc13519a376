"""Where the active rule set comes from.

In order: the newest version uploaded over the API (``rule_set_version``, when a database is
given), else the TOML file named by ``CASHRECON_RULES_FILE``, else the shipped defaults.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine, select
from sqlmodel import Session

from services.cashapp.domain.rules import RuleSet, load_rules
from services.cashapp.rules import default_rules
from shared.config import Settings


def rules_with_source(cfg: Settings, session: Session | None = None) -> tuple[str, RuleSet]:
    """``(source, rules)``: ``upload:<id>``, ``file`` or ``defaults`` (validated)."""
    if session is not None:
        from services.cashapp.models_service import RuleSetVersion

        row = session.execute(select(RuleSetVersion).order_by(
            RuleSetVersion.id.desc()).limit(1)).scalar_one_or_none()  # type: ignore[union-attr]
        if row is not None:
            return f"upload:{row.id}", load_rules(row.toml)
    if cfg.rules_file:
        return "file", load_rules(cfg.rules_file.read_text(encoding="utf-8"))
    return "defaults", default_rules()


def active_rules(cfg: Settings, engine: Engine | None = None) -> RuleSet:
    """The rule set in force (a bad file raises ``RULES_INVALID``)."""
    if engine is None:
        return rules_with_source(cfg)[1]
    with Session(engine) as session:
        return rules_with_source(cfg, session)[1]


def balance_policy(cfg: Settings, engine: Engine | None = None) -> Literal["hold", "refuse"]:
    """``hold`` | ``refuse``: ``CASHRECON_ON_BALANCE_BREAK`` overrides the rule set's
    ``[ingest] on_balance_break``."""
    if cfg.on_balance_break:
        return cfg.on_balance_break
    return active_rules(cfg, engine).ingest.on_balance_break
