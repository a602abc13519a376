"""OFX 1.x (SGML) and 2.x (XML) bank and credit-card statements.

Why our own reader rather than ``ofxparse``: ofxparse runs BeautifulSoup over the whole file (about
2,000 lines/s), converts posting times to UTC (which moves a 20:00 EST booking to the next calendar
day) and raises on files banks really send (an OFX 1.02 file with empty tags, an empty balance).
OFX is simple enough to read directly: tags, text, and in SGML optional closing tags for leaf
elements. The file is read in chunks (``ofx_stream``): each statement is mapped as its ``STMTRS``
closes and plain transactions are read with a couple of regex calls each, so memory follows the
largest statement, not the file; ``ofx_tree`` holds the tokenizer and the whole-document tree the
reader follows (and falls back to for odd nesting), ``ofx_map`` the mapping below. ``parse``
yields each statement as it is read; a refusal found further on still raises before the iteration
ends, with the code and message reading the whole file first would give (the caller keeps all or
nothing). The tests use ofxparse as a cross-check on the corpus.

Mapping (one ``Statement`` per ``STMTRS`` / ``CCSTMTRS``):

- account = ``ACCTID`` as sent. ``BANKID`` / ``BRANCHID`` / ``ACCTTYPE`` are routing data, not
  part of the account number an AR team configures (and not a BIC): they stay in ``raw_header``,
  the statement's source text without its transaction list.
- currency = ``CURDEF``; dates: ``DTSTART`` -> from_date, ``DTEND`` -> to_date, statement_date =
  the ledger balance's ``DTASOF`` (else ``DTEND``). Dates are the bank's local calendar date (the
  first 8 digits); the time and time zone are ignored on purpose.
- ``LEDGERBAL`` -> closing (CLBD), ``AVAILBAL`` -> CLAV. OFX has no opening balance: ``opening`` is
  ``None``, so the balance integrity check does not apply.
- each ``STMTTRN``: ``DTPOSTED`` -> booking_date; value_date = ``DTAVAIL`` (the spec's "funds
  available", the closest thing to a value date), else the non-standard ``VALUEDATE``, else
  ``DTUSER``; ``TRNAMT`` -> amount_minor (exact); ``FITID`` -> bank_reference; ``TRNTYPE`` ->
  transaction_code; ``NAME`` / ``PAYEE.NAME`` -> counterparty_name; ``MEMO`` -> remittance;
  ``REFNUM`` / ``CHECKNUM`` -> customer_reference; ``BANKACCTTO``/``CCACCTTO`` ``ACCTID`` ->
  counterparty_account. ``extra`` keeps checknum, refnum, dtuser, counterparty bank id, the
  ``CURRENCY``/``ORIGCURRENCY`` aggregate and correction fields. ``TRNAMT`` is taken in the
  statement currency (as ofxparse and most importers do).

Refusals (``ParseError``): ``INGEST_OFX_ERROR_RESPONSE`` (sign-on or statement response with
severity ERROR), ``INGEST_OFX_NO_BANK_STATEMENT`` (sign-on only, account listings, investment
statements; a bank statement beside an investment one is read), ``INGEST_OFX_MALFORMED``,
``INGEST_OFX_TRUNCATED``, ``INGEST_OFX_MISSING_FIELD``, ``INGEST_OFX_BAD_DATE``,
``INGEST_OFX_NO_CURRENCY``, ``INGEST_BAD_AMOUNT`` (also for amounts beyond 64-bit minor units).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from shared.statements.base import decode_text
from shared.statements.model import Statement
from shared.statements.ofx_map import tree_statements
from shared.statements.ofx_stream import CHUNK, read_statements

_BOM = b"\xef\xbb\xbf"
_XML_PROLOG = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*|<!--.*?-->\s*)*", re.S | re.I)
_SGML_HEADER = re.compile(rb"\s*OFXHEADER\s*:\s*\d", re.I)
_XML_OFX = re.compile(rb"<\?OFX\s|<OFX\s*>", re.I)
_BYTES = 1 << 18  # bytes read at a time


class OfxParser:
    """OFX 1.x SGML and 2.x XML bank / credit-card statements (investment statements refused)."""

    name = "ofx"

    def identify(self, head: bytes) -> bool:
        """An ``OFXHEADER:`` header, an ``<?OFX ...?>`` instruction, or an ``<OFX>`` root element."""
        if head.startswith(_BOM):
            head = head[3:]
        if _SGML_HEADER.match(head):
            return True
        prolog = _XML_PROLOG.match(head)
        rest = head[prolog.end() if prolog else 0 :]
        return _XML_OFX.match(rest) is not None

    def parse(self, path: Path) -> Iterator[Statement]:
        """Every bank and credit-card statement in the file, in document order, read as it comes."""
        return read_statements(_decoded(path), lambda: decode_text(path.read_bytes()))


def _decoded(path: Path) -> Iterator[str]:
    """The file's text in pieces, decoded as ``decode_text`` would decode the whole file."""
    with path.open("rb") as fh:
        skip = 3 if fh.read(3) == _BOM else 0
        codec = "latin-1"
        for candidate in ("utf-8", "cp1252"):  # the first that decodes every byte
            fh.seek(skip)
            decoder = codecs.getincrementaldecoder(candidate)()
            try:
                while chunk := fh.read(_BYTES):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                continue
            codec = candidate
            break
        fh.seek(skip)
        decoder = codecs.getincrementaldecoder(codec)()
        while chunk := fh.read(_BYTES):
            yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)


def parse_bytes(data: bytes) -> list[Statement]:
    """All statements of an OFX file's bytes (UTF-8, else Windows-1252)."""
    return parse_text(decode_text(data))


def parse_text(text: str) -> list[Statement]:
    """All statements of an OFX document held in ``text`` (all or nothing: errors raise)."""
    return list(read_statements([text], lambda: text))


def parse_text_whole(text: str) -> list[Statement]:
    """``parse_text`` through the whole-document tree (the reference the streaming reader follows)."""
    return tree_statements(text)


def parse_text_chunked(text: str, size: int = CHUNK) -> list[Statement]:
    """``parse_text`` with the text handed over in pieces of ``size`` characters (for tests)."""
    pieces = (text[k : k + size] for k in range(0, len(text), size))
    return list(read_statements(pieces, lambda: text))
