"""MT940 / MT942 parser: golden files, :61: and :86: details, structure, refusals, streaming and
never-crash properties (any bytes in -> statements or ParseError)."""

from __future__ import annotations

import dataclasses
import json
import os
import tracemalloc
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import ParseError
from shared.statements.model import SourceFormat, Statement
from shared.statements.mt940 import Mt940Parser
from shared.statements.mt940_details import parse_details, rf_reference
from shared.statements.mt940_line import parse_statement_line

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "mt940"
GOLDEN_INPUTS = sorted(GOLDEN.glob("*.sta"))
PARSER = Mt940Parser()


def statement_json(statements: list[Statement]) -> list[dict]:
    """Plain JSON-able form of parsed statements (dates as ISO strings, amounts as minor ints)."""
    return json.loads(json.dumps([dataclasses.asdict(s) for s in statements], default=str))


def parse_text(tmp_path: Path, text: str | bytes, name: str = "s.sta") -> list[Statement]:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return list(PARSER.parse(path))


def refusal(tmp_path: Path, text: str | bytes) -> str:
    with pytest.raises(ParseError) as info:
        parse_text(tmp_path, text)
    return info.value.code


def stmt(*body: str, opening: str = "C250101EUR100,00", closing: str = "C250102EUR100,00",
         end: str = "-") -> str:
    """A minimal MT940 statement around ``body`` (the :61: / :86: lines)."""
    return "\n".join([":20:REF1", ":25:NL91ABNA0417164300", ":28C:1/1", f":60F:{opening}",
                      *body, f":62F:{closing}", end]) + "\n"


# --- golden files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    expected_path = path.with_suffix(".json")
    got = statement_json(list(PARSER.parse(path)))
    if os.environ.get("UPDATE_GOLDEN") == "1":  # regenerate, then review the diff by eye
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))


def test_golden_inputs_exist() -> None:
    assert len(GOLDEN_INPUTS) >= 5
    assert all(p.with_suffix(".json").exists() for p in GOLDEN_INPUTS)


def test_golden_gvc_key_facts() -> None:
    """German GVC: SEPA keywords inside ?20-?29, year rollover, RD reversal (read by hand)."""
    [s] = PARSER.parse(GOLDEN / "gvc_sepa.sta")
    credit, debit, reversal, standing = s.lines
    assert (credit.value_date, credit.booking_date) == (date(2024, 12, 31), date(2025, 1, 2))
    assert credit.end_to_end_reference == "INV-2024-0815-E2E"
    assert credit.customer_reference == "CUST-REF-77"  # KREF+ replaces the :61: NONREF
    assert credit.remittance == "Rechnung 2024-0815 vom 01.12.2024 Kundennr 4711"
    assert credit.counterparty_name == "Muster Handels GmbH und Co. KG"
    assert (credit.counterparty_account, credit.counterparty_bic) == (
        "DE89370400440532013000", "COBADEFFXXX")
    assert credit.extra["ultimate_debtor"] == "Muster Holding AG"
    assert credit.transaction_code == "166" and credit.bank_reference == "BANKREF0001"
    # "...S" / "VWZ+" across two full sub-fields is still the SVWZ keyword
    assert debit.remittance == "Versicherung Beitrag 2025 Beitrag Januar 2025 Police 12345"
    assert debit.extra["mandate_reference"] == "MANDAT-0815"
    assert (reversal.amount_minor, reversal.is_reversal) == (8990, True)  # RD: credit movement
    assert standing.remittance == "Miete Januar 2025 Wohnung 3 links"
    assert standing.extra["counterparty_bank_code"] == "10020030"
    assert s.balance_gap() == 0 and s.statement_date == date(2025, 1, 3)


