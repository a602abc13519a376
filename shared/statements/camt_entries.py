"""CAMT entries (``Ntry``) -> canonical bank lines, and the strict readers the parser shares.

Readers: every ISO 20022 version of camt.052/053/054 uses the same local element names, so the
parser binds the namespace the document uses and walks children by local name. Amounts, dates,
currencies and indicators are read strictly; every reader raises :class:`ParseError` with a
specific code and lets no other exception out.

Entries: see :func:`entry_lines` for batches, :data:`KEEP_STATUSES` for the status policy,
:func:`_line` for references / counterparty / remittance.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lxml import etree

from shared.errors import ParseError
from shared.money import to_minor
from shared.statements.model import BankLine

RAW_LIMIT = 4096  # characters of source XML kept per line / statement header, for audit

_AMOUNT_RE = re.compile(r"\d{1,30}(?:\.\d{1,30})?")
_CCY_RE = re.compile(r"[A-Z]{3}")
# xs:date / xs:dateTime: the date part as written, then nothing, a time or a time zone.
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T Z+-])")

Element = Any  # lxml's _Element; typed loosely because lxml-stubs are not installed
Kids = dict[str, Element]


def local_name(tag: object) -> str:
    """Local part of a Clark-notation tag (``{ns}Stmt`` -> ``Stmt``); '' for comments / PIs."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def namespace_of(tag: str) -> str:
    """The ``{ns}`` prefix of a Clark-notation tag ('' when the element has no namespace)."""
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


class Xml:
    """Child lookups bound to one namespace, by local name, tolerant of missing parents."""

    __slots__ = ("ns",)

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def index(self, el: Element | None) -> Kids:
        """First child of ``el`` per tag, for elements read several times (one pass, not N)."""
        kids: Kids = {}
        if el is not None:
            for node in el:
                kids.setdefault(node.tag, node)
        return kids

    def get(self, kids: Kids, name: str) -> Element | None:
        """Child ``name`` from an :meth:`index`."""
        return kids.get(self.ns + name)

    def val(self, kids: Kids, name: str) -> str | None:
        """Stripped text of child ``name`` from an :meth:`index` (None when absent or blank)."""
        node = kids.get(self.ns + name)
        if node is None or node.text is None:
            return None
        return node.text.strip() or None

    def child(self, el: Element | None, *names: str) -> Element | None:
        """The first child at the path ``names`` below ``el``, or None."""
        for name in names:
            if el is None:
                return None
            tag, found = self.ns + name, None
            for node in el:  # a plain loop beats iterchildren(tag) on these small elements
                if node.tag == tag:
                    found = node
                    break
            el = found
        return el

    def children(self, el: Element | None, name: str) -> list[Element]:
        """Every direct child of ``el`` called ``name`` (empty when ``el`` is None)."""
        if el is None:
            return []
        tag = self.ns + name
        return [node for node in el if node.tag == tag]

    def text(self, el: Element | None, *names: str) -> str | None:
        """Stripped text of the child at ``names`` (None when absent or blank)."""
        node = self.child(el, *names)
        if node is None or node.text is None:
            return None
        return node.text.strip() or None

    def texts(self, el: Element | None, name: str) -> list[str]:
        """Stripped, non-blank texts of every direct child called ``name``."""
        out = []
        for node in self.children(el, name):
            if node.text and node.text.strip():
                out.append(node.text.strip())
        return out

    def first_text(self, el: Element | None, *paths: tuple[str, ...]) -> str | None:
        """Text of the first of several alternative paths that has one."""
        for path in paths:
            value = self.text(el, *path)
            if value:
                return value
        return None

    def date(self, el: Element | None) -> date | None:
        """A ``Dt`` or ``DtTm`` child of ``el`` as a date (the date part as written)."""
        if el is None:
            return None
        raw = self.text(el, "Dt") or self.text(el, "DtTm")
        if raw is None:
            if self.child(el, "Dt") is not None or self.child(el, "DtTm") is not None:
                raise ParseError("empty date", code="INGEST_BAD_DATE")
            return None
        return parse_date(raw)

    def amount(self, amt: Element, fallback_ccy: str | None) -> tuple[int, str]:
        """``<Amt Ccy="EUR">12.30</Amt>`` -> (1230, "EUR"), exact (see :func:`parse_amount`)."""
        return parse_amount(amt.text, amt.get("Ccy"), fallback_ccy)


