"""Cheque lifecycle: register, post-dated hold, deposit matching, return (bounce), certified mark.

Cheques arrive as bank lines of a cheque log (``shared/statements/cheques.py``, source format
``cheque_log``): a :class:`~services.cashapp.models.Receipt` whose ``extra_json`` holds
``cheque_number``, ``cheque_date``, ``post_dated``, ``type`` (ordinary | certified) and ``status``
(received | deposited | cleared | returned). This module moves a cheque through its states, keeps
the state in ``extra_json`` and records every step in the audit log (where it exists).

* A post-dated cheque is matched like any receipt but not released to the ERP before its date:
  the posting side asks :func:`is_releasable`.
* The bank line of a deposit credits several cheques at once: :func:`match_deposit` finds the
  one subset of undeposited cheques of that account whose sum is the line's amount.
* A returned cheque reverses its applications (negative allocation rows pointing at the
  originals, open amounts restored, reversals queued for the ERP), flags the customer and opens
  an exception.
* A later cheque log that repeats a known cheque with a new status moves it forward
  (``services.recon.cheque_log``); a move backwards refuses the whole file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, inspect, or_, select, text
from sqlmodel import Session, col

from services.cashapp.models import (
    CHEQUE_CODE,
    CHEQUE_WHERE,
    Allocation,
    DecisionRow,
    ExceptionItem,
    OpenItem,
    Receipt,
    ReceiptStatus,
    utcnow,
)
from services.recon.models import CustomerFlag
from shared.errors import Conflict, NotFound, ValidationError

RETURNED_REASON = "CHEQUE_RETURNED"
MAX_DEPOSIT_CANDIDATES = 40  # beyond this a subset search is neither fast nor trustworthy
DEPOSIT_WINDOW_DAYS = 30  # a deposit line credits cheques received at most this many days before it


class ChequeStatus(StrEnum):
    RECEIVED = "received"
    DEPOSITED = "deposited"
    CLEARED = "cleared"
    RETURNED = "returned"


# Forward moves only. A cleared cheque can still come back: banks credit cheques "subject to
# collection" and a return may arrive after the AR team logged the credit as cleared.
NEXT_STATUSES: dict[str, frozenset[str]] = {
    ChequeStatus.RECEIVED: frozenset({ChequeStatus.DEPOSITED, ChequeStatus.CLEARED, ChequeStatus.RETURNED}),
    ChequeStatus.DEPOSITED: frozenset({ChequeStatus.CLEARED, ChequeStatus.RETURNED}),
    ChequeStatus.CLEARED: frozenset({ChequeStatus.RETURNED}),
    ChequeStatus.RETURNED: frozenset(),
}


class ChequeType(StrEnum):
    ORDINARY = "ordinary"
    CERTIFIED = "certified"


def cheque_extra(receipt: Receipt) -> dict[str, Any] | None:
    """The cheque fields of a receipt, or None when the receipt is not a cheque."""
    extra = json.loads(receipt.extra_json or "{}")
    if receipt.transaction_code != CHEQUE_CODE and "cheque_number" not in extra:
        return None
    return extra if "cheque_number" in extra else None


def is_returned(receipt: Any) -> bool:
    """Whether ``receipt`` is a cheque that came back (a Receipt, or a row with its
    ``transaction_code`` and ``extra_json``): it brought no money."""
    extra = cheque_extra(receipt)
    return extra is not None and extra.get("status") == ChequeStatus.RETURNED


def _require_cheque(receipt: Receipt) -> dict[str, Any]:
    extra = cheque_extra(receipt)
    if extra is None:
        raise ValidationError(f"receipt {receipt.id} is not a cheque", code="RECON_NOT_A_CHEQUE")
    return extra


def cheque_date(receipt: Receipt) -> date | None:
    """The date written on the cheque (None when not a cheque)."""
    extra = cheque_extra(receipt)
    return date.fromisoformat(extra["cheque_date"]) if extra and extra.get("cheque_date") else None


def is_certified(receipt: Receipt) -> bool:
    """A certified (bank-guaranteed) cheque: it cannot bounce for lack of funds."""
    extra = cheque_extra(receipt)
    return bool(extra and extra.get("type") == ChequeType.CERTIFIED)


def is_releasable(receipt: Receipt, today: date) -> bool:
    """May the posting side release this receipt's applications to the ERP on ``today``?

    Any receipt that is not a cheque: yes. A returned cheque: never. A cheque dated later than
    ``today`` (post-dated): not before its date, because the bank will not honour it earlier.
    """
    extra = cheque_extra(receipt)
    if extra is None:
        return True
    if extra.get("status") == ChequeStatus.RETURNED:
        return False
    dated = extra.get("cheque_date")
    return dated is None or date.fromisoformat(dated) <= today


def held_until(receipt: Receipt, today: date) -> date | None:
    """The date the receipt's ERP postings must wait for on ``today`` (a post-dated cheque's), else None.

    A returned cheque dated later waits as well: its application and the reversal then reach the
    ERP together and in order on that date (a reversal of a posting the ERP never got is refused).
    """
    if is_releasable(receipt, today):
        return None
    dated = cheque_date(receipt)
    return dated if dated is not None and dated > today else None


def hold_postings(session: Session, allocation_ids: Sequence[int], today: date, *,
                  actor: str = "relay") -> dict[int, date]:
    """Which of these allocations' postings must wait, and until when (each hold audited)."""
    if not allocation_ids:
        return {}
    rows = session.execute(
        select(col(Allocation.id), Receipt).join(Receipt, col(Receipt.id) == col(Allocation.receipt_id))
        .where(col(Allocation.id).in_(list(allocation_ids)), col(Receipt.transaction_code) == CHEQUE_CODE)
    ).all()
    held: dict[int, date] = {}
    for allocation_id, receipt in rows:
        until = held_until(receipt, today)
        if until is not None:
            held[int(allocation_id)] = until
            _audit(session, "cheque.posting_held", receipt.id, None,
                   {"allocation": int(allocation_id), "until": until.isoformat()}, actor)
    return held


