"""Every OFX file of the shared corpus either parses (counts and amounts checked by hand) or is
refused with a specific code; ofxparse is the cross-check where it can read the file."""

from __future__ import annotations

import os
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shared.errors import ParseError
from shared.money import to_minor
from shared.statements.base import SNIFF_BYTES
from shared.statements.model import SourceFormat
from shared.statements.ofx import OfxParser

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
OFX_DIR = CORPUS / "ofx"
PREFIX = "ofxparse__"

if not OFX_DIR.is_dir():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"corpus folder {OFX_DIR} is missing (required under CI)")
    pytest.skip(f"corpus folder {OFX_DIR} not present", allow_module_level=True)

# file -> one tuple per statement: (account, currency, line amounts in minor units,
#                                  closing CLBD minor or None, CLAV minor or None)
PARSED: dict[str, list[tuple[str, str, list[int], int | None, int | None]]] = {
    "anzcc.ofx": [("1234123412341234", "AUD", [-550], -12345, 12345)],  # ANZ credit card, XML
    "bank_medium.ofx": [("12300 000012345678", "CAD", [-660, -31667, -2200], 38234, 68234)],
    "checking.ofx": [("1452687~7", "USD", [1, -3451, -2500], 10099, 7599)],
    # ofxparse's "fail nice" case: blank BALAMT means no balance, the line itself is fine
    "fail_nice_empty_balance.ofx": [("192639749", "CAD", [12000], None, None)],
    "multiple_accounts.ofx": [("9100", "USD", [], 11100, None), ("9200", "USD", [], 22200, None)],
    # empty CURDEF / FITID / BALAMT; currency from the lines' CURSYM AUD at rate 1
    "ofx-v102-empty-tags.ofx": [("12345678", "AUD", [1234], None, None)],
    "suncorp.ofx": [("123456789", "AUD", [-1685], 123412, 123412)],  # CDATA in NAME/MEMO
}

REFUSED = {
    "account_listing_aggregation.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # account list, no statement
    "bank_small.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # an empty <OFX></OFX>
    "error_message.ofx": "INGEST_OFX_ERROR_RESPONSE",  # STMTTRNRS status 2000 "General Server Error"
    "fail_nice_date_missing.ofx": "INGEST_OFX_MISSING_FIELD",  # STMTTRN without DTPOSTED
    "fail_nice_decimal_error.ofx": "INGEST_BAD_AMOUNT",  # TRNAMT "$120"
    "fidelity-savings.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment (INVBANKTRAN only)
    "fidelity.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment statement
    "investment_401k.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment statement
    "investment_medium.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment (INVBANKTRAN only)
    "signon_fail.ofx": "INGEST_OFX_ERROR_RESPONSE",  # sign-on status 15500 ERROR (bad password)
    "signon_success.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # sign-on response only
    "signon_success_no_message.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # sign-on response only
    "td_ameritrade.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment statement (positions)
    "tiaacref.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment statement
    "vanguard.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment statement
    "vanguard401k.ofx": "INGEST_OFX_NO_BANK_STATEMENT",  # investment statement
}

FILES = sorted(p.name.removeprefix(PREFIX) for p in OFX_DIR.glob("*.ofx"))


def test_every_corpus_file_is_classified() -> None:
    assert FILES, "no OFX corpus files"
    assert set(FILES) == set(PARSED) | set(REFUSED)
    assert not set(PARSED) & set(REFUSED)


@pytest.mark.parametrize("name", FILES)
def test_identify_claims_every_corpus_file(name: str) -> None:
    head = (OFX_DIR / (PREFIX + name)).read_bytes()[:SNIFF_BYTES]
    assert OfxParser().identify(head)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_parsed_files(name: str) -> None:
    statements = list(OfxParser().parse(OFX_DIR / (PREFIX + name)))
    got = [
        (
            s.account,
            s.currency,
            [ln.amount_minor for ln in s.lines],
            s.closing.amount_minor if s.closing else None,
            next((b.amount_minor for b in s.balances if b.type == "CLAV"), None),
        )
        for s in statements
    ]
    assert got == PARSED[name]
    for s in statements:
        assert s.source_format is SourceFormat.OFX
        assert s.opening is None  # OFX has no opening balance
        assert all(ln.currency == s.currency and ln.raw.upper().startswith("<STMTTRN>") for ln in s.lines)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_files(name: str) -> None:
    with pytest.raises(ParseError) as err:
        list(OfxParser().parse(OFX_DIR / (PREFIX + name)))
    assert err.value.code == REFUSED[name]