def test_golden_dutch_key_facts() -> None:
    ing_1, ing_2 = PARSER.parse(GOLDEN / "ing_swift_blocks.sta")
    a, b, c = ing_1.lines
    assert (a.counterparty_name, a.counterparty_account, a.counterparty_bic) == (
        "ACME TRADING B.V.", "NL91ABNA0417164300", "ABNANL2A")
    assert a.remittance == "Invoice 2025-0042 and 2025-0043" and a.end_to_end_reference == "INV2025-0042"
    assert b.end_to_end_reference is None  # NOTPROVIDED
    assert (b.creditor_reference, b.creditor_reference_type) == ("RF18539007547034", "SCOR")
    assert c.creditor_reference == "1234567890123456" and c.extra["creditor_reference_issuer"] == "CUR"
    assert ing_1.closing is not None and ing_1.closing.type == "ITBD"  # :62M:
    assert ing_2.opening is not None and ing_2.opening.type == "ITBD"  # :60M:
    assert [x.type for x in ing_1.balances] == ["OPBD", "ITBD", "CLAV", "FWAV"]
    abn, rabo, knab = PARSER.parse(GOLDEN / "abn_rabo_knab.sta")
    assert (abn.account, abn.servicer_bic) == ("NL12ABNA0123456789", "ABNANL2A")
    assert abn.lines[0].extra["trtp"] == "SEPA OVERBOEKING"
    assert abn.lines[1].creditor_reference == "1234567890123456"
    assert (abn.lines[2].amount_minor, abn.lines[2].is_reversal) == (-1000, True)  # RC: debit
    assert rabo.account == "NL50RABO0123456789" and rabo.opening is not None
    assert rabo.opening.amount_minor == -10000
    assert rabo.lines[0].counterparty_account == "NL86INGB0002445588"  # 2nd :61: line
    assert knab.account == "NL92KNAB0123456789"
    # a full 65-column line was hard-wrapped inside "2025-0042": glued back together
    assert "FACTUUR 2025-0042 BIJ LEVERING" in (knab.lines[0].remittance or "")


def test_golden_mt942_and_old_ing() -> None:
    [report] = PARSER.parse(GOLDEN / "mt942_interim.sta")
    assert report.source_format == SourceFormat.MT942
    assert (report.opening, report.closing, report.currency) == (None, None, "PLN")
    assert report.statement_date == date(2025, 1, 17)
    [old] = PARSER.parse(GOLDEN / "ing_old_export.sta")
    assert old.sequence == "00000"  # ":28C:0000" + "0" on the next line
    assert old.lines[1].remittance is not None and old.lines[1].remittance.endswith("12:00:00")
    assert old.lines[0].creditor_reference == "1234567899874563"


# The mt-940 library as an independent oracle: where it reads a golden file, it must agree on
# every amount and value date (with its reversal_sign option, so RC counts as a debit).
LIBRARY_CANNOT_READ = {"ing_old_export.sta"}  # ":28C:0000" wrapped onto a second line


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.name)
def test_golden_agrees_with_mt940_library(path: Path) -> None:
    import mt940

    ours = [(ln.amount_minor, ln.value_date) for s in PARSER.parse(path) for ln in s.lines]
    if path.name in LIBRARY_CANNOT_READ:
        with pytest.raises(Exception):  # noqa: B017 (the library raises a bare RuntimeError)
            mt940.parse(str(path), options=mt940.Options(reversal_sign=True))
        return
    theirs = mt940.parse(str(path), options=mt940.Options(reversal_sign=True))
    assert [(int(tx.data["amount"].amount * 100), tx.data["date"]) for tx in theirs] == ours


# --- :61: statement line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "amount_sign", "reversal"),
    [("C", 1, False), ("D", -1, False), ("RC", -1, True), ("RD", 1, True)],
)
def test_marks_and_reversals(line: str, amount_sign: int, reversal: bool) -> None:
    sl = parse_statement_line([f"2501020102{line}12,34NTRFREF//BANK"], 1)
    assert (sl.sign, sl.mark in ("RC", "RD")) == (amount_sign, reversal)
    assert (sl.amount, sl.type_code, sl.customer_reference, sl.bank_reference) == (
        "12,34", "NTRF", "REF", "BANK")