@lru_cache(maxsize=4096)
def parse_date(raw: str) -> date:
    """``2024-03-12``, ``2024-03-12T10:15:00+01:00``, ``2024-03-12+01:00`` -> date(2024, 3, 12).

    The date part is taken as written: a booking date is a calendar day at the bank, and turning
    it into UTC would move late-evening bookings to the next day.
    """
    match = _DATE_RE.match(raw.strip())
    if not match:
        raise ParseError(f"not a date: {raw[:40]!r}", code="INGEST_BAD_DATE")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise ParseError(f"not a date: {raw[:40]!r}", code="INGEST_BAD_DATE") from exc


def parse_currency(raw: str | None, fallback: str | None = None) -> str:
    """An ISO 4217 alphabetic code (upper-cased); refuses anything else."""
    ccy = (raw or fallback or "").strip().upper()
    if not _CCY_RE.fullmatch(ccy):
        raise ParseError(f"not a currency code: {ccy[:10]!r}", code="INGEST_BAD_CURRENCY")
    return ccy


def parse_amount(text: str | None, ccy_attr: str | None, fallback_ccy: str | None) -> tuple[int, str]:
    """ISO 20022 amount text and its ``Ccy`` attribute -> exact signed-less minor units.

    ISO amounts are unsigned with ``.`` as decimal separator (the sign is in ``CdtDbtInd``).
    More decimals than the currency has are accepted only when the extra digits are zeros
    (``18.150 EUR`` is exactly 18.15); anything finer is refused (``INGEST_BAD_AMOUNT``), never
    rounded.
    """
    raw = (text or "").strip()
    if not raw:
        raise ParseError("amount is empty", code="INGEST_CAMT_MISSING_AMOUNT")
    if not _AMOUNT_RE.fullmatch(raw):
        raise ParseError(f"not an ISO 20022 amount: {raw[:40]!r}", code="INGEST_BAD_AMOUNT")
    ccy = parse_currency(ccy_attr, fallback_ccy)
    return to_minor(Decimal(raw), ccy), ccy


def direction(x: Xml, el: Element, *, required: bool) -> int | None:
    """``CdtDbtInd`` of ``el``: +1 for CRDT, -1 for DBIT, None when absent and not required."""
    return _sign(x.text(el, "CdtDbtInd"), required=required)


def raw_xml(el: Element) -> str:
    """Serialized XML of ``el`` (without its tail), truncated to :data:`RAW_LIMIT` characters."""
    text: str = etree.tostring(el, encoding="unicode", with_tail=False)
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"


# --------------------------------------------------------------------------- entries -> lines

# Which entry statuses become lines. A camt.053 statement is the booked record: only booked
# entries count. camt.052 (intraday report) and camt.054 (debit/credit notification) are early
# information used for cash application, so their pending entries are kept too, every line
# carrying extra["status"]; INFO / FUTR entries are advice, not movements, and are dropped.
KEEP_STATUSES: dict[str, frozenset[str]] = {
    "camt.053": frozenset({"BOOK"}),
    "camt.052": frozenset({"BOOK", "PDNG"}),
    "camt.054": frozenset({"BOOK", "PDNG"}),
}
_NOT_PROVIDED = frozenset({"NOTPROVIDED", "NOT PROVIDED", "NONREF"})
# PostFinance (CH) writes technical markers such as "?REJECT?0" / "?ERROR?000" into
# Strd/AddtlRmtInf; they are processing flags, not remittance text, and would mislead the matcher.
_POSTFINANCE_MARKER_RE = re.compile(r"\?[A-Z]+\?\d*")
_CREF_TYPES = ("SCOR", "QRR", "ESR", "ISR", "IPI")
_RF_RE = re.compile(r"RF\d{2}[0-9A-Z]{1,21}")
_QRR_RE = re.compile(r"\d{27}")
_REF_EXTRAS = (("InstrId", "instruction_id"), ("MsgId", "message_id"), ("PmtInfId", "payment_information_id"),
               ("TxId", "transaction_id"), ("MndtId", "mandate_id"), ("UETR", "uetr"))
_TX_AMOUNT_PATHS = (("Amt",), ("AmtDtls", "TxAmt", "Amt"), ("AmtDtls", "CntrValAmt", "Amt"),
                    ("AmtDtls", "InstdAmt", "Amt"))


