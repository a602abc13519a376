"""Import bank files: exactly once, all or nothing.

One database transaction per file. A file is a *duplicate* when its sha256 was imported before, or
when every statement in it was already imported with identical content; a statement key seen
before with different content is a conflict that refuses the whole file. Lines already known
(account + bank reference + date + amount, plus detail where banks leave the reference empty) are
never stored twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from services.cashapp.models import (
    FileRejection,
    ImportFile,
    IntegrityStatus,
    Receipt,
    ReceiptStatus,
    StatementRow,
)
from services.recon.cheques import apply_log_updates
from shared.db import unit_of_work
from shared.errors import DomainError, ImportRefused
from shared.money import format_minor
from shared.statements.model import BalanceType, BankLine, SourceFormat, Statement
from shared.statements.registry import detect

log = logging.getLogger(__name__)

BalancePolicy = Literal["hold", "refuse"]
_EPOCH = date(1970, 1, 1)
_NO_REFERENCE = {"", "NONREF", "NOTPROVIDED", "NONE", "N/A"}


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


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def statement_key(st: Statement) -> str:
    """Statement identity within an account: the sequence number, else the statement id.

    Some banks (Rabobank) restart sequence numbers every year, so the key date is part of the
    identity too (see the unique constraint). Without either, the content itself is the key.
    """
    if st.sequence:
        key = f"seq:{st.sequence.strip()}"
        if st.opening is not None and st.opening.type == BalanceType.ITBD:
            # A continuation page (opening :60M:) of a statement whose pages share one number.
            key += f"|from:{st.opening.amount_minor}"
        return key[:200]
    if st.statement_id:
        return f"id:{st.statement_id.strip()}"[:200]
    return f"content:{st.content_hash()}"


def _line_identity(line: BankLine, account: str) -> tuple[str, ...]:
    ref = (line.bank_reference or "").strip()
    base = (account, line.currency, ref, line.booking_date.isoformat(), str(line.amount_minor))
    if ref.upper() in _NO_REFERENCE:
        # No usable bank reference: the counterparty and text have to tell lines apart.
        return (*base, line.counterparty_account or "", line.counterparty_name or "",
                line.remittance or "", line.end_to_end_reference or "")
    return base


def line_keys(st: Statement) -> list[str]:
    """One key per line; identical lines in one statement get an occurrence number."""
    seen: Counter[tuple[str, ...]] = Counter()
    keys = []
    for line in st.lines:
        ident = _line_identity(line, st.account)
        n = seen[ident]
        seen[ident] += 1
        keys.append(hashlib.sha256("\x1f".join((*ident, str(n))).encode()).hexdigest())
    return keys


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

    def add(self, st: Statement) -> None:
        # Pending entries (camt.052/054 "PDNG") are not booked yet and may never be: they are not
        # receipts. Stored, they would also hide the booked line that follows under the same key.
        st.lines = [ln for ln in st.lines if ln.extra.get("status") != "PDNG"]
        key, key_date, chash = statement_key(st), st.key_date() or _EPOCH, st.content_hash()
        ident = (st.account, key, key_date)
        if ident in self.seen_statements:
            if self.seen_statements[ident] != chash:
                raise ImportRefused(
                    f"statement {key} of {st.account} on {key_date} appears twice with different "
                    "content", code="INGEST_STATEMENT_CONFLICT")
            self.result.statements_skipped += 1
            return
        self.seen_statements[ident] = chash
        existing = self.session.execute(
            select(col(StatementRow.content_hash)).where(
                col(StatementRow.account) == st.account,
                col(StatementRow.statement_key) == key,
                col(StatementRow.key_date) == key_date,
            )
        ).first()
        if existing is not None:
            if existing[0] != chash:
                raise ImportRefused(
                    f"statement {key} of {st.account} on {key_date} was imported before with "
                    "different content", code="INGEST_STATEMENT_CONFLICT")
            self.result.statements_skipped += 1
            return
        status, detail = self._integrity(st, key_date)
        held = status in (IntegrityStatus.BALANCE_MISMATCH, IntegrityStatus.CONTINUITY_BREAK)
        if held and self.policy == "refuse":
            code = ("INGEST_BALANCE_MISMATCH" if status == IntegrityStatus.BALANCE_MISMATCH
                    else "INGEST_CONTINUITY_BREAK")
            raise ImportRefused(detail or status, code=code, account=st.account)
        row = StatementRow(
            import_file_id=self.import_file_id, source_format=str(st.source_format),
            account=st.account, currency=st.currency, statement_key=key,
            statement_ref=st.statement_id, sequence=st.sequence, key_date=key_date,
            statement_date=st.statement_date, from_date=st.from_date, to_date=st.to_date,
            opening_minor=st.opening.amount_minor if st.opening else None,
            closing_minor=st.closing.amount_minor if st.closing else None,
            balances_json=json.dumps([asdict(b) for b in st.balances], default=str),
            content_hash=chash, integrity_status=status, integrity_detail=detail, held=held,
        )
        self.session.add(row)
        self.session.flush()
        assert row.id is not None
        row.lines_count = self._add_lines(st, row.id, held)
        self.result.statements += 1
        self.result.held_statements += int(held)
        if st.closing is not None:
            self.last_closing[(st.account, st.currency)] = (key_date, st.closing.amount_minor)

    def _integrity(self, st: Statement, key_date: date) -> tuple[IntegrityStatus, str | None]:
        gap = st.balance_gap()
        if gap is None:
            return IntegrityStatus.UNCHECKED, "no opening and closing booked balance to check"
        if gap != 0:
            return IntegrityStatus.BALANCE_MISMATCH, (
                f"opening {format_minor(st.opening.amount_minor, st.currency)} + lines "  # type: ignore[union-attr]
                f"!= closing {format_minor(st.closing.amount_minor, st.currency)} "  # type: ignore[union-attr]
                f"(difference {format_minor(gap, st.currency)} {st.currency})")
        prev = self._previous_closing(st, key_date)
        assert st.opening is not None
        if prev is not None and prev[1] != st.opening.amount_minor:
            return IntegrityStatus.CONTINUITY_BREAK, (
                f"opening {format_minor(st.opening.amount_minor, st.currency)} != previous "
                f"closing {format_minor(prev[1], st.currency)} of {prev[0]}")
        return IntegrityStatus.OK, None

    def _previous_closing(self, st: Statement, key_date: date) -> tuple[date, int] | None:
        in_file = self.last_closing.get((st.account, st.currency))
        if in_file is not None and in_file[0] <= key_date:
            return in_file
        row = self.session.execute(
            select(col(StatementRow.key_date), col(StatementRow.closing_minor))
            .where(col(StatementRow.account) == st.account, col(StatementRow.currency) == st.currency,
                   col(StatementRow.closing_minor).is_not(None), col(StatementRow.key_date) <= key_date)
            .order_by(col(StatementRow.key_date).desc(), col(StatementRow.id).desc())
            .limit(1)
        ).first()
        return (row[0], row[1]) if row is not None else None

    def _add_lines(self, st: Statement, statement_id: int, held: bool) -> int:
        keys = line_keys(st)
        known = self._known_line_keys(keys)
        if known and st.source_format == SourceFormat.CHEQUE_LOG:
            # A later cheque log repeats known cheques with their new status: apply it, not skip it.
            self.result.lines_updated += apply_log_updates(
                self.session, [(ln, k) for ln, k in zip(st.lines, keys, strict=True) if k in known])
        rows = []
        for line, key in zip(st.lines, keys, strict=True):
            if key in known or key in self.seen_lines:
                self.result.lines_skipped += 1
                continue
            self.seen_lines.add(key)
            rows.append(_receipt_row(line, key, st.account, statement_id, held))
            tot = self.result.totals.setdefault(line.currency, {"credit": 0, "debit": 0})
            if line.amount_minor > 0:
                tot["credit"] += line.amount_minor
            else:
                tot["debit"] += -line.amount_minor
        table = Receipt.__table__  # type: ignore[attr-defined]
        conn = self.session.connection()
        for i in range(0, len(rows), 2000):  # Core executemany: no ORM work per row
            conn.execute(table.insert(), rows[i : i + 2000])
        self.result.lines += len(rows)
        return len(rows)

    def _known_line_keys(self, keys: list[str]) -> set[str]:
        known: set[str] = set()
        col = Receipt.__table__.c.line_key  # type: ignore[attr-defined]
        for i in range(0, len(keys), 900):
            chunk = keys[i : i + 900]
            known.update(self.session.execute(select(col).where(col.in_(chunk))).scalars())
        return known


def _receipt_row(line: BankLine, key: str, account: str, statement_id: int, held: bool) -> dict:
    if line.amount_minor <= 0 or line.is_reversal:
        status = ReceiptStatus.IGNORED
    else:
        status = ReceiptStatus.HELD if held else ReceiptStatus.UNMATCHED
    return {
        "statement_id": statement_id, "line_key": key, "account": account,
        "currency": line.currency, "booking_date": line.booking_date,
        "value_date": line.value_date, "amount_minor": line.amount_minor,
        "bank_reference": _clip(line.bank_reference, 200),
        "end_to_end_reference": _clip(line.end_to_end_reference, 200),
        "customer_reference": _clip(line.customer_reference, 200),
        "transaction_code": _clip(line.transaction_code, 64),
        "counterparty_name": _clip(line.counterparty_name, 300),
        "counterparty_account": _clip(line.counterparty_account, 64),
        "counterparty_bic": _clip(line.counterparty_bic, 16),
        "remittance": line.remittance, "creditor_reference": _clip(line.creditor_reference, 64),
        "creditor_reference_type": _clip(line.creditor_reference_type, 16),
        "is_reversal": line.is_reversal, "raw": line.raw,
        "extra_json": json.dumps(line.extra, default=str, sort_keys=True),
        "status": str(status), "version": 1,
    }


def _clip(value: str | None, n: int) -> str | None:
    return value[:n] if value else value


def import_file(session: Session, path: Path, sha256: str, policy: BalancePolicy) -> IngestResult:
    """Parse ``path`` and write all of it in ``session`` (the caller commits or rolls back).

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
    for st in parser.parse(path):
        formats.add(str(st.source_format))
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


def ingest_path(engine: Engine, path: Path, policy: BalancePolicy = "hold") -> IngestResult:
    """Import one file in one transaction; a refused file is recorded and nothing else is kept."""
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return IngestResult(path=str(path), status="quarantined", reason="INGEST_UNREADABLE",
                            message=str(exc))
    duplicate = IngestResult(path=str(path), status="duplicate", reason="DUPLICATE_FILE",
                             message="a file with the same sha256 was imported before", sha256=sha)
    if _sha_known(engine, sha):
        return duplicate
    try:
        with unit_of_work(engine) as session:
            return import_file(session, path, sha, policy)
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