@pytest.mark.parametrize(
    ("value", "entry", "booked"),
    [
        ("241231", "0102", date(2025, 1, 2)),  # booked in the new year
        ("250102", "1231", date(2024, 12, 31)),  # value date after the year end
        ("240228", "0229", date(2024, 2, 29)),  # leap day
        ("250615", "0616", date(2025, 6, 16)),
    ],
)
def test_entry_date_year(value: str, entry: str, booked: date) -> None:
    assert parse_statement_line([f"{value}{entry}C1,00NMSCNONREF"], 1).entry_date == booked


@pytest.mark.parametrize("line", ["1602300301DR6,00N024NONREF", "2502280230C1,00NMSC",
                                  "2513010101C1,00NMSC"])
def test_impossible_dates_refused(line: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_statement_line([line], 7)
    assert info.value.code == "INGEST_BAD_DATE"


def test_references_and_supplementary_details() -> None:
    sl = parse_statement_line(["250102C5,00NTRFNONREF//", "/TRCD/00100/"], 1)
    assert (sl.customer_reference, sl.bank_reference, sl.supplementary) == (
        "NONREF", None, "/TRCD/00100/")
    assert sl.entry_date is None and sl.value_date == date(2025, 1, 2)
    # Rabobank's old layout: 16x reference, then the counterparty name on the same line
    old = parse_statement_line(["110527D000000001213,28N0440121470966      W.P. Jansen     "], 1)
    assert (old.customer_reference, old.supplementary, old.overflow_name) == (
        "0121470966", "W.P. Jansen", True)
    # ASN: a whole IBAN as the reference is not cut at 16 characters
    asn = parse_statement_line(["2001010101D65,00NOVBNL47INGB9999999999", "hr jansen"], 1)
    assert (asn.customer_reference, asn.supplementary) == ("NL47INGB9999999999", "hr jansen")
    # funds code and an amount without decimals (Knab writes "C500NTRF")
    fc = parse_statement_line(["1407290729CR500NTRF29-07-2014 10:05//B4G29PGDCK1QFV3E"], 1)
    assert (fc.funds_code, fc.amount, fc.customer_reference) == ("R", "500", "29-07-2014 10:05")


@pytest.mark.parametrize("line", ["2501020102X12,34NTRF", "250102C12,34", "250102C,NTRF",
                                  "hello", "250102CNTRF"])
def test_bad_statement_lines(line: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_statement_line([line], 3)
    assert info.value.code == "INGEST_MT940_BAD_LINE" and info.value.details["line"] == 3


def test_statement_line_wrapped_after_the_mark() -> None:
    sl = parse_statement_line(["1811261126CR", "30,00N062NONREF"], 1)
    assert (sl.amount, sl.type_code, sl.customer_reference) == ("30,00", "N062", "NONREF")


# --- :86: dialects -----------------------------------------------------------------------------


def test_gvc_identifier_ends_with_short_subfield() -> None:
    info = parse_details([["159?00RETOURE?100399?20EREF+TFNR 40005 00005?21MTLG:Grund nicht s",
                           "pezifizie?22rt Reject aus SEPA-Ueberwei?23sungsauftrag?34914"]])
    assert info["end_to_end_reference"] == "TFNR 40005 00005"
    assert info["remittance"] == "MTLG:Grund nicht spezifiziert Reject aus SEPA-Ueberweisungsauftrag"
    assert info["extra"]["gvc_extension"] == "914" and info["transaction_code"] == "159"


def test_gvc_without_sepa_keys_and_code_only() -> None:
    info = parse_details([["051?00UEBERWEISUNG?100599?20Gehalt Oktob", "er", "?3050060400?31084756"]])
    assert info["remittance"] == "Gehalt Oktober" and info["counterparty_account"] == "084756"
    assert parse_details([["091"]])["transaction_code"] == "091"
    plus = parse_details([["166?20Rechnung 1+2 bezahlt?21XEREF+1"]])  # "+" but no keyword
    assert plus["remittance"] == "Rechnung 1+2 bezahlt XEREF+1"


def test_triodos_subfields() -> None:
    info = parse_details([["000>100000000000", ">20RABONL2U", ">21NL12RABO0888888888",
                           ">22METSELAARBAASIK PAARDENA PO>23STBUS 969", ">310454545454"]])
    assert (info["counterparty_bic"], info["counterparty_account"]) == ("RABONL2U", "NL12RABO0888888888")
    assert info["remittance"] == "METSELAARBAASIK PAARDENA POSTBUS 969"
    assert "transaction_code" not in info  # Triodos always writes 000


def test_dutch_structured_variants() -> None:
    rabo = parse_details([["/EREF/02-04-2013 22:56 1120000153447185/BENM//NAME/Nespresso Nede",
                           "rland B.V./REMI/674725433 1120000153447185 14144467636004962",
                           "/ISDT/2013-04-03"]])
    assert rabo["counterparty_name"] == "Nespresso Nederland B.V."
    assert rabo["remittance"] == "674725433 1120000153447185 14144467636004962"
    assert rabo["end_to_end_reference"] == "02-04-2013 22:56 1120000153447185"
    twice = parse_details([["/EREF/201700101-2222222/ORDP//NAME/STG. KLANTGELDEN/REMI//REMI/AFR",
                            "EK. BETAALAUTOMAAT"]])
    assert twice["remittance"] == "AFREK. BETAALAUTOMAAT"
    ultimate = parse_details([["/NAME/DEBTOR CO/ULTD//NAME/PARENT CO/REMI/X"]])
    assert ultimate["counterparty_name"] == "DEBTOR CO"
    assert ultimate["extra"]["ultimate_party"] == "PARENT CO"


def test_labelled_text_and_free_text() -> None:
    abn = parse_details([["SEPA INCASSO ALGEMEEN DOORLOPEND INCASSANT: NL40ZZZ878787780000",
                          "NAAM: BHBBAAA B.V.              MACHTIGING: BHV001",
                          "OMSCHRIJVING: MAANDTERMIJN JANUARI",
                          "IBAN: NL83RABO0353535355         KENMERK: AA 2014-11-11 10:20:47/",
                          "0000000007"]])
    assert abn["counterparty_name"] == "BHBBAAA B.V."  # label right after a full line
    assert abn["counterparty_account"] == "NL83RABO0353535355"
    assert abn["extra"]["creditor_id"] == "NL40ZZZ878787780000"
    assert abn["end_to_end_reference"] == "AA 2014-11-11 10:20:47/0000000007"
    assert abn["remittance"] == "MAANDTERMIJN JANUARI"
    free = parse_details([["BEA   NR:XXX1234   21.05.11/12.54 DIRCKIII FIL2500 KATWIJK,PAS999"]])
    assert free["remittance"] == "BEA NR:XXX1234 21.05.11/12.54 DIRCKIII FIL2500 KATWIJK,PAS999"
    assert free["extra"]["details_dialect"] == "free"


def test_rf_reference_check_digits() -> None:
    assert rf_reference("RF18 5390 0754 7034") == "RF18539007547034"
    assert rf_reference("RF19539007547034") is None
    info = parse_details([["/REMI/STRD/ISO/RF19539007547034/"]])
    assert "creditor_reference" not in info and info["remittance"] == "RF19539007547034"


# --- file structure ----------------------------------------------------------------------------


def test_several_statements_blocks_and_headers(tmp_path: Path) -> None:
    one = stmt(":61:2501020102C10,00NTRFNONREF", ":86:/REMI/A", closing="C250102EUR110,00")
    two = stmt(opening="C250102EUR110,00", closing="C250103EUR110,00")
    text = "ABNANL2A\n940\nABNANL2A\n" + one + "{1:F01X}{2:I940X}{4:\n" + two[:-2] + "-}\n"
    got = parse_text(tmp_path, text)
    assert [len(s.lines) for s in got] == [1, 0]
    assert [s.balance_gap() for s in got] == [0, 0]


@pytest.mark.parametrize(
    ("field", "account", "bic"),
    [
        ("NL54INGB0001234500EUR", "NL54INGB0001234500", None),
        ("ABNANL2A/NL12ABNA0123456789", "NL12ABNA0123456789", "ABNANL2A"),
        ("DEUTDEFF/1234567890", "1234567890", "DEUTDEFF"),
        ("NL92 KNAB 0123 4567 89", "NL92KNAB0123456789", None),
        ("1291.99.348EUR", "1291.99.348", None),
        ("12345678/1020304050", "12345678/1020304050", None),  # BLZ / account: keep both
        ("UBRTHUHB/123456789150ABCDEF002/EUR", "123456789150ABCDEF002", "UBRTHUHB"),
    ],
)
def test_account_forms(tmp_path: Path, field: str, account: str, bic: str | None) -> None:
    [s] = parse_text(tmp_path, stmt().replace(":25:NL91ABNA0417164300", f":25:{field}"))
    assert (s.account, s.servicer_bic, s.currency) == (account, bic, "EUR")


def test_header_values_and_balances(tmp_path: Path) -> None:
    text = stmt(":61:2501020102D1,50NMSCNONREF", opening="D250101EUR10,00",
                closing="D250102EUR11,50").replace("-\n", ":64:C250102EUR5,\n:65:D250103EUR7,25\n-\n")
    [s] = parse_text(tmp_path, text)
    assert (s.statement_id, s.sequence, s.statement_date) == ("REF1", "1/1", date(2025, 1, 2))
    assert [(b.type, b.amount_minor) for b in s.balances] == [
        ("OPBD", -1000), ("CLBD", -1150), ("CLAV", 500), ("FWAV", -725)]
    assert (s.from_date, s.to_date) == (date(2025, 1, 1), date(2025, 1, 2))
    assert s.lines[0].raw == ":61:2501020102D1,50NMSCNONREF"


def test_zero_decimal_currency(tmp_path: Path) -> None:
    [s] = parse_text(tmp_path, stmt(":61:250102C1500,NMSCNONREF", opening="C250101JPY100,",
                                     closing="C250102JPY1600,"))
    assert s.lines[0].amount_minor == 1500 and s.closing and s.closing.amount_minor == 1600


def test_dash_inside_details_is_text(tmp_path: Path) -> None:
    """Rabobank lets a :86: continuation line be a lone '-' before the closing balance."""
    [s] = parse_text(tmp_path, stmt(":61:250102C1,00NMSCNONREF", ":86:/REMI/Arrap -", "-",
                                     closing="C250102EUR101,00"))
    assert s.lines[0].remittance == "Arrap --"


def test_mt940_with_13d_stays_mt940(tmp_path: Path) -> None:
    text = stmt(":61:250102C1,00NMSCNONREF", ":86:/REMI/Arrap -", "-", closing="C250102EUR101,00")
    [s] = parse_text(tmp_path, text.replace(":28C:1/1\n", ":28C:1/1\n:13D:2501021200+0100\n"))
    assert s.source_format == SourceFormat.MT940 and s.lines[0].remittance == "Arrap --"


def test_mt942_from_the_block_header(tmp_path: Path) -> None:
    text = ("{1:F01BANKDEFFAXXX0000000000}{2:O942BANKDEFFXXXXN}{4:\n:20:R1\n:25:DE12500105170648489890\n"
            ":28C:1\n:34F:EUR0,\n:13D:2501021200+0100\n:61:250102C1,00NMSCNONREF\n:86:Text\n-}\n")
    [s] = parse_text(tmp_path, text)
    assert (s.source_format, s.currency, s.opening) == (SourceFormat.MT942, "EUR", None)
    assert s.statement_date == date(2025, 1, 2) and s.lines[0].amount_minor == 100


def test_unknown_tags_are_continuation_text(tmp_path: Path) -> None:
    [s] = parse_text(tmp_path, stmt(":61:250102C1,00NMSCNONREF", ":86:Termin 2017-01-01T13",
                                     ":12:11", closing="C250102EUR101,00"))
    assert s.lines[0].remittance == "Termin 2017-01-01T13 :12:11"


def test_encodings(tmp_path: Path) -> None:
    body = ":86:Überweisung Müller"
    for data in ((stmt(":61:250102C1,00NMSCNONREF", body, closing="C250102EUR101,00")).encode("cp1252"),
                 b"\xef\xbb\xbf" + stmt(":61:250102C1,00NMSCNONREF", body,
                                        closing="C250102EUR101,00").encode()):
        [s] = parse_text(tmp_path, data)
        assert s.lines[0].remittance == "Überweisung Müller"


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "INGEST_MT940_NO_STATEMENT"),
        ("1\n2\n3\n", "INGEST_MT940_NO_STATEMENT"),
        (stmt().replace(":62F:C250102EUR100,00\n", ""), "INGEST_MT940_TRUNCATED"),
        (stmt().replace(":25:NL91ABNA0417164300\n", ""), "INGEST_MT940_MISSING_TAG"),
        (stmt().replace(":20:REF1\n", ""), "INGEST_MT940_MISSING_TAG"),
        (stmt().replace(":60F:C250101EUR100,00\n", ""), "INGEST_MT940_MISSING_TAG"),
        (stmt(opening="C250101EUR1OO,00"), "INGEST_MT940_BAD_BALANCE"),
        (stmt(opening="C250101USD100,00"), "INGEST_MT940_BAD_BALANCE"),  # mixed currencies
        (stmt(opening="C250230EUR100,00"), "INGEST_BAD_DATE"),
        (stmt(opening="C250101EUR100,001"), "INGEST_BAD_AMOUNT"),
        (stmt(":61:250102C1,001NMSC"), "INGEST_BAD_AMOUNT"),
        (stmt(":61:2502300301C1,00NMSC"), "INGEST_BAD_DATE"),
        (stmt(":61:250102Q1,00NMSC"), "INGEST_MT940_BAD_LINE"),
        (stmt(":61:250102C1,00NMSC", ":25:XX"), "INGEST_MT940_BAD_LINE"),  # second :25:
        (stmt().replace("-\n", ":61:250102C1,00NMSC\n-\n"), "INGEST_MT940_BAD_LINE"),
        ("{1:F01X}{2:I940X}{4:\n" + stmt()[:-2], "INGEST_MT940_TRUNCATED"),  # no "-}"
        ("{1:F01X}{2:I940X}{4:\n" + stmt()[:-2] + "-}\n{1:F01X}{2:I940X}{4:\n",
         "INGEST_MT940_TRUNCATED"),  # the next message is cut right after its header
        (stmt()[:-4], "INGEST_MT940_TRUNCATED"),  # ":62F:C250102EUR100,0" with no line break
        (stmt()[:-6], "INGEST_MT940_TRUNCATED"),  # ":62F:C250102EUR100,"
        (":20:X\n:25:Y\n:28C:1\n:34F:EURD0,\n:61:250102C1,00NMSC\n", "INGEST_MT940_TRUNCATED"),
    ],
)
def test_refusals(tmp_path: Path, text: str, code: str) -> None:
    assert refusal(tmp_path, text) == code