class EntryContext:
    """What an entry needs from its record: message kind, account currency, fallback date."""

    __slots__ = ("account_currency", "keep", "kind", "statement_date")

    def __init__(self, kind: str, account_currency: str | None, statement_date: date | None) -> None:
        self.kind = kind
        self.keep = KEEP_STATUSES.get(kind, KEEP_STATUSES["camt.053"])
        self.account_currency = account_currency
        self.statement_date = statement_date


class _Entry:
    """Entry-level facts every line of one ``Ntry`` shares."""

    __slots__ = ("addtl", "bank_reference", "booking", "ccy", "code", "extra", "minor", "prtry", "reversal",
                 "sign", "value")

    def __init__(self, x: Xml, kids: Kids, ctx: EntryContext, status: str) -> None:
        amt = x.get(kids, "Amt")
        if amt is None:
            raise ParseError("entry without amount", code="INGEST_CAMT_MISSING_AMOUNT")
        self.minor, self.ccy = x.amount(amt, ctx.account_currency)
        self.sign = _sign(x.val(kids, "CdtDbtInd"), required=True) or 1
        self.reversal = (x.val(kids, "RvslInd") or "").lower() in ("true", "1")
        self.value = x.date(x.get(kids, "ValDt"))
        self.extra: dict[str, Any] = {}
        booking = x.date(x.get(kids, "BookgDt"))
        if booking is None:
            # Some banks (the Lithuanian camt-to-coda samples) send no BookgDt: the entry is booked
            # within the statement, so take the value date, else the statement date, and say so.
            booking = self.value or ctx.statement_date
            self.extra["booking_date_inferred"] = True
        if booking is None:
            raise ParseError("entry has no booking date", code="INGEST_BAD_DATE")
        self.booking = booking
        if ctx.kind != "camt.053":
            self.extra["status"] = status
        ntry_ref = x.val(kids, "NtryRef")
        if ntry_ref:
            self.extra["entry_reference"] = ntry_ref
        self.bank_reference = x.val(kids, "AcctSvcrRef")
        self.code, self.prtry = transaction_code(x, x.get(kids, "BkTxCd"))
        self.addtl = x.val(kids, "AddtlNtryInf")


def _sign(ind: str | None, *, required: bool) -> int | None:
    if ind == "CRDT":
        return 1
    if ind == "DBIT":
        return -1
    if ind is None and not required:
        return None
    raise ParseError(f"credit/debit indicator is {ind!r}, expected CRDT or DBIT",
                     code="INGEST_CAMT_NO_DIRECTION")


def entry_status(x: Xml, sts: Element | None) -> str:
    """``Sts`` as text (v1-v7: ``<Sts>BOOK</Sts>``; v8+: ``<Sts><Cd>BOOK</Cd></Sts>``).

    A missing status reads as BOOK: statements carry booked entries, and the Lithuanian
    camt-to-coda samples leave ``Sts`` out altogether.
    """
    if sts is None:
        return "BOOK"
    code = (sts.text or "").strip() or x.text(sts, "Cd") or x.text(sts, "Prtry")
    return (code or "BOOK").upper()


_CODE_CACHE: dict[bytes, tuple[str | None, str | None]] = {}


def transaction_code(x: Xml, btc: Element | None) -> tuple[str | None, str | None]:
    """``BkTxCd`` -> (ISO code "PMNT/RCDT/ESCT" or None, proprietary code or None).

    A file repeats a handful of codes; keyed by the element's exact XML, the walk is done once.
    """
    if btc is None:
        return None, None
    key = etree.tostring(btc, with_tail=False)
    found = _CODE_CACHE.get(key)
    if found is None:
        if len(_CODE_CACHE) > 4096:
            _CODE_CACHE.clear()
        found = _CODE_CACHE[key] = _walk_code(x, btc)
    return found


def _walk_code(x: Xml, btc: Element) -> tuple[str | None, str | None]:
    prtry = x.text(btc, "Prtry", "Cd")
    dom = x.child(btc, "Domn")
    if dom is None:
        return None, prtry
    fmly = x.child(dom, "Fmly")
    parts = (x.text(dom, "Cd"), x.text(fmly, "Cd"), x.text(fmly, "SubFmlyCd"))
    return "/".join(p for p in parts if p) or None, prtry


