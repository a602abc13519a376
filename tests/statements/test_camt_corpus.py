"""Every real camt file of the shared corpus parses, or is refused exactly as listed in REFUSED.

Where genkgo/camt ships its own expected output (its PHP DTOs serialised to JSON, with repeated
objects replaced by "__RECURSIVITY__"), the statement, balances and the entry it serialises are
checked against ours as far as the two models map.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.errors import ParseError
from shared.statements.camt import CamtParser
from shared.statements.model import BankLine, Statement

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
CAMT_FILES = sorted((CORPUS / "camt").glob("*.xml")) if CORPUS.is_dir() else []

REFUSED = {
    # genkgo's negative sample: a group header and no Stmt at all.
    "genkgo-camt__camt053.v2.wrong.xml": "INGEST_CAMT_NO_STATEMENT",
    # Synthetic batch: a 200,000 SEK debit entry whose three TxDtls are CHF credits (3.10, 3.20,
    # 3.20): the details cannot be stated in the booked currency, so the batch cannot be split.
    "genkgo-camt__camt054.v4.xml": "INGEST_CAMT_BATCH_MISMATCH",
    # Same synthetic batch in camt.054.001.08.
    "genkgo-camt__camt054.v8.xml": "INGEST_CAMT_BATCH_MISMATCH",
}

# genkgo balance types -> ours
_GENKGO_BALANCE = {"opening": {"OPBD", "PRCD"}, "closing": {"CLBD"}, "opening_available": {"OPAV"},
                   "closing_available": {"CLAV"}, "forward_available": {"FWAV"}, "interim": {"ITBD"},
                   "interim_available": {"ITAV"}, "information": {"OTHER"}, "expected_credit": {"OTHER"}}

pytestmark = pytest.mark.skipif(
    not CAMT_FILES and os.environ.get("CI") != "true",
    reason="shared corpus (../shared/corpus/camt) is not present on this machine",
)


def test_corpus_is_there() -> None:
    assert len(CAMT_FILES) >= 30, f"expected the camt corpus under {CORPUS}"
    names = {p.name for p in CAMT_FILES}
    assert set(REFUSED) <= names, "REFUSED lists a file the corpus does not have"


@pytest.mark.parametrize("path", CAMT_FILES, ids=[p.name[:80] for p in CAMT_FILES])
def test_corpus_file(path: Path) -> None:
    parser = CamtParser()
    assert parser.identify(path.read_bytes()[:65536]), "camt file not identified"
    if path.name in REFUSED:
        with pytest.raises(ParseError) as err:
            list(parser.parse(path))
        assert err.value.code == REFUSED[path.name]
        return
    statements = list(parser.parse(path))
    assert statements
    for statement in statements:
        _check_invariants(statement)
    expected = CORPUS / "expected" / f"{path.name}.json"
    if expected.exists():
        _check_against_genkgo(statements, json.loads(expected.read_text(encoding="utf-8")))


def _check_invariants(statement: Statement) -> None:
    assert statement.account and len(statement.currency) == 3
    for line in statement.lines:
        assert line.booking_date is not None and line.raw.startswith("<")
        assert line.end_to_end_reference != "NOTPROVIDED"


def test_batch_bookings_are_split_and_add_up() -> None:
    """PostFinance ES batch (Sammelgutschrift): 8 TxDtls lines adding up to the 620.00 entry."""
    path = next(p for p in CAMT_FILES if "camt.054-ES_P_CH0309000000250090342" in p.name)
    (statement,) = CamtParser().parse(path)
    assert len(statement.lines) == 8
    assert sum(ln.amount_minor for ln in statement.lines) == 62000
    entry_refs = {ln.extra["entry_bank_reference"] for ln in statement.lines}
    assert entry_refs == {"20160527007602769947016000000012"}
    assert all(ln.counterparty_name for ln in statement.lines)


def test_swiss_qr_references_and_pending_entries() -> None:
    path = next(p for p in CAMT_FILES if "NoCrdtBookedNotReversed" in p.name)
    (statement,) = CamtParser().parse(path)
    assert [ln.creditor_reference_type for ln in statement.lines] == ["QRR", "QRR", "QRR"]
    assert [ln.extra["status"] for ln in statement.lines] == ["BOOK", "PDNG", "BOOK"]
    assert statement.lines[0].is_reversal


def test_lithuanian_statements_balance() -> None:
    for path in (p for p in CAMT_FILES if "LT625883379695428516" in p.name):
        for statement in CamtParser().parse(path):
            assert statement.balance_gap() == 0, path.name
            assert all(ln.extra.get("booking_date_inferred") for ln in statement.lines)


# ------------------------------------------------------------------------- genkgo cross-check


def _record(data: dict[str, Any]) -> dict[str, Any]:
    return next(e["getRecord"] for e in data["getEntries"] if isinstance(e, dict))


def _day(value: dict[str, str] | None) -> str | None:
    return value["0"][:10] if value else None


def _check_against_genkgo(statements: list[Statement], data: dict[str, Any]) -> None:
    records = [r for r in data["getRecords"]]
    assert len(statements) == len(records), "statement count"
    record = _record(data) if data["getEntries"] else next(r for r in records if isinstance(r, dict))
    matches = [s for s in statements if s.statement_id == record["getId"]]
    assert matches, f"no statement with id {record['getId']}"
    statement = matches[-1]
    account = record["getAccount"]
    assert account.get("getIdentification", statement.account) == statement.account
    ours = [(b.type, b.amount_minor, b.currency, str(b.date)) for b in statement.balances]
    theirs = record.get("getBalances") or []
    assert len(ours) == len(theirs), "balance count"
    for mine, their in zip(ours, theirs, strict=True):
        assert mine[0] in _GENKGO_BALANCE[their["getType"]]
        money = their["getAmount"]
        assert mine[1:3] == (int(money["getAmount"]), money["getCurrency"]["getCode"])
        assert mine[3] == _day(their["getDate"])
    assert statement.sequence == (record.get("getElectronicSequenceNumber")
                                  or record.get("getLegalSequenceNumber"))
    for entry in (e for e in data["getEntries"] if isinstance(e, dict)):
        _check_entry(statement.lines, entry)


def _check_entry(lines: list[BankLine], entry: dict[str, Any]) -> None:
    minor = int(entry["getAmount"]["getAmount"])
    ccy = entry["getAmount"]["getCurrency"]["getCode"]
    booked = _day(entry.get("getBookingDate"))
    candidates = [ln for ln in lines
                  if ln.currency == ccy and (booked is None or str(ln.booking_date) == booked)]
    total = sum(ln.amount_minor for ln in candidates)
    assert minor in {ln.amount_minor for ln in candidates} or total == minor, "entry amount"
    line = candidates[0]
    if entry.get("getValueDate"):
        assert str(line.value_date) == _day(entry["getValueDate"])
    assert line.is_reversal == bool(entry.get("getReversalIndicator"))
    ref = entry.get("getAccountServicerReference")
    if ref:
        assert ref in {ln.bank_reference for ln in candidates} | {
            ln.extra.get("entry_bank_reference") for ln in candidates}
    code = entry.get("getBankTransactionCode") or {}
    domain = code.get("getDomain")
    if domain:
        family = domain["getFamily"]
        parts = (domain["getCode"], family["getCode"], family["getSubFamilyCode"])
        assert line.transaction_code == "/".join(parts)
    elif code.get("getProprietary"):
        assert line.transaction_code == code["getProprietary"]["getCode"]
