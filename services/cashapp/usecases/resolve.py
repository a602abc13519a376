"""Resolve an exception, or undo an application by reversal. Never a delete.

Every resolution writes a new ``DecisionRow`` (status ``manual``; the previous one stops being
current) that keeps ``applied + fee + writeoff + unapplied = receipt amount``. Money moves only
through compare-and-set updates: the exception item's version (workflow), the receipt's version
(one resolution or reversal at a time per receipt) and each open item's version (no document is
over-applied). Any lost race raises ``CASHAPP_STALE_VERSION`` and the transaction rolls back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from services.cashapp import audit
from services.cashapp.models import (
    Allocation,
    DecisionRow,
    ExceptionItem,
    OpenItem,
    Receipt,
    ReceiptStatus,
    utcnow,
)
from services.cashapp.usecases.exceptions import (
    Actor,
    StaleVersion,
    cas_item,
    check_version,
    load_item,
    snapshot,
)
from services.recon.cheques import is_returned
from shared.errors import Conflict, DomainError, NotFound, ValidationError
from shared.money import format_minor, to_minor

MAX_MINOR = 10**15
Kind = Literal["apply", "on_account", "non_ar", "refund", "returned"]


@dataclass(slots=True)
class LineIn:
    open_item_id: int
    amount: Decimal


@dataclass(slots=True)
class Resolution:
    """What a person decided; amounts are decimals in the receipt's currency."""

    kind: Kind
    lines: list[LineIn] = field(default_factory=list)
    fee: Decimal = Decimal(0)
    writeoff: Decimal = Decimal(0)
    writeoff_reason: str | None = None
    customer_id: str | None = None  # whose account holds the unapplied rest
    gl_code: str | None = None
    note: str | None = None

    def to_json(self) -> dict:
        """Plain JSON (decimals as strings) for an approval's payload."""
        data = asdict(self)
        return json.loads(json.dumps(data, default=str))

    @classmethod
    def from_json(cls, data: dict) -> Resolution:
        """The inverse of :meth:`to_json`."""
        lines = [LineIn(int(x["open_item_id"]), Decimal(x["amount"])) for x in data.get("lines", [])]
        return cls(kind=data["kind"], lines=lines, fee=Decimal(data.get("fee", "0")),
                   writeoff=Decimal(data.get("writeoff", "0")),
                   writeoff_reason=data.get("writeoff_reason"), customer_id=data.get("customer_id"),
                   gl_code=data.get("gl_code"), note=data.get("note"))


@dataclass(slots=True)
class Plan:
    """A validated resolution in minor units, ready to apply."""

    receipt: Receipt
    items: list[tuple[OpenItem, int]]
    fee: int
    writeoff: int
    unapplied: int
    res: Resolution

    @property
    def applied(self) -> int:
        return sum(a for _, a in self.items)


def _minor(value: Decimal, currency: str, what: str) -> int:
    try:
        minor = to_minor(value, currency)
    except (DomainError, ValueError, ArithmeticError) as exc:
        raise ValidationError(f"{what}: {exc}", code="CASHAPP_BAD_AMOUNT") from None
    if abs(minor) >= MAX_MINOR:  # a BIGINT column holds it, but no receipt is that large
        raise ValidationError(f"{what}: amount out of range", code="CASHAPP_BAD_AMOUNT")
    return minor


def plan(session: Session, receipt: Receipt, res: Resolution) -> Plan:
    """Check a resolution against the receipt and the documents' open amounts."""
    returned = is_returned(receipt)
    if returned and res.kind != "returned":
        # Every other kind books the receipt's money somewhere: a bounced cheque has none.
        raise Conflict("a returned cheque brought no money: nothing of it can be applied, put on "
                       "account, refunded or booked; close it as returned", code="CASHAPP_CHEQUE_RETURNED")
    if res.kind == "returned" and not returned:
        raise ValidationError("only a returned cheque is closed as returned", code="CASHAPP_BAD_RESOLUTION")
    ccy = receipt.currency
    fee, wo = _minor(res.fee, ccy, "fee"), _minor(res.writeoff, ccy, "writeoff")
    if fee < 0 or wo < 0:
        raise ValidationError("fee and writeoff are not negative", code="CASHAPP_BAD_AMOUNT")
    if res.kind != "apply" and (res.lines or fee or wo):
        raise ValidationError(f"a {res.kind} resolution takes no lines, fee or writeoff",
                              code="CASHAPP_BAD_RESOLUTION")
    if res.kind == "non_ar" and not (res.gl_code or "").strip():
        raise ValidationError("non_ar needs a gl_code", code="CASHAPP_BAD_RESOLUTION")
    if res.kind == "on_account" and not res.customer_id:
        raise ValidationError("on_account needs a customer_id", code="CASHAPP_BAD_RESOLUTION")
    if res.kind == "apply" and not res.lines and not wo and not fee:
        raise ValidationError("apply needs lines, a fee or a writeoff", code="CASHAPP_BAD_RESOLUTION")
    if wo and not (res.writeoff_reason or "").strip():
        raise ValidationError("a writeoff needs a writeoff_reason", code="CASHAPP_BAD_RESOLUTION")
    items = [_line(session, ln, ccy) for ln in res.lines]
    if len({i.id for i, _ in items}) != len(items):
        raise ValidationError("a document appears twice", code="CASHAPP_BAD_RESOLUTION")
    applied = sum(a for _, a in items)
    unapplied = receipt.amount_minor - applied - fee - wo
    if unapplied < 0:
        raise ValidationError(
            f"applied {format_minor(applied, ccy)} + fee + writeoff exceed the receipt's "
            f"{format_minor(receipt.amount_minor, ccy)}", code="CASHAPP_OVER_APPLICATION")
    payers = {i.customer_id for i, _ in items}
    if res.kind == "apply" and unapplied and not res.customer_id and len(payers) != 1:
        raise ValidationError("name the customer_id that keeps the unapplied rest",
                              code="CASHAPP_BAD_RESOLUTION")
    return Plan(receipt, items, fee, wo, unapplied, res)