def test_last_line_without_break_but_complete(tmp_path: Path) -> None:
    """A closing balance showing every decimal cannot have lost a character."""
    [s] = parse_text(tmp_path, stmt(end="").rstrip("\n"))
    assert s.closing is not None and s.closing.amount_minor == 10000


# --- identify ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "claimed"),
    [
        (stmt().encode(), True),
        (b"{1:F01INGBNL2AXXXX0000000000}{2:I940INGBNL2AXXXXN}{4:\r\n:20:X\r\n:25:Y\r\n", True),
        (b"{1:F01X}{2:I940X}{4::20:X\r\n:25:Y\r\n", True),
        (b"\x01\r\n:20:ST1\r\n:25:PL1\r\n:28C:1/1\r\n:34F:PLN0\r\n", True),
        (b"\xef\xbb\xbf:20:X\r\n:25:Y\r\n", True),
        (b'<?xml version="1.0"?><Document><Stmt>:20:\n:25:</Stmt></Document>', False),
        (b"OFXHEADER:100\nDATA:OFXSGML\n<OFX>\n:20:x\n:25:y\n", False),
        (b"date;amount;text\n2025-01-01;1,00;:20: test\n", False),
        (b":86:091\n-", True),  # a fragment is claimed so that the parser names what is missing
        (b"hello\n:20:X\n", False),
        (b"", False),
    ],
)
def test_identify(head: bytes, claimed: bool) -> None:
    assert PARSER.identify(head) is claimed


