"""Cutting a camt file into parts: the parts, parsed in order, give exactly the whole file's statements.

And where the bytes leave any doubt about what is markup, no plan is made at all.
"""

from __future__ import annotations

import contextlib
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ParseError
from shared.statements.camt import CamtParser
from shared.statements.camt_split import PartReader, parse_part, plan

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / ".." / "shared" / "corpus" / "camt").glob("*.xml")) + sorted(
    (ROOT / "tests" / "golden" / "camt").glob("*.xml"))

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _stmt(n: int, lines: int = 2) -> str:
    entries = "".join(
        f"<Ntry><NtryRef>{n}-{i}</NtryRef><Amt Ccy=\"EUR\">{i + 1}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-03-0{1 + n % 9}</Dt></BookgDt>"
        f"<ValDt><Dt>2026-03-0{1 + n % 9}</Dt></ValDt><AcctSvcrRef>R{n}x{i}</AcctSvcrRef>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>E{n}x{i}</EndToEndId></Refs>"
        f"<RmtInf><Ustrd>INV {n} {i} &amp; more</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for i in range(lines))
    total = sum(i + 1 for i in range(lines))
    return (f"<Stmt><Id>S{n}</Id><ElctrncSeqNb>{n}</ElctrncSeqNb>"
            f"<Acct><Id><IBAN>DE02120300000000202051</IBAN></Id><Ccy>EUR</Ccy></Acct>"
            f"<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">0.00</Amt>"
            f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>"
            f"<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{total}.00</Amt>"
            f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-02</Dt></Dt></Bal>{entries}</Stmt>")


def _doc(records: list[str], *, sep: str = "\n", head: str = '<?xml version="1.0" encoding="UTF-8"?>\n',
         prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{NS}"' if prefix else f'xmlns="{NS}"'
    body = sep.join(r.replace("<", f"<{p}").replace(f"<{p}/", f"</{p}") for r in records)
    return (f"{head}<{p}Document {xmlns}><{p}BkToCstmrStmt><{p}GrpHdr><{p}MsgId>M1</{p}MsgId>"
            f"<{p}CreDtTm>2026-03-02T10:00:00</{p}CreDtTm></{p}GrpHdr>{sep}{body}{sep}"
            f"</{p}BkToCstmrStmt></{p}Document>\n")


def _write(tmp_path: Path, text: str | bytes, name: str = "f.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _whole(path: Path) -> list:
    return list(CamtParser().parse(path))


def _by_parts(path: Path, part_bytes: int) -> list | None:
    cut = plan(path, part_bytes)
    if cut is None:
        return None
    return [s for i in range(len(cut.parts)) for s in parse_part(path, cut, i)]


@pytest.mark.parametrize("path", FILES, ids=[p.name[:80] for p in FILES])
def test_corpus_parts_give_the_whole_files_statements(path: Path) -> None:
    try:
        whole = _whole(path)
    except ParseError:
        # A refused file: the parts refuse it too, wherever a plan is made.
        with contextlib.suppress(ParseError):
            parts = _by_parts(path, 1)
            assert parts is None or parts != [], "a refused file must not parse by parts"
        return
    parts = _by_parts(path, 1)
    if parts is not None:
        assert parts == whole


@pytest.mark.parametrize("prefix", ["", "ns2"])
@pytest.mark.parametrize("part_bytes", [1, 900, 5000, 1 << 20])
def test_generated_files_by_parts(tmp_path: Path, prefix: str, part_bytes: int) -> None:
    path = _write(tmp_path, _doc([_stmt(n, lines=1 + n % 4) for n in range(12)], prefix=prefix))
    cut = plan(path, part_bytes)
    if part_bytes >= 1 << 20:
        assert cut is None  # the whole file is smaller than one part
        return
    assert cut is not None and len(cut.parts) >= 2
    assert _by_parts(path, part_bytes) == _whole(path)
    # parts are whole records, in order, covering every record
    assert all(a[1] <= b[0] for a, b in pairwise(cut.parts))


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 5), min_size=2, max_size=8), part_bytes=st.integers(1, 4000),
       sep=st.sampled_from(["", "\n", "\r\n  ", "\t"]))
def test_any_cut_gives_the_same_statements(tmp_path_factory: pytest.TempPathFactory, sizes: list[int],
                                           part_bytes: int, sep: str) -> None:
    path = _write(tmp_path_factory.mktemp("h"), _doc([_stmt(n, lines=k) for n, k in enumerate(sizes)], sep=sep))
    parts = _by_parts(path, part_bytes)
    if parts is not None:
        assert parts == _whole(path)


@pytest.mark.parametrize("reason, text", [
    ("one record", _doc([_stmt(1)])),
    ("comment", _doc([_stmt(1), "<!-- note -->" + _stmt(2)])),
    ("cdata", _doc([_stmt(1), _stmt(2).replace("INV 2 0", "<![CDATA[<Stmt>]]>")])),
    ("processing instruction", _doc([_stmt(1), "<?pi x?>" + _stmt(2)])),
    ("comment after many marks in text", _doc([_stmt(1).replace("INV 1 0", "Why? Now! " * 400),
                                               "<!-- note -->" + _stmt(2)])),
    ("instruction after many marks in text", _doc([_stmt(1).replace("INV 1 0", "?" * 300),
                                                   "<?pi x?>" + _stmt(2)])),
    ("text between records", _doc([_stmt(1), "x" + _stmt(2)])),
    ("element between records", _doc([_stmt(1), "<Other/>" + _stmt(2)])),
    ("empty record", _doc([_stmt(1), "<Stmt/>", _stmt(2)])),
    ("nested record", _doc([_stmt(1).replace("</Stmt>", _stmt(3) + "</Stmt>"), _stmt(2)])),
    ("utf-16", "\ufeff" + _doc([_stmt(1), _stmt(2)], head='<?xml version="1.0" encoding="UTF-16"?>\n')),
    ("other encoding", _doc([_stmt(1), _stmt(2)], head='<?xml version="1.0" encoding="Shift_JIS"?>\n')),
])
def test_no_plan_where_markup_is_in_doubt(tmp_path: Path, reason: str, text: str) -> None:
    data = text.encode("utf-16") if reason == "utf-16" else text.encode()
    path = _write(tmp_path, data)
    assert plan(path, 1) is None, reason


def test_marks_in_text_do_not_stop_a_plan(tmp_path: Path) -> None:
    text = _doc([_stmt(1).replace("INV 1 0", "Why? Now! " * 400), _stmt(2)])
    assert "Why? Now!" in text
    assert plan(_write(tmp_path, text.encode()), 1) is not None


def test_plan_of_an_empty_file_is_none(tmp_path: Path) -> None:
    assert plan(_write(tmp_path, b""), 1) is None


@given(cut=st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_a_cut_file_gets_no_plan_or_a_refusal(tmp_path_factory: pytest.TempPathFactory, cut: int) -> None:
    text = _doc([_stmt(n) for n in range(5)]).encode()
    path = _write(tmp_path_factory.mktemp("cut"), text[: cut % len(text)])
    try:
        whole = _whole(path)
    except ParseError:
        whole = None
    try:
        parts = _by_parts(path, 1)
    except ParseError:
        assert whole is None  # a part refuses only what the whole file refuses
        return
    assert parts is None or parts == whole


@pytest.mark.parametrize("size", [-1, 1, 7, 100, 4096])
def test_part_reader_gives_head_part_and_tail(tmp_path: Path, size: int) -> None:
    text = _doc([_stmt(n) for n in range(4)]).encode()
    path = _write(tmp_path, text)
    cut = plan(path, 1)
    assert cut is not None and len(cut.parts) == 4
    start, end = cut.parts[2]
    with PartReader(path, cut, 2) as fh:
        chunks = []
        while chunk := fh.read(size):
            chunks.append(chunk)
            if size < 0:
                break
    assert b"".join(chunks) == text[: cut.head_end] + text[start:end] + text[cut.tail_start :]


def test_a_broken_part_is_refused_with_the_parsers_code(tmp_path: Path) -> None:
    records = [_stmt(n) for n in range(3)]
    records[2] = records[2].replace("</Ntry>", "</Ntyr>", 1)
    path = _write(tmp_path, _doc(records))
    cut = plan(path, 1)
    assert cut is not None
    assert list(parse_part(path, cut, 0))  # the first part is fine
    with pytest.raises(ParseError) as exc:
        list(parse_part(path, cut, 2))
    assert exc.value.code == "INGEST_XML_MALFORMED"
