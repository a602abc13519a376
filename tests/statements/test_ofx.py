"""OFX parser: golden files, SGML/XML tokenizer edge cases, identify, and never-crash fuzzing."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import ParseError
from shared.statements.model import SourceFormat, Statement
from shared.statements.ofx import OfxParser, parse_bytes, parse_text

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ofx"
GOLDEN_INPUTS = sorted(GOLDEN.glob("*.ofx"))


def statement_json(statements: list[Statement]) -> list[dict]:
    """Plain JSON-able form of parsed statements (dates as ISO strings)."""
    return json.loads(json.dumps([dataclasses.asdict(s) for s in statements], default=str))


# --- golden files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    expected_path = path.with_suffix(".json")
    got = statement_json(list(OfxParser().parse(path)))
    if os.environ.get("UPDATE_GOLDEN") == "1":  # regenerate, then review the diff by eye
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_path.read_text())


def test_golden_inputs_exist() -> None:
    assert len(GOLDEN_INPUTS) >= 2
    assert all(p.with_suffix(".json").exists() for p in GOLDEN_INPUTS)


def test_sgml_golden_key_facts() -> None:
    """The facts the golden JSON must hold, spelled out (read from the .ofx by hand)."""
    [stmt] = OfxParser().parse(GOLDEN / "sgml_102_checking.ofx")
    assert (stmt.source_format, stmt.account, stmt.currency) == (SourceFormat.OFX, "4000123456", "USD")
    assert [ln.amount_minor for ln in stmt.lines] == [125000, -31045, -500000, 1250]
    assert stmt.opening is None and stmt.balance_gap() is None
    assert stmt.closing is not None and stmt.closing.amount_minor == 1025030
    assert [(b.type, b.amount_minor) for b in stmt.balances] == [("CLBD", 1025030), ("CLAV", 1010030)]
    assert (stmt.from_date, stmt.to_date, stmt.statement_date) == (
        date(2024, 2, 1), date(2024, 2, 29), date(2024, 2, 29)
    )
    credit, cheque, xfer, interest = stmt.lines
    assert credit.counterparty_name == "ACME WIDGETS & CO"  # entity decoded
    assert credit.value_date == date(2024, 2, 14)  # DTUSER when no DTAVAIL
    assert credit.customer_reference == "RF18539007547034"
    assert cheque.value_date == date(2024, 2, 18)  # DTAVAIL first
    assert cheque.counterparty_name == "Office Rent LLC"  # PAYEE aggregate
    assert cheque.customer_reference == "1044" and cheque.extra["checknum"] == "1044"
    assert xfer.booking_date == date(2024, 2, 20)  # local date, not shifted to UTC
    assert xfer.counterparty_account == "4000999999"
    assert xfer.extra["counterparty_bank_id"] == "121000248"
    assert interest.amount_minor == 1250  # "+0000012,50"
    assert xfer.raw.startswith("<STMTTRN>") and xfer.raw.rstrip().endswith("</STMTTRN>")
    assert "<BANKID>121000248" in stmt.raw_header and "<STMTTRN>" not in stmt.raw_header


def test_xml_golden_key_facts() -> None:
    bank, card = OfxParser().parse(GOLDEN / "xml_220_bank_and_card.ofx")
    assert (bank.account, bank.currency) == ("DE89370400440532013000", "EUR")
    assert [ln.amount_minor for ln in bank.lines] == [123456, -9999, -450]
    assert bank.lines[0].counterparty_name == "Müller GmbH"
    assert bank.lines[1].counterparty_name == "Lieferant <Nord> & Söhne"  # CDATA kept as is
    assert bank.lines[1].remittance is None  # <MEMO/>
    assert bank.lines[2].extra["origcurrency"] == {"symbol": "USD", "rate": "0.92"}
    assert (card.account, card.currency) == ("4111XXXXXXXX1111", "JPY")
    assert [ln.amount_minor for ln in card.lines] == [50000, -3980]  # JPY has no minor digits
    assert card.closing is not None and card.closing.amount_minor == -12345


# --- tokenizer and mapping edge cases ----------------------------------------------------------

HEAD = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n"


def one_statement(trn: str = "", stmt_extra: str = "", curdef: str = "USD") -> str:
    """A minimal SGML OFX document around ``trn`` (STMTTRN blocks)."""
    return (
        f"{HEAD}<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        f"<STMTRS><CURDEF>{curdef}<BANKACCTFROM><BANKID>1<ACCTID>ACC-1<ACCTTYPE>CHECKING"
        f"</BANKACCTFROM><BANKTRANLIST><DTSTART>20240101<DTEND>20240131{trn}</BANKTRANLIST>"
        f"{stmt_extra}</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    )


def trn(amount: str = "10.00", posted: str = "20240105", more: str = "") -> str:
    return f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>{posted}<TRNAMT>{amount}<FITID>F1{more}</STMTTRN>"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("10.00", "USD", 1000),
        ("-0.01", "USD", -1),
        ("+5", "USD", 500),
        (".5", "USD", 50),
        ("12,30", "USD", 1230),  # decimal comma (French and Belgian banks)
        ("-1500.0000", "USD", -150000),  # trailing zeros are exact
        ("1.234", "BHD", 1234),  # three-decimal currency
        ("700", "JPY", 700),
    ],
)
def test_amounts_exact(amount: str, currency: str, minor: int) -> None:
    [stmt] = parse_text(one_statement(trn(amount), curdef=currency))
    assert stmt.lines[0].amount_minor == minor
    assert isinstance(stmt.lines[0].amount_minor, int)


@pytest.mark.parametrize(
    ("amount", "why"),
    [("$120", "symbol"), ("1,234.56", "grouping"), ("1e5", "exponent"), ("12.345", "too fine"),
     ("--1", "sign"), ("9" * 30, "out of int64 range"), ("١٢", "non-ASCII digits")],
)
def test_bad_amounts_refused(amount: str, why: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(one_statement(trn(amount)))
    assert err.value.code == "INGEST_BAD_AMOUNT", why


@pytest.mark.parametrize(
    ("posted", "expected"),
    [
        ("20240105", date(2024, 1, 5)),
        ("20240105235959", date(2024, 1, 5)),
        ("20240105235959.999", date(2024, 1, 5)),
        ("20240105235959.999[-8:PST]", date(2024, 1, 5)),
        ("20240105200000[+10.00:AEST]", date(2024, 1, 5)),
    ],
)
def test_dates_are_local_calendar_dates(posted: str, expected: date) -> None:
    [stmt] = parse_text(one_statement(trn(posted=posted)))
    assert stmt.lines[0].booking_date == expected


@pytest.mark.parametrize("posted", ["20240231", "2024-01-05", "202401", "20241305", "2024010x"])
def test_bad_dates_refused(posted: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(one_statement(trn(posted=posted)))
    assert err.value.code == "INGEST_OFX_BAD_DATE"


def test_missing_posted_date_names_the_transaction() -> None:
    doc = one_statement("<STMTTRN><TRNTYPE>DEBIT<TRNAMT>-1.00<FITID>X9</STMTTRN>")
    with pytest.raises(ParseError) as err:
        parse_text(doc)
    assert err.value.code == "INGEST_OFX_MISSING_FIELD"
    assert "DTPOSTED" in err.value.message and "X9" in err.value.message


def test_missing_account_refused() -> None:
    doc = one_statement().replace("<ACCTID>ACC-1", "<ACCTID>")
    with pytest.raises(ParseError) as err:
        parse_text(doc)
    assert err.value.code == "INGEST_OFX_MISSING_FIELD"


def test_no_currency_refused() -> None:
    with pytest.raises(ParseError) as err:
        parse_text(one_statement(trn(), curdef=""))
    assert err.value.code == "INGEST_OFX_NO_CURRENCY"


def test_empty_curdef_falls_back_to_unanimous_rate_one_cursym() -> None:
    cur = "<CURRENCY><CURRATE>1.0000<CURSYM>AUD</CURRENCY>"
    [stmt] = parse_text(one_statement(trn(more=cur) + trn(more=cur), curdef=""))
    assert stmt.currency == "AUD" and [ln.currency for ln in stmt.lines] == ["AUD", "AUD"]


def test_empty_curdef_with_mixed_cursym_refused() -> None:
    lines = trn(more="<CURRENCY><CURRATE>1<CURSYM>AUD</CURRENCY>") + trn(
        more="<CURRENCY><CURRATE>1<CURSYM>NZD</CURRENCY>"
    )
    with pytest.raises(ParseError) as err:
        parse_text(one_statement(lines, curdef=""))
    assert err.value.code == "INGEST_OFX_NO_CURRENCY"


def test_checknum_zero_is_no_cheque() -> None:
    [stmt] = parse_text(one_statement(trn(more="<CHECKNUM>0000")))
    assert stmt.lines[0].customer_reference is None
    assert stmt.lines[0].extra["checknum"] == "0000"


def test_empty_balance_means_no_balance() -> None:
    bal = "<LEDGERBAL><BALAMT><DTASOF>20240131</LEDGERBAL><AVAILBAL><BALAMT>  </BALAMT></AVAILBAL>"
    [stmt] = parse_text(one_statement(trn(), stmt_extra=bal))
    assert stmt.closing is None and stmt.balances == []


def test_sgml_empty_leaf_without_close_tag_keeps_siblings() -> None:
    """'<BRANCHID><ACCTID>1': BRANCHID is empty, ACCTID stays an element of BANKACCTFROM."""
    doc = one_statement(trn()).replace("<BANKID>1<ACCTID>", "<BANKID>1<BRANCHID><ACCTID>")
    [stmt] = parse_text(doc)
    assert stmt.account == "ACC-1"


def test_lowercase_tags_and_xml_close_tags() -> None:
    doc = one_statement(
        "<stmttrn><trntype>DEBIT</trntype><dtposted>20240102</dtposted><trnamt>-3.00</trnamt>"
        "<fitid>x</fitid></stmttrn>"
    )
    [stmt] = parse_text(doc)
    assert stmt.lines[0].amount_minor == -300 and stmt.lines[0].transaction_code == "DEBIT"


def test_warning_status_is_accepted() -> None:
    doc = one_statement(trn()).replace("<CODE>0<SEVERITY>INFO", "<CODE>2019<SEVERITY>WARN")
    assert len(parse_text(doc)) == 1


def test_error_status_in_one_statement_refuses_the_file() -> None:
    good = one_statement(trn())
    bad = (
        "<STMTTRNRS><TRNUID>2<STATUS><CODE>2003<SEVERITY>ERROR<MESSAGE>Account not found</STATUS>"
        "</STMTTRNRS>"
    )
    doc = good.replace("</BANKMSGSRSV1>", bad + "</BANKMSGSRSV1>")
    with pytest.raises(ParseError) as err:
        parse_text(doc)
    assert err.value.code == "INGEST_OFX_ERROR_RESPONSE" and "Account not found" in err.value.message


def test_bank_statement_beside_investment_statement_is_read() -> None:
    inv = "<INVSTMTMSGSRSV1><INVSTMTTRNRS><INVSTMTRS><CURDEF>USD</INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1>"
    doc = one_statement(trn()).replace("</OFX>", inv + "</OFX>")
    [stmt] = parse_text(doc)
    assert stmt.account == "ACC-1"


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ("just text", "INGEST_OFX_MALFORMED"),
        (HEAD + "<OFX><SIGNONMSGSRSV1>", "INGEST_OFX_TRUNCATED"),
        (HEAD + "<OFX></STMTRS></OFX>", "INGEST_OFX_MALFORMED"),
        (HEAD + "<OFX><A><B>x</B>stray text</A></OFX>", "INGEST_OFX_MALFORMED"),
        (HEAD + "<OFX>< BAD></OFX>", "INGEST_OFX_MALFORMED"),
        (HEAD + "<OFX>" + "<A>" * 100 + "</OFX>", "INGEST_OFX_MALFORMED"),
        (HEAD + "<OFX></OFX>", "INGEST_OFX_NO_BANK_STATEMENT"),
    ],
)
def test_malformed_documents(doc: str, code: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(doc)
    assert err.value.code == code


def test_windows_1252_text_is_decoded() -> None:
    data = one_statement(trn(more="<NAME>Caf\xe9 \u20ac")).encode("cp1252")
    [stmt] = parse_bytes(data)
    assert stmt.lines[0].counterparty_name == "Café €"


# --- identify ----------------------------------------------------------------------------------

CLAIMED = [
    b"OFXHEADER:100\r\nDATA:OFXSGML\r\n",
    b"\xef\xbb\xbf\r\n\r\nOFXHEADER:100\nDATA:OFXSGML\n",
    b'<?xml version="1.0"?>\n<?OFX OFXHEADER="200" VERSION="220"?>\n<OFX>',
    b'<?xml version="1.0"?><!-- bank export --><OFX>',
    b"\r\n\r\n<OFX>\r\n<SIGNONMSGSRSV1>",
]
NOT_CLAIMED = [
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
    b'<?xml version="1.0"?><Document><Note>see <OFX> export</Note></Document>',
    b":20:STARTUMSE\r\n:25:10020030/1234567\r\n:28C:00001/001\r\n",
    b"{1:F01BANKBEBBAXXX0000000000}{2:I940BANKBEBBXXXXN}{4:\r\n:20:X\r\n",
    b"cheque_number,drawer_name,amount,currency,received_date\n1,ACME,1.00,EUR,2024-01-01\n",
    b"date;amount;text\n2024-01-01;1,00;OFXHEADER:100\n",
    b"",
    b"\x00\xff\xfe garbage",
]


@pytest.mark.parametrize("head", CLAIMED)
def test_identify_claims_ofx(head: bytes) -> None:
    assert OfxParser().identify(head)


@pytest.mark.parametrize("head", NOT_CLAIMED)
def test_identify_leaves_other_formats(head: bytes) -> None:
    assert not OfxParser().identify(head)


@given(st.binary(max_size=300))
def test_identify_never_raises(head: bytes) -> None:
    assert OfxParser().identify(head) in (True, False)


# --- fuzzing: any bytes in -> statements or ParseError -----------------------------------------

SEEDS = [p.read_bytes() for p in GOLDEN_INPUTS]
VOCAB = [b"<STMTTRN>", b"</STMTTRN>", b"<TRNAMT>", b"<DTPOSTED>", b"</OFX>", b"<OFX>", b"<![CDATA[",
         b"]]>", b"<", b">", b"&amp;", b"&#99999999;", b"<CURDEF>", b"<STMTRS>", b"</BANKTRANLIST>"]


def outcome(data: bytes) -> None:
    try:
        result = parse_bytes(data)
    except ParseError as exc:
        assert exc.code.startswith("INGEST_")
        return
    assert all(isinstance(s, Statement) for s in result)
    for s in result:
        assert all(isinstance(ln.amount_minor, int) for ln in s.lines)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), cut=st.integers(min_value=0, max_value=5000))
def test_truncation_never_crashes(seed: bytes, cut: int) -> None:
    outcome(seed[: cut % (len(seed) + 1)])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
)
def test_byte_flips_never_crash(seed: bytes, flips: list[tuple[int, int]]) -> None:
    data = bytearray(seed)
    for pos, byte in flips:
        data[pos % len(data)] = byte
    outcome(bytes(data))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    inserts=st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(VOCAB)), max_size=6),
)
def test_token_insertions_never_crash(seed: bytes, inserts: list[tuple[int, bytes]]) -> None:
    data = seed
    for pos, token in inserts:
        at = pos % (len(data) + 1)
        data = data[:at] + token + data[at:]
    outcome(data)


@given(st.binary(max_size=500))
def test_random_bytes_never_crash(data: bytes) -> None:
    outcome(b"<OFX>" + data)