def _line(session: Session, ln: LineIn, ccy: str) -> tuple[OpenItem, int]:
    item = session.get(OpenItem, ln.open_item_id)
    if item is None:
        raise NotFound(f"open item {ln.open_item_id} not found", code="CASHAPP_ITEM_NOT_FOUND")
    amount = _minor(ln.amount, ccy, f"line {ln.open_item_id}")
    if item.currency != ccy:
        raise ValidationError(f"document {item.document_number} is in {item.currency}, the "
                              f"receipt in {ccy}", code="CASHAPP_CURRENCY_MISMATCH")
    same_sign = (amount > 0 and item.open_amount_minor >= amount) or (
        amount < 0 and item.open_amount_minor <= amount)
    if not same_sign:
        raise ValidationError(
            f"{format_minor(amount, ccy)} does not fit the open "
            f"{format_minor(item.open_amount_minor, ccy)} of {item.document_number}",
            code="CASHAPP_OVER_APPLICATION", open_item_id=item.id)
    return item, amount


def current_decision(session: Session, receipt_id: int) -> DecisionRow | None:
    """The receipt's current decision (the newest one flagged current)."""
    return session.execute(
        select(DecisionRow).where(col(DecisionRow.receipt_id) == receipt_id,
                                  col(DecisionRow.is_current).is_(True))
        .order_by(col(DecisionRow.id).desc()).limit(1)
    ).scalar_one_or_none()


def cas_receipt(session: Session, receipt: Receipt, status: str) -> None:
    """Move the receipt to ``status`` only from the version read; else 409."""
    t = Receipt.__table__  # type: ignore[attr-defined]
    res = session.execute(update(t).where(t.c.id == receipt.id, t.c.version == receipt.version)
                          .values(status=status, version=t.c.version + 1))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"receipt {receipt.id} changed meanwhile; reload it")
    session.refresh(receipt)


def _cas_open(session: Session, item: OpenItem, delta: int) -> None:
    t = OpenItem.__table__  # type: ignore[attr-defined]
    res = session.execute(update(t).where(t.c.id == item.id, t.c.version == item.version)
                          .values(open_amount_minor=t.c.open_amount_minor - delta,
                                  version=t.c.version + 1, updated_at=utcnow()))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"document {item.document_number} changed meanwhile; reload it")


def _new_decision(session: Session, receipt: Receipt, values: dict, by: str) -> DecisionRow:
    t = DecisionRow.__table__  # type: ignore[attr-defined]
    session.execute(update(t).where(t.c.receipt_id == receipt.id, t.c.is_current.is_(True))
                    .values(is_current=False))
    assert receipt.id is not None
    d = DecisionRow(receipt_id=receipt.id, status="manual", amount_minor=receipt.amount_minor,
                    created_by=by[:64], is_current=True, **values)
    assert d.applied_minor + d.fee_minor + d.writeoff_minor + d.unapplied_minor == receipt.amount_minor
    session.add(d)
    session.flush()
    return d


def _outbox() -> Any:
    try:
        from services.cashapp.usecases import post
    except ImportError:  # the outbox is built separately; until then nothing is posted
        return None
    return post


def enqueue(session: Session, kind: str, posting_key: str, payload: dict) -> bool:
    """Write an ERP outbox row in the caller's transaction (when the outbox module exists)."""
    post = _outbox()
    return bool(post and post.enqueue_posting(session, kind, posting_key, payload))


