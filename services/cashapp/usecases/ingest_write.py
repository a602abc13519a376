"""The writing half of an import: one file's prepared statements into the database.

Runs inside the caller's transaction (see :func:`ingest.import_file`), one :class:`FileImport`
per file. Statements are looked up and written through the driver, lines in bulk; what a
statement's integrity, duplicates and conflicts mean is described in :mod:`ingest`.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from services.cashapp.models import IntegrityStatus, Receipt, ReceiptStatus, StatementRow, utcnow
from services.cashapp.usecases.ingest_prepare import AMOUNT, CURRENCY, KEY, LINE_COLUMNS, PreparedStatement
from services.recon.cheque_log import apply_log_updates, return_first_seen
from shared.db import bulk_insert, select_in
from shared.errors import ImportRefused
from shared.money import format_minor

if TYPE_CHECKING:
    from services.cashapp.usecases.ingest import BalancePolicy, IngestResult


class _Sql:
    """The writer's statements in the driver's own terms for one dialect, values bound by type.

    A file brings hundreds of statements, each looked up, checked and written: through Core,
    the per-call work of SQLAlchemy cost more than the queries. The values are bound by their
    column types' own bind processing, as Core would bind them, so the rows are the same.
    """

    def __init__(self, dialect: Dialect) -> None:
        def sql(text: str) -> str:
            return text if dialect.paramstyle == "qmark" else text.replace("?", "%s")

        self.sqlite = dialect.name == "sqlite"
        self.existing = sql("SELECT content_hash FROM statement WHERE account = ? AND statement_key = ? "
                            "AND key_date = ?")
        self.previous = sql("SELECT key_date, closing_minor FROM statement WHERE account = ? AND currency = ? "
                            "AND closing_minor IS NOT NULL AND key_date <= ? "
                            "ORDER BY key_date DESC, id DESC LIMIT 1")
        self.count_lines = sql("SELECT count(*) FROM receipt WHERE statement_id = ?")
        self.line_keys = sql("SELECT line_key FROM receipt WHERE statement_id = ?")
        self.set_lines_count = sql("UPDATE statement SET lines_count = ? WHERE id = ?")
        self.insert = sql(f"INSERT INTO statement ({', '.join(_STATEMENT_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(_STATEMENT_COLUMNS))})")
        if not self.sqlite:
            self.insert += " RETURNING id"
        key_date = _STATEMENT_TABLE.c.key_date.type
        self.date: Callable[[Any], Any] = key_date._cached_bind_processor(dialect) or _same
        self.date_out: Callable[[Any], Any] = key_date._cached_result_processor(dialect, None) or _same
        self.binds = [(i, proc) for i, name in enumerate(_STATEMENT_COLUMNS)
                      if (proc := _STATEMENT_TABLE.c[name].type._cached_bind_processor(dialect)) is not None]

    def rows(self, conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of a read; on SQLite straight from the driver's cursor (a tenth of the
        per-call cost of ``exec_driver_sql``), a driver error raised as SQLAlchemy's own."""
        if not self.sqlite:
            return list(conn.exec_driver_sql(sql, params))
        try:
            return conn.connection.driver_connection.execute(sql, params).fetchall()  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc

    def insert_statement(self, conn: Connection, values: list[Any]) -> int:
        for i, proc in self.binds:
            values[i] = proc(values[i])
        res = conn.exec_driver_sql(self.insert, tuple(values))
        return int(res.lastrowid if self.sqlite else res.scalar_one())


def _same(value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=8)
def writer_sql(dialect: Dialect) -> _Sql:
    """The statements for ``dialect`` (built once)."""
    return _Sql(dialect)


