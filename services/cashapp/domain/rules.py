"""The rule set: versioned, validated matching configuration loaded from TOML text.

Rules are data (DESIGN principle 5). ``load_rules`` is pure: the shell reads the file, this module
validates the text and answers a :class:`RuleSet` or raises ``shared.errors.ValidationError`` with
code ``RULES_INVALID`` naming every key path that is wrong and why. The defaults of every model
below equal the shipped ``services/cashapp/rules/default.toml`` (a test keeps them in sync), so a
rule file only needs to state what it changes.
"""

from __future__ import annotations

import tomllib
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal, TypeVar

import pydantic
from pydantic import Field, field_validator, model_validator

from services.cashapp.domain.rules_base import (
    DEFAULT_LEGAL_FORMS,
    DEFAULT_PREFIXES,
    Model,
    NonNegDecimal,
    Regex,
    Score,
)
from services.cashapp.domain.strategy_settings import (
    MODELS,
    STRATEGY_IDS,
    AmountExact,
    AmountSubset,
    AmountTolerance,
    NonAr,
    PayerAccount,
    PayerName,
    ReferenceExact,
    ReferenceFuzzy,
    Strategy,
    default_strategies,
)
from shared.errors import ValidationError
from shared.money import exponent

__all__ = [
    "STRATEGY_IDS",
    "AmountExact",
    "AmountSubset",
    "AmountTolerance",
    "Limit",
    "NonAr",
    "PayerAccount",
    "PayerName",
    "ReferenceExact",
    "ReferenceFuzzy",
    "RuleSet",
    "Strategy",
    "load_rules",
]


S = TypeVar("S", bound=Model)
SourceField = Literal["remittance", "creditor_reference", "end_to_end_reference", "customer_reference"]
_FIELDS: tuple[SourceField, ...] = ("remittance", "creditor_reference", "end_to_end_reference", "customer_reference")


class Scoring(Model):
    """Score thresholds (0..1, not money) shared by every strategy."""

    auto: Score = 0.90
    suggest: Score = 0.30
    ambiguity_margin: Score = 0.05

    @model_validator(mode="after")
    def _ordered(self) -> Scoring:
        if self.suggest > self.auto:
            raise ValueError("suggest must not be above auto")
        return self


class Scheme(Model):
    """A named document-numbering scheme: a pattern that extracts candidates from text."""

    name: str = Field(min_length=1)
    kind: Literal["document", "rf", "qrr"] = "document"
    pattern: Regex
    description: str = ""


def _default_schemes() -> list[Scheme]:
    return [
        Scheme(
            name="prefixed",
            pattern=r"(?:INV|RE|RG|RECHNUNG|INVOICE|FACTUUR|FACTURE|FAKTURA)[ .:#/-]*(?:NR|NO)?[ .:#/-]*"
            r"\d{2,4}[ ./-]*\d{3,8}",
            description="prefixed numbers like INV-2026-004512",
        ),
        Scheme(name="erp_numeric", pattern=r"\b9\d{7}\b", description="numeric ERP numbers like 90004512"),
        Scheme(
            name="rf", kind="rf", pattern=r"RF\d{2}(?: ?[0-9A-Z]{1,4}){1,6}", description="ISO 11649 creditor reference"
        ),
        Scheme(
            name="qrr",
            kind="qrr",
            pattern=r"\b\d{2}(?: ?\d{5}){5}\b|\b\d{27}\b",
            description="Swiss QR reference, 27 digits",
        ),
    ]


