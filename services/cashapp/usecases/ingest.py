"""Import bank files: exactly once, all or nothing.

One database transaction per file. A file is a *duplicate* when its sha256 was imported before, or
when every statement in it was already imported with identical content; a statement key seen
before with different content is a conflict that refuses the whole file. Lines already known
(account + bank reference + date + amount, plus detail where banks leave the reference empty) are
never stored twice.

Several files (:func:`ingest_paths`, :class:`IngestBatch`) are imported in turn with the same
results, while one child process parses the next files ahead (see :mod:`ingest_ahead`).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from services.cashapp.models import (
    FileRejection,
    ImportFile,
    IntegrityStatus,
    Receipt,
    ReceiptStatus,
    StatementRow,
    utcnow,
)
from services.cashapp.usecases.ingest_ahead import (
    Fingerprint,
    ParseAhead,
    file_sha256,
    file_stamp,
    fingerprint,
    inline_statements,
    worth_parse_ahead,
)
from services.cashapp.usecases.ingest_prepare import (
    AMOUNT,
    CURRENCY,
    KEY,
    LINE_COLUMNS,
    PreparedStatement,
)
from services.recon.cheques import apply_log_updates
from shared.config import Settings
from shared.db import bulk_insert, select_in, unit_of_work
from shared.errors import DomainError, ImportRefused
from shared.money import format_minor
from shared.statements.registry import detect

log = logging.getLogger(__name__)

BalancePolicy = Literal["hold", "refuse"]


@dataclass(slots=True)
class IngestResult:
    """What happened to one file; ``to_json`` is the ``cashrecon ingest --json`` contract."""

    path: str
    status: Literal["imported", "duplicate", "quarantined"]
    reason: str | None = None
    message: str | None = None
    format: str | None = None
    statements: int = 0
    statements_skipped: int = 0
    lines: int = 0
    lines_skipped: int = 0
    lines_updated: int = 0  # known cheques whose status a later cheque log changed
    held_statements: int = 0
    sha256: str | None = None
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # currency -> credit/debit

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        totals = data.pop("totals")
        single = len(totals) == 1
        ccy = next(iter(totals), None)
        data["currency"] = ccy if single else None
        data["credit_total"] = format_minor(totals[ccy]["credit"], ccy) if single and ccy else None
        data["debit_total"] = format_minor(totals[ccy]["debit"], ccy) if single and ccy else None
        data["totals"] = {
            c: {k: format_minor(v, c) for k, v in t.items()} for c, t in sorted(totals.items())
        }
        return data


@dataclass(slots=True)
class _FileImport:
    """State of one file's import inside its transaction."""

    session: Session
    import_file_id: int
    policy: BalancePolicy
    result: IngestResult
    seen_statements: dict[tuple[str, str, date], str] = field(default_factory=dict)
    seen_lines: set[str] = field(default_factory=set)
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
        conn = self.session.connection()
        existing = conn.execute(_EXISTING, {"account": st.account, "key": key, "key_date": key_date}).first()
        if existing is not None:
            if existing[0] != chash:
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
        lines = self._new_lines(st)
        res = conn.execute(_STATEMENT_TABLE.insert(), {
            "import_file_id": self.import_file_id, "source_format": st.source_format,
            "account": st.account, "currency": st.currency, "statement_key": key,
            "statement_ref": st.statement_id, "sequence": st.sequence, "key_date": key_date,
            "statement_date": st.statement_date, "from_date": st.from_date, "to_date": st.to_date,
            "opening_minor": st.opening_minor, "closing_minor": st.closing_minor,
            "balances_json": st.balances_json, "content_hash": chash, "integrity_status": str(status),
            "integrity_detail": detail, "held": held, "lines_count": len(lines),
            "created_at": self.now})
        statement_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        open_status = str(ReceiptStatus.HELD if held else ReceiptStatus.UNMATCHED)
        ignored = str(ReceiptStatus.IGNORED)
        bulk_insert(conn, _RECEIPT_TABLE, _RECEIPT_COLUMNS,
                    [(statement_id, open_status if ok else ignored, *row) for row, ok in lines])
        self.result.lines += len(lines)
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
        row = self.session.connection().execute(
            _PREVIOUS, {"account": st.account, "currency": st.currency, "key_date": key_date}).first()
        return (row[0], row[1]) if row is not None else None

    def _new_lines(self, st: PreparedStatement) -> list[tuple[tuple, bool]]:
        """The statement's lines not stored before (in this file or earlier), with the totals."""
        keys = [r[KEY] for r in st.rows]
        conn = self.session.connection()
        known = set(select_in(conn, _RECEIPT_TABLE.c.line_key, keys)) if keys else set()
        if known and st.cheque_lines:
            # A later cheque log repeats known cheques with their new status: apply it, not skip it.
            self.result.lines_updated += apply_log_updates(
                self.session, [(ln, k) for ln, k in zip(st.cheque_lines, keys, strict=True) if k in known])
        seen = self.seen_lines
        totals = self.result.totals
        lines = []
        for row, ok in zip(st.rows, st.applicable, strict=True):
            key = row[KEY]
            if key in known or key in seen:
                self.result.lines_skipped += 1
                continue
            seen.add(key)
            lines.append((row, ok))
            tot = totals.get(row[CURRENCY])
            if tot is None:
                tot = totals[row[CURRENCY]] = {"credit": 0, "debit": 0}
            amount = row[AMOUNT]
            if amount > 0:
                tot["credit"] += amount
            else:
                tot["debit"] -= amount
        return lines