def _set_extra(session: Session, receipt: Receipt, extra: dict[str, Any]) -> None:
    receipt.extra_json = json.dumps(extra, sort_keys=True, default=str)
    receipt.version += 1
    session.add(receipt)


def _audit(session: Session, action: str, receipt_id: Any, before: Any, after: Any, actor: str,
           reason: str | None = None) -> None:
    """Append to the audit log when its table exists (the service layer owns that table)."""
    if not inspect(session.connection()).has_table("audit_log"):  # this transaction, not a new one
        return
    from services.cashapp import audit

    audit.record(session, actor, "system", action, "receipt", receipt_id, before, after, reason=reason)


def _get(session: Session, receipt_id: int) -> Receipt:
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound(f"receipt {receipt_id} not found", code="RECON_RECEIPT_NOT_FOUND")
    return receipt


def set_status(session: Session, receipt_id: int, status: ChequeStatus, *, actor: str = "system",
               **fields: Any) -> Receipt:
    """Move a cheque to ``status`` (with extra fields such as the deposit line), audited."""
    receipt = _get(session, receipt_id)
    extra = _require_cheque(receipt)
    before = extra.get("status")
    if before == ChequeStatus.RETURNED and status != ChequeStatus.RETURNED:
        raise Conflict(f"cheque {extra['cheque_number']} was returned", code="RECON_CHEQUE_RETURNED")
    _set_extra(session, receipt, {**extra, **fields, "status": status.value})
    _audit(session, f"cheque.{status.value}", receipt_id, {"status": before},
           {"status": status.value, **fields}, actor)
    return receipt


@dataclass(frozen=True, slots=True)
class DepositMatch:
    """The outcome of matching a deposit line: the cheques it credits, or why none."""

    deposit_id: int
    cheque_ids: tuple[int, ...]
    status: str  # matched | ambiguous | none


def _candidates(session: Session, deposit: Receipt, window_days: int) -> list[Receipt]:
    """Undeposited cheques of the deposit's account and currency, received within the window."""
    since = deposit.booking_date - timedelta(days=window_days)
    rows = session.execute(
        select(Receipt).where(
            col(Receipt.account) == deposit.account, col(Receipt.currency) == deposit.currency,
            text(CHEQUE_WHERE), col(Receipt.id) != deposit.id,
            col(Receipt.booking_date) <= deposit.booking_date, col(Receipt.booking_date) >= since,
        ).order_by(col(Receipt.booking_date), col(Receipt.id))
    ).scalars()
    out = []
    for r in rows:
        dated = cheque_date(r)
        if _undeposited(cheque_extra(r)) and (dated is None or dated <= deposit.booking_date):
            out.append(r)
    return out


def _undeposited(extra: dict[str, Any] | None) -> bool:
    """Not linked to a deposit line yet and not returned. The cheque log may already say
    ``deposited`` or ``cleared`` before the bank statement with the deposit line arrives."""
    if not extra:
        return False
    return "deposit_receipt_id" not in extra and extra.get("status") != ChequeStatus.RETURNED


