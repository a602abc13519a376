"""Minimal ledger rows (file, statement, receipts, open items, a decision, allocations)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select

from services.cashapp.models import (
    Allocation,
    DecisionRow,
    ImportFile,
    OpenItem,
    Receipt,
    StatementRow,
)
from services.cashapp.usecases.post import enqueue_allocations
from shared.db import unit_of_work


def seed_allocations(engine: Engine, n: int, tag: str = "a") -> list[str]:
    """One receipt applied to ``n`` invoices, with outbox rows; returns the posting keys."""
    with unit_of_work(engine) as s:
        f = ImportFile(sha256=f"{tag:0<64}"[:64], file_name="x.sta", size_bytes=1, source_format="mt940",
                       status="imported")
        s.add(f)
        s.flush()
        st = StatementRow(import_file_id=f.id or 0, source_format="mt940", account="NL91ABNA0417164300",
                          currency="EUR", statement_key=f"k-{tag}", key_date=date(2026, 11, 2),
                          content_hash="h", integrity_status="ok")
        s.add(st)
        s.flush()
        r = Receipt(statement_id=st.id or 0, line_key=f"line-{tag}", account=st.account, currency="EUR",
                    booking_date=date(2026, 11, 2), amount_minor=100 * n, bank_reference=f"BR-{tag}",
                    status="applied")
        s.add(r)
        s.flush()
        d = DecisionRow(receipt_id=r.id or 0, status="auto", amount_minor=100 * n, applied_minor=100 * n)
        s.add(d)
        s.flush()
        for i in range(n):
            item = OpenItem(customer_id="C1", document_number=f"INV-{tag}-{i}", document_type="invoice",
                            document_date=date(2026, 10, 1), due_date=date(2026, 10, 31), currency="EUR",
                            amount_minor=100, erp_open_minor=100, open_amount_minor=0)
            s.add(item)
            s.flush()
            s.add(Allocation(decision_id=d.id or 0, receipt_id=r.id or 0, item_id=item.id or 0,
                             customer_id="C1", document_number=item.document_number, currency="EUR",
                             amount_minor=100, effective_date=date(2026, 11, 2)))
        s.flush()
        enqueue_allocations(s, d.id or 0)
        ids = list(s.execute(select(Allocation.id).where(  # type: ignore[call-overload]
            Allocation.decision_id == d.id).order_by(Allocation.id)).scalars())
    return [f"alloc-{i}" for i in ids]
