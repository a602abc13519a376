"""A small ledger builder: customers, open items, receipts, decisions and allocations in the DB."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, update

from services.cashapp.models import (
    Allocation,
    Customer,
    DecisionRow,
    ImportFile,
    OpenItem,
    Receipt,
    StatementRow,
)
from shared.db import unit_of_work


class World:
    """Writes rows one at a time (tests only) and remembers ids."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statement_id: int | None = None
        self.n = 0

    def _add(self, obj: Any) -> Any:
        with unit_of_work(self.engine) as s:
            s.add(obj)
            s.flush()
            s.expunge(obj)
        return obj

    def customer(self, cid: str, name: str | None = None) -> None:
        self._add(Customer(customer_id=cid, customer_name=name or f"Customer {cid}"))

    def item(self, cid: str, number: str, amount: int, day: date, *, due: date | None = None,
             kind: str = "invoice", currency: str = "EUR", recorded: datetime | None = None) -> int:
        row = OpenItem(customer_id=cid, document_number=number, document_type=kind, document_date=day,
                       due_date=due or day, currency=currency, amount_minor=amount, erp_open_minor=amount,
                       open_amount_minor=amount,
                       updated_at=recorded or datetime(day.year, day.month, day.day, tzinfo=UTC))
        return int(self._add(row).id)

    def _statement(self) -> int:
        if self.statement_id is None:
            f = self._add(ImportFile(sha256="f" * 64, file_name="x", size_bytes=1, source_format="mt940",
                                     status="imported"))
            st = self._add(StatementRow(import_file_id=f.id, source_format="mt940", account="ACC",
                                        currency="EUR", statement_key="k", key_date=date(2026, 1, 1),
                                        content_hash="h", integrity_status="ok"))
            self.statement_id = int(st.id)
        return self.statement_id

    def receipt(self, amount: int, booked: date, *, status: str = "applied", currency: str = "EUR",
                customer: str | None = None, extra: dict[str, Any] | None = None,
                account: str = "ACC", reference: str | None = None) -> tuple[int, int]:
        """A receipt and its current decision; returns (receipt id, decision id)."""
        self.n += 1
        r = self._add(Receipt(statement_id=self._statement(), line_key=f"L{self.n}", account=account,
                              currency=currency, booking_date=booked, amount_minor=amount, status=status,
                              bank_reference=reference, extra_json=json.dumps(extra or {})))
        d = self._add(DecisionRow(receipt_id=r.id, status="auto" if status == "applied" else "exception",
                                  customer_id=customer, amount_minor=amount))
        return int(r.id), int(d.id)

    def apply(self, receipt: tuple[int, int], item_id: int, amount: int, effective: date,
              *, created: datetime | None = None) -> int:
        """An allocation, and the item's open amount reduced like cash application does."""
        with unit_of_work(self.engine) as s:
            item = s.get(OpenItem, item_id)
            assert item is not None
            a = Allocation(decision_id=receipt[1], receipt_id=receipt[0], item_id=item_id,
                           customer_id=item.customer_id, document_number=item.document_number,
                           currency=item.currency, amount_minor=amount, effective_date=effective,
                           created_at=created or datetime(effective.year, effective.month, effective.day,
                                                          tzinfo=UTC))
            s.add(a)
            s.execute(update(OpenItem).where(OpenItem.id == item_id)  # type: ignore[arg-type]
                      .values(open_amount_minor=OpenItem.open_amount_minor - amount))
            s.flush()
            return int(a.id)  # type: ignore[arg-type]


def decide(engine: Engine, receipt_id: int, customer: str, status: str = "auto") -> tuple[int, int]:
    """A current decision for an already imported receipt; returns (receipt id, decision id)."""
    with unit_of_work(engine) as s:
        d = DecisionRow(receipt_id=receipt_id, status=status, customer_id=customer, amount_minor=0)
        s.add(d)
        s.flush()
        return receipt_id, int(d.id)  # type: ignore[arg-type]