def entry_lines(x: Xml, ntry: Element, ctx: EntryContext) -> list[BankLine]:
    """One ``Ntry`` -> its bank lines (one per ``TxDtls`` of a batch booking, else one)."""
    kids = x.index(ntry)
    status = entry_status(x, x.get(kids, "Sts"))
    if status not in ctx.keep:
        return []
    entry = _Entry(x, kids, ctx, status)
    txs: list[Element] = []
    if x.get(kids, "TxDtls") is not None:
        txs = x.children(ntry, "TxDtls")  # camt.05x.001.01 puts TxDtls directly under Ntry
    if x.get(kids, "NtryDtls") is not None:
        for details in x.children(ntry, "NtryDtls"):  # some banks send one NtryDtls per TxDtls
            txs.extend(x.children(details, "TxDtls"))
    total = entry.sign * entry.minor
    if len(txs) <= 1:
        tx = txs[0] if txs else None
        line = _line(x, ntry, tx, entry, total)
        _note_transaction_amount(x, tx, entry, line)
        return [line]
    if not any(_has_amount(x, tx) for tx in txs):
        # A batch booked as one amount whose details carry no amounts (seen in real files):
        # the entry stays one line, with what the details say merged into it.
        return [_merge_batch(x, ntry, entry, [_line(x, ntry, tx, entry, total) for tx in txs])]
    signed = _split_batch(x, txs, entry)
    lines = [_line(x, ntry, tx, entry, amount) for tx, amount in zip(txs, signed, strict=True)]
    for line in lines:
        line.extra["batch_size"] = len(txs)
        if entry.bank_reference:
            line.extra["entry_bank_reference"] = entry.bank_reference
    return lines


def _has_amount(x: Xml, tx: Element) -> bool:
    return x.child(tx, "Amt") is not None or x.child(tx, "AmtDtls") is not None


def _tx_amount(x: Xml, tx: Element, ccy: str) -> int | None:
    """The transaction's amount in the entry currency: ``Amt``, then the ``AmtDtls`` amounts."""
    for path in _TX_AMOUNT_PATHS:
        amt = x.child(tx, *path)
        if amt is not None and (amt.get("Ccy") or ccy).strip().upper() == ccy:
            return x.amount(amt, ccy)[0]
    return None


def _split_batch(x: Xml, txs: list[Element], entry: _Entry) -> list[int]:
    """Signed per-transaction amounts of a batch; they must add up to the booked entry exactly."""
    amounts = [_tx_amount(x, tx, entry.ccy) for tx in txs]
    if any(a is None for a in amounts):
        raise ParseError(f"batch entry of {len(txs)} transactions has details without an amount "
                         f"in {entry.ccy}", code="INGEST_CAMT_BATCH_MISMATCH")
    signs = [_sign(x.text(tx, "CdtDbtInd"), required=False) for tx in txs]
    if len({s for s in signs if s is not None}) <= 1:
        # All details point one way: the entry's indicator is what was booked (PostFinance samples
        # mark details CRDT under a DBIT entry), so every part takes the entry's sign.
        signs = [entry.sign] * len(txs)
    signed = [(s or entry.sign) * (a or 0) for s, a in zip(signs, amounts, strict=True)]
    if sum(signed) != entry.sign * entry.minor:
        raise ParseError(f"batch details sum to {sum(signed)} minor units but the entry books "
                         f"{entry.sign * entry.minor} {entry.ccy}", code="INGEST_CAMT_BATCH_MISMATCH")
    return signed


def _note_transaction_amount(x: Xml, tx: Element | None, entry: _Entry, line: BankLine) -> None:
    """Keep a lone detail's own amount in extra when it differs from what was booked."""
    amt = x.child(tx, "Amt")
    if amt is None:
        return
    text, ccy = (amt.text or "").strip(), (amt.get("Ccy") or "").strip()
    try:
        same = ccy == entry.ccy and x.amount(amt, ccy)[0] == entry.minor
    except ParseError:
        same = False
    if not same:
        line.extra["transaction_amount"] = f"{text[:40]} {ccy[:3]}".strip()