@dataclass(slots=True)
class FileImport:
    """State of one file's import inside its transaction.

    On SQLite, where this transaction is the only writer, a statement's lines go in with
    ``ON CONFLICT (line_key) DO NOTHING``: the unique index that the insert probes anyway tells
    known lines apart, in place of a lookup of every line beforehand. The rows left out are
    exactly those the lookup would find (stored before, or earlier in this file or statement);
    there are rarely any, so one count of the statement's stored rows says whether to find out
    which. Elsewhere (PostgreSQL, where a concurrent import of the same line must still fail the
    file) and for cheque logs (known cheques get their new status first) lines are looked up first.
    """

    session: Session
    import_file_id: int
    policy: BalancePolicy
    result: IngestResult
    conn: Connection
    sql: _Sql
    seen_statements: dict[tuple[str, str, date], str] = field(default_factory=dict)
    last_closing: dict[tuple[str, str], tuple[date, int]] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)

    def add(self, st: PreparedStatement) -> None:
        key, key_date, chash = st.key, st.key_date, st.content_hash
        ident = (st.account, key, key_date)
        if ident in self.seen_statements:
            if self.seen_statements[ident] != chash:
                raise ImportRefused(
                    f"statement {key} of {st.account} on {key_date} appears twice with different "
                    "content", code="INGEST_STATEMENT_CONFLICT")
            self.result.statements_skipped += 1
            return
        self.seen_statements[ident] = chash
        conn, sql = self.conn, self.sql
        existing = sql.rows(conn, sql.existing, (st.account, key, sql.date(key_date)))
        if existing:
            if existing[0][0] != chash:
                raise ImportRefused(
                    f"statement {key} of {st.account} on {key_date} was imported before with "
                    "different content", code="INGEST_STATEMENT_CONFLICT")
            self.result.statements_skipped += 1
            return
        status, detail = self._integrity(st)
        held = status in (IntegrityStatus.BALANCE_MISMATCH, IntegrityStatus.CONTINUITY_BREAK)
        if held and self.policy == "refuse":
            code = ("INGEST_BALANCE_MISMATCH" if status == IntegrityStatus.BALANCE_MISMATCH
                    else "INGEST_CONTINUITY_BREAK")
            raise ImportRefused(detail or status, code=code, account=st.account)
        probe = sql.sqlite and not st.cheque_lines
        rows, applicable = (st.rows, st.applicable) if probe else self._new_lines(st)
        statement_id = sql.insert_statement(conn, [
            self.import_file_id, st.source_format, st.account, st.currency, key, st.statement_id,
            st.sequence, key_date, st.statement_date, st.from_date, st.to_date, st.opening_minor,
            st.closing_minor, st.balances_json, chash, str(status), detail, held, len(rows), self.now])
        pending, ignored = (statement_id, _HELD if held else _UNMATCHED), (statement_id, _IGNORED)
        bulk_insert(conn, _RECEIPT_TABLE, _RECEIPT_COLUMNS, rows,
                    lead=[pending if ok else ignored for ok in applicable],
                    on_conflict_ignore="line_key" if probe else None)
        if probe and rows:
            stored = sql.rows(conn, sql.count_lines, (statement_id,))[0][0]
            if stored != len(rows):  # some lines were known: which, and the statement's own count
                self.result.lines_skipped += len(rows) - stored
                rows = _first_of(rows, {k for (k,) in sql.rows(conn, sql.line_keys, (statement_id,))})
                conn.exec_driver_sql(sql.set_lines_count, (len(rows), statement_id))
        if st.cheque_lines and rows:
            # A cheque a log names for the first time as returned is no cash: never matched.
            new = {r[KEY] for r in rows}
            return_first_seen(self.session, [(ln, r[KEY]) for ln, r in zip(st.cheque_lines, st.rows, strict=True)
                                             if r[KEY] in new])
        _add_totals(self.result.totals, rows)
        self.result.lines += len(rows)
        self.result.statements += 1
        self.result.held_statements += int(held)
        if st.closing_minor is not None:
            self.last_closing[(st.account, st.currency)] = (key_date, st.closing_minor)

    def _integrity(self, st: PreparedStatement) -> tuple[IntegrityStatus, str | None]:
        gap = st.balance_gap
        if gap is None:
            return IntegrityStatus.UNCHECKED, "no opening and closing booked balance to check"
        assert st.opening_minor is not None and st.closing_minor is not None
        if gap != 0:
            return IntegrityStatus.BALANCE_MISMATCH, (
                f"opening {format_minor(st.opening_minor, st.currency)} + lines "
                f"!= closing {format_minor(st.closing_minor, st.currency)} "
                f"(difference {format_minor(gap, st.currency)} {st.currency})")
        prev = self._previous_closing(st)
        if prev is not None and prev[1] != st.opening_minor:
            return IntegrityStatus.CONTINUITY_BREAK, (
                f"opening {format_minor(st.opening_minor, st.currency)} != previous "
                f"closing {format_minor(prev[1], st.currency)} of {prev[0]}")
        return IntegrityStatus.OK, None

    def _previous_closing(self, st: PreparedStatement) -> tuple[date, int] | None:
        key_date = st.key_date
        in_file = self.last_closing.get((st.account, st.currency))
        if in_file is not None and in_file[0] <= key_date:
            return in_file
        sql = self.sql
        found = sql.rows(self.conn, sql.previous, (st.account, st.currency, sql.date(key_date)))
        return (sql.date_out(found[0][0]), found[0][1]) if found else None

    def _new_lines(self, st: PreparedStatement) -> tuple[list[tuple], list[bool]]:
        """The statement's lines not stored before (in this file or earlier), and which apply.

        The lookup sees this file's own lines (same transaction); ``seen`` adds the statement's.
        """
        keys = [r[KEY] for r in st.rows]
        known = set(select_in(self.conn, _RECEIPT_TABLE.c.line_key, keys)) if keys else set()
        if known and st.cheque_lines:
            # A later cheque log repeats known cheques with their new status: apply it, not skip it.
            self.result.lines_updated += apply_log_updates(
                self.session, [(ln, k) for ln, k in zip(st.cheque_lines, keys, strict=True) if k in known])
        seen: set[str] = set()
        rows, applicable = [], []
        for row, ok in zip(st.rows, st.applicable, strict=True):
            key = row[KEY]
            if key in known or key in seen:
                self.result.lines_skipped += 1
                continue
            seen.add(key)
            rows.append(row)
            applicable.append(ok)
        return rows, applicable


