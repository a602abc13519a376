"""Master-data loads from the ERP: customers with their bank accounts, and open items.

Every row is validated first; one bad row refuses the whole file with each problem reported by
line number, and nothing is written. Re-loading open items replaces the snapshot: documents in the
file are inserted or updated, documents absent from it leave the open set (``in_snapshot``).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from services.cashapp.models import (
    Allocation,
    Customer,
    CustomerAccount,
    MasterDataLoad,
    OpenItem,
    utcnow,
)
from shared.db import bulk_insert
from shared.errors import ValidationError
from shared.iban import is_valid_iban, looks_like_iban, normalize_account
from shared.money import parse_decimal, to_minor

CUSTOMER_COLUMNS = ("customer_id", "customer_name", "iban")
OPEN_ITEM_COLUMNS = (
    "customer_id", "customer_name", "document_number", "document_type", "document_date",
    "due_date", "currency", "amount", "open_amount", "payment_reference",
)
MAX_ERRORS_REPORTED = 50


@dataclass(slots=True)
class LoadResult:
    kind: str
    rows: int
    inserted: int = 0
    updated: int = 0
    removed: int = 0


class _Rows:
    """CSV rows with 1-based file line numbers and an error list."""

    def __init__(self, data: bytes, required: tuple[str, ...]):
        text = data.decode("utf-8-sig")
        sample = text[:4096]
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        self.reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [h.strip().lower() for h in (self.reader.fieldnames or [])]
        self.reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise ValidationError(f"missing column(s): {', '.join(missing)}",
                                  code="MASTERDATA_MISSING_COLUMN", columns=missing)
        self.errors: list[dict[str, object]] = []

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        for row in self.reader:
            if None in row:
                self.error(self.reader.line_num, "more fields than the header")
                continue
            yield self.reader.line_num, {k: (v or "").strip() for k, v in row.items()}

    def error(self, line: int, reason: str) -> None:
        self.errors.append({"line": line, "reason": reason})

    def raise_if_errors(self, what: str) -> None:
        if self.errors:
            shown = self.errors[:MAX_ERRORS_REPORTED]
            lines = "; ".join(f"line {e['line']}: {e['reason']}" for e in shown)
            more = len(self.errors) - len(shown)
            raise ValidationError(
                f"{len(self.errors)} bad row(s) in {what}, nothing loaded: {lines}"
                + (f" (+{more} more)" if more > 0 else ""),
                code="MASTERDATA_BAD_ROWS", errors=self.errors)


def _date(value: str) -> date:
    return date.fromisoformat(value)


def load_customers(session: Session, data: bytes, file_name: str) -> LoadResult:
    """Upsert customers and replace their master-data accounts (learned aliases stay)."""
    rows = _Rows(data, CUSTOMER_COLUMNS)
    names: dict[str, tuple[str, int]] = {}
    accounts: dict[str, set[tuple[str, str]]] = {}
    count = 0
    for line, row in rows:
        count += 1
        cid, name, iban = row["customer_id"], row["customer_name"], row["iban"]
        if not cid:
            rows.error(line, "customer_id is empty")
            continue
        if not name:
            rows.error(line, "customer_name is empty")
            continue
        if cid in names and names[cid][0] != name:
            rows.error(line, f"customer_name differs from line {names[cid][1]} for {cid}")
            continue
        names.setdefault(cid, (name, line))
        accounts.setdefault(cid, set())
        if iban:
            norm = normalize_account(iban)
            if looks_like_iban(norm) and not is_valid_iban(norm):
                rows.error(line, f"iban {iban!r} has wrong check digits or form")
                continue
            if not norm.isalnum() or len(norm) > 34:
                rows.error(line, f"iban {iban!r} is not an IBAN or account number")
                continue
            accounts[cid].add((iban, norm))
    if count == 0:
        rows.error(1, "no data rows")
    rows.raise_if_errors(file_name)
    existing = set(session.execute(select(col(Customer.customer_id))).scalars())
    now = utcnow()
    new = [{"customer_id": c, "customer_name": n, "updated_at": now}
           for c, (n, _) in names.items() if c not in existing]
    old = [{"cid": c, "customer_name": n, "updated_at": now}
           for c, (n, _) in names.items() if c in existing]
    if new:
        _insert_dicts(session, Customer, new)
    if old:
        _bulk_update_customers(session, old)
    cids = list(names)
    for i in range(0, len(cids), 900):
        session.execute(CustomerAccount.__table__.delete().where(  # type: ignore[attr-defined]
            CustomerAccount.customer_id.in_(cids[i : i + 900]),  # type: ignore[attr-defined]
            CustomerAccount.source == "master", CustomerAccount.kind == "iban"))
    acc_rows = [{"customer_id": c, "kind": "iban", "value": v, "value_norm": n, "source": "master",
                 "created_at": now} for c, accs in accounts.items() for v, n in sorted(accs)]
    if acc_rows:
        _insert_dicts(session, CustomerAccount, acc_rows)
    _record_load(session, "customers", file_name, data, count)
    return LoadResult("customers", count, inserted=len(new), updated=len(old))


def _insert_dicts(session: Session, model: type, rows: list[dict]) -> None:
    """Rows with the same keys, inserted through the driver (no ORM work per row)."""
    names = tuple(rows[0])
    bulk_insert(session.connection(), model.__table__, names,  # type: ignore[attr-defined]
                [tuple(r[n] for n in names) for r in rows])


def _bulk_update_customers(session: Session, rows: list[dict]) -> None:
    from sqlalchemy import bindparam

    tbl = Customer.__table__  # type: ignore[attr-defined]
    stmt = (update(tbl).where(tbl.c.customer_id == bindparam("cid"))
            .values(customer_name=bindparam("customer_name"), updated_at=bindparam("updated_at")))
    session.connection().execute(stmt, rows)


def _record_load(session: Session, kind: str, file_name: str, data: bytes, rows: int) -> None:
    session.add(MasterDataLoad(kind=kind, file_name=file_name[:255],
                               sha256=hashlib.sha256(data).hexdigest(), rows=rows))


def _parse_open_item(row: dict[str, str]) -> dict[str, object]:
    """One validated open item (raises ValueError with the reason)."""
    for name in ("customer_id", "document_number", "currency", "amount", "open_amount"):
        if not row[name]:
            raise ValueError(f"{name} is empty")
    doc_type = row["document_type"].lower()
    if doc_type not in ("invoice", "credit_note"):
        raise ValueError(f"document_type {row['document_type']!r} is not invoice or credit_note")
    currency = row["currency"].upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"currency {row['currency']!r} is not an ISO 4217 code")
    try:
        amount = to_minor(parse_decimal(row["amount"]), currency)
        open_amount = to_minor(parse_decimal(row["open_amount"]), currency)
    except Exception as exc:
        raise ValueError(f"bad amount: {getattr(exc, 'message', exc)}") from None
    try:
        doc_date, due = _date(row["document_date"]), _date(row["due_date"])
    except ValueError:
        raise ValueError("document_date and due_date must be YYYY-MM-DD dates") from None
    if doc_type == "credit_note":  # credit notes are negative in the ledger, whatever the sign
        amount, open_amount = -abs(amount), -abs(open_amount)
    elif amount < 0 or open_amount < 0:
        raise ValueError("an invoice has a negative amount or open_amount")
    if abs(open_amount) > abs(amount):
        raise ValueError("open_amount is larger than amount")
    return {"customer_id": row["customer_id"], "document_number": row["document_number"],
            "document_type": doc_type, "document_date": doc_date, "due_date": due,
            "currency": currency, "amount_minor": amount, "erp_open_minor": open_amount,
            "payment_reference": row["payment_reference"] or None}


def load_open_items(session: Session, data: bytes, file_name: str) -> LoadResult:
    """Replace the open-item snapshot with the file's (see the module docstring)."""
    rows = _Rows(data, OPEN_ITEM_COLUMNS[:-1])  # payment_reference may be absent
    items: dict[tuple[str, str, str], dict[str, object]] = {}
    lines: dict[tuple[str, str, str], int] = {}
    names: dict[str, str] = {}
    for line, row in rows:
        row.setdefault("payment_reference", "")
        try:
            item = _parse_open_item(row)
        except ValueError as exc:
            rows.error(line, str(exc))
            continue
        key = (row["customer_id"], row["document_number"], str(item["document_type"]))
        if key in items:
            rows.error(line, f"document {key[1]} ({key[2]}) repeats line {lines[key]}")
            continue
        items[key], lines[key] = item, line
        names.setdefault(row["customer_id"], row["customer_name"] or row["customer_id"])
    if not items and not rows.errors:
        rows.error(1, "no data rows")
    rows.raise_if_errors(file_name)
    return _replace_open_items(session, items, names, file_name, data)


