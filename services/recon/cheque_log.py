"""What a cheque log says of cheques: a later log moves known cheques on, a first one may bounce.

A cheque log (``shared/statements/cheques.py``) lists cheques with their status. Its new cheques
are stored like any bank line; these functions handle, inside the file's import transaction, what
the statuses mean for cheques that are known already, and for new ones that are returned already
(:mod:`services.recon.cheques` holds the lifecycle itself).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from services.cashapp.models import Receipt, utcnow
from services.recon.cheques import NEXT_STATUSES, ChequeStatus, cheque_extra, return_cheque, set_status
from shared.errors import ImportRefused
from shared.statements.model import BankLine


def apply_log_updates(session: Session, statement_lines: list[tuple[BankLine, str]], *,
                      on: date | None = None, actor: str = "cheque_log") -> int:
    """Apply the status a later cheque log gives cheques already stored (by line key).

    ``deposited`` / ``cleared`` are recorded; ``returned`` reverses the applications
    (:func:`return_cheque`, dated ``on``, default today). A move backwards (``cleared`` ->
    ``received``) or away from ``returned`` refuses the whole file
    (``RECON_CHEQUE_BAD_TRANSITION``) before anything changes. Returns how many cheques moved.
    """
    wanted = {key: line for line, key in statement_lines if line.extra.get("status") and "cheque_number" in line.extra}
    stored = _stored(session, list(wanted))
    moves: list[tuple[Receipt, ChequeStatus]] = []
    for key, line in wanted.items():
        extra = cheque_extra(stored[key]) if key in stored else None
        old, new = (extra or {}).get("status"), str(line.extra["status"])
        if extra is None or old == new:
            continue
        if new not in NEXT_STATUSES.get(str(old), frozenset()):
            raise ImportRefused(
                f"cheque {line.bank_reference} cannot go from {old} to {new}",
                code="RECON_CHEQUE_BAD_TRANSITION", cheque=line.bank_reference, status_was=old, status=new)
        moves.append((stored[key], ChequeStatus(new)))
    day = on or utcnow().date()
    for receipt, status in moves:
        rid = int(receipt.id)  # type: ignore[arg-type]
        if status == ChequeStatus.RETURNED:
            return_cheque(session, rid, returned_on=day, reason="returned (cheque log)", actor=actor)
        else:
            set_status(session, rid, status, actor=actor, status_source="cheque_log", logged_on=day.isoformat())
    return len(moves)


def return_first_seen(session: Session, statement_lines: list[tuple[BankLine, str]], *,
                      actor: str = "cheque_log") -> int:
    """Cheques a log names for the first time as ``returned``, just stored (by line key).

    Such a cheque bounced before anyone logged it received: it is no cash, and the matcher must
    never apply it. Each goes the way of any returned cheque (:func:`return_cheque`, dated the
    day the log books it): to the worklist, its customer flagged when known; it has no
    applications to reverse. Returns how many there were.
    """
    wanted = {key: line for line, key in statement_lines if line.extra.get("status") == ChequeStatus.RETURNED}
    if not wanted:
        return 0
    stored = _stored(session, list(wanted))
    for key, line in wanted.items():
        return_cheque(session, int(stored[key].id), returned_on=line.booking_date,  # type: ignore[arg-type]
                      reason="returned (cheque log, first seen returned)", actor=actor)
    return len(wanted)


def _stored(session: Session, keys: list[str]) -> dict[str, Receipt]:
    """The stored receipts of these line keys, by key (900 a query: SQLite's bound-parameter limit)."""
    stored: dict[str, Receipt] = {}
    for i in range(0, len(keys), 900):
        stored.update((r.line_key, r) for r in session.execute(
            select(Receipt).where(col(Receipt.line_key).in_(keys[i:i + 900]))).scalars())
    return stored
