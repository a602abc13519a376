"""The audit log for auditors: read it, verify the chain, export it as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.api import schemas as S
from services.cashapp.api.common import PROBLEM_RESPONSES, engine_of, page_limit
from services.cashapp.auth import Principal, require
from services.cashapp.models_service import AuditLog

router = APIRouter(tags=["audit"], responses=PROBLEM_RESPONSES)


def entry_view(row: AuditLog) -> dict:
    """One audit entry (before/after as the JSON text that was hashed)."""
    return {f: getattr(row, f) for f in audit.CSV_FIELDS} | {"at": row.at.isoformat()}


@router.get("/audit", summary="Audit entries in sequence order", response_model=S.AuditPage)
def list_audit(
    request: Request,
    after_seq: int | None = Query(None, ge=0, le=2**62, description="Cursor: the last seq already seen"),
    actor: str | None = Query(None, max_length=64),
    entity: str | None = Query(None, max_length=64),
    entity_id: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=64),
    limit: int | None = Query(None),
    user: Principal = Depends(require("audit.read")),
) -> dict:
    n = page_limit(request, limit)
    stmt = select(AuditLog).order_by(col(AuditLog.seq)).limit(n + 1)
    conds: list[tuple[Any, Any]] = [(col(AuditLog.actor), actor), (col(AuditLog.entity), entity),
             (col(AuditLog.entity_id), entity_id), (col(AuditLog.action), action)]
    stmt = stmt.where(*[c == v for c, v in conds if v is not None])
    if after_seq is not None:
        stmt = stmt.where(col(AuditLog.seq) > after_seq)
    with Session(engine_of(request)) as session:
        rows = session.execute(stmt).scalars().all()
    items = [entry_view(r) for r in rows[:n]]
    return {"items": items, "next_after_seq": items[-1]["seq"] if len(rows) > n else None}


@router.get("/audit/verify", summary="Check the hash chain; names the first broken seq",
            response_model=S.AuditVerify)
def verify_audit(request: Request, user: Principal = Depends(require("audit.read"))) -> dict:
    with Session(engine_of(request)) as session:
        broken, total = audit.verify(session), audit.count(session)
    return {"ok": broken is None, "first_broken_seq": broken, "entries": total}


@router.get("/audit/export", summary="The whole audit log as CSV",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV, header first"}})
def export_audit(request: Request, user: Principal = Depends(require("audit.read"))) -> StreamingResponse:
    engine = engine_of(request)

    def chunks() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(audit.CSV_FIELDS)
        with Session(engine) as session:
            for i, row in enumerate(audit.rows(session)):
                writer.writerow(audit.csv_row(row))
                if i % 500 == 499:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(chunks(), media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