def _replace_open_items(session: Session, items: dict, names: dict[str, str], file_name: str,
                        data: bytes) -> LoadResult:
    now = utcnow()
    known_customers = set(session.execute(select(col(Customer.customer_id))).scalars())
    new_customers = [{"customer_id": c, "customer_name": n, "updated_at": now}
                     for c, n in names.items() if c not in known_customers]
    if new_customers:
        _insert_dicts(session, Customer, new_customers)
    load = MasterDataLoad(kind="open_items", file_name=file_name[:255],
                          sha256=hashlib.sha256(data).hexdigest(), rows=len(items))
    session.add(load)
    session.flush()
    tbl = OpenItem.__table__  # type: ignore[attr-defined]
    existing = {(r.customer_id, r.document_number, r.document_type): r.id for r in session.execute(
        select(tbl.c.id, tbl.c.customer_id, tbl.c.document_number, tbl.c.document_type))}
    pending = _unposted_allocations(session)
    inserts, updates = [], []
    for key, item in items.items():
        item_id = existing.get(key)
        open_now = int(item["erp_open_minor"]) - pending.get(item_id, 0) if item_id else None
        if item_id is None:
            inserts.append({**item, "open_amount_minor": item["erp_open_minor"], "in_snapshot": True,
                            "load_id": load.id, "version": 1, "updated_at": now})
        else:
            updates.append({**item, "item_id": item_id, "open_amount_minor": open_now,
                            "in_snapshot": True, "load_id": load.id, "updated_at": now})
    if inserts:
        _insert_dicts(session, OpenItem, inserts)
    if updates:
        from sqlalchemy import bindparam

        cols = [c for c in updates[0] if c != "item_id"]
        stmt = (update(tbl).where(tbl.c.id == bindparam("item_id"))
                .values({**{c: bindparam(c) for c in cols}, "version": tbl.c.version + 1}))
        session.connection().execute(stmt, updates)
    removed = session.connection().execute(
        update(tbl).where(tbl.c.load_id != load.id, tbl.c.in_snapshot.is_(True))
        .values(in_snapshot=False, updated_at=now, version=tbl.c.version + 1)).rowcount
    return LoadResult("open_items", len(items), inserted=len(inserts), updated=len(updates),
                      removed=removed or 0)


def _unposted_allocations(session: Session) -> dict[int, int]:
    """Cash we applied that the ERP has not seen yet; the extract does not reflect it."""
    a = Allocation.__table__  # type: ignore[attr-defined]
    rows = session.execute(select(a.c.item_id, func.sum(a.c.amount_minor))
                           .where(a.c.posted_at.is_(None)).group_by(a.c.item_id))
    return {item_id: int(total) for item_id, total in rows}


def load_file(session: Session, kind: str, path: Path) -> LoadResult:
    """Load ``path`` as ``customers`` or ``open_items``."""
    data = path.read_bytes()
    if kind == "customers":
        return load_customers(session, data, path.name)
    return load_open_items(session, data, path.name)
