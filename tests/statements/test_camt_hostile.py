"""Hostile and broken input: refused with a specific code, before any work, leaking nothing.

"Quickly" is shown without clocks: the DTD attacks must be refused by the prolog check, before
lxml is even asked to parse (the test makes ``iterparse`` explode if it is called).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from shared.errors import HostileInputError, ParseError
from shared.statements import camt
from shared.statements.camt import CamtParser
from tests.statements.camt_helpers import canonical, document, entry, tx

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
PASSWD = Path("/etc/passwd")
SPECIFIC_CODES = {
    "INGEST_XML_MALFORMED", "INGEST_HOSTILE_XML", "INGEST_BAD_AMOUNT", "INGEST_BAD_DATE",
    "INGEST_BAD_CURRENCY", "INGEST_CAMT_NO_ACCOUNT", "INGEST_CAMT_MISSING_AMOUNT",
    "INGEST_CAMT_NO_STATEMENT", "INGEST_CAMT_BATCH_MISMATCH", "INGEST_CAMT_NO_DIRECTION",
    "INGEST_CAMT_NO_CURRENCY",
}


def _camt_body(payload: str) -> str:
    """A camt document whose remittance text is ``payload`` (where an entity would expand)."""
    return (f'<Document xmlns="{NS}"><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr><Stmt><Id>S</Id>'
            "<Acct><Id><IBAN>DE02120300000000202051</IBAN></Id><Ccy>EUR</Ccy></Acct>"
            '<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            "<BookgDt><Dt>2024-03-12</Dt></BookgDt><NtryDtls><TxDtls><RmtInf>"
            f"<Ustrd>{payload}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>")


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'
              for i in range(1, 10))
    + "]>\n" + _camt_body("&lol9;")
)
QUADRATIC = ('<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY a "' + "x" * 50_000 + '">]>\n'
             + _camt_body("&a;" * 5_000))
XXE_FILE = ('<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            + _camt_body("&xxe;"))
XXE_NETWORK = ('<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>\n'
               + _camt_body("&xxe;"))
PARAMETER_ENTITIES = ('<?xml version="1.0"?>\n<!DOCTYPE Document [\n <!ENTITY % file SYSTEM '
                      '"file:///etc/passwd">\n <!ENTITY % dtd SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
                      " %dtd;\n]>\n" + _camt_body("&send;"))
EXTERNAL_DTD = '<?xml version="1.0"?>\n<!DOCTYPE Document SYSTEM "file:///etc/passwd">\n' + _camt_body("x")
PLAIN_DOCTYPE = '<?xml version="1.0"?>\n<!DOCTYPE Document>\n' + _camt_body("hello")
HIDDEN_DOCTYPE = ('\ufeff<?xml version="1.0"?>\n<!-- harmless -->\n<?pi x?>\n'
                  '  <!DOCTYPE Document [<!ENTITY a "b">]>' + _camt_body("&a;"))

DTD_ATTACKS = {
    "billion-laughs": BILLION_LAUGHS,
    "quadratic-blowup": QUADRATIC,
    "xxe-local-file": XXE_FILE,
    "xxe-network": XXE_NETWORK,
    "parameter-entities": PARAMETER_ENTITIES,
    "external-dtd": EXTERNAL_DTD,
    "doctype-without-entities": PLAIN_DOCTYPE,
    "doctype-after-comment-and-pi": HIDDEN_DOCTYPE,
}


def _passwd_markers() -> list[str]:
    if not PASSWD.exists():
        return ["root:x:0:0"]
    return [ln for ln in PASSWD.read_text(errors="replace").splitlines() if ln.strip()][:3]


def _refuse(tmp_path: Path, data: bytes, code: str) -> ParseError:
    path = tmp_path / "hostile.xml"
    path.write_bytes(data)
    with pytest.raises(ParseError) as err:
        list(CamtParser().parse(path))
    assert err.value.code == code
    return err.value


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call into lxml's parser fails the test: the refusal must come before parsing."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the XML parser was reached")

    monkeypatch.setattr(camt.etree, "iterparse", boom)


@pytest.mark.parametrize("text", DTD_ATTACKS.values(), ids=DTD_ATTACKS.keys())
def test_dtd_attacks_are_refused_before_parsing(tmp_path: Path, no_parsing: None, text: str) -> None:
    error = _refuse(tmp_path, text.encode(), "INGEST_HOSTILE_XML")
    assert isinstance(error, HostileInputError)
    blob = f"{error} {error.to_dict()}"
    for marker in _passwd_markers():
        assert marker not in blob


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_doctype_in_wide_encodings_is_refused(tmp_path: Path, no_parsing: None, codec: str) -> None:
    text = XXE_FILE.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{codec.upper()}"?>')
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    _refuse(tmp_path, data, "INGEST_HOSTILE_XML")


def test_utf7_smuggled_doctype_is_refused(tmp_path: Path, no_parsing: None) -> None:
    text = ('<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE Document +AFs-+ADw-!ENTITY x SYSTEM '
            '+ACI-file:///etc/passwd+ACI-+AD4-+AF0-+AD4-' + _camt_body("&x;"))
    _refuse(tmp_path, text.encode(), "INGEST_HOSTILE_XML")


@pytest.mark.parametrize("text", [XXE_FILE, BILLION_LAUGHS, QUADRATIC, PARAMETER_ENTITIES, PLAIN_DOCTYPE],
                         ids=["xxe", "laughs", "quadratic", "parameter", "plain"])
def test_parser_itself_refuses_dtds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Second line of defence, with the prolog check switched off: lxml expands no entity, reads
    no file, fetches nothing, and the DTD it saw is refused."""
    monkeypatch.setattr(camt, "_check_prolog", lambda fh: None)
    error = _refuse(tmp_path, text.encode(), "INGEST_HOSTILE_XML")
    for marker in _passwd_markers():
        assert marker not in f"{error} {error.to_dict()}"


