"""Statements and receipts: upload a bank file, list and show statements and receipts.

An upload takes the same import path as the watch folder (``ingest_path``: idempotent by
content, all or nothing). The file streams to a private temporary folder, bounded by
``max_upload_bytes`` while it arrives, and is removed after the import.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp.api import idempotency
from services.cashapp.api import schemas as S
from services.cashapp.api.common import (
    MAX_ID,
    PROBLEM_RESPONSES,
    Id,
    actor_of,
    engine_of,
    page_limit,
    problem,
    settings_of,
)
from services.cashapp.auth import Principal, require
from services.cashapp.models import Allocation, DecisionRow, ImportFile, Receipt, StatementRow
from services.cashapp.ruleset import balance_policy
from services.cashapp.usecases.exceptions import decision_view, receipt_view
from services.cashapp.usecases.inbox import safe_name
from services.cashapp.usecases.resolve import decision_summary, reverse
from shared.errors import DomainError, NotFound
from shared.money import format_minor

router = APIRouter(tags=["statements"], responses=PROBLEM_RESPONSES)
CURSOR_HELP = "Cursor: the last id of the previous page"


class TooLarge(DomainError):
    code = "API_BODY_TOO_LARGE"
    status = 413


def _store_upload(upload: UploadFile, folder: Path, limit: int) -> tuple[Path, str]:
    path = folder / safe_name(upload.filename or "upload")  # the watch folder's rule for names
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"file larger than {limit} bytes")
            digest.update(chunk)
            out.write(chunk)
    return path, digest.hexdigest()


@router.post("/statements", status_code=201, summary="Upload a bank file (MT940, CAMT, OFX ...)",
             responses={201: {"model": S.UploadResult}, 200: {"model": S.UploadResult}})
def upload_statement(
    request: Request,
    file: Annotated[UploadFile, File(description="The bank file")],
    user: Principal = Depends(require("statements.upload")),
) -> JSONResponse:
    """201 imported, 200 duplicate (nothing changed), 422 refused (the file is quarantined)."""
    from services.cashapp.usecases.ingest import ingest_path

    folder = Path(tempfile.mkdtemp(prefix="cashrecon-upload-"))
    try:
        path, sha = _store_upload(file, folder, settings_of(request).max_upload_bytes)
        digest = hashlib.sha256(f"{path.name}\x00{sha}".encode()).hexdigest()
        replay = idempotency.lookup(request, user, digest)
        if replay is not None:
            return replay
        engine = engine_of(request)
        result = ingest_path(engine, path, balance_policy(settings_of(request), engine)).to_json()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["path"] = path.name  # never show the server's temporary folder
    _audit_upload(request, user, result)
    if result["status"] == "quarantined":
        resp = problem(request, 422, result["reason"] or "INGEST_REFUSED",
                       result["message"] or "refused", result=result)
        return resp
    status = 201 if result["status"] == "imported" else 200
    idempotency.remember(request, user, digest, status, result)
    return JSONResponse(result, status_code=status)


def _audit_upload(request: Request, user: Principal, result: dict) -> None:
    from services.cashapp import audit
    from shared.db import unit_of_work

    actor = actor_of(request, user)
    with unit_of_work(engine_of(request), immediate=True) as session:
        audit.record(session, actor.name, actor.role, f"statement.upload.{result['status']}",
                     "import_file", result.get("sha256") or "-", None, result,
                     request_id=actor.request_id)


def statement_view(s: StatementRow) -> dict:
    """A statement with its integrity status; money as decimal strings."""
    fmt = (lambda v: None if v is None else format_minor(v, s.currency))  # noqa: E731
    return {"id": s.id, "import_file_id": s.import_file_id, "source_format": s.source_format,
            "account": s.account, "currency": s.currency, "statement_ref": s.statement_ref,
            "sequence": s.sequence, "statement_date": s.statement_date, "from_date": s.from_date,
            "to_date": s.to_date, "opening": fmt(s.opening_minor), "closing": fmt(s.closing_minor),
            "integrity_status": s.integrity_status, "integrity_detail": s.integrity_detail,
            "held": s.held, "lines_count": s.lines_count, "created_at": s.created_at}


@router.get("/statements", summary="List statements, newest first", response_model=S.StatementPage)
def list_statements(
    request: Request,
    account: str | None = Query(None, max_length=64),
    integrity_status: str | None = Query(None, max_length=32),
    before_id: int | None = Query(None, ge=1, le=MAX_ID, description=CURSOR_HELP),
    limit: int | None = Query(None),
    user: Principal = Depends(require("statements.read")),
) -> dict:
    n = page_limit(request, limit)
    stmt = select(StatementRow).order_by(col(StatementRow.id).desc()).limit(n + 1)
    if account:
        stmt = stmt.where(col(StatementRow.account) == account)
    if integrity_status:
        stmt = stmt.where(col(StatementRow.integrity_status) == integrity_status)
    if before_id:
        stmt = stmt.where(col(StatementRow.id) < before_id)
    with Session(engine_of(request)) as session:
        rows = session.execute(stmt).scalars().all()
    items = [statement_view(s) for s in rows[:n]]
    return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > n else None}


@router.get("/statements/{statement_id}", summary="One statement with its integrity and file",
            response_model=S.StatementDetail)
def show_statement(request: Request, statement_id: Id,
                   user: Principal = Depends(require("statements.read"))) -> dict:
    with Session(engine_of(request)) as session:
        s = session.get(StatementRow, statement_id)
        if s is None:
            raise NotFound(f"statement {statement_id} not found", code="STATEMENT_NOT_FOUND")
        f = session.get(ImportFile, s.import_file_id)
        balances = json.loads(s.balances_json or "[]")
    return {**statement_view(s), "balances": balances,
            "file": {"name": f.file_name, "sha256": f.sha256, "imported_at": f.imported_at} if f else None}


@router.get("/receipts", tags=["receipts"], summary="List receipts, newest first",
            response_model=S.ReceiptPage)
def list_receipts(
    request: Request,
    status: str | None = Query(None, max_length=16),
    account: str | None = Query(None, max_length=64),
    statement_id: int | None = Query(None, ge=1, le=MAX_ID),
    booked_from: date | None = None,
    booked_to: date | None = None,
    before_id: int | None = Query(None, ge=1, le=MAX_ID, description=CURSOR_HELP),
    limit: int | None = Query(None),
    user: Principal = Depends(require("receipts.read")),
) -> dict:
    n = page_limit(request, limit)
    stmt = select(Receipt).order_by(col(Receipt.id).desc()).limit(n + 1)
    conds: list[tuple[Any, Any]] = [(col(Receipt.status), status), (col(Receipt.account), account),
                                    (col(Receipt.statement_id), statement_id)]
    stmt = stmt.where(*[c == v for c, v in conds if v is not None])
    if booked_from:
        stmt = stmt.where(col(Receipt.booking_date) >= booked_from)
    if booked_to:
        stmt = stmt.where(col(Receipt.booking_date) <= booked_to)
    if before_id:
        stmt = stmt.where(col(Receipt.id) < before_id)
    with Session(engine_of(request)) as session:
        rows = session.execute(stmt).scalars().all()
    items = [receipt_view(r) for r in rows[:n]]
    return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > n else None}


@router.get("/receipts/{receipt_id}", tags=["receipts"],
            summary="One receipt with its decision, explanation and allocations",
            response_model=S.ReceiptDetail)
def show_receipt(request: Request, receipt_id: Id,
                 user: Principal = Depends(require("receipts.read"))) -> dict:
    with Session(engine_of(request)) as session:
        r = session.get(Receipt, receipt_id)
        if r is None:
            raise NotFound(f"receipt {receipt_id} not found", code="CASHAPP_RECEIPT_NOT_FOUND")
        decisions = session.execute(select(DecisionRow).where(
            col(DecisionRow.receipt_id) == receipt_id).order_by(col(DecisionRow.id))).scalars().all()
        allocs = session.execute(select(Allocation).where(
            col(Allocation.receipt_id) == receipt_id).order_by(col(Allocation.id))).scalars().all()
    current = next((d for d in reversed(decisions) if d.is_current), None)
    return {**receipt_view(r), "remittance": r.remittance,
            "decision": decision_view(current, r.currency),
            "history": [decision_view(d, r.currency) for d in decisions],
            "allocations": [{"id": a.id, "decision_id": a.decision_id, "open_item_id": a.item_id,
                             "customer_id": a.customer_id, "document_number": a.document_number,
                             "amount": format_minor(a.amount_minor, a.currency),
                             "reverses_id": a.reverses_id, "effective_date": a.effective_date}
                            for a in allocs]}


class ReverseRequest(BaseModel):
    allocation_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(None, max_length=1000,
                                             description="Default: every live allocation")
    reason: str = Field(min_length=1, max_length=1000)


@router.post("/receipts/{receipt_id}/reverse", tags=["receipts"],
             summary="Undo applications by reversal (never a delete); the receipt returns to the worklist",
             responses={200: {"model": S.DecisionSummary}})
def reverse_receipt(request: Request, receipt_id: Id, body: ReverseRequest,
                    user: Principal = Depends(require("receipts.reverse")),
                    digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    actor = actor_of(request, user)

    def work(session: Session) -> tuple[int, Any, None]:
        d = reverse(session, receipt_id, actor, body.allocation_ids, body.reason)
        r = session.get(Receipt, receipt_id)
        assert r is not None
        return 200, decision_summary(d, r.currency), None

    return idempotency.run(request, user, digest, work)