def enqueue_allocations(session: Session, decision_id: int) -> int:
    """One outbox row per allocation of the decision, keyed ``alloc-<id>`` by the outbox module
    (its backstop re-enqueues missing ones under the same key, so there is never a second)."""
    post = _outbox()
    return int(post.enqueue_allocations(session, decision_id)) if post else 0


def _customer(p: Plan) -> str | None:
    customers = {i.customer_id for i, _ in p.items}
    if p.res.customer_id:
        return p.res.customer_id
    return customers.pop() if len(customers) == 1 else None


def _reason(p: Plan, maker: str, checker: str | None) -> str:
    r = p.res
    text = {"apply": f"applied by {maker} to {len(p.items)} document(s)",
            "on_account": f"put on account of {r.customer_id} by {maker}",
            "non_ar": f"marked non-AR (GL {r.gl_code}) by {maker}",
            "refund": f"refunded by {maker}",
            "returned": f"closed as a returned cheque by {maker} (it brought no money)"}[r.kind]
    if p.writeoff:
        text += f"; write-off {format_minor(p.writeoff, p.receipt.currency)} ({r.writeoff_reason})"
    if checker:
        text += f"; approved by {checker}"
    return text + (f"; note: {r.note}" if r.note else "")


def execute(session: Session, item: ExceptionItem, version: int, statuses: tuple[str, ...],
            p: Plan, actor: Actor, maker: str) -> DecisionRow:
    """Apply a checked plan: item, receipt, documents, allocations, decision, outbox, audit."""
    before = snapshot(item)
    receipt = p.receipt
    cas_item(session, item, version, statuses, status="resolved")  # first: the race is decided here
    kind = p.res.kind
    status = {"apply": ReceiptStatus.PARTIAL if p.unapplied else ReceiptStatus.APPLIED,
              "on_account": ReceiptStatus.PARTIAL}.get(kind, ReceiptStatus.IGNORED)
    cas_receipt(session, receipt, status)
    for oi, amount in sorted(p.items, key=lambda x: x[0].id or 0):  # one lock order: no deadlock
        _cas_open(session, oi, amount)
    checker = actor.name if actor.name != maker else None
    d = _new_decision(session, receipt, {
        "customer_id": _customer(p), "rule_id": "manual", "reason": _reason(p, maker, checker),
        "applied_minor": p.applied, "fee_minor": p.fee, "writeoff_minor": p.writeoff,
        "unapplied_minor": p.unapplied,
        "residual_class": kind if kind != "apply" else ("writeoff" if p.writeoff else "none"),
    }, maker)
    rows = [{"decision_id": d.id, "receipt_id": receipt.id, "item_id": oi.id,
             "customer_id": oi.customer_id, "document_number": oi.document_number,
             "currency": receipt.currency, "amount_minor": amount,
             "effective_date": receipt.booking_date, "created_at": utcnow()} for oi, amount in p.items]
    if rows:
        session.execute(insert(Allocation), rows)
    session.execute(update(ExceptionItem.__table__).where(  # type: ignore[attr-defined]
        ExceptionItem.__table__.c.id == item.id).values(decision_id=d.id))  # type: ignore[attr-defined]
    session.refresh(item)
    _post(session, d, p)
    audit.record(session, actor.name, actor.role, f"exception.resolve.{kind}", "exception_item",
                 item.id, before, {**snapshot(item), "decision_id": d.id, "resolution": p.res.to_json(),
                                   "maker": maker}, reason=p.res.note, request_id=actor.request_id)
    return d


def _post(session: Session, d: DecisionRow, p: Plan) -> None:
    ccy = p.receipt.currency
    base = {"receipt_id": p.receipt.id, "decision_id": d.id, "currency": ccy,
            "customer_id": d.customer_id}
    assert d.id is not None
    enqueue_allocations(session, d.id)
    if p.writeoff:
        enqueue(session, "write_off", f"wo:{d.id}", {**base, "amount": format_minor(p.writeoff, ccy),
                                                      "reason": p.res.writeoff_reason})
    if p.unapplied and p.res.kind in ("apply", "on_account"):
        enqueue(session, "on_account", f"oa:{d.id}", {**base, "amount": format_minor(p.unapplied, ccy)})
    if p.res.kind == "refund":
        enqueue(session, "refund", f"rf:{d.id}", {**base, "amount": format_minor(p.unapplied, ccy)})
    if p.res.kind == "non_ar":
        enqueue(session, "non_ar", f"gl:{d.id}", {**base, "gl_code": p.res.gl_code,
                                                  "amount": format_minor(p.unapplied, ccy)})


