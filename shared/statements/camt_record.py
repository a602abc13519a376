"""A camt record's header (id, account, dates, balances) and the statement made of a record.

Shared by both ways of reading a camt file (:mod:`shared.statements.camt`: the tree reader and the
raw reader), which hand over the record element holding the header, the kind and the lines.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from shared.errors import ParseError
from shared.statements.camt_entries import EntryContext
from shared.statements.camt_xml import (
    RAW_LIMIT,
    Element,
    Xml,
    direction,
    local_name,
    parse_currency,
    parse_date,
    raw_xml,
)
from shared.statements.model import Balance, BalanceType, BankLine, SourceFormat, Statement

_BALANCE_TYPES = frozenset(t.value for t in BalanceType) - {"OTHER"}


class RecordLike(Protocol):
    """What :func:`statement` needs of a record being read."""

    kind: SourceFormat
    lines: list[BankLine]

    def ensure_header(self) -> Header: ...


class Header:
    """Everything a record says before its entries: id, account, dates, balances."""

    def __init__(self, x: Xml, el: Element) -> None:
        acct = x.child(el, "Acct")
        account = x.first_text(acct, ("Id", "IBAN"), ("Id", "Othr", "Id"), ("Id", "PrtryAcct", "Id"),
                               ("Id", "BBAN"), ("Id", "UPIC"), ("Id", "DmstAcct", "Id"))
        if not account:
            raise ParseError("camt record without account id", code="INGEST_CAMT_NO_ACCOUNT")
        self.account = account
        ccy = x.text(acct, "Ccy")
        self.currency = parse_currency(ccy) if ccy else None
        self.owner = x.first_text(acct, ("Ownr", "Nm"), ("Ownr", "Pty", "Nm"))
        self.servicer_bic = x.first_text(acct, ("Svcr", "FinInstnId", "BIC"), ("Svcr", "FinInstnId", "BICFI"))
        self.statement_id = x.text(el, "Id")
        self.sequence = x.text(el, "ElctrncSeqNb") or x.text(el, "LglSeqNb")
        period = x.child(el, "FrToDt")
        self.from_date = _date_of(x.first_text(period, ("FrDtTm",), ("FrDt",)))
        self.to_date = _date_of(x.first_text(period, ("ToDtTm",), ("ToDt",)))
        self.created = _date_of(x.text(el, "CreDtTm"))
        self.balances = [_balance(x, bal, self.currency) for bal in x.children(el, "Bal")]
        closing = self.first("CLBD")
        self.statement_date = (closing.date if closing else None) or self.to_date or self.created
        self.raw = _raw_header(el)

    def first(self, *types: str) -> Balance | None:
        for wanted in types:
            for bal in self.balances:
                if bal.type == wanted:
                    return bal
        return None

    def context(self, kind: SourceFormat) -> EntryContext:
        return EntryContext(kind.value, self.currency, self.statement_date)


def _date_of(raw: str | None) -> date | None:
    return parse_date(raw) if raw else None


def _balance(x: Xml, bal: Element, account_ccy: str | None) -> Balance:
    tp = x.child(bal, "Tp")
    code = x.first_text(tp, ("CdOrPrtry", "Cd"), ("CdOrPrtry", "Prtry"), ("Cd",), ("Prtry",))
    kind = code.upper() if code and code.upper() in _BALANCE_TYPES else BalanceType.OTHER.value
    amt = x.child(bal, "Amt")
    if amt is None:
        raise ParseError(f"{kind} balance without amount", code="INGEST_CAMT_MISSING_AMOUNT")
    minor, ccy = x.amount(amt, account_ccy)
    # The Lithuanian camt-to-coda samples omit CdtDbtInd on balances: read as a credit balance.
    sign = direction(x, bal, required=False) or 1
    return Balance(type=kind, amount_minor=sign * minor, currency=ccy, date=x.date(x.child(bal, "Dt")))


def _raw_header(el: Element) -> str:
    parts: list[str] = []
    size = 0
    for child in el.iterchildren():
        if local_name(child.tag) == "Ntry":
            break
        parts.append(raw_xml(child))
        size += len(parts[-1])
        if size > RAW_LIMIT:
            break
    return "\n".join(parts)[:RAW_LIMIT]


def statement(record: RecordLike) -> Statement:
    header = record.ensure_header()
    opening = header.first("OPBD", "PRCD")
    closing = header.first("CLBD")
    # Account currency, else the booked balances', else the entries', else any balance's.
    candidates = [b.currency for b in (opening, closing) if b is not None]
    candidates += [ln.currency for ln in record.lines[:1]] + [b.currency for b in header.balances]
    currency = header.currency or next(iter(candidates), None)
    if currency is None:
        raise ParseError("camt record states no currency anywhere", code="INGEST_CAMT_NO_CURRENCY")
    return Statement(
        source_format=record.kind,
        account=header.account,
        currency=currency,
        statement_id=header.statement_id,
        sequence=header.sequence,
        statement_date=header.statement_date,
        from_date=header.from_date,
        to_date=header.to_date,
        opening=opening,
        closing=closing,
        balances=header.balances,
        lines=record.lines,
        account_owner=header.owner,
        servicer_bic=header.servicer_bic,
        raw_header=header.raw,
    )