# --- streaming ---------------------------------------------------------------------------------


def _many(n: int) -> str:
    parts = []
    for i in range(n):
        parts.append(stmt(":61:2501020102C1,00NTRFNONREF//B1",
                          ":86:/EREF/E2E//CNTP/NL91ABNA0417164300/ABNANL2A/CUSTOMER///REMI/USTD//INV 1/",
                          closing="C250102EUR101,00").replace(":20:REF1", f":20:REF{i}"))
    return "".join(parts)


def test_statements_are_streamed(tmp_path: Path) -> None:
    """The first statement comes out before the broken end of the file is read."""
    path = tmp_path / "s.sta"
    path.write_text(stmt() + ":20:BROKEN\n:25:X\n")
    stream = PARSER.parse(path)
    assert next(stream).statement_id == "REF1"
    with pytest.raises(ParseError):
        next(stream)


def test_memory_stays_flat_in_file_size(tmp_path: Path) -> None:
    peaks = []
    for n in (200, 1600):
        path = tmp_path / f"m{n}.sta"
        path.write_text(_many(n))
        tracemalloc.start()
        count = sum(1 for _ in PARSER.parse(path))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count == n
    assert peaks[1] < peaks[0] * 2  # 8x the file, nowhere near 8x the memory


# --- properties: any bytes in -> statements or ParseError --------------------------------------