def _first_of(rows: list[tuple], keys: set[str]) -> list[tuple]:
    """The rows stored: those whose key is in ``keys``, the first row of each key (the insert's order)."""
    out = []
    for row in rows:
        if row[KEY] in keys:
            keys.discard(row[KEY])
            out.append(row)
    return out


def _add_totals(totals: dict[str, dict[str, int]], rows: list[tuple]) -> None:
    """Add the credits and debits of ``rows`` to ``totals`` (per currency, in order of appearance)."""
    if not rows:
        return
    currencies = {r[CURRENCY] for r in rows}
    if len(currencies) == 1:  # the common case: the sums of the whole statement at once
        amounts = [r[AMOUNT] for r in rows]
        credit = sum([a for a in amounts if a > 0])
        sums = totals.setdefault(currencies.pop(), {"credit": 0, "debit": 0})
        sums["credit"] += credit
        sums["debit"] += credit - sum(amounts)
        return
    for row in rows:
        tot = totals.get(row[CURRENCY])
        if tot is None:
            tot = totals[row[CURRENCY]] = {"credit": 0, "debit": 0}
        amount = row[AMOUNT]
        if amount > 0:
            tot["credit"] += amount
        else:
            tot["debit"] -= amount


_STATEMENT_TABLE = StatementRow.__table__  # type: ignore[attr-defined]
_RECEIPT_TABLE = Receipt.__table__  # type: ignore[attr-defined]
_STATEMENT_COLUMNS = (
    "import_file_id", "source_format", "account", "currency", "statement_key", "statement_ref",
    "sequence", "key_date", "statement_date", "from_date", "to_date", "opening_minor",
    "closing_minor", "balances_json", "content_hash", "integrity_status", "integrity_detail", "held",
    "lines_count", "created_at")
_RECEIPT_COLUMNS = ("statement_id", "status", *LINE_COLUMNS)
_HELD, _UNMATCHED, _IGNORED = (str(s) for s in (ReceiptStatus.HELD, ReceiptStatus.UNMATCHED, ReceiptStatus.IGNORED))
