"""Every real bank file of the corpus through the import: imported whole, or refused deliberately.

The parser corpus tests hold the deliberate refusals (``REFUSED`` per format, each with its reason);
here the same files go through the database import (SQLite and PostgreSQL) and must either be
imported with every parsed line accounted for, or quarantined with exactly the listed code and
nothing written.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from services.cashapp.models import Receipt, StatementRow
from services.cashapp.usecases.ingest import ingest_path
from shared.errors import DomainError
from shared.statements.registry import detect
from tests.conftest import CORPUS, require_corpus

FORMAT_DIRS = {"mt940": "test_mt940_corpus", "camt": "test_camt_corpus", "ofx": "test_ofx_corpus"}
# Where the import refuses earlier than the parser would, at format detection.
DETECTION_REFUSALS = {
    "mt940-rs__mt942_full_cmxl_mt942_1.sta": "INGEST_EMPTY_FILE",  # zero bytes
    "WoLpH-mt940__self-provided_invalid_statement.sta": "INGEST_UNKNOWN_FORMAT",  # lines "1".."10"
}


def _refusals() -> dict[str, str]:
    out: dict[str, str] = {}
    for sub, module in FORMAT_DIRS.items():
        refused = importlib.import_module(f"tests.statements.{module}").REFUSED
        for name, code in refused.items():
            out[name if "__" in name else f"{sub}/*__{name}"] = code
    return out


def _expected_refusal(path: Path, refusals: dict[str, str]) -> str | None:
    if path.name in DETECTION_REFUSALS:
        return DETECTION_REFUSALS[path.name]
    if path.name in refusals:
        return refusals[path.name]
    suffix = path.name.split("__", 1)[-1]
    return refusals.get(f"{path.parent.name}/*__{suffix}")


def _files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for d in FORMAT_DIRS for p in (CORPUS / d).iterdir() if p.is_file())


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name[:80])
def test_corpus_file_imports_whole_or_is_refused(db: Engine, path: Path, corpus: Path) -> None:
    expected_code = _expected_refusal(path, _refusals())
    result = ingest_path(db, path)
    with Session(db) as s:
        stored_lines = s.execute(select(func.count()).select_from(Receipt)).scalar_one()
        stored_statements = s.execute(select(func.count()).select_from(StatementRow)).scalar_one()
    if expected_code is not None:
        assert (result.status, result.reason) == ("quarantined", expected_code), result.message
        assert stored_lines == 0 and stored_statements == 0
        return
    assert result.status == "imported", f"{result.reason}: {result.message}"
    try:
        statements = list(detect(path).parse(path))
    except DomainError as exc:  # pragma: no cover - the import just succeeded
        pytest.fail(f"parse failed after import: {exc}")
    booked = [ln for st in statements for ln in st.lines if ln.extra.get("status") != "PDNG"]
    assert result.statements + result.statements_skipped == len(statements)
    assert stored_statements == result.statements
    assert stored_lines == result.lines
    assert result.lines + result.lines_skipped <= len(booked)
    with Session(db) as s:
        credits = s.execute(select(func.coalesce(func.sum(Receipt.amount_minor), 0))
                            .where(Receipt.amount_minor > 0)).scalar_one()
    assert credits == sum(t["credit"] for t in result.totals.values())


def test_every_refusal_is_listed_once() -> None:
    require_corpus()
    refusals = _refusals()
    files = _files()
    matched = {k for k in refusals if any(_expected_refusal(p, {k: refusals[k]}) for p in files)}
    assert matched == set(refusals), f"listed but not in the corpus: {set(refusals) - matched}"