def test_xxe_content_never_appears(tmp_path: Path) -> None:
    error = _refuse(tmp_path, XXE_FILE.encode(), "INGEST_HOSTILE_XML")
    for marker in _passwd_markers():
        assert marker not in str(error)


def test_very_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = "<AddtlTxInf>" * 5000 + "x" + "</AddtlTxInf>" * 5000
    text = document(entry(details=tx(deep)))
    _refuse(tmp_path, text.encode(), "INGEST_HOSTILE_XML")


def test_huge_text_node_is_refused(tmp_path: Path) -> None:
    text = document(entry(details=tx("<AddtlTxInf>" + "x" * 11_000_000 + "</AddtlTxInf>")))
    _refuse(tmp_path, text.encode(), "INGEST_HOSTILE_XML")


def test_prolog_longer_than_the_limit_is_refused(tmp_path: Path, no_parsing: None) -> None:
    text = "<!--" + "x" * (1 << 20) + "-->" + document(entry())
    _refuse(tmp_path, text.encode(), "INGEST_HOSTILE_XML")


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"<Document", b"\x00\xff\xfe garbage", document(entry())[:-40].encode(),
     document(entry()).replace("</Stmt>", "</Stmnt>").encode(),
     document(entry()).encode("utf-8").replace(b"NTRY-REF", b"NTRY-\xff\xfeREF"),
     document(entry()) + "<!DOCTYPE late>", document(entry()).replace("BOOK", "&nbsp;")],
    ids=["empty", "blank", "unclosed", "binary", "truncated", "mismatched-tag", "bad-utf8",
         "doctype-after-root", "undefined-entity"],
)
def test_malformed_xml(tmp_path: Path, data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    _refuse(tmp_path, raw, "INGEST_XML_MALFORMED")


# --------------------------------------------------------------------------- property tests

VALID = document(
    "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">1.00</Amt>"
    "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-11</Dt></Dt></Bal>"
    + entry("12.50", details=tx("<Refs><EndToEndId>E2E-1</EndToEndId></Refs>"
                                "<RltdPties><Dbtr><Nm>Globex</Nm></Dbtr></RltdPties>"
                                "<RmtInf><Ustrd>Invoice 42</Ustrd></RmtInf>"))
    + entry("2.50", "DBIT", details=tx('<Amt Ccy="EUR">1.50</Amt>') + tx('<Amt Ccy="EUR">1.00</Amt>'))
).encode()


def _outcome(tmp_path: Path, data: bytes) -> list[dict[str, object]] | str:
    path = tmp_path / "fuzz.xml"
    path.write_bytes(data)
    try:
        return canonical(list(CamtParser().parse(path)))
    except ParseError as exc:
        assert exc.code in SPECIFIC_CODES, f"unspecific code {exc.code}: {exc}"
        return exc.code


def test_valid_sample_parses(tmp_path: Path) -> None:
    result = _outcome(tmp_path, VALID)
    assert isinstance(result, list) and len(result[0]["lines"]) == 3  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(VALID)))
def test_truncation_gives_full_parse_or_parse_error(tmp_path: Path, cut: int) -> None:
    result = _outcome(tmp_path, VALID[:cut])
    if isinstance(result, list):
        assert VALID[cut:].strip() == b"", "a truncated document must not parse"
        assert result == _outcome(tmp_path, VALID)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(min_value=0, max_value=len(VALID) - 1),
                                st.integers(min_value=0, max_value=255)), min_size=1, max_size=4))
def test_byte_flips_give_statements_or_parse_error(tmp_path: Path, flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID)
    for pos, value in flips:
        data[pos] = value
    _outcome(tmp_path, bytes(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.-,eE +CRDTBIKOPNG<>/&;x")), max_size=12))
def test_arbitrary_field_values_never_leak_other_errors(tmp_path: Path, text: str) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for field in ("12.50", "CRDT", "2024-03-12", "BOOK", "EUR"):
        _outcome(tmp_path, VALID.replace(field.encode(), escaped.encode(), 1))


def test_lxml_error_classification_covers_depth_limit() -> None:
    err = etree.XMLSyntaxError("Excessive depth in document: 256", 1, 1, 1)
    assert camt._syntax_error(err).code == "INGEST_HOSTILE_XML"
