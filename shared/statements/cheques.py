"""Cheque log: the cheques an AR team received, as a CSV file (one row per cheque).

Format
------
A UTF-8 (or Windows-1252) CSV file, byte-order mark allowed, separated by ``,`` or ``;`` (taken
from the header line), fields quoted with ``"`` where needed (a remittance may span lines). The
first line is the header; column names are case-insensitive, surrounding spaces are ignored and
inner spaces or hyphens count as ``_`` (``Cheque Number`` = ``cheque_number``). Column order is
free; unknown columns are ignored (kept in each line's ``raw``).

=================  ========  =================================================================
column             value     meaning
=================  ========  =================================================================
cheque_number      required  the number printed on the cheque
drawer_name        required  who wrote the cheque (the paying customer)
drawer_bank        optional  drawer's bank (sort code, routing number, BIC or name)
drawer_account     optional  drawer's account number
amount             required  positive, ``1234.56`` or ``1,234.56`` (``.`` is the decimal point)
currency           required  ISO 4217 code (``EUR``); amount may not have more decimals than it
received_date      required  date the cheque reached us: ``YYYY-MM-DD`` or ``DD.MM.YYYY``
cheque_date        required  date written on the cheque (same formats); later than
                             received_date means post-dated
type               required  ``ordinary`` or ``certified``
status             required  ``received``, ``deposited``, ``cleared`` or ``returned``
remittance         optional  what the customer says it pays (invoice numbers ...)
deposit_account    optional  our bank account the cheque goes to (column may be absent)
=================  ========  =================================================================

Every column of the table except ``deposit_account`` must be in the header (its cells may be
empty where marked optional). Dates with ``/`` are refused: ``03/04/2024`` is March or April
depending on who typed it. Blank lines are skipped.

What it becomes: one ``Statement`` per (deposit account, currency), account ``deposit_account``
or ``CHEQUES``, ``source_format`` ``cheque_log``, no balances. One ``BankLine`` per cheque, a
credit: booking_date = received_date, value_date = cheque_date, bank_reference =
``CHQ-<drawer_bank>-<drawer_account>-<cheque_number>`` (empty parts left out: cheque numbers are
unique only per drawer account), counterparty = drawer name and account, transaction_code
``CHEQUE``, ``extra`` = cheque_number, drawer_bank, cheque_date, post_dated, type, status.

A bad row refuses the whole file (``ParseError``): ``INGEST_CHEQUE_MISSING_COLUMN`` (header lacks
a column), ``INGEST_CHEQUE_BAD_HEADER`` (a column twice), ``INGEST_CHEQUE_BAD_ROW`` (the message
names the line and the reason: bad amount, bad date, unknown type or status, empty required
value, wrong number of fields, the same cheque twice), ``INGEST_CHEQUE_NO_ROWS`` (header only).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.errors import ParseError
from shared.money import to_minor
from shared.statements.base import decode_text
from shared.statements.model import BankLine, SourceFormat, Statement

COLUMNS = (
    "cheque_number", "drawer_name", "drawer_bank", "drawer_account", "amount", "currency",
    "received_date", "cheque_date", "type", "status", "remittance",
)
OPTIONAL_COLUMNS = ("deposit_account",)
IDENTIFYING_COLUMNS = frozenset({"cheque_number", "drawer_name", "amount", "currency", "received_date"})
REQUIRED_VALUES = (
    "cheque_number", "drawer_name", "amount", "currency", "received_date", "cheque_date", "type",
    "status",
)
TYPES = frozenset({"ordinary", "certified"})
STATUSES = frozenset({"received", "deposited", "cleared", "returned"})
DEFAULT_ACCOUNT = "CHEQUES"

_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DOT_DATE = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")
_CURRENCY = re.compile(r"[A-Z]{3}")
_MAX_MINOR = 2**63  # minor units are stored as signed 64-bit integers


def _column_name(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


def _header(line: str) -> tuple[str, list[str]] | None:
    """(delimiter, normalised column names) when ``line`` is a cheque-log header, else None."""
    for delimiter in (",", ";"):
        try:
            cells = next(csv.reader([line], delimiter=delimiter), [])
        except csv.Error:
            continue
        names = [_column_name(c) for c in cells]
        if IDENTIFYING_COLUMNS.issubset(names):
            return delimiter, names
    return None


class _Lines:
    """Physical lines handed to the csv reader, remembered so each row keeps its source text."""

    def __init__(self, text: str) -> None:
        self._it = iter(io.StringIO(text, newline=""))
        self.taken: list[str] = []
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.number += 1
        self.taken.append(line)
        return line

    def row_source(self) -> tuple[int, str]:
        """(first line number, source text) of the row just read."""
        first, raw = self.number - len(self.taken) + 1, "".join(self.taken).rstrip("\r\n")
        self.taken = []
        return first, raw


def _bad_row(line: int, reason: str) -> ParseError:
    return ParseError(f"line {line}: {reason}", code="INGEST_CHEQUE_BAD_ROW", line=line)


def _amount(raw: str, currency: str, line: int) -> int:
    """Exact positive minor units of ``1234.56`` / ``1,234.56``; never a float."""
    if not _AMOUNT.fullmatch(raw):
        raise _bad_row(line, f"bad amount {raw[:40]!r} (write 1234.56 or 1,234.56, positive)")
    try:
        minor = to_minor(Decimal(raw.replace(",", "")), currency)
    except ParseError as exc:
        raise _bad_row(line, f"bad amount {raw[:40]!r}: {exc.message}") from exc
    if not 0 < minor < _MAX_MINOR:
        raise _bad_row(line, f"bad amount {raw[:40]!r}: a cheque amount must be above zero")
    return minor


def _date(raw: str, column: str, line: int) -> date:
    """``YYYY-MM-DD`` or ``DD.MM.YYYY``; slashes are refused as ambiguous."""
    iso, dotted = _ISO_DATE.fullmatch(raw), _DOT_DATE.fullmatch(raw)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if dotted:
            return date(int(dotted[3]), int(dotted[2]), int(dotted[1]))
    except ValueError:
        pass
    hint = " ('/' dates are ambiguous)" if "/" in raw else ""
    raise _bad_row(line, f"bad {column} {raw[:40]!r}{hint}: write YYYY-MM-DD or DD.MM.YYYY")


@dataclass(slots=True)
class _Cheque:
    account: str
    line: BankLine


def _cheque(row: dict[str, str], line: int, raw: str) -> _Cheque:
    """One validated row as a bank line (a credit) and the account it belongs to."""
    for column in REQUIRED_VALUES:
        if not row[column]:
            raise _bad_row(line, f"{column} is empty")
    currency = row["currency"].upper()
    if not _CURRENCY.fullmatch(currency):
        raise _bad_row(line, f"bad currency {row['currency'][:20]!r} (an ISO 4217 code like EUR)")
    amount = _amount(row["amount"], currency, line)
    received = _date(row["received_date"], "received_date", line)
    dated = _date(row["cheque_date"], "cheque_date", line)
    kind, status = row["type"].lower(), row["status"].lower()
    if kind not in TYPES:
        raise _bad_row(line, f"unknown type {row['type'][:20]!r} (one of {', '.join(sorted(TYPES))})")
    if status not in STATUSES:
        raise _bad_row(
            line, f"unknown status {row['status'][:20]!r} (one of {', '.join(sorted(STATUSES))})"
        )
    number, bank, account = row["cheque_number"], row["drawer_bank"], row["drawer_account"]
    reference = "-".join(["CHQ", *(p for p in (bank, account) if p), number])
    bank_line = BankLine(
        booking_date=received,
        amount_minor=amount,
        currency=currency,
        value_date=dated,
        bank_reference=reference,
        transaction_code="CHEQUE",
        counterparty_name=row["drawer_name"],
        counterparty_account=account or None,
        remittance=row["remittance"] or None,
        raw=raw,
        extra={
            "cheque_number": number,
            "drawer_bank": bank or None,
            "cheque_date": dated.isoformat(),
            "post_dated": dated > received,
            "type": kind,
            "status": status,
        },
    )
    return _Cheque(row.get("deposit_account") or DEFAULT_ACCOUNT, bank_line)


def _read_header(lines: _Lines) -> tuple[str, list[str], str]:
    """(delimiter, column names, header text) of the log; refuses a header lacking columns."""
    header_line = next((ln for ln in lines if ln.strip()), "")
    found = _header(header_line)
    names = found[1] if found else []
    missing = [c for c in COLUMNS if c not in names]
    if not found or missing:
        raise ParseError(
            f"cheque log header lacks column(s): {', '.join(missing)}",
            code="INGEST_CHEQUE_MISSING_COLUMN",
            missing=missing,
        )
    if len(set(names)) != len(names):
        raise ParseError("a column appears twice in the header", code="INGEST_CHEQUE_BAD_HEADER")
    return found[0], names, lines.row_source()[1].strip()


def _rows(lines: _Lines, delimiter: str, names: list[str]) -> Iterator[_Cheque]:
    """Validated cheques of the log after its header, in file order."""
    seen: dict[str, int] = {}
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _bad_row(lines.number, f"unreadable CSV ({exc})") from exc
        line, raw = lines.row_source()
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            raise _bad_row(line, f"{len(cells)} fields, the header has {len(names)}")
        cheque = _cheque(dict(zip(names, (c.strip() for c in cells), strict=True)), line, raw)
        ref = f"{cheque.account}|{cheque.line.bank_reference}"
        if ref in seen:
            raise _bad_row(line, f"cheque {cheque.line.bank_reference} already on line {seen[ref]}")
        seen[ref] = line
        yield cheque


def parse_text(text: str) -> list[Statement]:
    """One statement per (deposit account, currency), in order of first appearance."""
    lines = _Lines(text)
    delimiter, names, header = _read_header(lines)
    groups: dict[tuple[str, str], list[BankLine]] = {}
    for cheque in _rows(lines, delimiter, names):
        groups.setdefault((cheque.account, cheque.line.currency), []).append(cheque.line)
    if not groups:
        raise ParseError("the cheque log has no cheques", code="INGEST_CHEQUE_NO_ROWS")
    return [
        Statement(
            source_format=SourceFormat.CHEQUE_LOG,
            account=account,
            currency=currency,
            from_date=min(ln.booking_date for ln in cheques),
            to_date=max(ln.booking_date for ln in cheques),
            lines=cheques,
            raw_header=header,
        )
        for (account, currency), cheques in groups.items()
    ]


class ChequeLogParser:
    """CSV log of received cheques (format in this module's docstring)."""

    name = "cheque_log"

    def identify(self, head: bytes) -> bool:
        """The first non-blank line is a CSV header naming the cheque-log key columns."""
        text = decode_text(head)
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        return _header(first) is not None

    def parse(self, path: Path) -> Iterator[Statement]:
        """Statements of the cheque log at ``path`` (all rows valid, or ``ParseError``)."""
        return iter(parse_text(decode_text(path.read_bytes())))
