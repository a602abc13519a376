"""The parser protocol: ``identify`` by content, ``parse`` into canonical statements.

Modelled on beangulp's importer protocol (identify + extract). Parsers are stateless; bank quirks
live in small named hooks inside the parser that owns them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from shared.statements.model import Statement

SNIFF_BYTES = 64 * 1024


class StatementParser(Protocol):
    name: str  # short format family name: "mt940", "camt", "ofx", "cheque_log"

    def identify(self, head: bytes) -> bool:
        """True when the first ``SNIFF_BYTES`` of a file look like this parser's format.

        Must be cheap and must not raise.
        """
        ...

    def parse(self, path: Path) -> Iterator[Statement]:
        """Yield statements one by one (streamed where the format allows).

        Raises :class:`shared.errors.ParseError` (or a subclass) with a specific code on anything
        it cannot read faithfully. The caller imports all statements of a file or none.
        """
        ...


def decode_text(data: bytes) -> str:
    """Decode a text bank file: UTF-8 (with or without BOM), else Windows-1252/Latin-1.

    Banks send ISO-8859-1 and CP1252 routinely; both decode any byte so nothing is lost.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")