def test_bank_medium_details() -> None:
    """Read by hand: three POS/CHECK lines, CHECKNUM 0 means no cheque, dates in EST."""
    [stmt] = OfxParser().parse(OFX_DIR / (PREFIX + "bank_medium.ofx"))
    assert [ln.booking_date for ln in stmt.lines] == [date(2009, 4, 1), date(2009, 4, 2), date(2009, 4, 3)]
    assert [ln.transaction_code for ln in stmt.lines] == ["POS", "CHECK", "POS"]
    assert stmt.lines[1].counterparty_name == "Joe's Bald Hairstyles"
    assert stmt.lines[1].customer_reference is None
    assert stmt.lines[0].bank_reference == "0000123456782009040100001"
    assert (stmt.from_date, stmt.to_date) == (date(2009, 4, 1), date(2009, 5, 23))


def test_empty_tags_file_details() -> None:
    [stmt] = OfxParser().parse(OFX_DIR / (PREFIX + "ofx-v102-empty-tags.ofx"))
    [line] = stmt.lines
    assert line.bank_reference is None  # <FITID></FITID>
    assert line.transaction_code == "CREDIT"  # sent as "Credit"
    assert line.value_date == date(2018, 5, 7)  # non-standard VALUEDATE
    assert line.remittance == "CBA:Transfer"


def test_error_response_message_is_the_banks() -> None:
    with pytest.raises(ParseError) as err:
        list(OfxParser().parse(OFX_DIR / (PREFIX + "signon_fail.ofx")))
    assert "15500" in err.value.message and "password" in err.value.message


# Files we read that ofxparse 0.21 raises on (the reason we do not rely on it).
OFXPARSE_TRIPS = {"fail_nice_empty_balance.ofx", "ofx-v102-empty-tags.ofx"}


def read_with_ofxparse(path: Path):  # type: ignore[no-untyped-def]
    import ofxparse

    with warnings.catch_warnings(), path.open("rb") as fh:
        warnings.simplefilter("ignore")  # BeautifulSoup's "looks like XML" warning
        return ofxparse.OfxParser.parse(fh)


@pytest.mark.parametrize("name", sorted(set(PARSED) - OFXPARSE_TRIPS))
def test_cross_check_with_ofxparse(name: str) -> None:
    """Where ofxparse reads a file, it sees the same accounts, FITIDs and amounts."""
    path = OFX_DIR / (PREFIX + name)
    theirs = read_with_ofxparse(path)
    ours = list(OfxParser().parse(path))
    assert [a.account_id for a in theirs.accounts] == [s.account for s in ours]
    for account, stmt in zip(theirs.accounts, ours, strict=True):
        txs = account.statement.transactions
        assert all(isinstance(t.amount, Decimal) for t in txs)  # never a float on their side either
        assert [(t.id, to_minor(t.amount, stmt.currency)) for t in txs] == [
            (ln.bank_reference, ln.amount_minor) for ln in stmt.lines
        ]


@pytest.mark.parametrize("name", sorted(OFXPARSE_TRIPS))
def test_ofxparse_still_trips_where_we_do_not(name: str) -> None:
    """If ofxparse learns to read these, move them to the cross-check."""
    with pytest.raises(Exception):  # noqa: B017 - any failure of the library is the point
        read_with_ofxparse(OFX_DIR / (PREFIX + name))


@pytest.mark.parametrize("family", ["mt940", "camt"])
def test_identify_leaves_other_corpus_formats(family: str) -> None:
    files = [p for p in (CORPUS / family).rglob("*") if p.is_file()]
    assert files
    claimed = [p.name for p in files if OfxParser().identify(p.read_bytes()[:SNIFF_BYTES])]
    assert claimed == []


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except ParseError as exc:
        return (exc.code, exc.message)


@pytest.mark.parametrize("name", sorted(p.name for p in OFX_DIR.iterdir() if p.is_file()) if OFX_DIR.is_dir() else [])
def test_streamed_reading_in_any_chunks_is_the_whole_file_reading(name: str) -> None:
    """The chunked reader (memory flat in file size) says exactly what whole-file reading says."""
    from shared.statements.base import decode_text
    from shared.statements.ofx import parse_text_chunked, parse_text_whole

    text = decode_text((OFX_DIR / name).read_bytes())
    whole = _outcome(parse_text_whole, text)
    for size in (1, 7, 64, 1000, len(text) + 1):
        assert _outcome(parse_text_chunked, text, size) == whole, size