class References(Model):
    """Where references are looked for and how they are normalised."""

    fields: list[SourceField] = Field(default_factory=lambda: list(_FIELDS), min_length=1)
    ignore_values: list[str] = Field(default_factory=lambda: ["NOTPROVIDED", "NONREF", "NOREF", "NONE"])
    strip_prefixes: list[str] = Field(default_factory=lambda: list(DEFAULT_PREFIXES))
    min_key_length: int = Field(default=5, ge=2, le=40)
    ngram_max: int = Field(default=4, ge=1, le=8)
    schemes: list[Scheme] = Field(default_factory=_default_schemes)

    @field_validator("schemes")
    @classmethod
    def _unique_names(cls, value: list[Scheme]) -> list[Scheme]:
        names = [s.name for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate scheme names: {', '.join(dupes)}")
        return value


class Names(Model):
    """Payer-name normalisation: legal forms and filler words dropped before comparing."""

    legal_forms: list[str] = Field(default_factory=lambda: list(DEFAULT_LEGAL_FORMS))
    stopwords: list[str] = Field(default_factory=lambda: ["und", "and", "et", "the", "der", "die", "das"])


class Limit(Model):
    """An absolute amount (in the receipt's currency) and a percentage; the lower limit wins."""

    max_abs: NonNegDecimal = Decimal("0")
    max_pct: NonNegDecimal = Decimal("0")
    by_currency: dict[str, NonNegDecimal] = Field(default_factory=dict)

    def abs_minor(self, currency: str) -> int:
        """The absolute limit in minor units of ``currency`` (per-currency override first)."""
        value = self.by_currency.get(currency.upper(), self.max_abs)
        # Floor, never round up: "25.50" in a currency without minor units allows 25, not 26.
        return int(value.scaleb(exponent(currency)).to_integral_value(rounding=ROUND_FLOOR))


class BankCharge(Limit):
    max_abs: NonNegDecimal = Decimal("25.00")
    max_pct: NonNegDecimal = Decimal("1.0")


class ShortPayment(Limit):
    max_abs: NonNegDecimal = Decimal("50.00")
    max_pct: NonNegDecimal = Decimal("2.0")
    action: Literal["leave_open", "deduction"] = "leave_open"


class EarlyPaymentDiscount(Model):
    pct: NonNegDecimal = Decimal("2.0")
    days: int = Field(default=10, ge=0, le=366)
    rounding_slack_minor: int = Field(default=1, ge=0, le=100)


class OverPayment(Limit):
    """Paid more than the documents: allowed up to the limit (absolute and percentage of the
    documents, the lower wins); beyond it a person looks at it (the payment likely covers more)."""

    max_abs: NonNegDecimal = Decimal("100.00")
    max_pct: NonNegDecimal = Decimal("100.0")
    action: Literal["on_account", "write_off"] = "on_account"
    write_off_max_abs: NonNegDecimal = Decimal("5.00")


class Tolerances(Model):
    bank_charge: BankCharge = Field(default_factory=BankCharge)
    short_payment: ShortPayment = Field(default_factory=ShortPayment)
    early_payment_discount: EarlyPaymentDiscount = Field(default_factory=EarlyPaymentDiscount)
    over_payment: OverPayment = Field(default_factory=OverPayment)


class Ingest(Model):
    """Read by the import, not the matcher: what a balance break does to a statement."""

    on_balance_break: Literal["hold", "refuse"] = "hold"


class RuleSet(Model):
    """A complete, validated rule set. ``version`` is required and stored on every decision."""

    version: str = Field(min_length=1, max_length=64)
    description: str = ""
    scoring: Scoring = Field(default_factory=Scoring)
    references: References = Field(default_factory=References)
    names: Names = Field(default_factory=Names)
    strategies: list[Strategy] = Field(default_factory=default_strategies)
    tolerances: Tolerances = Field(default_factory=Tolerances)
    ingest: Ingest = Field(default_factory=Ingest)

    @field_validator("strategies")
    @classmethod
    def _unique_ids(cls, value: list[Any]) -> list[Any]:
        ids = [s.id for s in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate strategy ids: {', '.join(dupes)}")
        return value

    def settings(self, kind: type[S]) -> S:
        """The settings of one kind of strategy as configured (its defaults when not listed)."""
        for s in self.strategies:
            if isinstance(s, kind):
                return s
        sid = next(i for i, m in MODELS.items() if m is kind)
        return kind.model_validate({"id": sid})

    def enabled(self, kind: type[S]) -> S | None:
        """The settings of one kind of strategy when it is enabled, else ``None``."""
        s = self.settings(kind)
        return s if getattr(s, "enabled", False) else None

    def strategy(self, strategy_id: str) -> Any | None:
        """The settings of an enabled strategy, or ``None`` when it is absent or disabled."""
        for s in self.strategies:
            if s.id == strategy_id:
                return s if s.enabled else None
        return None

    def order(self) -> list[str]:
        """Ids of the enabled strategies, in the configured order."""
        return [s.id for s in self.strategies if s.enabled]


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def load_rules(text: str) -> RuleSet:
    """Parse and validate rule-set TOML text.

    Raises ``ValidationError`` (code ``RULES_INVALID``) whose message lists each bad key path with
    its problem, e.g. ``tolerances.bank_charge.max_pct: must be a finite number >= 0``; the same
    list is in ``error.details["errors"]`` as ``{"path", "problem"}`` dicts.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(
            f"rules are not valid TOML: {exc}", code="RULES_INVALID", errors=[{"path": "(file)", "problem": str(exc)}]
        ) from exc
    try:
        return RuleSet.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in STRATEGY_IDS))
            msg = str(err["msg"]).removeprefix("Value error, ")
            errors.append({"path": _loc(loc), "problem": msg})
        summary = "; ".join(f"{e['path']}: {e['problem']}" for e in errors)
        raise ValidationError(f"rules invalid: {summary}", code="RULES_INVALID", errors=errors) from exc
