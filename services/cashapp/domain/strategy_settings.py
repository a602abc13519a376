"""Settings of each matching strategy (one pydantic model per strategy id)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from services.cashapp.domain.rules_base import Model, Percent, Regex, Score, default_non_ar_keywords

ToleranceKind = Literal["bank_charge", "early_payment_discount", "short_payment"]
_DEFAULT_KINDS: tuple[ToleranceKind, ...] = ("early_payment_discount", "bank_charge")


class ReferenceExact(Model):
    id: Literal["reference.exact"]
    enabled: bool = True


class ReferenceFuzzy(Model):
    id: Literal["reference.fuzzy"]
    enabled: bool = True
    min_length: int = Field(default=6, ge=3)
    min_digits: int = Field(default=4, ge=0)
    factor: Score = 0.93
    factor_payer_known: Score = 0.98
    max_hits_per_token: int = Field(default=200, ge=1)


class PayerAccount(Model):
    id: Literal["payer.account"]
    enabled: bool = True


class PayerName(Model):
    id: Literal["payer.name"]
    enabled: bool = True
    auto_cutoff: Percent = 90.0
    suggest_cutoff: Percent = 75.0
    max_token_frequency: int = Field(default=100, ge=1)
    max_compared: int = Field(default=10, ge=1, le=1000)
    max_candidates: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> PayerName:
        if self.suggest_cutoff > self.auto_cutoff:
            raise ValueError("suggest_cutoff must not be above auto_cutoff")
        return self


class NonAr(Model):
    id: Literal["non_ar"]
    enabled: bool = True
    keywords: list[Regex] = Field(default_factory=default_non_ar_keywords)
    accounts: list[str] = Field(default_factory=list)
    skip_if_payer_known: bool = True


class AmountExact(Model):
    id: Literal["amount.exact"]
    enabled: bool = True
    score: Score = 0.95


class AmountSubset(Model):
    id: Literal["amount.subset"]
    enabled: bool = True
    score: Score = 0.92
    max_items: int = Field(default=40, ge=2, le=500)
    max_size: int = Field(default=5, ge=2, le=12)
    max_nodes: int = Field(default=20_000, ge=100, le=5_000_000)


class AmountTolerance(Model):
    id: Literal["amount.tolerance"]
    enabled: bool = True
    score: Score = 0.91
    kinds: list[ToleranceKind] = Field(default_factory=lambda: list(_DEFAULT_KINDS))


Strategy = Annotated[
    ReferenceExact | ReferenceFuzzy | PayerAccount | PayerName | NonAr | AmountExact | AmountSubset | AmountTolerance,
    Field(discriminator="id"),
]

STRATEGY_IDS = (
    "reference.exact",
    "reference.fuzzy",
    "payer.account",
    "payer.name",
    "non_ar",
    "amount.exact",
    "amount.subset",
    "amount.tolerance",
)


MODELS: dict[str, type[Model]] = {
    "reference.exact": ReferenceExact,
    "reference.fuzzy": ReferenceFuzzy,
    "payer.account": PayerAccount,
    "payer.name": PayerName,
    "non_ar": NonAr,
    "amount.exact": AmountExact,
    "amount.subset": AmountSubset,
    "amount.tolerance": AmountTolerance,
}


def default_strategies() -> list[Any]:
    """Every strategy with its default settings, in the default order."""
    return [MODELS[i].model_validate({"id": i}) for i in STRATEGY_IDS]