def unique_subset(amounts: list[int], target: int) -> tuple[str, tuple[int, ...]]:
    """Indices of the one subset of positive ``amounts`` summing to ``target``.

    Returns ``("matched", indices)``, ``("ambiguous", ())`` when two subsets fit, or
    ``("none", ())``. Reachable sums are tracked with at most two ways each (enough to tell
    unique from ambiguous) and pruned above the target.
    """
    ways: dict[int, tuple[int, tuple[int, ...]]] = {0: (1, ())}
    for i, amount in enumerate(amounts):
        for total, (count, subset) in list(ways.items()):
            new = total + amount
            if amount <= 0 or new > target:
                continue
            old = ways.get(new)
            ways[new] = (min(2, count + (old[0] if old else 0)), old[1] if old else (*subset, i))
    count, subset = ways.get(target, (0, ()))
    if target <= 0 or count == 0:
        return "none", ()
    return ("matched", subset) if count == 1 else ("ambiguous", ())


def match_deposit(session: Session, deposit_id: int, *, window_days: int = DEPOSIT_WINDOW_DAYS,
                  actor: str = "system") -> DepositMatch:
    """Match a deposit bank line to the undeposited cheques it credits; mark them deposited.

    Only a unique exact subset is taken; the deposit line is then marked ``ignored`` for the
    matcher (its money is applied through the cheques). Otherwise nothing changes and the status
    says why (``ambiguous`` or ``none``), for a person to decide.
    """
    deposit = _get(session, deposit_id)
    found = _candidates(session, deposit, window_days)
    if len(found) > MAX_DEPOSIT_CANDIDATES:
        return DepositMatch(deposit_id, (), "ambiguous")
    status, subset = unique_subset([r.amount_minor for r in found], deposit.amount_minor)
    if status != "matched":
        return DepositMatch(deposit_id, (), status)
    ids = tuple(int(found[i].id) for i in subset)  # type: ignore[arg-type]
    for i in subset:
        # A cheque the log already calls deposited or cleared keeps that status; it gains the link.
        now = ChequeStatus(cheque_extra(found[i])["status"])  # type: ignore[index]
        set_status(session, int(found[i].id),  # type: ignore[arg-type]
                   ChequeStatus.DEPOSITED if now == ChequeStatus.RECEIVED else now, actor=actor,
                   deposit_receipt_id=deposit_id, deposited_on=deposit.booking_date.isoformat())
    extra = json.loads(deposit.extra_json or "{}")
    _set_extra(session, deposit, {**extra, "cheque_deposit": list(ids)})
    deposit.status = ReceiptStatus.IGNORED
    _audit(session, "cheque.deposit_matched", deposit_id, None, {"cheques": list(ids)}, actor)
    return DepositMatch(deposit_id, ids, "matched")


def match_open_deposits(session: Session, *, actor: str = "matcher") -> list[DepositMatch]:
    """Try :func:`match_deposit` on every unmatched credit line of an account holding undeposited
    cheques, oldest first, so the matcher never applies a deposit's money a second time.

    Reads only the cheques a deposit line still unmatched could credit (received at most
    :data:`DEPOSIT_WINDOW_DAYS` before the oldest such line), through the cheques' own index:
    two index lookups when there is nothing to do, however long the history.
    """
    r = Receipt.__table__  # type: ignore[attr-defined]
    oldest = session.execute(select(func.min(r.c.booking_date)).where(
        r.c.status == ReceiptStatus.UNMATCHED)).scalar()  # (ix_receipt_status_date: no scan)
    if oldest is None:
        return []
    open_by_account: dict[tuple[str, str], tuple[date, int]] = {}  # -> (first received, total)
    for account, currency, booked, amount, extra_json in session.execute(
        select(r.c.account, r.c.currency, r.c.booking_date, r.c.amount_minor, r.c.extra_json)
        .where(text(CHEQUE_WHERE), r.c.booking_date >= oldest - timedelta(days=DEPOSIT_WINDOW_DAYS))
    ):
        if _undeposited(json.loads(extra_json or "{}")):
            first, total = open_by_account.get((account, currency), (booked, 0))
            open_by_account[(account, currency)] = (min(first, booked), total + amount)
    if not open_by_account:
        return []
    lines = session.execute(
        select(col(Receipt.id), col(Receipt.account), col(Receipt.currency), col(Receipt.booking_date),
               col(Receipt.amount_minor))
        .where(col(Receipt.status) == ReceiptStatus.UNMATCHED, col(Receipt.amount_minor) > 0,
               or_(col(Receipt.transaction_code).is_(None), col(Receipt.transaction_code) != CHEQUE_CODE),
               col(Receipt.account).in_({a for a, _ in open_by_account}))
        .order_by(col(Receipt.booking_date), col(Receipt.id))
    ).all()
    out = []
    for rid, account, currency, booked, amount in lines:
        first, total = open_by_account.get((account, currency), (booked, 0))
        if booked < first or amount > total:
            continue
        found = match_deposit(session, rid, actor=actor)
        if found.status == "matched":
            out.append(found)
            open_by_account[(account, currency)] = (first, total - amount)
    return out