def load_open_item(session: Session, item_id: int, actor: Actor, expected: int | None,
                   statuses: tuple[str, ...] = ("open", "claimed")) -> tuple[ExceptionItem, int, Receipt]:
    """The exception, the version to compare, and its receipt; refuses items claimed by others."""
    item = load_item(session, item_id, lock=True)
    version = check_version(item, expected)
    if item.status not in statuses:
        raise Conflict(f"exception {item_id} is {item.status}", code="CASHAPP_NOT_OPEN",
                       status_now=item.status)
    if item.status == "claimed" and item.assignee not in (None, actor.name):
        raise Conflict(f"exception {item_id} is claimed by {item.assignee}",
                       code="CASHAPP_CLAIMED_BY_OTHER")
    receipt = session.get(Receipt, item.receipt_id)
    assert receipt is not None
    return item, version, receipt


def reverse(session: Session, receipt_id: int, actor: Actor, allocation_ids: list[int] | None,
            reason: str) -> DecisionRow:
    """Undo applications of a receipt: negative allocations, open amounts restored, back to the
    worklist. Nothing is deleted."""
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound(f"receipt {receipt_id} not found", code="CASHAPP_RECEIPT_NOT_FOUND")
    live = _live_allocations(session, receipt_id)
    chosen = [a for a in live if allocation_ids is None or a.id in allocation_ids]
    if allocation_ids is not None and len(chosen) != len(set(allocation_ids)):
        raise ValidationError("some allocations are not live allocations of this receipt",
                              code="CASHAPP_BAD_REVERSAL")
    if not chosen:
        raise Conflict("nothing to reverse on this receipt", code="CASHAPP_NOTHING_TO_REVERSE")
    prev = current_decision(session, receipt_id)
    cas_receipt(session, receipt, ReceiptStatus.EXCEPTION)
    total = sum(a.amount_minor for a in chosen)
    for a in sorted(chosen, key=lambda x: x.item_id):  # one lock order: no deadlock
        oi = session.get(OpenItem, a.item_id)
        assert oi is not None
        _cas_open(session, oi, -a.amount_minor)
    fee, wo = (prev.fee_minor, prev.writeoff_minor) if prev else (0, 0)
    applied = (prev.applied_minor if prev else total) - total
    d = _new_decision(session, receipt, {
        "customer_id": prev.customer_id if prev else None, "rule_id": "reversal",
        "reason": f"reversed {format_minor(total, receipt.currency)} by {actor.name}: {reason}",
        "applied_minor": applied, "fee_minor": fee, "writeoff_minor": wo,
        "unapplied_minor": receipt.amount_minor - applied - fee - wo, "residual_class": "reversed",
    }, actor.name)
    rows = [{"decision_id": d.id, "receipt_id": receipt_id, "item_id": a.item_id,
             "customer_id": a.customer_id, "document_number": a.document_number,
             "currency": a.currency, "amount_minor": -a.amount_minor, "reverses_id": a.id,
             "effective_date": receipt.booking_date, "created_at": utcnow()} for a in chosen]
    session.execute(insert(Allocation), rows)
    assert d.id is not None
    enqueue_allocations(session, d.id)
    _reopen(session, receipt_id, d, actor)
    audit.record(session, actor.name, actor.role, "receipt.reverse", "receipt", receipt_id,
                 {"allocations": [a.id for a in chosen], "decision_id": prev.id if prev else None},
                 {"decision_id": d.id, "reversed": format_minor(total, receipt.currency)},
                 reason=reason, request_id=actor.request_id)
    return d


def _live_allocations(session: Session, receipt_id: int) -> list[Allocation]:
    allocs = session.execute(select(Allocation).where(col(Allocation.receipt_id) == receipt_id)
                             .order_by(col(Allocation.id))).scalars().all()
    reversed_ids = {a.reverses_id for a in allocs if a.reverses_id is not None}
    return [a for a in allocs if a.reverses_id is None and a.id not in reversed_ids]


def _reopen(session: Session, receipt_id: int, d: DecisionRow, actor: Actor) -> None:
    item = session.execute(select(ExceptionItem).where(col(ExceptionItem.receipt_id) == receipt_id)
                           ).scalar_one_or_none()
    if item is None:
        session.add(ExceptionItem(receipt_id=receipt_id, decision_id=d.id, reason="REVERSED"))
        session.flush()
        return
    cas_item(session, item, item.version, ("resolved", "open", "claimed"), status="open",
             assignee=None, decision_id=d.id, reason="REVERSED")


def decision_summary(d: DecisionRow, currency: str) -> dict[str, Any]:
    """The invariant's parts of a decision, as decimal strings."""
    return {"decision_id": d.id, "decision_status": d.status, "reason": d.reason,
            **{k: format_minor(getattr(d, f"{k}_minor"), currency)
               for k in ("amount", "applied", "fee", "writeoff", "unapplied")}}
