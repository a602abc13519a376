"""CamtParser: golden files, identification and the rules of the canonical mapping."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shared.errors import ParseError
from shared.statements.camt import CamtParser
from shared.statements.camt_entries import RAW_LIMIT
from shared.statements.model import SourceFormat
from tests.statements.camt_helpers import ACCOUNT, balance, canonical, document, entry, parse_text, tx

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "camt"
GOLDEN_FILES = sorted(GOLDEN.glob("*.xml"))
PARSER = CamtParser()


# ---------------------------------------------------------------------------------------- golden


@pytest.mark.parametrize("xml", GOLDEN_FILES, ids=[p.name for p in GOLDEN_FILES])
def test_golden_file(xml: Path) -> None:
    got = canonical(list(PARSER.parse(xml)))
    expected_path = xml.with_suffix(".json")
    if os.environ.get("CASHRECON_UPDATE_GOLDEN") == "1":
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))


def test_golden_files_exist_and_balance() -> None:
    assert len(GOLDEN_FILES) >= 4
    for xml in GOLDEN_FILES:
        assert PARSER.identify(xml.read_bytes()[:65536]), xml.name
        for statement in PARSER.parse(xml):
            assert statement.balance_gap() in (0, None), xml.name


# ------------------------------------------------------------------------------------ identify


@pytest.mark.parametrize("kind", ["052", "053", "054"])
@pytest.mark.parametrize("version", [1, 2, 4, 8, 10, 13])
def test_identify_and_source_format_by_namespace(tmp_path: Path, kind: str, version: int) -> None:
    text = document(entry(), kind=kind, version=version)
    assert PARSER.identify(text.encode())
    (statement,) = parse_text(tmp_path, text)
    assert statement.source_format == {"052": SourceFormat.CAMT052, "053": SourceFormat.CAMT053,
                                       "054": SourceFormat.CAMT054}[kind]


def test_identify_utf16_and_bom() -> None:
    text = document(entry())
    assert PARSER.identify(text.replace("UTF-8", "UTF-16").encode("utf-16"))
    assert PARSER.identify(b"\xef\xbb\xbf" + text.encode())


def test_identify_application_header_only_names_the_message() -> None:
    head = (b'<?xml version="1.0"?><Envelope><AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">'
            b"<MsgDefIdr>camt.053.001.08</MsgDefIdr></AppHdr>")
    assert PARSER.identify(head)


@pytest.mark.parametrize(
    "head",
    [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<?OFX OFXHEADER="200" VERSION="220"?>\n<OFX><SONRS>',
        b"OFXHEADER:100\nDATA:OFXSGML\n<OFX>",
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">',
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.056.001.08">',
        b":20:STARTUMS\n:25:10020030/1234567\n:86:urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\n",
        b'<?xml version="1.0"?><root><a>hello</a></root>',
        b"",
        b"\x00\x01\x02\xff\xfe\x00",
    ],
    ids=["ofx2", "ofx1", "pain001", "camt056", "mt940-mentioning-ns", "plain-xml", "empty", "binary"],
)
def test_identify_refuses_other_content(head: bytes) -> None:
    assert PARSER.identify(head) is False


# ------------------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("amount", "ccy", "minor"),
    [("18.150", "EUR", 1815), ("5442.09000", "RON", 544209), ("2700", "JPY", 2700), ("1.234", "KWD", 1234),
     ("0", "EUR", 0), ("29194819.2", "EUR", 2919481920)],
)
def test_amounts_are_exact(tmp_path: Path, amount: str, ccy: str, minor: int) -> None:
    account = "<Acct><Id><IBAN>X1</IBAN></Id></Acct>"
    (statement,) = parse_text(tmp_path, document(entry(amount, ccy=ccy), account=account))
    assert statement.lines[0].amount_minor == minor
    assert statement.lines[0].currency == ccy


@pytest.mark.parametrize(
    ("amount", "ccy", "code"),
    [("18.155", "EUR", "INGEST_BAD_AMOUNT"), ("2700.5", "JPY", "INGEST_BAD_AMOUNT"),
     ("-5.00", "EUR", "INGEST_BAD_AMOUNT"), ("1,00", "EUR", "INGEST_BAD_AMOUNT"),
     ("1e3", "EUR", "INGEST_BAD_AMOUNT"), ("12.", "EUR", "INGEST_BAD_AMOUNT"),
     ("", "EUR", "INGEST_CAMT_MISSING_AMOUNT")],
)
def test_bad_amounts_are_refused(tmp_path: Path, amount: str, ccy: str, code: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(tmp_path, document(entry(amount, ccy=ccy)))
    assert err.value.code == code  # never rounded, never guessed


def test_balances_signs_and_opening_closing(tmp_path: Path) -> None:
    body = balance("OPBD", "10.00", "DBIT") + balance("CLBD", "0.00") + balance("OPAV", "1.00")
    body += entry("10.00")
    (statement,) = parse_text(tmp_path, document(body))
    assert statement.opening is not None and statement.opening.amount_minor == -1000
    assert statement.closing is not None and statement.closing.amount_minor == 0
    assert [b.type for b in statement.balances] == ["OPBD", "CLBD", "OPAV"]
    assert statement.balance_gap() == 0


def test_prcd_is_opening_only_without_opbd(tmp_path: Path) -> None:
    body = balance("PRCD", "5.00") + balance("OPBD", "6.00") + balance("CLBD", "6.00")
    (statement,) = parse_text(tmp_path, document(body))
    assert statement.opening is not None and statement.opening.type == "OPBD"
    (statement,) = parse_text(tmp_path, document(balance("PRCD", "5.00")))
    assert statement.opening is not None and statement.opening.type == "PRCD"


def test_balance_type_variants(tmp_path: Path) -> None:
    prtry = "<Bal><Tp><CdOrPrtry><Prtry>CLBD</Prtry></CdOrPrtry></Tp><Amt Ccy=\"EUR\">1.00</Amt>" \
            "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-12</Dt></Dt></Bal>"
    old = "<Bal><Tp><Cd>OPBD</Cd></Tp><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>" \
          "<Dt><DtTm>2024-03-11T23:30:00-05:00</DtTm></Dt></Bal>"
    (statement,) = parse_text(tmp_path, document(old + prtry + balance("XPCD", "2.00")))
    assert [b.type for b in statement.balances] == ["OPBD", "CLBD", "OTHER"]
    assert str(statement.balances[0].date) == "2024-03-11"


# ------------------------------------------------------------------------------- header fields


def test_header_fields_and_fallbacks(tmp_path: Path) -> None:
    header = ("<Id>S-9</Id><LglSeqNb>17</LglSeqNb><CreDtTm>2024-03-13T01:00:00</CreDtTm>"
              "<FrToDt><FrDtTm>2024-03-01T00:00:00</FrDtTm><ToDtTm>2024-03-10T23:59:59</ToDtTm></FrToDt>")
    (statement,) = parse_text(tmp_path, document(entry(), header=header))
    assert (statement.statement_id, statement.sequence) == ("S-9", "17")
    assert (str(statement.from_date), str(statement.to_date)) == ("2024-03-01", "2024-03-10")
    assert str(statement.statement_date) == "2024-03-10"  # no CLBD: the to-date
    (statement,) = parse_text(tmp_path, document(entry()))
    assert str(statement.statement_date) == "2024-03-12"  # neither: the creation date


@pytest.mark.parametrize(
    ("account", "expected"),
    [("<Acct><Id><Othr><Id>LT625883379695428516</Id></Othr></Id></Acct>", "LT625883379695428516"),
     ("<Acct><Id><PrtryAcct><Id>CH2801234</Id></PrtryAcct></Id></Acct>", "CH2801234")],
)
def test_account_alternatives(tmp_path: Path, account: str, expected: str) -> None:
    (statement,) = parse_text(tmp_path, document(entry(), account=account))
    assert statement.account == expected
    assert statement.currency == "EUR"  # no Acct/Ccy: taken from the entries


def test_currency_from_booked_balance_before_entries(tmp_path: Path) -> None:
    account = "<Acct><Id><IBAN>X</IBAN></Id></Acct>"
    (statement,) = parse_text(tmp_path, document(balance("OPBD", "1", ccy="CHF") + entry(), account=account))
    assert statement.currency == "CHF"


@pytest.mark.parametrize(
    ("body", "account", "code"),
    [
        (entry(), "<Acct><Id/></Acct>", "INGEST_CAMT_NO_ACCOUNT"),
        (entry(), "", "INGEST_CAMT_NO_ACCOUNT"),
        ("", "<Acct><Id><IBAN>X</IBAN></Id></Acct>", "INGEST_CAMT_NO_CURRENCY"),
        ("<Ntry><CdtDbtInd>CRDT</CdtDbtInd></Ntry>", ACCOUNT, "INGEST_CAMT_MISSING_AMOUNT"),
        ("<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp></Bal>", ACCOUNT, "INGEST_CAMT_MISSING_AMOUNT"),
        (entry(ind="XXXX"), ACCOUNT, "INGEST_CAMT_NO_DIRECTION"),
        (entry(ccy="euro"), ACCOUNT, "INGEST_BAD_CURRENCY"),
        (entry(booking="<BookgDt><Dt>2024-02-30</Dt></BookgDt>"), ACCOUNT, "INGEST_BAD_DATE"),
        (entry(booking="<BookgDt><Dt>12.03.2024</Dt></BookgDt>"), ACCOUNT, "INGEST_BAD_DATE"),
        (entry(booking="<BookgDt><Dt> </Dt></BookgDt>"), ACCOUNT, "INGEST_BAD_DATE"),
    ],
    ids=["empty-id", "no-acct", "no-currency", "entry-no-amount", "balance-no-amount", "direction",
         "currency", "date-30-feb", "date-format", "date-blank"],
)
def test_specific_refusals(tmp_path: Path, body: str, account: str, code: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(tmp_path, document(body, account=account))
    assert err.value.code == code


def test_document_without_records(tmp_path: Path) -> None:
    text = ('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
            "<GrpHdr><MsgId>M</MsgId></GrpHdr></BkToCstmrStmt></Document>")
    with pytest.raises(ParseError) as err:
        parse_text(tmp_path, text)
    assert err.value.code == "INGEST_CAMT_NO_STATEMENT"


def test_namespace_less_document_read_by_element_names(tmp_path: Path) -> None:
    namespace = ' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"'
    text = document(entry(), kind="054").replace(namespace, "")
    (statement,) = parse_text(tmp_path, text)
    assert statement.source_format == SourceFormat.CAMT054


def test_several_records_are_streamed_one_by_one(tmp_path: Path) -> None:
    first = document(entry("1.00"))
    second = "<Stmt><Id>S-2</Id>" + ACCOUNT + entry("2.00") + "</Stmt>"
    broken = first.replace("</BkToCstmrStmt>", second + "<Stmt>")
    path = tmp_path / "two.xml"
    path.write_text(broken)
    statements = PARSER.parse(path)
    assert next(statements).lines[0].amount_minor == 100  # yielded before the broken end is read
    assert next(statements).lines[0].amount_minor == 200
    with pytest.raises(ParseError) as err:
        next(statements)
    assert err.value.code == "INGEST_XML_MALFORMED"


# ------------------------------------------------------------------------------------- entries


def test_dates_take_the_date_part_as_written(tmp_path: Path) -> None:
    booking = ("<BookgDt><DtTm>2024-03-12T23:30:00-11:00</DtTm></BookgDt>"
               "<ValDt><Dt>2024-03-13+01:00</Dt></ValDt>")
    (statement,) = parse_text(tmp_path, document(entry(booking=booking)))
    line = statement.lines[0]
    assert (str(line.booking_date), str(line.value_date)) == ("2024-03-12", "2024-03-13")


def test_missing_booking_date_falls_back_and_says_so(tmp_path: Path) -> None:
    body = balance("CLBD", "0") + entry(booking="", sts="")
    (statement,) = parse_text(tmp_path, document(body))
    assert str(statement.lines[0].booking_date) == "2024-03-12"
    assert statement.lines[0].extra["booking_date_inferred"] is True


@pytest.mark.parametrize(
    ("kind", "status", "kept"),
    [("053", "<Sts>PDNG</Sts>", False), ("053", "<Sts><Cd>BOOK</Cd></Sts>", True), ("053", "", True),
     ("052", "<Sts><Cd>PDNG</Cd></Sts>", True), ("054", "<Sts>PDNG</Sts>", True),
     ("054", "<Sts>INFO</Sts>", False), ("052", "<Sts><Prtry>FUTR</Prtry></Sts>", False)],
)
def test_status_policy(tmp_path: Path, kind: str, status: str, kept: bool) -> None:
    (statement,) = parse_text(tmp_path, document(entry(sts=status), kind=kind))
    assert len(statement.lines) == int(kept)
    if kept and kind != "053":
        assert statement.lines[0].extra["status"] in ("BOOK", "PDNG")


def test_reversal_keeps_booked_sign(tmp_path: Path) -> None:
    details = tx("<RltdPties><Dbtr><Nm>Payer</Nm></Dbtr><Cdtr><Nm>Payee</Nm></Cdtr></RltdPties>")
    (statement,) = parse_text(tmp_path, document(entry("5.00", "DBIT", more="", details=details)
                                                 .replace("<Sts>", "<RvslInd>true</RvslInd><Sts>")))
    line = statement.lines[0]
    assert (line.amount_minor, line.is_reversal) == (-500, True)
    assert line.counterparty_name == "Payer"  # a returned credit: the original payer


@pytest.mark.parametrize(("ind", "name"), [("CRDT", "Payer"), ("DBIT", "Payee")])
def test_counterparty_side_follows_direction(tmp_path: Path, ind: str, name: str) -> None:
    details = tx(
        "<RltdPties><Dbtr><Pty><Nm>Payer</Nm></Pty></Dbtr><DbtrAcct><Id><IBAN>DBTRIBAN</IBAN></Id></DbtrAcct>"
        "<UltmtDbtr><Nm>Payer Group</Nm></UltmtDbtr>"
        "<Cdtr><Nm>Payee</Nm></Cdtr><CdtrAcct><Id><Othr><Id>CDTR-ACCT</Id></Othr></Id></CdtrAcct></RltdPties>"
        "<RltdAgts><DbtrAgt><FinInstnId><BIC>DBTRBICX</BIC></FinInstnId></DbtrAgt>"
        "<CdtrAgt><FinInstnId><BICFI>CDTRBICX</BICFI></FinInstnId></CdtrAgt></RltdAgts>"
    )
    (statement,) = parse_text(tmp_path, document(entry(ind=ind, details=details)))
    line = statement.lines[0]
    assert line.counterparty_name == name
    assert line.counterparty_account == ("DBTRIBAN" if ind == "CRDT" else "CDTR-ACCT")
    assert line.counterparty_bic == ("DBTRBICX" if ind == "CRDT" else "CDTRBICX")
    assert line.extra.get("ultimate_debtor") == ("Payer Group" if ind == "CRDT" else None)


def test_references_and_codes(tmp_path: Path) -> None:
    details = tx("<Refs><AcctSvcrRef>TX-REF</AcctSvcrRef><InstrId>NOTPROVIDED</InstrId><MsgId>MSG</MsgId>"
                 "<EndToEndId>E2E</EndToEndId></Refs><BkTxCd><Prtry><Cd>166</Cd></Prtry></BkTxCd>")
    more = ("<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>"
            "</BkTxCd>")
    plain = entry(more="<BkTxCd><Prtry><Cd>NTRF</Cd></Prtry></BkTxCd>")
    body = entry(details=details, more=more) + entry(more=more) + plain
    (statement,) = parse_text(tmp_path, document(body))
    first, second, third = statement.lines
    assert (first.bank_reference, first.end_to_end_reference) == ("TX-REF", "E2E")
    # the entry's ISO code wins over the details' proprietary one, which is kept aside
    assert first.transaction_code == "PMNT/RCDT/ESCT"
    assert first.extra == {"message_id": "MSG", "bank_transaction_code_proprietary": "166"}
    assert (second.bank_reference, second.transaction_code) == ("NTRY-REF", "PMNT/RCDT/ESCT")
    assert (third.transaction_code, third.extra) == ("NTRF", {})


def test_remittance_assembly(tmp_path: Path) -> None:
    rich = tx("<RmtInf><Ustrd>Invoice  42</Ustrd><Ustrd>and 43</Ustrd><Strd><RfrdDocInf><Nb>INV-44</Nb>"
              "</RfrdDocInf><RfrdDocInf><Nb>42</Nb></RfrdDocInf></Strd></RmtInf><AddtlTxInf>ignored</AddtlTxInf>")
    addtl = tx("<RmtInf><Ustrd>NOTPROVIDED</Ustrd></RmtInf><AddtlTxInf>From AddtlTxInf</AddtlTxInf>")
    bare = tx("<Refs><EndToEndId>X</EndToEndId></Refs>")
    info = "<AddtlNtryInf>Entry info</AddtlNtryInf>"
    body = entry(details=rich, more=info) + entry(details=addtl, more=info) + entry(details=bare, more=info)
    (statement,) = parse_text(tmp_path, document(body))
    rich_line, addtl_line, bare_line = statement.lines
    assert rich_line.remittance == "Invoice 42 and 43 INV-44"  # "42" is already in the text
    assert rich_line.extra["referred_documents"] == ["INV-44", "42"]
    assert addtl_line.remittance == "From AddtlTxInf"
    assert bare_line.remittance == "Entry info"


@pytest.mark.parametrize(
    ("cri", "ref", "kind"),
    [("<Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>ABC</Ref>", "ABC", "SCOR"),
     ("<Tp><CdOrPrtry><Prtry>ESR</Prtry></CdOrPrtry></Tp><Ref>1</Ref>", "1", "ESR"),
     ("<Tp><CdOrPrtry><Prtry>ISR Reference</Prtry></CdOrPrtry></Tp><Ref>2</Ref>", "2", "ISR"),
     ("<Tp><CdOrPrtry><Prtry>IPI</Prtry></CdOrPrtry></Tp><Ref>3</Ref>", "3", "IPI"),
     ("<Tp><CdOrPrtry><Prtry>BankX</Prtry></CdOrPrtry></Tp><Ref>4</Ref>", "4", "BankX"),
     ("<Ref>RF18 5390 0754 7034</Ref>", "RF18 5390 0754 7034", "SCOR"),
     ("<Ref>210000000003139471430009017</Ref>", "210000000003139471430009017", "QRR"),
     ("<Ref>INV-1</Ref>", "INV-1", None)],
)
def test_creditor_reference_types(tmp_path: Path, cri: str, ref: str, kind: str | None) -> None:
    details = tx(f"<RmtInf><Strd><CdtrRefInf>{cri}</CdtrRefInf></Strd></RmtInf>")
    (statement,) = parse_text(tmp_path, document(entry(details=details)))
    line = statement.lines[0]
    assert (line.creditor_reference, line.creditor_reference_type) == (ref, kind)


def test_raw_is_the_transaction_xml_truncated(tmp_path: Path) -> None:
    details = tx("<AddtlTxInf>" + "x" * (RAW_LIMIT * 2) + "</AddtlTxInf>")
    (statement,) = parse_text(tmp_path, document(entry(details=details) + entry()))
    big, plain = statement.lines
    assert big.raw.startswith("<TxDtls") and len(big.raw) <= RAW_LIMIT + 1
    assert plain.raw.startswith("<Ntry") and "NTRY-REF" in plain.raw
    assert "<Acct" in statement.raw_header and "<Ntry" not in statement.raw_header


# --------------------------------------------------------------------------------------- batches


def _amt(value: str, ind: str = "CRDT", ccy: str = "EUR") -> str:
    return f"<Amt Ccy=\"{ccy}\">{value}</Amt><CdtDbtInd>{ind}</CdtDbtInd>"


def test_batch_is_split_per_transaction(tmp_path: Path) -> None:
    details = (tx("<Refs><AcctSvcrRef>A</AcctSvcrRef><EndToEndId>E1</EndToEndId></Refs>" + _amt("7.00"))
               + tx("<Refs><EndToEndId>E2</EndToEndId></Refs>"
                    "<AmtDtls><TxAmt><Amt Ccy=\"EUR\">3.00</Amt></TxAmt></AmtDtls>"))
    (statement,) = parse_text(tmp_path, document(entry("10.00", details=details)))
    first, second = statement.lines
    assert [ln.amount_minor for ln in statement.lines] == [700, 300]
    assert (first.bank_reference, second.bank_reference) == ("A", "NTRY-REF")
    assert (first.end_to_end_reference, second.end_to_end_reference) == ("E1", "E2")
    assert first.extra["batch_size"] == 2 and second.extra["entry_bank_reference"] == "NTRY-REF"


def test_batch_with_mixed_directions(tmp_path: Path) -> None:
    details = tx(_amt("12.00")) + tx(_amt("2.00", "DBIT"))
    (statement,) = parse_text(tmp_path, document(entry("10.00", details=details)))
    assert [ln.amount_minor for ln in statement.lines] == [1200, -200]


def test_batch_details_against_entry_direction_take_the_booked_sign(tmp_path: Path) -> None:
    details = tx(_amt("1.00")) + tx(_amt("2.00"))  # details say CRDT, the entry books a debit
    (statement,) = parse_text(tmp_path, document(entry("3.00", "DBIT", details=details)))
    assert [ln.amount_minor for ln in statement.lines] == [-100, -200]


@pytest.mark.parametrize(
    "details",
    [tx(_amt("7.00")) + tx(_amt("2.00")),
     tx(_amt("7.00")) + tx("<Refs><EndToEndId>no amount</EndToEndId></Refs>"),
     tx(_amt("7.00", ccy="CHF")) + tx(_amt("3.00", ccy="CHF"))],
    ids=["sum-differs", "one-without-amount", "other-currency"],
)
def test_batch_mismatch_is_refused(tmp_path: Path, details: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(tmp_path, document(entry("10.00", details=details)))
    assert err.value.code == "INGEST_CAMT_BATCH_MISMATCH"


def test_batch_without_any_amounts_stays_one_line(tmp_path: Path) -> None:
    details = (tx("<Refs><EndToEndId>E1</EndToEndId></Refs><RmtInf><Ustrd>inv 1</Ustrd></RmtInf>")
               + tx("<Refs><EndToEndId>E2</EndToEndId></Refs><RmtInf><Ustrd>inv 2</Ustrd></RmtInf>"))
    (statement,) = parse_text(tmp_path, document(entry("10.00", details=details)))
    (line,) = statement.lines
    assert (line.amount_minor, line.remittance, line.end_to_end_reference) == (1000, "inv 1 inv 2", None)
    assert line.extra["batch_end_to_end_references"] == ["E1", "E2"]
    assert line.raw.startswith("<Ntry")


def test_single_detail_uses_booked_amount_and_notes_its_own(tmp_path: Path) -> None:
    (statement,) = parse_text(tmp_path, document(entry("8.85", details=tx(_amt("0", ccy="SEK")))))
    line = statement.lines[0]
    assert (line.amount_minor, line.extra["transaction_amount"]) == (885, "0 SEK")


def test_entries_without_ntrydtls_in_version_1_layout(tmp_path: Path) -> None:
    body = entry("5.00").replace("</Ntry>", tx(_amt("2.00")) + tx(_amt("3.00")) + "</Ntry>")
    (statement,) = parse_text(tmp_path, document(body, version=1))
    assert [ln.amount_minor for ln in statement.lines] == [200, 300]
