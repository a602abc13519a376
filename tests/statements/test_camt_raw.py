"""The raw camt reader (entries read from the file's own text) gives exactly the tree reader's output.

Every corpus and golden file is read both ways, as it is and with the blanks between tags removed
(so that its entries are their own serialization and the raw reader reads them); unusual layouts
must send the file to the tree reader; an entry's text is its serialization wherever the raw
reader says so.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from shared.errors import ParseError
from shared.statements import camt, camt_raw
from shared.statements.camt import CamtParser
from shared.statements.camt_patterns import _MAY_BE_EMPTY, CODE, NTRY, STRD, TX, compiled
from shared.statements.camt_xml import PARSER_OPTIONS
from tests.statements.camt_helpers import CAMT_FILES, balance, document, entry, tx

FILES = CAMT_FILES


def _read(path: Path) -> list[str]:
    """repr() of every statement (all fields, dict order included), then the error if any."""
    out: list[str] = []
    try:
        for st in CamtParser().parse(path):
            out.append(repr(st))
    except ParseError as exc:
        out.append(f"{type(exc).__name__} {exc.code} {exc}")
    return out


def _no_raw(source: object) -> Iterator[object]:
    raise camt_raw.Fallback("the tree reader only")
    yield  # a generator, as camt._stream_raw


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """(the tree reader's output, the output of the raw reader with the tree reader to fall back on)."""
    with monkeypatch.context() as m:
        m.setattr(camt, "_stream_raw", _no_raw)
        tree = _read(path)
    return tree, _read(path)


def _raw_reads(path: Path) -> bool:
    """Whether the raw reader reads ``path`` to its end (statements or a ParseError) without falling back."""
    try:
        for _ in camt._stream_raw(path):
            pass
    except camt_raw.Fallback:
        return False
    except ParseError:
        pass
    return True


@pytest.fixture(autouse=True)
def any_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the raw reader go on where most entries are not their serialization (a speed rule only)."""
    monkeypatch.setattr(camt_raw, "MOSTLY_SERIAL", False)


@pytest.mark.parametrize("compact", [False, True], ids=["as-is", "compact"])
@pytest.mark.parametrize("path", FILES, ids=[p.name[:80] for p in FILES])
def test_raw_reader_matches_tree_reader(path: Path, compact: bool, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if compact:
        text = re.sub(r">\s+<", "><", path.read_text(encoding="utf-8"))
        path = tmp_path / path.name
        path.write_text(text, encoding="utf-8")
    tree, raw = _both(path, monkeypatch)
    assert raw == tree


def test_most_compact_files_take_the_raw_reader(tmp_path: Path) -> None:
    taken = 0
    for path in FILES:
        compact = tmp_path / path.name
        compact.write_text(re.sub(r">\s+<", "><", path.read_text(encoding="utf-8")), encoding="utf-8")
        taken += _raw_reads(compact)
    assert taken >= len(FILES) * 3 // 4


def _entries(path: Path) -> list[tuple[camt_raw.RawRecord, str]]:
    out: list[tuple[camt_raw.RawRecord, str]] = []
    record = None
    for event in camt_raw.walk(path):
        if event[0] is camt_raw.OPEN:
            record = event[1]
        elif event[0] is camt_raw.ENTRY:
            assert record is not None
            out += [(record, text) for text in event[1]]
    return out


def _matched(text: str) -> bool:
    """Whether the fast reader's patterns match ``text`` whole (the entry, then each TxDtls)."""
    patterns = compiled()
    m = patterns.ntry.fullmatch(text)
    if m is None:
        return False
    pos, end = m.span(patterns.txs_group)
    while 0 <= pos < end:
        tm = patterns.tx.match(text, pos, end)
        if tm is None:
            return False
        pos = tm.end()
    return True


def test_entry_text_is_its_serialization(tmp_path: Path) -> None:
    """Where serial() holds and the patterns match, the text is what etree.tostring writes."""
    checked = 0
    for path in FILES:
        compact = tmp_path / path.name
        compact.write_text(re.sub(r">\s+<", "><", path.read_text(encoding="utf-8")), encoding="utf-8")
        if not _raw_reads(compact):
            continue
        for record, text in _entries(compact):
            if camt_raw.serial(text) and _matched(text):
                element = record.entry_element(text)
                assert etree.tostring(element, encoding="unicode") == "<Ntry" + record.decls + text[5:]
                checked += 1
    assert checked >= 30


def _may_be_empty(pattern: str) -> set[str]:
    """Names of the literal start tags in ``pattern`` whose content (up to their own end tag) can
    match nothing, or cannot be told apart (content that is no pattern of its own)."""
    names = set()
    for m in re.finditer(r"(?<!\?P)<([A-Za-z][\w.-]*)>", pattern):
        name, depth, pos, content = m[1], 1, m.end(), None
        for n in re.finditer(rf"(?<!\?P)<(/?){re.escape(name)}>", pattern[pos:]):
            depth += -1 if n[1] else 1
            if depth == 0:
                content = pattern[pos : pos + n.start()]
                break
        if content is None:
            continue  # TxDtls in NTRY: read by TX
        try:
            if re.compile(content).fullmatch("") is not None:
                names.add(name)
        except re.error:
            names.add(name)
    return names


def test_elements_that_may_be_empty_are_the_listed_ones() -> None:
    """The patterns refuse <X></X> (not lxml's serialization) for exactly the elements that need it."""
    assert set().union(*(_may_be_empty(p) for p in (NTRY, TX, STRD, CODE))) == set(_MAY_BE_EMPTY)
    patterns = compiled()
    assert patterns.ntry.fullmatch(entry(more="<BkTxCd/>")) is None  # as lxml writes it: the element reader
    for more in ("<BkTxCd></BkTxCd>", "<NtryDtls></NtryDtls>"):
        assert patterns.ntry.fullmatch(entry(more=more)) is None
    assert patterns.tx.fullmatch(_TX) is not None
    for name in ("Refs", "RltdPties", "Dbtr", "RmtInf"):
        assert patterns.tx.fullmatch(re.sub(rf"<{name}>.*?</{name}>", f"<{name}></{name}>", _TX)) is None


_PIECES = ["a", " ", "  ", "&amp;", "&lt;", "&gt;", "'", '"', "ü", "€", "\u00a0", "\u2028", "\x85", "]", "😀", "=",
           "/", "x y", "\ufeff"]
_ODD = ["&quot;", "&apos;", "&#65;", "&#13;", "&#10;", "\n", "\t", "\r\n", ">", "xmlns"]
# Tags written as lxml writes them, as the fast reader's patterns ask: single spaces, double quotes,
# no namespace declaration or xml:id, no tab or newline in a value; no <X></X>; no blank run beside
# a tag but as a leaf's whole text.
_LXML_TAGS = re.compile(r'(?:[^<]|<[\w.:-]+(?: (?!xmlns|xml:id)[\w:.-]+="[^"<\t\n]*")*/?>|</[\w.:-]+>)*')
_NOT_LXML = re.compile(r"<[^/<>][^<>]*+(?<!/)></|(?:/>|</[^<>]*+>)[ \t\n]+<|>[ \t\n]+<(?!/)")


def _text(rng: random.Random, attr: bool = False) -> str:
    out = []
    for _ in range(rng.randint(1, 4)):
        piece = rng.choice(_ODD) if rng.random() < 0.03 else rng.choice(_PIECES)
        out.append("'" if attr and piece == '"' else piece)
    return "".join(out)


def _element(rng: random.Random, depth: int) -> str:
    name = rng.choice(["A", "Nm", "Ustrd", "X1", "a.b", "c-d", "_e"])
    names = rng.sample(["Ccy", "k", "xsi:type"], rng.choice([0, 0, 1, 2]))
    attrs = "".join(f' {n}="{_text(rng, True)}"' for n in names)
    if depth > 2 or rng.random() < 0.5:
        return f"<{name}{attrs}/>" if rng.random() < 0.05 else f"<{name}{attrs}>{_text(rng)}</{name}>"
    return f"<{name}{attrs}>" + "".join(_element(rng, depth + 1) for _ in range(rng.randint(1, 3))) + f"</{name}>"


def test_serialization_rule_on_generated_entries() -> None:
    """serial() and lxml-written tags imply that the text is lxml's serialization of the entry."""
    head = ('<Document xmlns="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<B><Stmt><Id>1</Id>")
    parser = etree.XMLParser(**PARSER_OPTIONS)
    rng = random.Random(20260302)
    checked = 0
    for _ in range(4000):
        text = "<Ntry>" + "".join(_element(rng, 0) for _ in range(rng.randint(1, 4))) + "</Ntry>"
        try:
            root = etree.fromstring((head + text + "</Stmt></B></Document>").encode(), parser)
        except etree.XMLSyntaxError:
            continue
        if camt_raw.serial(text) and _LXML_TAGS.fullmatch(text) and not _NOT_LXML.search(text):
            decls = ' xmlns="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            assert etree.tostring(root[0][0][1], encoding="unicode") == "<Ntry" + decls + text[5:]
            checked += 1
    assert checked >= 1000


_TX = tx("<Refs><EndToEndId>E2E-1</EndToEndId></Refs><RltdPties><Dbtr><Nm>ACME</Nm></Dbtr></RltdPties>"
         "<RmtInf><Ustrd>INV-1</Ustrd></RmtInf>")
_PLAIN = document(entry(details=_TX) + entry("5.00", details=_TX))


@pytest.mark.parametrize("text", [
    _PLAIN.replace("<Ustrd>INV-1", "<Ustrd><Ntry/>INV-1", 1),  # an entry inside an entry
    _PLAIN.replace("<Ustrd>INV-1", "<Ustrd><Stmt/>INV-1", 1),  # a record inside an entry
    _PLAIN.replace("<Ustrd>INV-1", "<Ustrd>INV<!-- </Ntry><Ntry> -->-1", 1),  # markup hiding an end tag
    _PLAIN.replace("<Ustrd>INV-1", "<Ustrd>INV<![CDATA[</Ntry>]]>-1", 1),
    _PLAIN.replace("<Ustrd>INV-1", '<Ustrd xml:id="a">INV-1', 1),
    _PLAIN.replace("<Ustrd>INV-1", '<Ustrd><c:Ntry xmlns:c="urn:c"/>INV-1', 1),  # a prefixed entry inside
    _PLAIN.replace("<Ustrd>INV-1", "<Ustrd><p:x>INV-1</p:x>", 1),  # undefined prefix: libxml2 logs an error
    _PLAIN.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
    _PLAIN.replace("</Ntry><Ntry>", "</Ntry><AddtlInf>x</AddtlInf><Ntry>", 1),  # entries not together
    _PLAIN.replace("</Stmt>", "<Bal>x</Bal></Stmt>"),  # header element after the entries
    _PLAIN.replace("<Stmt>", "<c:Stmt xmlns:c='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>").replace(
        "</Stmt>", "</c:Stmt>"),
    _PLAIN.replace("<Ntry>", "<Ntry xml:id='n'>", 1),
    _PLAIN.replace("<GrpHdr>", "<Ntry/><GrpHdr>"),  # an entry outside any record
    # the tree reader reads the first entry's inner record before the (broken) header
    document(balance("CLAV", "1.00", ind="eur") + entry(sts="<Sts><Stmt/></Sts>", details=_TX)),
], ids=["nested-entry", "nested-record", "comment", "cdata", "xml-id", "prefixed-entry", "ns-error", "latin-1",
        "entries-apart", "header-after-entries", "prefixed-record", "xml-id-on-entry", "stray-entry",
        "record-in-first-entry"])
def test_unusual_layouts_take_the_tree_reader(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "camt.xml"
    path.write_text(text, encoding="utf-8")
    assert not _raw_reads(path)
    tree, raw = _both(path, monkeypatch)
    assert raw == tree


@pytest.mark.parametrize("text", [
    _PLAIN,
    "\ufeff" + _PLAIN,
    _PLAIN.replace('<?xml version="1.0" encoding="UTF-8"?>\n', ""),
    _PLAIN.replace("<GrpHdr>", "<!-- group header --><GrpHdr>").replace("<Acct>", "<?pi x?><Acct>"),
    _PLAIN.replace("</Ntry><Ntry>", "</Ntry>\n  <Ntry>"),
    _PLAIN.replace("<Ustrd>INV-1", "<Ustrd>INV &gt; 1", 1).replace("<Nm>ACME", "<Nm>A > B &amp; C", 1),
], ids=["plain", "bom", "no-declaration", "comment-and-pi-outside-entries", "blanks-between-entries",
        "escapes"])
def test_plain_layouts_take_the_raw_reader(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "camt.xml"
    path.write_text(text, encoding="utf-8")
    assert _raw_reads(path)
    tree, raw = _both(path, monkeypatch)
    assert raw == tree and len(raw) == 1


def _records(n: int, last: str = "") -> str:
    """A camt.053 document of ``n`` one-entry statements; ``last`` replaces the last one's remittance."""
    records = []
    for i in range(n):
        remit = last if last and i == n - 1 else f"INV-{i}"
        details = tx(f"<Refs><EndToEndId>E2E-{i}</EndToEndId></Refs><RmtInf><Ustrd>{remit}</Ustrd></RmtInf>")
        records.append(f"<Stmt><Id>S-{i}</Id><ElctrncSeqNb>{i}</ElctrncSeqNb><Acct><Id><IBAN>DE02120300000000202051"
                       f"</IBAN></Id><Ccy>EUR</Ccy></Acct>{entry(details=details)}</Stmt>")
    text = document("")
    start = text.index("<Stmt>")
    return text[:start] + "".join(records) + text[text.index("</Stmt>") + 7 :]


@pytest.mark.parametrize("last", [
    "INV</Ustrd>",  # broken XML
    "<p:x>INV</p:x>",  # an undefined prefix: logged by libxml2, refused by the tree reader
    "<Ntry/>",  # an entry inside an entry
    "INV", ])
@pytest.mark.parametrize("amount", ["10.00", "10.001"], ids=["amount-ok", "amount-refused"])
def test_late_trouble_gives_the_tree_readers_sequence(last: str, amount: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The raw reader gives statements, then falls back: the tree reader's statements and error follow."""
    monkeypatch.setattr(camt_raw, "_CHUNK", 4096)
    text = _records(60, last).replace('"EUR">10.00</Amt>', f'"EUR">{amount}</Amt>', 1 if amount == "10.00" else 0)
    if amount != "10.00":  # the 40th statement's amount is refused
        at = text.index("<Id>S-40</Id>")
        text = text[:at] + text[at:].replace('"EUR">10.00</Amt>', f'"EUR">{amount}</Amt>', 1)
    path = tmp_path / "camt.xml"
    path.write_text(text, encoding="utf-8")
    given = []
    try:
        for st in camt._stream_raw(path):
            given.append(repr(st))
    except (camt_raw.Fallback, ParseError):
        pass
    assert len(given) >= 10  # the raw reader went some way before the trouble
    tree, raw = _both(path, monkeypatch)
    assert raw == tree
    assert raw[: len(given)] == given
