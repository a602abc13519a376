"""The database-free half of an import: a parsed statement turned into rows ready to write.

Everything here is pure (no session), so it can run beside the writer, in a second process, while
the first one writes (see :mod:`services.cashapp.usecases.ingest_ahead`). What needs the database
(duplicates, continuity with earlier statements, ids) stays in :mod:`ingest`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date

from shared.statements.model import BalanceType, BankLine, SourceFormat, Statement

_EPOCH = date(1970, 1, 1)
# ``json.dumps(extra, sort_keys=True, default=str)``, with one encoder instead of one per call.
_EXTRA_JSON = json.JSONEncoder(sort_keys=True, default=str)
_NO_REFERENCE = {"", "NONREF", "NOTPROVIDED", "NONE", "N/A"}

# Columns of a prepared line, in order; the writer puts statement_id and status in front.
LINE_COLUMNS = (
    "line_key", "account", "currency", "booking_date", "value_date", "amount_minor",
    "bank_reference", "end_to_end_reference", "customer_reference", "transaction_code",
    "counterparty_name", "counterparty_account", "counterparty_bic", "remittance",
    "creditor_reference", "creditor_reference_type", "is_reversal", "raw", "extra_json",
)
KEY, CURRENCY, AMOUNT = 0, 2, 5  # positions in a prepared line


@dataclass(slots=True)
class PreparedStatement:
    """One statement as the writer needs it: identity, balances and line rows (plain tuples)."""

    source_format: str
    account: str
    currency: str
    key: str
    key_date: date
    content_hash: str
    statement_id: str | None
    sequence: str | None
    statement_date: date | None
    from_date: date | None
    to_date: date | None
    opening_minor: int | None
    closing_minor: int | None
    balances_json: str
    lines_total: int  # Σ line amounts, for the balance check
    rows: list[tuple] = field(default_factory=list)  # LINE_COLUMNS order
    applicable: list[bool] = field(default_factory=list)  # a credit that is no reversal
    cheque_lines: list[BankLine] = field(default_factory=list)  # cheque logs only: status updates

    @property
    def balance_gap(self) -> int | None:
        if self.opening_minor is None or self.closing_minor is None:
            return None
        return self.closing_minor - (self.opening_minor + self.lines_total)


def statement_key(st: Statement) -> str:
    """Statement identity within an account: the sequence number, else the statement id.

    Some banks (Rabobank) restart sequence numbers every year, so the key date is part of the
    identity too (see the unique constraint). Without either, the content itself is the key.
    """
    if st.sequence:
        key = f"seq:{st.sequence.strip()}"
        if st.opening is not None and st.opening.type == BalanceType.ITBD:
            # A continuation page (opening :60M:) of a statement whose pages share one number.
            key += f"|from:{st.opening.amount_minor}"
        return key[:200]
    if st.statement_id:
        return f"id:{st.statement_id.strip()}"[:200]
    return f"content:{st.content_hash()}"


def _line_identity(line: BankLine, account: str) -> tuple[str, ...]:
    ref = (line.bank_reference or "").strip()
    base = (account, line.currency, ref, line.booking_date.isoformat(), str(line.amount_minor))
    if ref.upper() in _NO_REFERENCE:
        # No usable bank reference: the counterparty and text have to tell lines apart.
        return (*base, line.counterparty_account or "", line.counterparty_name or "",
                line.remittance or "", line.end_to_end_reference or "")
    return base


def line_keys(st: Statement) -> list[str]:
    """One key per line; identical lines in one statement get an occurrence number."""
    seen: Counter[tuple[str, ...]] = Counter()
    keys = []
    sha = hashlib.sha256
    for line in st.lines:
        ident = _line_identity(line, st.account)
        n = seen[ident]
        seen[ident] += 1
        keys.append(sha("\x1f".join((*ident, str(n))).encode()).hexdigest())
    return keys


def _head_repr(st: Statement) -> bytes:
    def bal(b: object) -> object:
        return None if b is None else (b.type, b.amount_minor, b.currency, b.date)  # type: ignore[attr-defined]

    head = (st.source_format, st.account, st.currency, st.statement_id, st.sequence,
            st.statement_date, st.from_date, st.to_date, st.account_owner,
            st.servicer_bic, *(bal(b) for b in (st.opening, st.closing)),
            *(bal(b) for b in st.balances))
    return repr(head).encode()


def prepare(st: Statement) -> PreparedStatement:
    """Keys, hash and rows of one statement; one JSON encoding of each line's extra detail.

    The hash equals :meth:`Statement.content_hash` (a test holds them together): each line's part
    is written as ``repr`` writes the tuple ``content_hash`` hashes (items joined by ", " in
    parentheses, each item by its own ``repr``), with the ``repr`` of a plain ``date`` taken once
    per day, and the parts go to SHA-256 in one piece (the same bytes in the same order).
    The line keys are those of :func:`line_keys`. Pending entries (camt.052/054 "PDNG") are
    dropped first: they are not booked yet and may never be, so they are not receipts; stored,
    they would also hide the booked line that follows under the same key.
    """
    st.lines = lines = [ln for ln in st.lines if not ln.extra or ln.extra.get("status") != "PDNG"]
    account = st.account
    dumps = _EXTRA_JSON.encode
    sha = hashlib.sha256
    no_reference = _NO_REFERENCE
    seen: dict[tuple[str, ...], int] = {}
    dates: dict[date, tuple[str, str]] = {}  # plain date -> (repr, isoformat)
    parts: list[str] = []
    rows: list[tuple] = []
    applicable: list[bool] = []
    total = 0
    for ln in lines:
        booking, value, amount, currency = ln.booking_date, ln.value_date, ln.amount_minor, ln.currency
        bank_ref, e2e, name, cp_account = ln.bank_reference, ln.end_to_end_reference, ln.counterparty_name, \
            ln.counterparty_account
        remittance, reversal, extra = ln.remittance, ln.is_reversal, ln.extra
        # the line key (see _line_identity / line_keys)
        if booking.__class__ is date:
            known = dates.get(booking)
            if known is None:
                known = dates[booking] = (repr(booking), booking.isoformat())
            booking_repr, booking_iso = known
        else:
            booking_repr, booking_iso = repr(booking), booking.isoformat()
        ref = (bank_ref or "").strip()
        if ref.upper() in no_reference:
            ident: tuple[str, ...] = (account, currency, ref, booking_iso, str(amount), cp_account or "", name or "",
                                      remittance or "", e2e or "")
        else:
            ident = (account, currency, ref, booking_iso, str(amount))
        n = seen.get(ident, 0)
        seen[ident] = n + 1
        key = sha("\x1f".join((*ident, str(n))).encode()).hexdigest()
        # the content hash part: repr() of Statement.content_hash's line tuple
        if value is None:
            value_repr = "None"
        elif value.__class__ is date:
            known = dates.get(value)
            if known is None:
                known = dates[value] = (repr(value), value.isoformat())
            value_repr = known[0]
        else:
            value_repr = repr(value)
        extra_json = dumps(extra) if extra else ""
        tx_code, bic, cref, cref_type, cust_ref = ln.transaction_code, ln.counterparty_bic, ln.creditor_reference, \
            ln.creditor_reference_type, ln.customer_reference
        parts.append(f"({booking_repr}, {value_repr}, {amount!r}, {currency!r}, {bank_ref!r}, {e2e!r}, {cust_ref!r}, "
                     f"{tx_code!r}, {name!r}, {cp_account!r}, {bic!r}, {remittance!r}, {cref!r}, {cref_type!r}, "
                     f"{reversal!r}, {extra_json!r})")
        total += amount
        rows.append((
            key, account, currency, booking, value, amount,
            bank_ref[:200] if bank_ref else bank_ref, e2e[:200] if e2e else e2e,
            cust_ref[:200] if cust_ref else cust_ref, tx_code[:64] if tx_code else tx_code,
            name[:300] if name else name, cp_account[:64] if cp_account else cp_account,
            bic[:16] if bic else bic, remittance, cref[:64] if cref else cref,
            cref_type[:16] if cref_type else cref_type, reversal, ln.raw, extra_json or "{}",
        ))
        applicable.append(amount > 0 and not reversal)
    h = hashlib.sha256(_head_repr(st))
    h.update(b"".join([part.encode() for part in parts]))
    chash = h.hexdigest()
    key = statement_key(st) if st.sequence or st.statement_id else f"content:{chash}"
    return PreparedStatement(
        source_format=str(st.source_format), account=account, currency=st.currency, key=key,
        key_date=st.key_date() or _EPOCH, content_hash=chash, statement_id=st.statement_id,
        sequence=st.sequence, statement_date=st.statement_date, from_date=st.from_date,
        to_date=st.to_date,
        opening_minor=st.opening.amount_minor if st.opening else None,
        closing_minor=st.closing.amount_minor if st.closing else None,
        balances_json=json.dumps([asdict(b) for b in st.balances], default=str),
        lines_total=total, rows=rows, applicable=applicable,
        cheque_lines=st.lines if st.source_format == SourceFormat.CHEQUE_LOG else [],
    )