def _outcome(tmp_path: Path, data: bytes) -> list[Statement] | ParseError:
    path = tmp_path / "fuzz.sta"
    path.write_bytes(data)
    try:
        return list(PARSER.parse(path))
    except ParseError as exc:
        return exc


def _key(s: Statement) -> tuple:
    return (s.statement_id, s.sequence, s.opening, s.closing,
            [(x.amount_minor, x.booking_date, x.remittance) for x in s.lines])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(GOLDEN_INPUTS), fraction=st.floats(min_value=0, max_value=1))
def test_truncation_never_yields_a_partial_statement(tmp_path: Path, source: Path,
                                                     fraction: float) -> None:
    """Cut anywhere: a refusal, or only whole statements (each equal to the full parse's)."""
    data = source.read_bytes()
    full = [_key(s) for s in PARSER.parse(source)]
    got = _outcome(tmp_path, data[: int(len(data) * fraction)])
    if isinstance(got, ParseError):
        return
    assert [_key(s) for s in got] == full[: len(got)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.sampled_from(GOLDEN_INPUTS),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    cut=st.integers(min_value=0),
)
def test_flipped_bytes_parse_or_refuse(tmp_path: Path, source: Path, flips: list, cut: int) -> None:
    data = bytearray(source.read_bytes())
    for pos, value in flips:
        data[pos % len(data)] = value
    got = _outcome(tmp_path, bytes(data[: len(data) - cut % 40]))
    assert isinstance(got, (list, ParseError))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400) | st.text(alphabet=":0123456789CDRNTFSVWZ,{}-+?>/\n\r ABEUR", max_size=300))
def test_arbitrary_input_parses_or_refuses(tmp_path: Path, data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    got = _outcome(tmp_path, raw)
    assert isinstance(got, (list, ParseError))
    assert PARSER.identify(raw) in (True, False)
