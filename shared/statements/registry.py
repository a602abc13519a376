"""Format detection by content, never by file name."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from shared.errors import FormatError
from shared.statements.base import SNIFF_BYTES, StatementParser


@cache
def parsers() -> tuple[StatementParser, ...]:
    """Every known parser, in a fixed order."""
    from shared.statements.camt import CamtParser
    from shared.statements.cheques import ChequeLogParser
    from shared.statements.mt940 import Mt940Parser
    from shared.statements.ofx import OfxParser

    return (Mt940Parser(), CamtParser(), OfxParser(), ChequeLogParser())


def detect_bytes(head: bytes) -> StatementParser:
    """The one parser that claims ``head``; refuses unknown and ambiguous content."""
    claims = [p for p in parsers() if p.identify(head)]
    if not claims:
        raise FormatError("no parser recognises this file", code="INGEST_UNKNOWN_FORMAT")
    if len(claims) > 1:
        names = ", ".join(p.name for p in claims)
        raise FormatError(
            f"file is claimed by several parsers ({names})", code="INGEST_AMBIGUOUS_FORMAT"
        )
    return claims[0]


def detect(path: Path) -> StatementParser:
    """Detect the format of the file at ``path`` from its first bytes."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise FormatError("file is empty", code="INGEST_EMPTY_FILE")
    return detect_bytes(head)
