"""The camt business rules, on plain values: entry facts, one bank line per transaction, batches.

Two readers feed these rules with the same values: :mod:`shared.statements.camt_entries` reads
the lxml elements, :mod:`shared.statements.camt_fast` reads the serialized entry. Nothing here
touches XML, so both readers give the same lines and raise the same errors in the same order.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from shared.errors import ParseError
from shared.statements.camt_xml import parse_amount, parse_date, sign_of
from shared.statements.model import BankLine

NOT_PROVIDED = frozenset({"NOTPROVIDED", "NOT PROVIDED", "NONREF"})
# PostFinance (CH) writes technical markers such as "?REJECT?0" / "?ERROR?000" into
# Strd/AddtlRmtInf; they are processing flags, not remittance text, and would mislead the matcher.
POSTFINANCE_MARKER_RE = re.compile(r"\?[A-Z]+\?\d*")
_CREF_TYPES = ("SCOR", "QRR", "ESR", "ISR", "IPI")
_RF_RE = re.compile(r"RF\d{2}[0-9A-Z]{1,21}")
_QRR_RE = re.compile(r"\d{27}")
# Refs children kept in extra, in this order.
REF_EXTRAS = (("InstrId", "instruction_id"), ("MsgId", "message_id"), ("PmtInfId", "payment_information_id"),
              ("TxId", "transaction_id"), ("MndtId", "mandate_id"), ("UETR", "uetr"))
DateRead = tuple[str | None, bool]  # (stripped Dt / DtTm text, whether a Dt / DtTm element is there)


class Entry:
    """Entry-level facts every line of one ``Ntry`` shares."""

    __slots__ = ("addtl", "amt", "bank_reference", "booking", "ccy", "code", "extra", "minor", "prtry", "reversal",
                 "sign", "value")

    addtl: str | None
    amt: tuple[str | None, str | None]  # the Amt text and Ccy attribute as read
    bank_reference: str | None
    booking: date
    ccy: str
    code: str | None
    extra: dict[str, Any]
    minor: int
    prtry: str | None
    reversal: bool
    sign: int
    value: date | None


class Party:
    """What one side (``Dbtr`` or ``Cdtr``) of a transaction says: name, account, agent BIC."""

    __slots__ = ("account", "bic", "name", "ultimate")

    def __init__(self, name: str | None, account: str | None, bic: str | None, ultimate: str | None) -> None:
        self.name = name
        self.account = account
        self.bic = bic
        self.ultimate = ultimate


NO_PARTY = Party(None, None, None, None)


class TxFacts:
    """The values of one ``TxDtls`` the rules need (texts stripped; None when absent or blank)."""

    __slots__ = ("addtl", "bank_reference", "code", "creditor", "creditor_refs", "debtor", "docs", "e2e",
                 "notes", "prtry", "raw", "ref_extras", "ustrd")

    raw: str
    e2e: str | None  # Refs/EndToEndId
    bank_reference: str | None  # Refs/AcctSvcrRef
    ref_extras: list[tuple[str, str]]  # (extra key, value) per REF_EXTRAS reference given (see ref_extras())
    code: str | None  # ISO domain code of the transaction's own BkTxCd
    prtry: str | None  # its proprietary code
    debtor: Party
    creditor: Party
    ustrd: list[str]  # non-blank Ustrd texts
    creditor_refs: list[tuple[str, str | None]]  # (Ref, declared type) per CdtrRefInf with a Ref
    docs: list[str]  # RfrdDocInf/Nb
    notes: list[str]  # Strd/AddtlRmtInf
    addtl: str | None  # AddtlTxInf


def ref_extras(refs: dict[str, str | None]) -> list[tuple[str, str]]:
    """The references kept in extra, from ``{Refs child name: text}``, in :data:`REF_EXTRAS` order."""
    out = []
    for tag, key in REF_EXTRAS:
        value = refs.get(tag)
        if value and value.upper() not in NOT_PROVIDED:
            out.append((key, value))
    return out


def date_of(read: DateRead) -> date | None:
    """A date read by either reader; an element without text is refused (``INGEST_BAD_DATE``)."""
    raw, present = read
    if raw is None:
        if present:
            raise ParseError("empty date", code="INGEST_BAD_DATE")
        return None
    return parse_date(raw)


def build_entry(kind: str, account_currency: str | None, statement_date: date | None, status: str,
                amt: tuple[str | None, str | None] | None, ind: str | None, rvsl: str | None,
                value: DateRead, booking: DateRead, ntry_ref: str | None, bank_reference: str | None,
                code: tuple[str | None, str | None], addtl: str | None) -> Entry:
    """Entry facts from the values of one ``Ntry`` (checked in this order; ``amt`` is (text, Ccy))."""
    entry = Entry()
    if amt is None:
        raise ParseError("entry without amount", code="INGEST_CAMT_MISSING_AMOUNT")
    entry.amt = amt
    entry.minor, entry.ccy = parse_amount(amt[0], amt[1], account_currency)
    entry.sign = 1 if ind == "CRDT" else -1 if ind == "DBIT" else sign_of(ind, required=True) or 1
    entry.reversal = (rvsl or "").lower() in ("true", "1")
    entry.value = date_of(value)
    extra: dict[str, Any] = {}
    entry.extra = extra
    booked = date_of(booking)
    if booked is None:
        # Some banks (the Lithuanian camt-to-coda samples) send no BookgDt: the entry is booked
        # within the statement, so take the value date, else the statement date, and say so.
        booked = entry.value or statement_date
        extra["booking_date_inferred"] = True
    if booked is None:
        raise ParseError("entry has no booking date", code="INGEST_BAD_DATE")
    entry.booking = booked
    if kind != "camt.053":
        extra["status"] = status
    if ntry_ref:
        extra["entry_reference"] = ntry_ref
    entry.bank_reference = bank_reference
    entry.code, entry.prtry = code
    entry.addtl = addtl
    return entry


def line_for(entry: Entry, tx: TxFacts, amount: int) -> BankLine:
    """A bank line for one transaction (``tx``) of ``entry``."""
    extra = dict(entry.extra)
    for key, value in tx.ref_extras:
        extra[key] = value
    e2e = tx.e2e
    # The ISO domain code wins over proprietary ones (German banks send Domn on the entry and
    # only their GVC "Prtry" on the details); the proprietary code is kept in extra.
    prtry = tx.prtry or entry.prtry
    code = tx.code or entry.code or prtry
    if prtry and prtry != code:
        extra["bank_transaction_code_proprietary"] = prtry
    # Debtor for money in, creditor for money out; a reversal undoes the original movement, whose
    # parties are the ones reported, so the side flips.
    debtor_side = (amount > 0) != entry.reversal
    party = tx.debtor if debtor_side else tx.creditor
    line = BankLine(
        booking_date=entry.booking,
        amount_minor=amount,
        currency=entry.ccy,
        value_date=entry.value,
        bank_reference=tx.bank_reference or entry.bank_reference,
        end_to_end_reference=e2e if e2e and e2e.upper() not in NOT_PROVIDED else None,
        transaction_code=code,
        counterparty_name=party.name,
        counterparty_account=party.account,
        counterparty_bic=party.bic,
        is_reversal=entry.reversal,
        raw=tx.raw,
        extra=extra,
    )
    if party.ultimate:
        extra["ultimate_debtor" if debtor_side else "ultimate_creditor"] = party.ultimate
    _remittance(line, tx.ustrd, tx.creditor_refs, tx.docs, tx.notes, tx.addtl or entry.addtl)
    return line


def bare_line(entry: Entry, amount: int, raw: str) -> BankLine:
    """A bank line for an entry without transaction details (``raw``: the entry's XML)."""
    extra = dict(entry.extra)
    prtry = entry.prtry
    code = entry.code or prtry
    if prtry and prtry != code:
        extra["bank_transaction_code_proprietary"] = prtry
    line = BankLine(booking_date=entry.booking, amount_minor=amount, currency=entry.ccy, value_date=entry.value,
                    bank_reference=entry.bank_reference, transaction_code=code, is_reversal=entry.reversal,
                    raw=raw, extra=extra)
    _remittance(line, [], [], [], [], entry.addtl)
    return line


def _remittance(line: BankLine, ustrd: list[str], creditor_refs: list[tuple[str, str | None]], docs: list[str],
                notes: list[str], addtl: str | None) -> None:
    parts = [p for p in ustrd if p.upper() not in NOT_PROVIDED]
    if not parts:
        parts = [n for n in notes if not POSTFINANCE_MARKER_RE.fullmatch(n)]
        if addtl:
            parts.append(addtl)
    text = " ".join(" ".join(parts).split())
    for number in docs:
        if number not in text:
            text = f"{text} {number}".strip()
    line.remittance = text or None
    if creditor_refs:
        ref, declared = creditor_refs[0]
        line.creditor_reference, line.creditor_reference_type = ref, cref_type(declared, ref)
        if len(creditor_refs) > 1:
            line.extra["creditor_references"] = [r for r, _ in creditor_refs]
    if docs:
        line.extra["referred_documents"] = docs


def cref_type(declared: str | None, ref: str) -> str | None:
    """Normalise a declared creditor-reference type, or guess it from the reference's shape."""
    if declared:
        upper = declared.strip().upper()
        for known in _CREF_TYPES:
            if upper == known or upper.startswith(known + " "):
                return known  # "ISR Reference" -> "ISR"
        return declared.strip()
    compact = ref.replace(" ", "").upper()
    if _RF_RE.fullmatch(compact):
        return "SCOR"  # ISO 11649 RF creditor reference
    if _QRR_RE.fullmatch(compact):
        return "QRR"  # Swiss QR (formerly ESR) reference: 27 digits with a mod-10 check digit
    return None


def note_transaction_amount(line: BankLine, entry: Entry, amt: tuple[str | None, str | None] | None) -> None:
    """Keep a lone detail's own amount (``amt``: text, Ccy) in extra when it differs from what was booked."""
    if amt is None:
        return
    text, ccy = (amt[0] or "").strip(), (amt[1] or "").strip()
    if amt == entry.amt and amt[1]:
        same = ccy == entry.ccy  # the very amount the entry books, read the same way
    else:
        try:
            same = ccy == entry.ccy and parse_amount(amt[0], amt[1], ccy)[0] == entry.minor
        except ParseError:
            same = False
    if not same:
        line.extra["transaction_amount"] = f"{text[:40]} {ccy[:3]}".strip()


def split_batch(entry: Entry, amounts: list[int | None], indicators: list[str | None]) -> list[int]:
    """Signed per-transaction amounts of a batch; they must add up to the booked entry exactly.

    ``amounts``: each detail's amount in the entry currency (None: it states none);
    ``indicators``: each detail's ``CdtDbtInd`` text.
    """
    if any(a is None for a in amounts):
        raise ParseError(f"batch entry of {len(amounts)} transactions has details without an amount "
                         f"in {entry.ccy}", code="INGEST_CAMT_BATCH_MISMATCH")
    signs = [sign_of(ind, required=False) for ind in indicators]
    if len({s for s in signs if s is not None}) <= 1:
        # All details point one way: the entry's indicator is what was booked (PostFinance samples
        # mark details CRDT under a DBIT entry), so every part takes the entry's sign.
        signs = [entry.sign] * len(amounts)
    signed = [(s or entry.sign) * (a or 0) for s, a in zip(signs, amounts, strict=True)]
    if sum(signed) != entry.sign * entry.minor:
        raise ParseError(f"batch details sum to {sum(signed)} minor units but the entry books "
                         f"{entry.sign * entry.minor} {entry.ccy}", code="INGEST_CAMT_BATCH_MISMATCH")
    return signed


def batch_lines(entry: Entry, lines: list[BankLine]) -> list[BankLine]:
    """Mark the lines of a split batch."""
    for line in lines:
        line.extra["batch_size"] = len(lines)
        if entry.bank_reference:
            line.extra["entry_bank_reference"] = entry.bank_reference
    return lines


def merge_batch(line: BankLine, parts: list[BankLine]) -> BankLine:
    """Fold the lines of an amount-less batch into ``line``, the bare entry's line."""
    line.extra["batch_size"] = len(parts)
    for attr in ("end_to_end_reference", "counterparty_name", "counterparty_account",
                 "counterparty_bic", "creditor_reference", "creditor_reference_type"):
        values = {getattr(p, attr) for p in parts}
        setattr(line, attr, values.pop() if len(values) == 1 else None)
    e2e = [p.end_to_end_reference for p in parts if p.end_to_end_reference]
    if e2e:
        line.extra["batch_end_to_end_references"] = e2e
    crefs = [r for p in parts for r in p.extra.get("creditor_references", [p.creditor_reference]) if r]
    if len(crefs) > 1:
        line.extra["creditor_references"] = crefs
    texts = list(dict.fromkeys(p.remittance for p in parts if p.remittance))
    line.remittance = " ".join(texts) or line.remittance
    return line