def _line(x: Xml, ntry: Element, tx: Element | None, entry: _Entry, amount: int) -> BankLine:
    """A bank line for one transaction (``tx``) of ``entry``, or for the bare entry."""
    kids = x.index(tx)
    refs = x.index(x.get(kids, "Refs"))
    extra = dict(entry.extra)
    for tag, key in _REF_EXTRAS:
        value = x.val(refs, tag)
        if value and value.upper() not in _NOT_PROVIDED:
            extra[key] = value
    e2e = x.val(refs, "EndToEndId")
    # The ISO domain code wins over proprietary ones (German banks send Domn on the entry and
    # only their GVC "Prtry" on the details); the proprietary code is kept in extra.
    structured, prtry = transaction_code(x, x.get(kids, "BkTxCd"))
    prtry = prtry or entry.prtry
    code = structured or entry.code or prtry
    if prtry and prtry != code:
        extra["bank_transaction_code_proprietary"] = prtry
    line = BankLine(
        booking_date=entry.booking,
        amount_minor=amount,
        currency=entry.ccy,
        value_date=entry.value,
        bank_reference=x.val(refs, "AcctSvcrRef") or entry.bank_reference,
        end_to_end_reference=e2e if e2e and e2e.upper() not in _NOT_PROVIDED else None,
        transaction_code=code,
        is_reversal=entry.reversal,
        raw=raw_xml(tx if tx is not None else ntry),
        extra=extra,
    )
    # Debtor for money in, creditor for money out; a reversal undoes the original movement, whose
    # parties are the ones reported, so the side flips.
    _fill_party(x, kids, "Dbtr" if (amount > 0) != entry.reversal else "Cdtr", line)
    _fill_remittance(x, kids, entry, line)
    return line


def _fill_party(x: Xml, kids: Kids, role: str, line: BankLine) -> None:
    parties = x.index(x.get(kids, "RltdPties"))
    party = x.get(parties, role)
    if party is not None:
        line.counterparty_name = x.first_text(party, ("Nm",), ("Pty", "Nm"), ("Agt", "FinInstnId", "Nm"))
    acct = x.child(x.get(parties, role + "Acct"), "Id")
    if acct is not None:
        line.counterparty_account = x.first_text(acct, ("IBAN",), ("Othr", "Id"))
    agent = x.child(x.get(kids, "RltdAgts"), role + "Agt", "FinInstnId")
    if agent is not None:
        line.counterparty_bic = x.first_text(agent, ("BIC",), ("BICFI",))
    ultimate = x.get(parties, "Ultmt" + role)
    name = x.first_text(ultimate, ("Nm",), ("Pty", "Nm")) if ultimate is not None else None
    if name:
        line.extra["ultimate_debtor" if role == "Dbtr" else "ultimate_creditor"] = name


def _fill_remittance(x: Xml, kids: Kids, entry: _Entry, line: BankLine) -> None:
    rmt = x.get(kids, "RmtInf")
    parts = [p for p in x.texts(rmt, "Ustrd") if p.upper() not in _NOT_PROVIDED]
    refs: list[tuple[str, str | None]] = []
    docs: list[str] = []
    notes: list[str] = []
    for strd in x.children(rmt, "Strd"):
        for cri in x.children(strd, "CdtrRefInf"):
            ref = x.text(cri, "Ref")
            if ref:
                kind = x.first_text(cri, ("Tp", "CdOrPrtry", "Cd"), ("Tp", "CdOrPrtry", "Prtry"))
                refs.append((ref, _cref_type(kind, ref)))
        docs += [n for n in (x.text(doc, "Nb") for doc in x.children(strd, "RfrdDocInf")) if n]
        notes += [n for n in x.texts(strd, "AddtlRmtInf") if not _POSTFINANCE_MARKER_RE.fullmatch(n)]
    if not parts:
        parts = notes + [p for p in (x.val(kids, "AddtlTxInf") or entry.addtl,) if p]
    text = " ".join(" ".join(parts).split())
    for number in docs:
        if number not in text:
            text = f"{text} {number}".strip()
    line.remittance = text or None
    if refs:
        line.creditor_reference, line.creditor_reference_type = refs[0]
        if len(refs) > 1:
            line.extra["creditor_references"] = [r for r, _ in refs]
    if docs:
        line.extra["referred_documents"] = docs


def _cref_type(declared: str | None, ref: str) -> str | None:
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


def _merge_batch(x: Xml, ntry: Element, entry: _Entry, parts: list[BankLine]) -> BankLine:
    """Fold the lines of an amount-less batch into one line for the booked entry."""
    line = _line(x, ntry, None, entry, entry.sign * entry.minor)
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