_STATEMENT_TABLE = StatementRow.__table__  # type: ignore[attr-defined]
_RECEIPT_TABLE = Receipt.__table__  # type: ignore[attr-defined]
_IMPORT_TABLE = ImportFile.__table__  # type: ignore[attr-defined]
_EXISTING = select(_STATEMENT_TABLE.c.content_hash).where(
    _STATEMENT_TABLE.c.account == bindparam("account"),
    _STATEMENT_TABLE.c.statement_key == bindparam("key"),
    _STATEMENT_TABLE.c.key_date == bindparam("key_date"))
_PREVIOUS = (
    select(_STATEMENT_TABLE.c.key_date, _STATEMENT_TABLE.c.closing_minor)
    .where(_STATEMENT_TABLE.c.account == bindparam("account"),
           _STATEMENT_TABLE.c.currency == bindparam("currency"),
           _STATEMENT_TABLE.c.closing_minor.is_not(None),
           _STATEMENT_TABLE.c.key_date <= bindparam("key_date"))
    .order_by(_STATEMENT_TABLE.c.key_date.desc(), _STATEMENT_TABLE.c.id.desc())
    .limit(1))
_RECEIPT_COLUMNS = ("statement_id", "status", *LINE_COLUMNS)


def import_file(session: Session, path: Path, sha256: str, policy: BalancePolicy,
                statements: Iterable[PreparedStatement] | None = None) -> IngestResult:
    """Parse ``path`` and write all of it in ``session`` (the caller commits or rolls back).

    ``statements``: the file's prepared statements from a parse-ahead child; ``None`` parses here.
    Raises :class:`DomainError` for anything that must refuse the whole file.
    """
    result = IngestResult(path=str(path), status="imported", sha256=sha256)
    parser = detect(path)
    record = ImportFile(sha256=sha256, file_name=path.name[:255], size_bytes=path.stat().st_size,
                        source_format=parser.name, status="imported")
    session.add(record)
    session.flush()
    assert record.id is not None
    state = _FileImport(session=session, import_file_id=record.id, policy=policy, result=result)
    formats: set[str] = set()
    for st in inline_statements(parser, path) if statements is None else statements:
        formats.add(st.source_format)
        state.add(st)
    if not formats:
        raise ImportRefused("the file holds no statement", code="INGEST_NO_STATEMENT")
    result.format = ",".join(sorted(formats))
    if result.statements == 0:
        result.status, result.reason = "duplicate", "DUPLICATE_STATEMENTS"
        result.message = "every statement in the file was imported before"
    record.source_format = result.format[:32]
    record.status = result.status
    record.statements_count, record.statements_skipped = result.statements, result.statements_skipped
    record.lines_count, record.lines_skipped = result.lines, result.lines_skipped
    record.credit_total_minor = sum(t["credit"] for t in result.totals.values())
    record.debit_total_minor = sum(t["debit"] for t in result.totals.values())
    return result


def _sha_known(engine: Engine, sha: str) -> bool:
    with Session(engine) as session:
        return session.execute(
            select(col(ImportFile.id)).where(col(ImportFile.sha256) == sha)
        ).first() is not None


def _ingest_file(engine: Engine, path: Path, sha: str, policy: BalancePolicy,
                 statements: Iterable[PreparedStatement] | None) -> IngestResult:
    """One file in one transaction, its sha256 known; a refusal is recorded, nothing else kept."""
    duplicate = IngestResult(path=str(path), status="duplicate", reason="DUPLICATE_FILE",
                             message="a file with the same sha256 was imported before", sha256=sha)
    if _sha_known(engine, sha):
        return duplicate
    try:
        with unit_of_work(engine) as session:
            return import_file(session, path, sha, policy, statements)
    except IntegrityError:
        # Another worker imported the same bytes at the same moment: its import won.
        if _sha_known(engine, sha):
            return duplicate
        raise
    except DomainError as exc:
        reason, message = exc.code, exc.message
    except Exception as exc:  # a bug must not stop the folder; the file is kept for a person
        log.exception("unexpected error importing %s", path)
        reason, message = "INGEST_INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"
    with unit_of_work(engine) as session:
        session.add(FileRejection(sha256=sha, file_name=path.name[:255], reason_code=reason,
                                  message=message[:4000]))
    return IngestResult(path=str(path), status="quarantined", reason=reason, message=message,
                        sha256=sha)


