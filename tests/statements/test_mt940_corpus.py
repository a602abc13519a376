"""Every MT940/MT942 file of the shared corpus either parses (and agrees with the source project's
expected output where there is one) or is refused on purpose with the code listed in REFUSED."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from shared.errors import ParseError
from shared.money import from_minor
from shared.statements.base import SNIFF_BYTES
from shared.statements.model import SourceFormat, Statement
from shared.statements.mt940 import Mt940Parser
from tests.statements.mt940_expected import Expected, load_expected

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
MT940_DIR = CORPUS / "mt940"
EXPECTED_DIR = CORPUS / "expected"

if not MT940_DIR.is_dir():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"corpus folder {MT940_DIR} is missing (required under CI)")
    pytest.skip(f"corpus folder {MT940_DIR} not present", allow_module_level=True)

PARSER = Mt940Parser()

REFUSED = {
    # single-tag fragments of the source projects' tag tests: no statement around them
    "WoLpH-mt940__betterplace_amount_formats.sta": "INGEST_MT940_MISSING_TAG",  # :60F: lines only
    "WoLpH-mt940__betterplace_currency_in_25.sta": "INGEST_MT940_MISSING_TAG",  # one :25: line
    "WoLpH-mt940__betterplace_empty_86.sta": "INGEST_MT940_TRUNCATED",  # ":86:091" + "-", no EOL
    "WoLpH-mt940__betterplace_empty_entry_date.sta": "INGEST_MT940_MISSING_TAG",  # one :61: line
    "WoLpH-mt940__betterplace_empty_line.sta": "INGEST_MT940_TRUNCATED",  # ":20:" and nothing else
    "WoLpH-mt940__betterplace_missing_crlf_at_end.sta": "INGEST_MT940_MISSING_TAG",  # :62F: only
    "WoLpH-mt940__cmxl_account_balance_credit.sta": "INGEST_MT940_MISSING_TAG",  # one :60F:
    "WoLpH-mt940__cmxl_account_balance_debit.sta": "INGEST_MT940_MISSING_TAG",  # one :60F:
    "WoLpH-mt940__cmxl_account_identification_iban.sta": "INGEST_MT940_MISSING_TAG",  # one :25:
    "WoLpH-mt940__cmxl_account_identification_legacy.sta": "INGEST_MT940_MISSING_TAG",  # one :25:
    "WoLpH-mt940__cmxl_available_balance.sta": "INGEST_MT940_MISSING_TAG",  # one :64:
    "WoLpH-mt940__cmxl_closing_balance.sta": "INGEST_MT940_MISSING_TAG",  # one :62F:
    "WoLpH-mt940__cmxl_reference.sta": "INGEST_MT940_TRUNCATED",  # one :20:, no balances
    "WoLpH-mt940__cmxl_statement_details.sta": "INGEST_MT940_MISSING_TAG",  # :61: + :86: only
    "WoLpH-mt940__cmxl_statement_line.sta": "INGEST_MT940_MISSING_TAG",  # one :61:
    "WoLpH-mt940__cmxl_statement_number.sta": "INGEST_MT940_MISSING_TAG",  # one :28C:
    "WoLpH-mt940__self-provided_empty_non_swift.sta": "INGEST_MT940_MISSING_TAG",  # ":NS:" only
    "WoLpH-mt940__self-provided_sparkassen.sta": "INGEST_MT940_MISSING_TAG",  # :61:/:86: only
    "betterplace-mt940_parser__colon_in_descriptor.txt": "INGEST_MT940_MISSING_TAG",  # :86: only
    # broken on purpose
    "WoLpH-mt940__betterplace_sepa_snippet_broken.sta": "INGEST_MT940_BAD_LINE",  # :86: tagged :25:
    "WoLpH-mt940__self-provided_february_30.sta": "INGEST_BAD_DATE",  # :61: value date 2016-02-30
    "WoLpH-mt940__self-provided_transaction_details_wrapped.sta": "INGEST_BAD_DATE",  # Feb 30
    "WoLpH-mt940__self-provided_wrapped_timestamp.sta": "INGEST_BAD_DATE",  # Feb 30 again
    "WoLpH-mt940__self-provided_gv_codes.sta": "INGEST_MT940_TRUNCATED",  # no :62F:, cut :61:
    "WoLpH-mt940__self-provided_invalid_statement.sta": "INGEST_MT940_NO_STATEMENT",  # "1".."10"
    "mt940-rs__mt940_special-cases_unexpected_tag.sta": "INGEST_MT940_MISSING_TAG",  # no :25:
    "mt940-rs__mt942_full_cmxl_mt942_1.sta": "INGEST_MT940_NO_STATEMENT",  # empty file
    "zilverline-mt940__knab_knab_invalid.txt": "INGEST_MT940_TRUNCATED",  # 1st statement: no :62F:
}

# Expected balances we knowingly disagree with, and why.
BALANCE_DIVERGENCES = {
    # ":62F:C02032495000,00" has no currency: WoLpH takes "950" as the currency and 0 as the
    # amount; we read 95000,00 in the statement currency (DEM), which closes the statement.
    "WoLpH-mt940__self-provided_raphaelm.sta",
}

FILES = sorted(p.name for p in MT940_DIR.iterdir() if p.is_file())
PARSED = [name for name in FILES if name not in REFUSED]


def _expected_for(name: str) -> Expected | None:
    for suffix in (".yml", ".json"):
        path = EXPECTED_DIR / (name + suffix)
        if path.exists():
            return load_expected(path)
    return None


def test_refusal_list_names_real_files() -> None:
    assert len(FILES) > 100
    assert set(REFUSED) <= set(FILES)
    assert len(PARSED) > 80


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_specific_code(name: str) -> None:
    with pytest.raises(ParseError) as info:
        list(PARSER.parse(MT940_DIR / name))
    assert info.value.code == REFUSED[name]


@pytest.mark.parametrize("name", PARSED)
def test_corpus_file_parses(name: str) -> None:
    path = MT940_DIR / name
    statements = list(PARSER.parse(path))  # an unlisted refusal fails here
    assert statements
    assert PARSER.identify(path.read_bytes()[:SNIFF_BYTES])
    for s in statements:
        assert s.account and len(s.currency) == 3 and s.statement_id
        assert s.source_format in (SourceFormat.MT940, SourceFormat.MT942)
        if s.source_format == SourceFormat.MT940:
            assert s.opening is not None and s.closing is not None
            assert s.statement_date == s.closing.date
        for line in s.lines:
            assert line.currency == s.currency and line.raw.startswith(":61:")
            assert isinstance(line.amount_minor, int)
    expected = _expected_for(name)
    if expected is not None:
        _compare(name, statements, expected)


def _compare(name: str, statements: list[Statement], expected: Expected) -> None:
    if expected.statement_count is not None:
        assert len(statements) == expected.statement_count
    lines = [ln for s in statements for ln in s.lines]
    assert len(lines) == len(expected.lines)
    wolph = name.startswith("WoLpH-")
    for got, exp in zip(lines, expected.lines, strict=True):
        amount = exp.amount
        if wolph and exp.mark == "RC":
            amount = -amount  # WoLpH's default keeps a reversed credit positive (its option
            # reversal_sign fixes that); a reversal of a credit takes money out.
        assert from_minor(got.amount_minor, got.currency) == amount
        assert got.value_date == exp.value_date
        if exp.entry_date is not None:
            assert got.booking_date == exp.entry_date
    if name in BALANCE_DIVERGENCES:
        return
    checked = statements[-1:] if expected.only_last_balances else statements
    for s, openings, closings in zip(checked, expected.openings, expected.closings, strict=False):
        for balance, accepted in ((s.opening, openings), (s.closing, closings)):
            if accepted:
                assert balance is not None
                assert (from_minor(balance.amount_minor, s.currency), balance.date) in accepted


def _lines(name: str) -> list:
    return [ln for s in PARSER.parse(MT940_DIR / name) for ln in s.lines]


def test_asn_and_sns_counterparty_on_second_61_line() -> None:
    asn = _lines("WoLpH-mt940__ASNB_0708271685_09022020_164516.940.txt")[0]
    assert (asn.counterparty_name, asn.counterparty_account, asn.remittance) == (
        "hr gjlm paulissen", "NL47INGB9999999999", "Betaling sieraden")
    sns = _lines("zilverline-mt940__sns_sns_customer_reference.txt")[0]
    assert (sns.counterparty_name, sns.counterparty_account) == ("belastingdienst", "0002445588")
    assert sns.bank_reference == "1234432112344321"
    # the payment reference wrapped at 65 columns comes back whole
    assert sns.remittance is not None and sns.remittance.endswith("SCT2015011343210000000000944")


def test_rabobank_layouts() -> None:
    old = _lines("WoLpH-mt940__jejik_rabobank.sta")[0]
    assert (old.counterparty_name, old.counterparty_account) == ("W.P. Jansen", "0121470966")
    new = _lines("zilverline-mt940__rabobank_mt940_structured.txt")[0]
    assert (new.counterparty_name, new.counterparty_account) == (
        "Nespresso Nederland B.V.", "NL96RBOS0523149468")
    tax = _lines("zilverline-mt940__rabobank_mt940_structured_dutch_tax.txt")[0]
    assert (tax.creditor_reference, tax.creditor_reference_type) == ("1234567899874563", "SCOR")
    dash = _lines("zilverline-mt940__rabobank_dash_as_start_of_line.txt")
    assert len(dash) == 1 and dash[0].counterparty_name == "Delta Lloyd Zorgverzekeringen"


def test_ing_and_knab_details() -> None:
    purp = _lines("zilverline-mt940__ing_ing_purp.txt")[0]
    assert (purp.counterparty_name, purp.counterparty_account, purp.end_to_end_reference) == (
        "T-Mobile Netherlands BV", "NL21BASN0272727272", "400313131313")
    assert purp.remittance == "Factuurnummer 858585858585"
    wrapped = _lines("zilverline-mt940__ing_ing_00_00.txt")[0]
    assert wrapped.remittance is not None and wrapped.remittance.endswith("05/31/2017 00:00:00")
    year = _lines("zilverline-mt940__knab_knab_date_and_accounting_date_different_year.txt")[0]
    assert (year.value_date, year.booking_date) == (date(2014, 1, 1), date(2013, 12, 29))
    two = list(PARSER.parse(MT940_DIR / "zilverline-mt940__knab_knab_two_blocks.txt"))
    assert [len(s.lines) for s in two] == [1, 2]
    assert two[1].lines[0].counterparty_name == "BEDRIJF VOF"


def test_german_gvc_details() -> None:
    first = _lines("WoLpH-mt940__betterplace_sepa_snippet.sta")[0]
    assert first.counterparty_name == "KARL KAUFMANN"
    assert (first.counterparty_account, first.counterparty_bic) == (
        "DE14508800500194785000", "DRESDEFF508")
    assert first.end_to_end_reference == "EndToEndId TFNR 22 004 00001"
    assert first.remittance == "Verw CTSc-01 BC-PPP TFNr 22 004"
    reversal = _lines("mt940-rs__mt940_full_betterplace_sepa_mt9401.sta")[5]
    assert (reversal.amount_minor, reversal.is_reversal) == (-20488, True)


def test_mt942_files() -> None:
    [report] = PARSER.parse(MT940_DIR / "WoLpH-mt940__mBank_mt942.sta")
    assert report.source_format == SourceFormat.MT942 and report.currency == "PLN"
    assert report.opening is None and len(report.lines) == 3
    [plain] = PARSER.parse(MT940_DIR / "mt940-rs__mt942_full_mBank_mt942.sta")
    assert plain.source_format == SourceFormat.MT940  # named mt942, but a full statement
