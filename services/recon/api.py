"""REST endpoints of the reconciliation service: confirmation runs and the AR reports.

Runs: list, report (response rate, agreed / disagreed, differences by class, open ageing),
verify, create, load a reply file. Reports: aging, DSO, unapplied cash, cash-application KPIs,
JSON by default and CSV with ``format=csv`` or ``Accept: text/csv``. Money is a decimal string.

Decisions (see ``services/cashapp/auth.py`` for the role table):
- ``POST /recon/runs`` stores the snapshot and its hash but writes no letters: a web request is
  no place to render thousands of PDFs, and the API has no business choosing a folder on the
  server. ``cashrecon recon confirm`` (or ``write_letters``) produces the letters.
- A reply upload is validated exactly as by the CLI (same reader): any bad row refuses the whole
  file with 422 ``RECON_BAD_REPLY_ROWS`` and the list of ``errors`` by line.
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.api import idempotency
from services.cashapp.api.common import PROBLEM_RESPONSES, Id, actor_of, engine_of, page_limit, settings_of
from services.cashapp.auth import Principal, require
from services.recon import api_schemas as S
from services.recon.models import ConfirmationRun
from shared.errors import DomainError, ValidationError
from shared.money import parse_decimal

router = APIRouter(tags=["reconciliation"], responses=PROBLEM_RESPONSES)
Format = Annotated[Literal["json", "csv"] | None,
                   Query(description="`csv` or `json` (default: JSON unless `Accept: text/csv`)")]
# Report windows reach back up to two years: dates near year 1 would leave the calendar (500).
AsOf = Annotated[date | None, Query(description="Report date (default: today, UTC)",
                                    ge=date(1900, 1, 1), le=date(9999, 1, 1))]
CSV = {"text/csv": {"schema": {"type": "string"}}}
MAX_BUCKETS = 12


class TooLarge(DomainError):
    code = "API_BODY_TOO_LARGE"
    status = 413


def _today() -> date:
    return datetime.now(UTC).date()


def wants_csv(request: Request, fmt: str | None) -> bool:
    """CSV when asked by ``format``, else when ``Accept`` prefers ``text/csv`` over JSON."""
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "").lower()
    if "text/csv" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/csv") < accept.index("application/json")


def _cell(value: Any) -> Any:
    """A JSON-safe report cell: dates as ISO text, durations in seconds, no NaN or infinity."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A report frame as JSON rows (money columns as decimal strings, see ``output.humanise``)."""
    from services.recon.usecases.output import humanise

    return [{k: _cell(v) for k, v in row.items()} for row in humanise(frame)]


