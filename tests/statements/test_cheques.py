"""Cheque-log parser: golden files, table-driven bad rows, post-dated cheques, identify, and
hypothesis round trips (random cheques written with the csv module come back exactly)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ParseError
from shared.money import to_minor
from shared.statements.cheques import COLUMNS, ChequeLogParser, parse_text
from shared.statements.model import SourceFormat, Statement

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "cheques"
GOLDEN_INPUTS = sorted(GOLDEN.glob("*.csv"))
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
HEADER = ",".join(COLUMNS)
GOOD = "000123,Acme Ltd,20-00-00,55779911,1250.00,EUR,2024-03-01,2024-02-28,ordinary,received,INV-1"


def statement_json(statements: list[Statement]) -> list[dict]:
    return json.loads(json.dumps([dataclasses.asdict(s) for s in statements], default=str))


def log(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def row(**changes: str) -> str:
    """GOOD with some columns replaced (values must not need quoting)."""
    values = dict(zip(COLUMNS, GOOD.split(","), strict=True))
    values.update(changes)
    return ",".join(values[c] for c in COLUMNS)


# --- golden ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    expected_path = path.with_suffix(".json")
    got = statement_json(list(ChequeLogParser().parse(path)))
    if os.environ.get("UPDATE_GOLDEN") == "1":  # regenerate, then review the diff by eye
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_path.read_text())


def test_golden_comma_key_facts() -> None:
    eur, usd = ChequeLogParser().parse(GOLDEN / "cheques_comma.csv")
    assert (eur.account, eur.currency, usd.currency) == ("CHEQUES", "EUR", "USD")
    assert eur.source_format is SourceFormat.CHEQUE_LOG
    assert eur.opening is None and eur.closing is None and eur.balances == []
    assert [ln.amount_minor for ln in eur.lines] == [125000, 31045, 500000]
    assert [ln.bank_reference for ln in eur.lines] == [
        "CHQ-20-00-00-55779911-000123",
        "CHQ-20-00-00-55779911-000124",
        "CHQ-NDEASESS-3300123456-000123",  # same number, other drawer: a different cheque
    ]
    assert eur.lines[1].counterparty_name == "Baker, Smith & Sons"
    assert eur.lines[1].remittance == "INV-10031\nsecond line of the note"
    assert eur.lines[2].remittance == 'Ref "Q1" payment'
    assert [ln.extra["post_dated"] for ln in eur.lines] == [False, True, False]
    assert (eur.from_date, eur.to_date) == (date(2024, 3, 1), date(2024, 3, 5))
    [cafe] = usd.lines
    assert cafe.bank_reference == "CHQ-7781" and cafe.counterparty_account is None
    assert cafe.extra["status"] == "returned" and cafe.amount_minor == 9999


def test_golden_semicolon_key_facts() -> None:
    eur, jpy = ChequeLogParser().parse(GOLDEN / "cheques_semicolon_deposit.csv")
    assert (eur.account, jpy.account) == ("DE02120300000000202051", "JP-ACCOUNT-1")
    assert [ln.amount_minor for ln in eur.lines] == [123456, 100000]
    assert [ln.value_date for ln in eur.lines] == [date(2024, 3, 4), date(2024, 4, 1)]
    assert eur.lines[0].extra["type"] == "ordinary" and eur.lines[0].extra["status"] == "received"
    assert jpy.lines[0].amount_minor == 50000


# --- bad rows, table-driven ----------------------------------------------------------------------

BAD_ROWS = [
    (row(amount='"12,34"'), "bad amount"),  # decimal comma: refused, not read as 1234
    (row(amount="-10.00"), "bad amount"),
    (row(amount="0.00"), "above zero"),
    (row(amount="1.234"), "more decimals"),
    (row(amount="1e3"), "bad amount"),
    (row(amount="€10"), "bad amount"),
    (row(currency="EURO"), "bad currency"),
    (row(received_date="03/01/2024"), "ambiguous"),
    (row(received_date="2024-02-30"), "bad received_date"),
    (row(cheque_date="20240301"), "bad cheque_date"),
    (row(cheque_date="31.02.2024"), "bad cheque_date"),
    (row(type="cashier"), "unknown type"),
    (row(status="lost"), "unknown status"),
    (row(drawer_name=""), "drawer_name is empty"),
    (row(cheque_number=""), "cheque_number is empty"),
    (row(cheque_date=""), "cheque_date is empty"),
    (GOOD + ",extra", "12 fields"),
    (GOOD.rsplit(",", 1)[0], "10 fields"),
    ('1,"unclosed,x', "unreadable CSV"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS)
def test_bad_row_refuses_the_file_naming_line_and_reason(bad: str, reason: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(log(GOOD.replace("000123", "1"), bad))
    assert err.value.code == "INGEST_CHEQUE_BAD_ROW"
    assert err.value.message.startswith("line 3:"), err.value.message
    assert reason in err.value.message


def test_line_numbers_count_blank_and_multiline_rows() -> None:
    text = log(row(remittance='"two\nlines"'), "", row(cheque_number="2", status="bogus"))
    with pytest.raises(ParseError) as err:
        parse_text(text)
    assert err.value.message.startswith("line 5:")


def test_duplicate_cheque_refused() -> None:
    with pytest.raises(ParseError) as err:
        parse_text(log(GOOD, GOOD))
    assert err.value.code == "INGEST_CHEQUE_BAD_ROW" and "already on line 2" in err.value.message


def test_missing_column_named() -> None:
    header = HEADER.replace(",status", "")
    with pytest.raises(ParseError) as err:
        parse_text(log(GOOD, header=header))
    assert err.value.code == "INGEST_CHEQUE_MISSING_COLUMN"
    assert err.value.details["missing"] == ["status"]


def test_duplicate_column_refused() -> None:
    with pytest.raises(ParseError) as err:
        parse_text(log(GOOD + ",x", header=HEADER + ",Type"))
    assert err.value.code == "INGEST_CHEQUE_BAD_HEADER"


def test_header_only_refused() -> None:
    with pytest.raises(ParseError) as err:
        parse_text(log())
    assert err.value.code == "INGEST_CHEQUE_NO_ROWS"


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("1250.00", "EUR", 125000), ("1,250.00", "EUR", 125000), ("1,234,567.8", "USD", 123456780),
     ("7", "EUR", 700), ("500", "JPY", 500), ("1.234", "KWD", 1234), ("0.01", "EUR", 1)],
)
def test_amounts_exact(amount: str, currency: str, minor: int) -> None:
    [stmt] = parse_text(log(row(amount=f'"{amount}"', currency=currency)))
    assert stmt.lines[0].amount_minor == minor and isinstance(stmt.lines[0].amount_minor, int)


@pytest.mark.parametrize(
    ("received", "cheque", "post_dated"),
    [
        ("2024-03-01", "2024-03-02", True),
        ("2024-03-01", "2024-03-01", False),  # dated today is not post-dated
        ("2024-03-01", "2023-12-31", False),
        ("01.03.2024", "02.03.2024", True),
        ("1.3.2024", "2024-03-01", False),
    ],
)
def test_post_dated_detection(received: str, cheque: str, post_dated: bool) -> None:
    [stmt] = parse_text(log(row(received_date=received, cheque_date=cheque)))
    line = stmt.lines[0]
    assert line.extra["post_dated"] is post_dated
    assert line.booking_date == date(2024, 3, 1)
    assert line.extra["cheque_date"] == line.value_date.isoformat()  # type: ignore[union-attr]


def test_one_statement_per_currency_in_order_of_appearance() -> None:
    text = log(row(currency="USD"), row(cheque_number="2"), row(cheque_number="3", currency="USD"))
    stmts = parse_text(text)
    assert [(s.currency, len(s.lines)) for s in stmts] == [("USD", 2), ("EUR", 1)]


def test_reference_without_drawer_bank_or_account() -> None:
    [stmt] = parse_text(log(row(drawer_bank="", drawer_account="")))
    assert stmt.lines[0].bank_reference == "CHQ-000123"
    assert stmt.lines[0].extra["drawer_bank"] is None


def test_case_and_spacing_of_values() -> None:
    [stmt] = parse_text(log(row(type=" Certified ", status="CLEARED", currency="eur")))
    assert stmt.lines[0].extra["type"] == "certified" and stmt.lines[0].extra["status"] == "cleared"
    assert stmt.currency == "EUR"


def test_raw_is_the_source_row() -> None:
    [stmt] = parse_text(log(GOOD))
    assert stmt.lines[0].raw == GOOD


def test_windows_1252_file(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(log(row(drawer_name="Café Rouge")).encode("cp1252"))
    [stmt] = ChequeLogParser().parse(path)
    assert stmt.lines[0].counterparty_name == "Café Rouge"


# --- identify ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        HEADER.encode(),
        b"\xef\xbb\xbf" + HEADER.replace(",", ";").encode(),
        b"CHEQUE_NUMBER, Drawer Name ,amount,currency,received_date\r\n1,A,1.00,EUR,2024-01-01",
        b"\n\ncheque_number;drawer_name;amount;currency;received_date;clerk\n",
    ],
)
def test_identify_claims_cheque_logs(head: bytes) -> None:
    assert ChequeLogParser().identify(head)


@pytest.mark.parametrize(
    "head",
    [
        b"cheque_number,drawer_name,amount,currency\n",  # no received_date
        b"date,amount,currency,text\n",
        b"OFXHEADER:100\nDATA:OFXSGML\n",
        b'<?xml version="1.0"?><Document>',
        b":20:STARTUMSE\r\n:25:123/456\r\n",
        b"cheque_number\tdrawer_name\tamount\tcurrency\treceived_date\n",  # tabs are not supported
        b"",
    ],
)
def test_identify_leaves_others(head: bytes) -> None:
    assert not ChequeLogParser().identify(head)


def test_identify_leaves_every_corpus_file() -> None:
    if not CORPUS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus folder {CORPUS} missing under CI")
        pytest.skip(f"corpus folder {CORPUS} not present")
    files = [p for p in CORPUS.rglob("*") if p.is_file()]
    assert files
    assert [p.name for p in files if ChequeLogParser().identify(p.read_bytes()[:65536])] == []


@given(st.binary(max_size=300))
def test_identify_never_raises(head: bytes) -> None:
    assert ChequeLogParser().identify(head) in (True, False)


# --- hypothesis: round trip and never crash ----------------------------------------------------

CURRENCIES = ["EUR", "USD", "JPY", "KWD", "GBP"]
text_value = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"),
    max_size=30,
).map(str.strip)
multiline_value = st.lists(text_value, min_size=1, max_size=3).map("\n".join).map(str.strip)


@st.composite
def cheque_rows(draw: st.DrawFn) -> dict[str, object]:
    currency = draw(st.sampled_from(CURRENCIES))
    exp = {"JPY": 0, "KWD": 3}.get(currency, 2)
    minor = draw(st.integers(min_value=1, max_value=10**13))
    received = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)))
    dated = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)))
    return {
        "cheque_number": draw(st.from_regex(r"[0-9A-Z]{1,10}", fullmatch=True)),
        "drawer_name": draw(text_value.filter(bool)),
        "drawer_bank": draw(st.from_regex(r"[A-Z0-9]{0,11}", fullmatch=True)),
        "drawer_account": draw(st.from_regex(r"[A-Z0-9]{0,20}", fullmatch=True)),
        "amount": Decimal(minor).scaleb(-exp),
        "currency": currency,
        "received_date": received,
        "cheque_date": dated,
        "type": draw(st.sampled_from(["ordinary", "certified"])),
        "status": draw(st.sampled_from(["received", "deposited", "cleared", "returned"])),
        "remittance": draw(multiline_value),
        "grouped": draw(st.booleans()),
        "dotted": draw(st.booleans()),
    }


def write_csv(rows: list[dict[str, object]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        amount = f"{r['amount']:,}" if r["grouped"] else str(r["amount"])
        fmt = "%d.%m.%Y" if r["dotted"] else "%Y-%m-%d"
        cells = {**r, "amount": amount}
        for key in ("received_date", "cheque_date"):
            cells[key] = r[key].strftime(fmt)  # type: ignore[attr-defined]
        writer.writerow([cells[c] for c in COLUMNS])
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(cheque_rows(), min_size=1, max_size=8, unique_by=lambda r: r["cheque_number"]),
    delimiter=st.sampled_from([",", ";"]),
)
def test_random_cheques_round_trip_exactly(rows: list[dict[str, object]], delimiter: str) -> None:
    text = write_csv(rows, delimiter)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cheques.csv"
        path.write_bytes(text.encode("utf-8"))
        statements = list(ChequeLogParser().parse(path))
    lines = {ln.extra["cheque_number"]: ln for s in statements for ln in s.lines}
    assert len(lines) == len(rows)
    assert sorted({s.currency for s in statements}) == sorted({str(r["currency"]) for r in rows})
    for r in rows:
        ln = lines[r["cheque_number"]]
        assert ln.amount_minor == to_minor(r["amount"], str(r["currency"]))  # type: ignore[arg-type]
        assert ln.currency == r["currency"]
        assert ln.booking_date == r["received_date"] and ln.value_date == r["cheque_date"]
        assert ln.counterparty_name == r["drawer_name"]
        assert ln.counterparty_account == (r["drawer_account"] or None)
        assert ln.remittance == (r["remittance"] or None)
        assert ln.extra["type"] == r["type"] and ln.extra["status"] == r["status"]
        assert ln.extra["post_dated"] is (r["cheque_date"] > r["received_date"])  # type: ignore[operator]


@given(st.text(max_size=400))
def test_any_text_gives_statements_or_parse_error(text: str) -> None:
    try:
        parse_text(HEADER + "\n" + text)
    except ParseError as exc:
        assert exc.code.startswith("INGEST_CHEQUE_")