def _ingest_inline(engine: Engine, path: Path, policy: BalancePolicy) -> IngestResult:
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return IngestResult(path=str(path), status="quarantined", reason="INGEST_UNREADABLE",
                            message=str(exc))
    return _ingest_file(engine, path, sha, policy, None)


class IngestBatch:
    """Several files imported in turn, each as :func:`ingest_path` would, with one parse-ahead child.

    Call :meth:`ingest` with ascending positions (a position passed over is dropped). On first use
    every file left is hashed; those worth parsing (readable, sha256 not imported before, the
    first of identical ones) go to one child, in order, when their total size reaches
    ``parse_ahead_bytes`` on a machine that can fork onto a second core. A file whose stat stamp
    changed since it was hashed, and any file not given to the child, takes the inline path of
    :func:`ingest_path` at its turn (hashed again, so the duplicate check sees earlier files).
    """

    def __init__(self, engine: Engine, paths: Iterable[Path | str], policy: BalancePolicy = "hold",
                 parse_ahead_bytes: int | None = None) -> None:
        self.engine, self.policy = engine, policy
        self.paths = [Path(p) for p in paths]
        self.min_bytes = Settings().parse_ahead_bytes if parse_ahead_bytes is None else parse_ahead_bytes
        self._jobs: dict[int, Fingerprint] = {}
        self._ahead: ParseAhead | None = None
        self._next = 0
        self._begun = False

    def __enter__(self) -> IngestBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()

    def _begin(self, first: int) -> None:
        self._begun = True
        rest = range(first, len(self.paths))
        if not worth_parse_ahead(sum((file_stamp(self.paths[i]) or (0,))[0] for i in rest), self.min_bytes):
            return
        prints = {i: fingerprint(self.paths[i]) for i in rest}
        with Session(self.engine) as session:
            taken = set(select_in(session.connection(), _IMPORT_TABLE.c.sha256,
                                  sorted({f.sha256 for f in prints.values() if f is not None})))
        for i, f in prints.items():
            if f is not None and f.sha256 not in taken:
                taken.add(f.sha256)
                self._jobs[i] = f
        if self._jobs and worth_parse_ahead(sum(f.stamp[0] for f in self._jobs.values()), self.min_bytes):
            self._ahead = ParseAhead(sorted((i, self.paths[i]) for i in self._jobs))
        else:
            self._jobs.clear()

    def ingest(self, pos: int) -> IngestResult:
        """Import file ``pos`` (its own transaction); files passed over since the last call are dropped."""
        if pos < self._next:
            raise ValueError(f"file {pos} was passed already")
        if not self._begun:
            self._begin(pos)
        ahead, path = self._ahead, self.paths[pos]
        if ahead is not None:
            for skipped in range(self._next, pos):
                if skipped in self._jobs:
                    ahead.finish(skipped)
        self._next = pos + 1
        job = self._jobs.get(pos)
        if ahead is None or job is None:
            return _ingest_inline(self.engine, path, self.policy)
        try:
            if file_stamp(path) != job.stamp:  # changed since it was hashed: read it again here
                return _ingest_inline(self.engine, path, self.policy)
            return _ingest_file(self.engine, path, job.sha256, self.policy, ahead.statements(pos))
        finally:
            ahead.finish(pos)


def ingest_paths(engine: Engine, paths: Iterable[Path | str], policy: BalancePolicy = "hold",
                 parse_ahead_bytes: int | None = None) -> Generator[IngestResult, None, None]:
    """Import files in turn, each in its own transaction: the results of :func:`ingest_path` on each.

    One child parses the files ahead of the writer (see :class:`IngestBatch`); closing the
    iterator early stops it. ``parse_ahead_bytes``: ``None`` takes ``CASHRECON_PARSE_AHEAD_BYTES``.
    """
    with IngestBatch(engine, paths, policy, parse_ahead_bytes) as batch:
        for pos in range(len(batch.paths)):
            yield batch.ingest(pos)


def ingest_path(engine: Engine, path: Path, policy: BalancePolicy = "hold",
                parse_ahead_bytes: int | None = None) -> IngestResult:
    """Import one file in one transaction; a refused file is recorded and nothing else is kept.

    ``parse_ahead_bytes``: files at least this large are parsed in a second process while this
    one writes (see :mod:`ingest_ahead`); ``None`` takes ``CASHRECON_PARSE_AHEAD_BYTES``.
    """
    with IngestBatch(engine, [path], policy, parse_ahead_bytes) as batch:
        return batch.ingest(0)