def answer(request: Request, fmt: str | None, frames: dict[str, pl.DataFrame],
           extra: dict[str, Any], name: str) -> Response:
    """The report as JSON (``extra`` plus every frame), or as CSV (``output.report_csv``)."""
    from services.recon.usecases.output import report_csv

    if wants_csv(request, fmt):
        return PlainTextResponse(report_csv(frames), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return JSONResponse({**extra, **{k: rows(v) for k, v in frames.items()}})


# --- confirmation runs ------------------------------------------------------------------------

def run_view(run: ConfirmationRun) -> dict[str, Any]:
    """What the API shows of a run (never the server folder of its letters)."""
    return {"id": run.id, "as_of": run.as_of.isoformat(), "filter": run.filter_description,
            "customers": run.customers, "items": run.items, "snapshot_hash": run.snapshot_hash,
            "status": run.status, "created_at": run.created_at.isoformat()}


@router.get("/recon/runs", summary="Confirmation runs, newest first", response_model=S.RunPage)
def list_runs(request: Request,
              before_id: int | None = Query(None, ge=1, le=2**31, description="Cursor: the last id seen"),
              limit: int | None = Query(None),
              user: Principal = Depends(require("recon.read"))) -> dict[str, Any]:
    """Runs newest first; page with ``before_id`` = the ``next_after_id`` answered."""
    n = page_limit(request, limit)
    stmt = select(ConfirmationRun).order_by(col(ConfirmationRun.id).desc()).limit(n + 1)
    if before_id is not None:
        stmt = stmt.where(col(ConfirmationRun.id) < before_id)
    with Session(engine_of(request)) as session:
        found = session.execute(stmt).scalars().all()
    items = [run_view(r) for r in found[:n]]
    return {"items": items, "next_after_id": items[-1]["id"] if len(found) > n else None}


@router.get("/recon/runs/{run_id}", summary="A run's report: response rate, agreed / disagreed, "
            "differences by class, ageing of open confirmations", response_model=S.RunReport)
def get_run_report(request: Request, run_id: Id,
                   user: Principal = Depends(require("recon.read"))) -> dict[str, Any]:
    """Figures per currency as decimal strings; open confirmations aged since the run."""
    from services.recon.usecases.reports import run_report

    return S.humanise_run_report(run_report(engine_of(request), run_id))


@router.get("/recon/runs/{run_id}/verify", summary="Re-check a run's stored snapshot hash",
            response_model=S.RunVerify)
def verify(request: Request, run_id: Id,
           user: Principal = Depends(require("recon.read"))) -> dict[str, Any]:
    """``ok`` unless a stored snapshot row changed since the run was issued."""
    from services.recon.usecases.confirm import verify_run

    return verify_run(engine_of(request), run_id).to_dict()


@router.post("/recon/runs", status_code=201, summary="Create a confirmation run (no letters)",
             responses={201: {"model": S.RunPublic}})
def create(request: Request, body: S.RunCreate,
           user: Principal = Depends(require("recon.create")),
           digest: str = Depends(idempotency.body_digest)) -> JSONResponse:
    """Snapshot every (filtered) customer's open items as of the cut-off and store its hash."""
    from services.recon.usecases.confirm import create_run, get_run

    replay = idempotency.lookup(request, user, digest)
    if replay is not None:
        return replay
    minimum = parse_decimal(body.min_balance) if body.min_balance is not None else None
    engine = engine_of(request)
    # The audit entry is written inside the run's own transaction: both commit or neither.
    result = create_run(engine, body.as_of, min_balance=minimum, customers=body.customers,
                        segment=body.segment, out_dir=None,
                        on_write=_auditor(request, user, "recon.run.create", lambda s: s))
    view = run_view(get_run(engine, result.run_id))
    idempotency.remember(request, user, digest, 201, view)
    return JSONResponse(view, status_code=201)


def _auditor(request: Request, user: Principal, action: str,
             view: Callable[[Any], dict[str, Any]]) -> Callable[[Session, Any], None]:
    """A callback that records the audit entry in the caller's (the use case's) transaction."""
    actor = actor_of(request, user)

    def record(session: Session, what: Any) -> None:
        after = view(what)
        audit.record(session, actor.name, actor.role, action, "confirmation_run", after["run_id"],
                     None, after, request_id=actor.request_id)

    return record


def _reply_view(outcome: Any) -> dict[str, Any]:
    data = outcome.to_dict()
    data.pop("results")
    return dict(data)


@router.post("/recon/runs/{run_id}/responses", summary="Load a customer reply file (CSV)",
             response_model=S.ReplyLoaded)
def load_reply(request: Request, run_id: Id,
               file: Annotated[UploadFile, File(description="Reply CSV: balances or open items")],
               user: Principal = Depends(require("recon.responses"))) -> dict[str, Any]:
    """Reconcile every customer in the file with the run's snapshot; all rows or none."""
    from services.recon.usecases.confirm import get_run
    from services.recon.usecases.responses import load_responses

    get_run(engine_of(request), run_id)  # 404 before reading a file for nothing
    with tempfile.TemporaryDirectory(prefix="cashrecon-reply-") as folder:
        path = _store(file, Path(folder), settings_of(request).max_upload_bytes)
        try:
            result = load_responses(engine_of(request), run_id, path,
                                    on_write=_auditor(request, user, "recon.responses.load", _reply_view))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValidationError(f"{path.name}: not a readable CSV file ({exc})",
                                  code="RECON_BAD_REPLY_FILE") from None
    return _reply_view(result)


def _store(upload: UploadFile, folder: Path, limit: int) -> Path:
    """The upload written to ``folder`` under a safe version of its name, bounded by ``limit``."""
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(upload.filename or "").name)
    path = folder / (stem.strip("._")[:120] or "reply.csv")
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"file larger than {limit} bytes")
            out.write(chunk)
    return path


