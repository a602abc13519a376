"""The fast camt reader (serialization + patterns) gives exactly the element reader's lines.

Every entry of the camt corpus and golden files is read by both readers (the tree reader is used for
every file, see test_camt_raw for the raw one); wherever the fast one answers, the lines must be
equal (dataclass ==, raw XML included).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.errors import ParseError
from shared.statements import camt, camt_entries, camt_fast, camt_raw
from shared.statements.camt import CamtParser

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / ".." / "shared" / "corpus" / "camt").glob("*.xml")) + sorted(
    (ROOT / "tests" / "golden" / "camt").glob("*.xml"))


def _no_raw(source: object) -> Iterator[object]:
    raise camt_raw.Fallback("the tree reader only")
    yield


@pytest.mark.parametrize("path", FILES, ids=[p.name[:80] for p in FILES])
def test_fast_reader_matches_element_reader(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = []

    def both(x, ntry, ctx):  # type: ignore[no-untyped-def]
        try:
            fast = camt_fast.entry_lines(x.ns, ntry, ctx)
        except ParseError:
            fast = None
        slow = camt_entries._entry_lines(x, ntry, ctx)
        if fast is not None:
            assert fast == slow
            compared.append(1)
        return slow

    monkeypatch.setattr(camt, "entry_lines", both)
    monkeypatch.setattr(camt, "_stream_raw", _no_raw)  # the tree reader: every entry through entry_lines
    with contextlib.suppress(ParseError):
        list(CamtParser().parse(path))
