"""A camt file parsed by two processes gives exactly the one-process result, or its refusal."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.cashapp.usecases import ingest_ahead, ingest_parts
from services.cashapp.usecases.ingest import ingest_path, ingest_paths
from services.cashapp.usecases.ingest_parts import pickled_batches, split_plan
from services.cashapp.usecases.ingest_prepare import PreparedStatement, prepare
from shared.errors import ParseError
from shared.statements.camt_split import plan
from shared.statements.registry import detect
from tests.statements.test_camt_split import _doc, _stmt

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _file(tmp_path: Path, records: list[str]) -> Path:
    path = tmp_path / "multi.xml"
    path.write_text(_doc(records))
    return path


def _inline(path: Path) -> list[PreparedStatement]:
    return [prepare(st) for st in detect(path).parse(path)]


def _two_way(path: Path, batch_lines: int = 5) -> list[PreparedStatement]:
    cut = plan(path, 1)
    assert cut is not None and len(cut.parts) > 2
    out = []
    for payload, count in pickled_batches(path, cut, batch_lines):
        got = pickle.loads(payload)
        assert len(got) == count
        out += got
    return out


@pytest.mark.parametrize("batch_lines", [1, 5, 10_000])
def test_two_processes_give_the_one_process_statements(tmp_path: Path, batch_lines: int) -> None:
    path = _file(tmp_path, [_stmt(n, lines=n % 5) for n in range(11)])
    assert _two_way(path, batch_lines) == _inline(path)


@pytest.mark.parametrize("broken", [0, 3, 6])  # an even part (this process), an odd one (the helper)
def test_a_broken_file_is_refused_with_the_whole_files_error(tmp_path: Path, broken: int) -> None:
    records = [_stmt(n) for n in range(7)]
    records[broken] = records[broken].replace("</Ntry>", "</Ntyr>", 1)
    path = _file(tmp_path, records)
    with pytest.raises(ParseError) as whole:
        _inline(path)
    with pytest.raises(ParseError) as parts:
        _two_way(path)
    assert (parts.value.code, parts.value.message) == (whole.value.code, whole.value.message)
    assert "line" in whole.value.message or whole.value.code == "INGEST_XML_MALFORMED"


def test_a_helper_that_dies_costs_time_not_statements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, [_stmt(n, lines=2) for n in range(9)])

    def die(*_: object) -> None:
        os._exit(3)

    monkeypatch.setattr(ingest_parts, "_helper", die)
    assert _two_way(path) == _inline(path)


def test_a_part_that_fails_only_as_a_part_falls_back_to_the_whole_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, [_stmt(n, lines=1) for n in range(6)])
    real = ingest_parts.parse_part
    me = os.getpid()

    def flaky(p: Path, cut: object, index: int):  # type: ignore[no-untyped-def]
        if index == 4 and os.getpid() == me:
            raise ParseError("only as a part")
        return real(p, cut, index)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_parts, "parse_part", flaky)
    assert _two_way(path) == _inline(path)


def test_only_large_camt_files_are_split(tmp_path: Path) -> None:
    path = _file(tmp_path, [_stmt(n) for n in range(3)])
    assert split_plan("camt", path) is None  # smaller than one part
    assert split_plan("mt940", path) is None
    assert split_plan("camt", tmp_path / "missing.xml") is None


def test_import_of_a_split_camt_file_equals_the_inline_import(db: Engine, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.cashapp.usecases.test_ingest_ahead import _reset, _snapshot

    monkeypatch.setattr(ingest_parts, "PART_BYTES", 1)  # every record a part (the child forks after this)
    real_plan = ingest_ahead.split_plan
    marks = tmp_path / "marks"
    marks.mkdir()

    def plan_and_mark(name: str, p: Path):  # type: ignore[no-untyped-def]
        cut = real_plan(name, p)
        (marks / f"{p.name}-{os.getpid()}-{cut is not None}").touch()
        return cut

    monkeypatch.setattr(ingest_ahead, "split_plan", plan_and_mark)
    path = _file(tmp_path, [_stmt(n, lines=1 + n % 3) for n in range(9)])
    bad = tmp_path / "bad.xml"
    bad.write_text(path.read_text().replace("</Ntry>", "</Ntyr>", 5).replace("</Ntyr>", "</Ntry>", 4))
    inline = [ingest_path(db, p, parse_ahead_bytes=0).to_json() for p in (path, bad)]
    want = _snapshot(db)
    _reset(db)
    ahead = [r.to_json() for r in ingest_paths(db, [path, bad], parse_ahead_bytes=1)]
    assert ahead == inline
    assert [r["status"] for r in ahead] == ["imported", "quarantined"]
    assert _snapshot(db) == want and len(want[0]) == sum(1 + n % 3 for n in range(9))
    # both files went the two-process way, in the parsing child
    assert sorted(m.name.split("-")[0] + m.name.split("-")[2] for m in marks.iterdir()) == [
        "bad.xmlTrue", "multi.xmlTrue"]
    assert all(int(m.name.split("-")[1]) != os.getpid() for m in marks.iterdir())
