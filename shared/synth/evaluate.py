"""Score the engine's decisions against a synthetic world's ground truth.

Input frames
------------
``truth`` - as :func:`load_truth` reads ``truth.jsonl``: one row per receipt with
``bank_reference, statement_account, scenario, outcome ("apply"|"exception"|"ignore"),
customer_id, allocations`` (list of struct ``{document_number: str, amount_minor: int}``).

``decisions`` - one row per allocated document, as the export gives it:

- ``bank_reference``, ``statement_account``: the receipt key (same as the truth's);
- ``status``: ``"auto"`` | ``"exception"`` | ``"ignored"``;
- ``customer_id`` (null when unknown);
- ``document_number`` (null on the single row of an exception or ignored receipt);
- ``applied_amount_minor`` (alias accepted: ``allocated_minor``): how much that document's open
  amount is cleared by - full open amount for bank charges, discounts and over-payments, the
  amount paid for short payments; credit notes negative;
- optional ``residual_class``, ``rule``, ``score``;
- optional ``suggestions``: list of struct ``{document_numbers: list[str], score: float}``,
  best first, repeated on every row of the receipt (only the first row is read).

Instead of the ``suggestions`` column, a separate ``suggestions`` frame may be passed to
:func:`evaluate`: ``bank_reference, statement_account, rank`` (1 = best) and
``document_numbers`` (list[str]). A string-typed ``suggestions`` column (a text export) is ignored.

Metrics (per scenario and overall)
----------------------------------
- auto-match rate = receipts applied automatically / applicable receipts (truth ``apply``);
- precision = exactly right automatic applications / all automatic applications, where exactly
  right means same customer and the same set of documents with the same amounts as the truth;
- exceptions = receipts the engine queued;
- suggestion top-3 hit rate, over receipts whose truth is ``apply`` but went to exceptions: the
  true document set equals one of the first three suggestions;
- false auto = automatic applications of receipts whose truth is not ``apply``;
- missing = truth receipts without any decision row (counted as not applied).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

TOP_N = 3
_Key = tuple[str, str]


@dataclass(slots=True)
class ScenarioMetrics:
    """Counts for one scenario (or overall) and the rates derived from them."""

    scenario: str
    receipts: int = 0
    applicable: int = 0
    auto: int = 0  # all automatic applications (applicable or not)
    auto_applicable: int = 0
    auto_correct: int = 0
    false_auto: int = 0
    exceptions: int = 0
    ignored: int = 0
    missing: int = 0
    suggestion_cases: int = 0
    suggestion_hits: int = 0

    @property
    def auto_rate(self) -> float | None:
        """Auto-applied applicable receipts / applicable receipts (None when none applicable)."""
        return self.auto_applicable / self.applicable if self.applicable else None

    @property
    def precision(self) -> float | None:
        """Exactly right automatic applications / automatic applications."""
        return self.auto_correct / self.auto if self.auto else None

    @property
    def top3_rate(self) -> float | None:
        """Share of applicable exceptions whose true documents are in the top-3 suggestions."""
        return self.suggestion_hits / self.suggestion_cases if self.suggestion_cases else None

    def add(self, other: ScenarioMetrics) -> None:
        """Accumulate ``other``'s counts into this one."""
        for name in (
            "receipts",
            "applicable",
            "auto",
            "auto_applicable",
            "auto_correct",
            "false_auto",
            "exceptions",
            "ignored",
            "missing",
            "suggestion_cases",
            "suggestion_hits",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class Metrics:
    """Per-scenario metrics, their overall sum, and decisions without a truth record."""

    overall: ScenarioMetrics
    by_scenario: dict[str, ScenarioMetrics] = field(default_factory=dict)
    unknown_decisions: int = 0  # decision keys that are not in the truth


@dataclass(slots=True)
class _Decided:
    status: str
    customer_id: str | None
    docs: dict[str, int]
    suggestions: list[frozenset[str]]


def load_truth(path: Path) -> pl.DataFrame:
    """Read ``truth.jsonl`` into the frame :func:`evaluate` expects."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "bank_reference": pl.Utf8,
        "statement_account": pl.Utf8,
        "scenario": pl.Utf8,
        "outcome": pl.Utf8,
        "customer_id": pl.Utf8,
        "allocations": pl.List(pl.Struct({"document_number": pl.Utf8, "amount_minor": pl.Int64})),
        "residual_class": pl.Utf8,
        "residual_minor": pl.Int64,
        "amount_minor": pl.Int64,
        "currency": pl.Utf8,
    }
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


def _suggestion_sets(value: Any) -> list[frozenset[str]]:
    if not isinstance(value, list):
        return []
    return [frozenset(s.get("document_numbers") or ()) for s in value if isinstance(s, dict)]


def _collect(decisions: pl.DataFrame, suggestions: pl.DataFrame | None) -> dict[_Key, _Decided]:
    amount_col = "applied_amount_minor" if "applied_amount_minor" in decisions.columns else "allocated_minor"
    sugg_col = "suggestions" in decisions.columns and isinstance(decisions.schema["suggestions"], pl.List)
    out: dict[_Key, _Decided] = {}
    for row in decisions.iter_rows(named=True):
        key = (row["bank_reference"], row["statement_account"])
        got = out.get(key)
        if got is None:
            got = out[key] = _Decided(
                row["status"],
                row.get("customer_id"),
                {},
                _suggestion_sets(row["suggestions"]) if sugg_col else [],
            )
        doc = row.get("document_number")
        if doc is not None:
            got.docs[doc] = got.docs.get(doc, 0) + int(row[amount_col] or 0)
    if suggestions is not None:
        ranked = suggestions.sort(["bank_reference", "statement_account", "rank"])
        for row in ranked.iter_rows(named=True):
            key = (row["bank_reference"], row["statement_account"])
            if key in out:
                out[key].suggestions.append(frozenset(row["document_numbers"] or ()))
    return out


def _score(m: ScenarioMetrics, t: dict[str, Any], d: _Decided | None) -> None:
    applicable = t["outcome"] == "apply"
    truth_docs = {a["document_number"]: a["amount_minor"] for a in t["allocations"] or ()}
    m.receipts += 1
    m.applicable += applicable
    if d is None:
        m.missing += 1
        return
    if d.status == "auto":
        m.auto += 1
        m.auto_applicable += applicable
        m.false_auto += not applicable
        m.auto_correct += applicable and d.customer_id == t["customer_id"] and d.docs == truth_docs
    elif d.status == "exception":
        m.exceptions += 1
        if applicable:
            m.suggestion_cases += 1
            m.suggestion_hits += frozenset(truth_docs) in d.suggestions[:TOP_N]
    else:
        m.ignored += 1


def evaluate(
    decisions: pl.DataFrame, truth: pl.DataFrame, suggestions: pl.DataFrame | None = None
) -> Metrics:
    """Per-scenario and overall metrics of ``decisions`` against ``truth`` (see module doc)."""
    decided = _collect(decisions, suggestions)
    overall = ScenarioMetrics("overall")
    by_scenario: dict[str, ScenarioMetrics] = {}
    seen: set[_Key] = set()
    for t in truth.iter_rows(named=True):
        key = (t["bank_reference"], t["statement_account"])
        seen.add(key)
        m = by_scenario.setdefault(t["scenario"], ScenarioMetrics(t["scenario"]))
        _score(m, t, decided.get(key))
    for m in by_scenario.values():
        overall.add(m)
    return Metrics(overall, dict(sorted(by_scenario.items())), sum(1 for k in decided if k not in seen))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:6.2f}%"


def format_metrics(m: Metrics) -> str:
    """A fixed-width table: one line per scenario, then the overall line."""
    head = (
        f"{'scenario':<24}{'receipts':>9}{'applic.':>9}{'auto':>7}{'auto %':>9}{'precision':>10}"
        f"{'false':>7}{'except.':>9}{'top-3':>9}{'missing':>9}"
    )
    lines = [head, "-" * len(head)]
    for s in [*m.by_scenario.values(), m.overall]:
        if s is m.overall:
            lines.append("-" * len(head))
        lines.append(
            f"{s.scenario:<24}{s.receipts:>9}{s.applicable:>9}{s.auto:>7}{_pct(s.auto_rate):>9}"
            f"{_pct(s.precision):>10}{s.false_auto:>7}{s.exceptions:>9}{_pct(s.top3_rate):>9}"
            f"{s.missing:>9}"
        )
    if m.unknown_decisions:
        lines.append(f"({m.unknown_decisions} decisions for receipts not in the truth)")
    return "\n".join(lines)