@dataclass(frozen=True, slots=True)
class ReturnResult:
    """What returning a cheque did."""

    receipt_id: int
    reversal_ids: tuple[int, ...]
    reopened_item_ids: tuple[int, ...]
    exception_id: int
    customer_id: str | None


def _reverse_allocations(session: Session, receipt: Receipt, on: date) -> tuple[list[int], list[int]]:
    """Reversal rows for every live allocation of ``receipt``; open amounts restored."""
    allocs = session.execute(select(Allocation).where(col(Allocation.receipt_id) == receipt.id)).scalars().all()
    reversed_ids = {a.reverses_id for a in allocs if a.reverses_id is not None}
    reversals, items = [], []
    for a in allocs:
        if a.reverses_id is not None or a.id in reversed_ids:
            continue
        rev = Allocation(decision_id=a.decision_id, receipt_id=a.receipt_id, item_id=a.item_id,
                         customer_id=a.customer_id, document_number=a.document_number, currency=a.currency,
                         amount_minor=-a.amount_minor, reverses_id=a.id, effective_date=on)
        session.add(rev)
        item = session.get(OpenItem, a.item_id)
        if item is not None:
            item.open_amount_minor += a.amount_minor
            item.version += 1
            item.updated_at = utcnow()
            session.add(item)
            items.append(a.item_id)
        session.flush()
        reversals.append(int(rev.id))  # type: ignore[arg-type]
    return reversals, items


def _customer(session: Session, receipt: Receipt) -> tuple[str | None, int | None]:
    row = session.execute(select(col(DecisionRow.customer_id), col(DecisionRow.id)).where(
        col(DecisionRow.receipt_id) == receipt.id, col(DecisionRow.is_current).is_(True))).first()
    return (row[0], row[1]) if row else (None, None)


def _open_exception(session: Session, receipt_id: int, decision_id: int | None) -> int:
    exc = session.execute(select(ExceptionItem).where(col(ExceptionItem.receipt_id) == receipt_id)).scalar_one_or_none()
    if exc is None:
        exc = ExceptionItem(receipt_id=receipt_id, decision_id=decision_id, reason=RETURNED_REASON)
    else:  # one exception row per receipt: reopen it with the new reason
        exc.status, exc.reason, exc.assignee = "open", RETURNED_REASON, None
        exc.version += 1
        exc.updated_at = utcnow()
    session.add(exc)
    session.flush()
    return int(exc.id)  # type: ignore[arg-type]


def return_cheque(session: Session, receipt_id: int, *, returned_on: date, reason: str = "returned unpaid",
                  actor: str = "system") -> ReturnResult:
    """A bounced cheque: reverse its applications, reopen the invoices, flag the customer, queue it."""
    receipt = _get(session, receipt_id)
    extra = _require_cheque(receipt)
    if extra.get("status") == ChequeStatus.RETURNED and extra.get("returned_on"):
        raise Conflict(f"cheque {extra['cheque_number']} is already returned", code="RECON_CHEQUE_RETURNED")
    reversals, items = _reverse_allocations(session, receipt, returned_on)
    from services.cashapp.usecases.post import enqueue_allocation_ids  # post imports this module

    enqueue_allocation_ids(session, reversals)  # same transaction: the ERP hears of each reversal
    set_status(session, receipt_id, ChequeStatus.RETURNED, actor=actor, returned_on=returned_on.isoformat(),
               return_reason=reason)
    receipt.status = ReceiptStatus.EXCEPTION
    session.add(receipt)
    customer, decision_id = _customer(session, receipt)
    if customer:
        session.add(CustomerFlag(customer_id=customer, flag=RETURNED_REASON, receipt_id=receipt_id,
                                 reason=f"cheque {extra['cheque_number']} {reason}"))
    exception_id = _open_exception(session, receipt_id, decision_id)
    _audit(session, "cheque.reversed", receipt_id, None,
           {"reversals": reversals, "items": items, "customer": customer, "exception": exception_id}, actor, reason)
    session.flush()
    return ReturnResult(receipt_id, tuple(reversals), tuple(items), exception_id, customer)


def held_post_dated(session: Session, today: date) -> list[Receipt]:
    """Cheques that may not be released yet (post-dated beyond ``today``), oldest date first."""
    rows = session.execute(select(Receipt).where(text(CHEQUE_WHERE))).scalars()
    held = [r for r in rows if cheque_extra(r) and not is_releasable(r, today)]
    return sorted(held, key=lambda r: (cheque_date(r) or today, r.id or 0))
