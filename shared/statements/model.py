"""The one canonical bank-statement model every parser produces.

The matcher never knows which format a line came from. Amounts are signed integer minor units
(credit > 0, debit < 0) with the ISO 4217 currency beside them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class SourceFormat(StrEnum):
    MT940 = "mt940"
    MT942 = "mt942"
    CAMT052 = "camt.052"
    CAMT053 = "camt.053"
    CAMT054 = "camt.054"
    OFX = "ofx"
    CHEQUE_LOG = "cheque_log"


class BalanceType(StrEnum):
    """ISO 20022 balance type codes; MT940 tags map onto them (60F=OPBD, 62F=CLBD, ...)."""

    OPBD = "OPBD"  # opening booked
    CLBD = "CLBD"  # closing booked
    PRCD = "PRCD"  # previously closed booked
    ITBD = "ITBD"  # interim booked (MT940 60M/62M)
    CLAV = "CLAV"  # closing available (MT940 64)
    FWAV = "FWAV"  # forward available (MT940 65)
    OPAV = "OPAV"
    ITAV = "ITAV"
    OTHER = "OTHER"


@dataclass(slots=True)
class Balance:
    type: str
    amount_minor: int  # signed
    currency: str
    date: date | None = None


def _balance_tuple(b: Balance | None) -> tuple[object, ...] | None:
    return None if b is None else (b.type, b.amount_minor, b.currency, b.date)


@dataclass(slots=True)
class BankLine:
    """One booked movement. For cheque logs, one cheque."""

    booking_date: date
    amount_minor: int  # signed: credit > 0, debit < 0
    currency: str
    value_date: date | None = None
    bank_reference: str | None = None  # MT940: :61: reference after '//'; CAMT: AcctSvcrRef
    end_to_end_reference: str | None = None  # customer / end-to-end reference (EREF, EndToEndId)
    customer_reference: str | None = None  # MT940 :61: reference for the account owner
    transaction_code: str | None = None  # MT940 type code / GVC; CAMT BkTxCd; OFX TRNTYPE
    counterparty_name: str | None = None
    counterparty_account: str | None = None  # IBAN or account number
    counterparty_bic: str | None = None
    remittance: str | None = None  # unstructured remittance text, all parts joined
    creditor_reference: str | None = None  # structured creditor ref (RF ISO 11649, QRR/ESR, ...)
    creditor_reference_type: str | None = None  # "SCOR", "QRR", "ESR", "ISR", ... when known
    is_reversal: bool = False
    raw: str = ""  # source text of the line, kept for audit
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific detail (cheque fields ...)

    @property
    def is_credit(self) -> bool:
        return self.amount_minor > 0


@dataclass(slots=True)
class Statement:
    source_format: SourceFormat
    account: str  # IBAN when known, else the bank's account number
    currency: str
    statement_id: str | None = None  # MT940 :20: / :28C: ; CAMT Stmt/Id
    sequence: str | None = None  # MT940 :28C: statement/sequence; CAMT ElctrncSeqNb / LglSeqNb
    statement_date: date | None = None  # date the statement speaks for (closing balance / to-date)
    from_date: date | None = None
    to_date: date | None = None
    opening: Balance | None = None  # OPBD (MT940 60F/60M)
    closing: Balance | None = None  # CLBD (MT940 62F/62M)
    balances: list[Balance] = field(default_factory=list)  # every balance found, incl. the two above
    lines: list[BankLine] = field(default_factory=list)
    account_owner: str | None = None
    servicer_bic: str | None = None
    raw_header: str = ""

    def key_date(self) -> date | None:
        """The date part of the statement's identity: statement date, else to / from date."""
        return self.statement_date or self.to_date or self.from_date or (
            max((ln.booking_date for ln in self.lines), default=None)
        )

    def content_hash(self) -> str:
        """Stable hash of what the statement says (not of bytes), to tell re-sends from conflicts.

        Covers the header, every balance and every line field except ``raw`` (layout only).
        """
        h = hashlib.sha256()
        head = (self.source_format, self.account, self.currency, self.statement_id, self.sequence,
                self.statement_date, self.from_date, self.to_date, self.account_owner,
                self.servicer_bic, *(_balance_tuple(b) for b in (self.opening, self.closing)),
                *(_balance_tuple(b) for b in self.balances))
        h.update(repr(head).encode())
        for ln in self.lines:
            h.update(repr((
                ln.booking_date, ln.value_date, ln.amount_minor, ln.currency, ln.bank_reference,
                ln.end_to_end_reference, ln.customer_reference, ln.transaction_code,
                ln.counterparty_name, ln.counterparty_account, ln.counterparty_bic, ln.remittance,
                ln.creditor_reference, ln.creditor_reference_type, ln.is_reversal,
                json.dumps(ln.extra, sort_keys=True, default=str) if ln.extra else "",
            )).encode())
        return h.hexdigest()

    def credit_total(self) -> int:
        return sum(ln.amount_minor for ln in self.lines if ln.amount_minor > 0)

    def debit_total(self) -> int:
        return -sum(ln.amount_minor for ln in self.lines if ln.amount_minor < 0)

    def balance_gap(self) -> int | None:
        """closing - (opening + sum of lines); ``None`` when either booked balance is missing."""
        if self.opening is None or self.closing is None:
            return None
        return self.closing.amount_minor - (
            self.opening.amount_minor + sum(ln.amount_minor for ln in self.lines)
        )