# --- AR reports -------------------------------------------------------------------------------

def parse_buckets(text: str) -> list[int]:
    """``0,30,60,90`` as ascending whole days, or ``API_BAD_BUCKETS``."""
    try:
        days = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        days = []
    if not days or len(days) > MAX_BUCKETS or days != sorted(set(days)) or days[0] < 0 \
            or days[-1] > 36_500:
        raise ValidationError(f"buckets {text[:60]!r} must be up to {MAX_BUCKETS} ascending whole days "
                              "like 0,30,60,90", code="API_BAD_BUCKETS")
    return days


@router.get("/reports/aging", summary="Aging by customer and in total",
            responses={200: {"model": S.AgingReport, "content": CSV}})
def aging(request: Request, as_of: AsOf = None,
          buckets: str = Query("0,30,60,90", max_length=100, description="Bucket thresholds in days"),
          total: bool = Query(False, description="Totals only (the CSV is by customer otherwise)"),
          format: Format = None,
          user: Principal = Depends(require("reports.read"))) -> Response:
    """Aging by customer and in total as of a date, with configurable buckets."""
    from services.recon.usecases.reports import aging_report

    day, days = as_of or _today(), parse_buckets(buckets)
    report = aging_report(engine_of(request), day, days)
    frames = {"total": report["total"]} if total else dict(report)
    if wants_csv(request, format) and not total:
        frames = {"by_customer": report["by_customer"]}  # one table per CSV, like the CLI
    return answer(request, format, frames, {"as_of": day.isoformat(), "buckets": days}, "aging")


@router.get("/reports/dso", summary="DSO, standard and count-back methods",
            responses={200: {"model": S.DsoReport, "content": CSV}})
def dso(request: Request, as_of: AsOf = None,
        months: int = Query(3, ge=1, le=24, description="Months of sales for standard DSO"),
        by_customer: bool = Query(False, description="Per customer and currency"),
        format: Format = None,
        user: Principal = Depends(require("reports.read"))) -> Response:
    """DSO per currency (or per customer and currency) as of a date."""
    from services.recon.usecases.reports import dso_report

    day = as_of or _today()
    report = dso_report(engine_of(request), day, months=months, by_customer=by_customer)
    return answer(request, format, dict(report),
                  {"as_of": day.isoformat(), "months": months, "by_customer": by_customer}, "dso")


@router.get("/reports/unapplied", summary="Unapplied cash and on-account balances per customer",
            responses={200: {"model": S.UnappliedReport, "content": CSV}})
def unapplied(request: Request, as_of: AsOf = None,
              format: Format = None,
              user: Principal = Depends(require("reports.read"))) -> Response:
    """Unapplied cash and on-account balances per customer as of a date."""
    from services.recon.usecases.reports import unapplied_report

    day = as_of or _today()
    report = unapplied_report(engine_of(request), day)
    return answer(request, format, dict(report), {"as_of": day.isoformat()}, "unapplied")


@router.get("/reports/kpi", summary="Cash-application KPIs: auto-match rate, exceptions, time to resolve",
            responses={200: {"model": S.KpiReport, "content": CSV}})
def kpi(request: Request, format: Format = None,
        user: Principal = Depends(require("reports.read"))) -> Response:
    """Auto-match rate by day and rule, open exceptions by reason and age, time to resolve."""
    from services.recon.usecases.reports import kpi_report

    return answer(request, format, dict(kpi_report(engine_of(request))), {}, "kpi")
