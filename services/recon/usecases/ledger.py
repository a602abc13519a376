"""The cash-application tables read as the reconciliation domain's frames.

* ``documents``: every :class:`~services.cashapp.models.OpenItem` (signed amount), with
  ``recorded_at`` = the date of the master-data load that brought it (else its ``updated_at``).
* ``applications``: every :class:`~services.cashapp.models.Allocation` (reversal rows are negative
  and net out), with the receipt's booking date. An item the latest ERP extract no longer lists
  (``in_snapshot`` false) was cleared in the ERP by something we never saw: its remaining open
  amount is closed by a synthetic application dated the day we learned it (``updated_at``),
  ``receipt_id`` null, so it never appears as cash.
* unapplied cash: receipts left ``partial`` / ``exception`` with an identified customer, the part
  no allocation took.

Reads use Core ``select`` over whole tables (no per-row ORM objects): a confirmation run reads
hundreds of thousands of rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, select

from services.cashapp.models import (
    CHEQUE_CODE,
    Allocation,
    DecisionRow,
    MasterDataLoad,
    OpenItem,
    Receipt,
    ReceiptStatus,
)
from services.recon.cheques import is_returned

DOCUMENT_SCHEMA: dict[str, Any] = {
    "item_id": pl.Int64,
    "customer_id": pl.String,
    "document_number": pl.String,
    "document_type": pl.String,
    "document_date": pl.Date,
    "due_date": pl.Date,
    "currency": pl.String,
    "amount_minor": pl.Int64,
    "recorded_at": pl.Date,
}
APPLICATION_SCHEMA: dict[str, Any] = {
    "item_id": pl.Int64,
    "receipt_id": pl.Int64,
    "amount_minor": pl.Int64,
    "effective_date": pl.Date,
    "receipt_booking_date": pl.Date,
    "recorded_at": pl.Date,
}
CASH_SCHEMA: dict[str, Any] = {
    "customer_id": pl.String,
    "receipt_id": pl.Int64,
    "item_id": pl.Int64,
    "document_number": pl.String,
    "currency": pl.String,
    "amount_minor": pl.Int64,
    "receipt_booking_date": pl.Date,
}
_OI = OpenItem.__table__  # type: ignore[attr-defined]
_AL = Allocation.__table__  # type: ignore[attr-defined]
_RC = Receipt.__table__  # type: ignore[attr-defined]
_DE = DecisionRow.__table__  # type: ignore[attr-defined]
_ML = MasterDataLoad.__table__  # type: ignore[attr-defined]


def _day(value: datetime | date | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def documents(conn: Connection, customers: list[str] | None = None) -> pl.DataFrame:
    """Every open item ever loaded as a ``documents`` frame (:data:`DOCUMENT_SCHEMA`)."""
    stmt = select(
        _OI.c.id, _OI.c.customer_id, _OI.c.document_number, _OI.c.document_type, _OI.c.document_date,
        _OI.c.due_date, _OI.c.currency, _OI.c.amount_minor, _ML.c.loaded_at, _OI.c.updated_at,
    ).select_from(_OI.outerjoin(_ML, _ML.c.id == _OI.c.load_id))
    if customers is not None:
        stmt = stmt.where(_OI.c.customer_id.in_(customers))
    rows = [(*r[:8], _day(r[8] or r[9])) for r in conn.execute(stmt)]
    return pl.DataFrame(rows, schema=DOCUMENT_SCHEMA, orient="row")


def _erp_cleared(conn: Connection, customers: list[str] | None) -> list[tuple[Any, ...]]:
    """Synthetic applications closing items the ERP cleared without us (see module docstring)."""
    applied = (
        select(_AL.c.item_id, func.sum(_AL.c.amount_minor).label("applied")).group_by(_AL.c.item_id).subquery()
    )
    stmt = (
        select(_OI.c.id, _OI.c.amount_minor, applied.c.applied, _OI.c.updated_at)
        .select_from(_OI.outerjoin(applied, applied.c.item_id == _OI.c.id))
        .where(_OI.c.in_snapshot.is_(False))
    )
    if customers is not None:
        stmt = stmt.where(_OI.c.customer_id.in_(customers))
    out = []
    for item_id, amount, applied_minor, updated in conn.execute(stmt):
        rest = amount - (applied_minor or 0)
        if rest:
            day = _day(updated)
            out.append((item_id, None, rest, day, None, day))
    return out


def applications(conn: Connection, customers: list[str] | None = None) -> pl.DataFrame:
    """Every allocation (and ERP clearing) as an ``applications`` frame (:data:`APPLICATION_SCHEMA`)."""
    stmt = select(
        _AL.c.item_id, _AL.c.receipt_id, _AL.c.amount_minor, _AL.c.effective_date, _RC.c.booking_date,
        _AL.c.created_at,
    ).select_from(_AL.join(_RC, _RC.c.id == _AL.c.receipt_id))
    if customers is not None:
        stmt = stmt.where(_AL.c.customer_id.in_(customers))
    rows = [(*r[:5], _day(r[5])) for r in conn.execute(stmt)]
    rows += _erp_cleared(conn, customers)
    return pl.DataFrame(rows, schema=APPLICATION_SCHEMA, orient="row")


def unapplied_receipts(conn: Connection) -> pl.DataFrame:
    """Receipts held partly or wholly unapplied, with their customer (:data:`CASH_SCHEMA`).

    Only receipts whose current decision names a customer: cash nobody identified cannot explain
    a customer's reply. ``amount_minor`` is what no allocation took (reversals counted). A cheque
    that came back is none: it brought no money (its applications were reversed, not its amount
    left over).
    """
    applied = (
        select(_AL.c.receipt_id, func.sum(_AL.c.amount_minor).label("applied"))
        .group_by(_AL.c.receipt_id)
        .subquery()
    )
    stmt = (
        select(_DE.c.customer_id, _RC.c.id, _RC.c.currency, _RC.c.amount_minor, applied.c.applied,
               _RC.c.booking_date, _RC.c.transaction_code, _RC.c.extra_json)
        .select_from(
            _RC.join(_DE, (_DE.c.receipt_id == _RC.c.id) & _DE.c.is_current.is_(True)).outerjoin(
                applied, applied.c.receipt_id == _RC.c.id
            )
        )
        .where(_RC.c.status.in_([ReceiptStatus.PARTIAL.value, ReceiptStatus.EXCEPTION.value]))
        .where(_DE.c.customer_id.is_not(None))
    )
    rows = []
    for row in conn.execute(stmt):
        customer, rid, currency, amount, applied_minor, booked = row[:6]
        rest = amount - (applied_minor or 0)
        if rest > 0 and not (row.transaction_code == CHEQUE_CODE and is_returned(row)):
            rows.append((customer, rid, None, None, currency, rest, booked))
    return pl.DataFrame(rows, schema=CASH_SCHEMA, orient="row")


def open_items_now(conn: Connection) -> pl.DataFrame:
    """Open items as the ledger holds them today (``open_amount_minor`` non-zero, in the extract)."""
    stmt = select(
        _OI.c.id, _OI.c.customer_id, _OI.c.document_number, _OI.c.document_type, _OI.c.document_date,
        _OI.c.due_date, _OI.c.currency, _OI.c.amount_minor, _OI.c.open_amount_minor,
    ).where(_OI.c.in_snapshot.is_(True), _OI.c.open_amount_minor != 0)
    schema = {k: v for k, v in DOCUMENT_SCHEMA.items() if k != "recorded_at"} | {"open_minor": pl.Int64}
    return pl.DataFrame(list(conn.execute(stmt)), schema=schema, orient="row")
