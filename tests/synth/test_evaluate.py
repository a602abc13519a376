"""evaluate() on hand-made decision frames, table-driven."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from shared.synth.evaluate import Metrics, evaluate, format_metrics, load_truth

ACCOUNT = "DE00TEST"
SUGGESTION = pl.Struct({"document_numbers": pl.List(pl.Utf8), "score": pl.Float64})
DECISION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "bank_reference": pl.Utf8,
    "statement_account": pl.Utf8,
    "status": pl.Utf8,
    "customer_id": pl.Utf8,
    "document_number": pl.Utf8,
    "applied_amount_minor": pl.Int64,
    "residual_class": pl.Utf8,
    "rule": pl.Utf8,
    "score": pl.Float64,
    "suggestions": pl.List(SUGGESTION),
}
TRUTH_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "bank_reference": pl.Utf8,
    "statement_account": pl.Utf8,
    "scenario": pl.Utf8,
    "outcome": pl.Utf8,
    "customer_id": pl.Utf8,
    "allocations": pl.List(pl.Struct({"document_number": pl.Utf8, "amount_minor": pl.Int64})),
}

# (ref, scenario, outcome, customer, {document: amount})
TRUTH = [
    ("R1", "exact_docnum", "apply", "C1", {"D1": 100}),
    ("R2", "exact_docnum", "apply", "C2", {"D2": 200}),
    ("R3", "multi_with_credit_note", "apply", "C3", {"D3": 50, "D4": -20}),
    ("R4", "unknown_payer", "exception", None, {}),
    ("R5", "debit", "ignore", None, {}),
    ("R6", "iban_unique_amount", "apply", "C6", {"D6": 70}),
]


def truth_frame() -> pl.DataFrame:
    rows = [
        (
            ref,
            ACCOUNT,
            scenario,
            outcome,
            cust,
            [{"document_number": d, "amount_minor": a} for d, a in docs.items()],
        )
        for ref, scenario, outcome, cust, docs in TRUTH
    ]
    return pl.DataFrame(rows, schema=TRUTH_SCHEMA, orient="row")


def auto(ref: str, cust: str, docs: dict[str, int], account: str = ACCOUNT) -> list[tuple[Any, ...]]:
    return [(ref, account, "auto", cust, d, a, "none", "reference.exact", 0.99, []) for d, a in docs.items()]


def exception(
    ref: str, cust: str | None = None, suggestions: list[list[str]] | None = None, account: str = ACCOUNT
) -> list[tuple[Any, ...]]:
    sugg = [{"document_numbers": s, "score": 0.9 - i / 10} for i, s in enumerate(suggestions or [])]
    return [(ref, account, "exception", cust, None, None, None, None, 0.5, sugg)]


def ignored(ref: str) -> list[tuple[Any, ...]]:
    return [(ref, ACCOUNT, "ignored", None, None, None, None, None, None, [])]


PERFECT = [
    *auto("R1", "C1", {"D1": 100}),
    *auto("R2", "C2", {"D2": 200}),
    *auto("R3", "C3", {"D3": 50, "D4": -20}),
    *exception("R4"),
    *ignored("R5"),
    *exception("R6", "C6", [["D9"], ["D6"]]),
]


@dataclass
class Case:
    name: str
    rows: list[tuple[Any, ...]]
    auto: int
    auto_correct: int
    auto_rate: float | None
    precision: float | None
    false_auto: int = 0
    exceptions: int = 2
    top3: float | None = 1.0
    missing: int = 0
    per_scenario: dict[str, tuple[int, int]] = field(default_factory=dict)  # scenario -> (auto, correct)


def _replace(ref: str, new: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [r for r in PERFECT if r[0] != ref] + new


CASES = [
    Case(
        "perfect",
        PERFECT,
        auto=3,
        auto_correct=3,
        auto_rate=3 / 4,
        precision=1.0,
        per_scenario={"exact_docnum": (2, 2), "multi_with_credit_note": (1, 1)},
    ),
    Case(
        "wrong amount",
        _replace("R1", auto("R1", "C1", {"D1": 99})),
        auto=3,
        auto_correct=2,
        auto_rate=3 / 4,
        precision=2 / 3,
        per_scenario={"exact_docnum": (2, 1)},
    ),
    Case(
        "wrong customer",
        _replace("R2", auto("R2", "C9", {"D2": 200})),
        auto=3,
        auto_correct=2,
        auto_rate=3 / 4,
        precision=2 / 3,
    ),
    Case(
        "missing credit note",
        _replace("R3", auto("R3", "C3", {"D3": 50})),
        auto=3,
        auto_correct=2,
        auto_rate=3 / 4,
        precision=2 / 3,
        per_scenario={"multi_with_credit_note": (1, 0)},
    ),
    Case(
        "extra document",
        _replace("R1", auto("R1", "C1", {"D1": 100, "D7": 0})),
        auto=3,
        auto_correct=2,
        auto_rate=3 / 4,
        precision=2 / 3,
    ),
    Case(
        "false auto of an unknown payer",
        _replace("R4", auto("R4", "C5", {"D5": 10})),
        auto=4,
        auto_correct=3,
        auto_rate=3 / 4,
        precision=3 / 4,
        false_auto=1,
        exceptions=1,
    ),
    Case(
        "auto-applied debit",
        _replace("R5", auto("R5", "C5", {"D5": -10})),
        auto=4,
        auto_correct=3,
        auto_rate=3 / 4,
        precision=3 / 4,
        false_auto=1,
        exceptions=2,
    ),
    Case(
        "all exceptions",
        [
            *exception("R1", "C1", [["D1"]]),
            *exception("R2"),
            *exception("R3", "C3", [["D3"]]),
            *exception("R4"),
            *ignored("R5"),
            *exception("R6", "C6", [["X"], ["Y"], ["Z"], ["D6"]]),
        ],
        auto=0,
        auto_correct=0,
        auto_rate=0.0,
        precision=None,
        exceptions=5,
        top3=1 / 4,
    ),
    Case(
        "missing decision",
        _replace("R2", []),
        auto=2,
        auto_correct=2,
        auto_rate=2 / 4,
        precision=1.0,
        missing=1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_evaluate_table(case: Case) -> None:
    decisions = pl.DataFrame(case.rows, schema=DECISION_SCHEMA, orient="row")
    m = evaluate(decisions, truth_frame())
    o = m.overall
    assert (o.receipts, o.applicable) == (6, 4)
    assert (o.auto, o.auto_correct, o.false_auto) == (case.auto, case.auto_correct, case.false_auto)
    assert o.auto_rate == pytest.approx(case.auto_rate) if case.auto_rate is not None else o.auto_rate is None
    assert o.precision == pytest.approx(case.precision) if case.precision is not None else o.precision is None
    assert o.exceptions == case.exceptions
    assert o.top3_rate == pytest.approx(case.top3) if case.top3 is not None else o.top3_rate is None
    assert o.missing == case.missing
    for scenario, (n_auto, n_correct) in case.per_scenario.items():
        assert (m.by_scenario[scenario].auto, m.by_scenario[scenario].auto_correct) == (n_auto, n_correct)
    assert sum(s.receipts for s in m.by_scenario.values()) == 6


def test_separate_suggestions_frame_and_alias_column() -> None:
    rows = [r[:9] for r in PERFECT]  # no suggestions column
    decisions = pl.DataFrame(
        rows, schema={k: v for k, v in DECISION_SCHEMA.items() if k != "suggestions"}, orient="row"
    ).rename({"applied_amount_minor": "allocated_minor"})
    suggestions = pl.DataFrame(
        [("R6", ACCOUNT, 2, ["D6"]), ("R6", ACCOUNT, 1, ["D1", "D6"]), ("R6", ACCOUNT, 3, ["D8"])],
        schema={
            "bank_reference": pl.Utf8,
            "statement_account": pl.Utf8,
            "rank": pl.Int64,
            "document_numbers": pl.List(pl.Utf8),
        },
        orient="row",
    )
    m = evaluate(decisions, truth_frame(), suggestions)
    assert m.overall.precision == 1.0 and m.overall.top3_rate == 1.0
    assert evaluate(decisions, truth_frame()).overall.top3_rate == 0.0


def test_unknown_decisions_are_counted_and_table_prints() -> None:
    rows = [*PERFECT, *auto("R99", "C1", {"D1": 1})]
    m: Metrics = evaluate(pl.DataFrame(rows, schema=DECISION_SCHEMA, orient="row"), truth_frame())
    assert m.unknown_decisions == 1
    table = format_metrics(m)
    assert "overall" in table and "exact_docnum" in table and "100.00%" in table and "75.00%" in table
    assert "1 decisions for receipts not in the truth" in table


def test_load_truth_reads_the_generator_output(written: Path) -> None:
    truth = load_truth(written / "truth.jsonl")
    assert truth.height > 0 and truth["allocations"].dtype == TRUTH_SCHEMA["allocations"]
    # the truth scored against itself (every apply auto-applied exactly) is perfect
    rows = []
    for t in truth.iter_rows(named=True):
        ref, account = t["bank_reference"], t["statement_account"]
        if t["outcome"] == "apply":
            docs = {a["document_number"]: a["amount_minor"] for a in t["allocations"]}
            rows += auto(ref, t["customer_id"], docs, account)
        else:
            rows += exception(ref, account=account)
    m = evaluate(pl.DataFrame(rows, schema=DECISION_SCHEMA, orient="row"), truth)
    assert m.overall.auto_rate == 1.0 and m.overall.precision == 1.0 and m.overall.false_auto == 0
    assert m.overall.receipts == truth.height
