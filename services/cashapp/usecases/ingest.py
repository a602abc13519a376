"""Import bank files: exactly once, all or nothing.

One database transaction per file. A file is a *duplicate* when its sha256 was imported before, or
when every statement in it was already imported with identical content; a statement key seen
before with different content is a conflict that refuses the whole file. Lines already known
(account + bank reference + date + amount, plus detail where banks leave the reference empty) are
never stored twice.

Several files (:func:`ingest_paths`, :class:`IngestBatch`) are imported in turn with the same
results, while child processes parse the next files ahead (see :mod:`ingest_ahead`). The
writing of one file's statements is :mod:`ingest_write`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from services.cashapp.models import FileRejection, ImportFile
from services.cashapp.usecases.ingest_ahead import (
    Fingerprint,
    ParseAhead,
    ParseAheadPair,
    file_sha256,
    file_stamp,
    fingerprint,
    inline_statements,
    worth_parse_ahead,
)
from services.cashapp.usecases.ingest_prepare import PreparedStatement
from services.cashapp.usecases.ingest_write import FileImport, writer_sql
from shared.config import Settings
from shared.db import select_in, unit_of_work
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


_IMPORT_TABLE = ImportFile.__table__  # type: ignore[attr-defined]


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
    conn = session.connection()
    state = FileImport(session=session, import_file_id=record.id, policy=policy, result=result, conn=conn,
                       sql=writer_sql(conn.dialect))
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
    """Several files imported in turn, each as :func:`ingest_path` would, with parse-ahead children.

    Call :meth:`ingest` with ascending positions (a position passed over is dropped). On first use
    every file left is hashed; those worth parsing (readable, sha256 not imported before, the
    first of identical ones) go to one child, in order, when their total size reaches
    ``parse_ahead_bytes`` on a machine that can fork onto a second core (to two children, each
    with about half the bytes, from twice that size on). A file whose stat stamp
    changed since it was hashed, and any file not given to a child, takes the inline path of
    :func:`ingest_path` at its turn (hashed again, so the duplicate check sees earlier files).
    """

    def __init__(self, engine: Engine, paths: Iterable[Path | str], policy: BalancePolicy = "hold",
                 parse_ahead_bytes: int | None = None) -> None:
        self.engine, self.policy = engine, policy
        self.paths = [Path(p) for p in paths]
        self.min_bytes = Settings().parse_ahead_bytes if parse_ahead_bytes is None else parse_ahead_bytes
        self._jobs: dict[int, Fingerprint] = {}
        self._ahead: ParseAhead | ParseAheadPair | None = None
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
        total = sum(f.stamp[0] for f in self._jobs.values())
        if not self._jobs or not worth_parse_ahead(total, self.min_bytes):
            self._jobs.clear()
            return
        jobs = sorted((i, self.paths[i]) for i in self._jobs)
        if len(jobs) > 1 and worth_parse_ahead(total, 2 * self.min_bytes):  # two children, two halves
            self._ahead = ParseAheadPair(jobs, [self._jobs[i].stamp[0] for i, _ in jobs])
        else:
            self._ahead = ParseAhead(jobs)

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

    Children parse the files ahead of the writer (see :class:`IngestBatch`); closing the
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
