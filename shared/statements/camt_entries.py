"""CAMT entries (``Ntry``) -> canonical bank lines: status policy, batches, and the element reader.

:func:`entry_lines` tries the fast reader (:mod:`shared.statements.camt_fast`: one serialization
and pattern matches per entry) and takes the element reader below for every entry the fast one
does not cover. Both hand the same values to the rules in :mod:`shared.statements.camt_lines`,
so the lines and errors are the same whichever reader ran (an error found by the fast reader is
raised by the element reader, with its own message). The element reader reads elements by local
name with the strict readers of :mod:`shared.statements.camt_xml`.
"""

from __future__ import annotations

from datetime import date

from shared.errors import ParseError
from shared.statements import camt_fast
from shared.statements.camt_lines import (
    NO_PARTY,
    DateRead,
    Party,
    TxFacts,
    bare_line,
    batch_lines,
    build_entry,
    line_for,
    merge_batch,
    note_transaction_amount,
    ref_extras,
    split_batch,
)
from shared.statements.camt_xml import RAW_LIMIT, Element, Kids, Xml, raw_xml, text_of
from shared.statements.model import BankLine

__all__ = ["KEEP_STATUSES", "RAW_LIMIT", "EntryContext", "entry_lines", "entry_status", "transaction_code", "tx_facts"]

# Which entry statuses become lines. A camt.053 statement is the booked record: only booked
# entries count. camt.052 (intraday report) and camt.054 (debit/credit notification) are early
# information used for cash application, so their pending entries are kept too, every line
# carrying extra["status"]; INFO / FUTR entries are advice, not movements, and are dropped.
KEEP_STATUSES: dict[str, frozenset[str]] = {
    "camt.053": frozenset({"BOOK"}),
    "camt.052": frozenset({"BOOK", "PDNG"}),
    "camt.054": frozenset({"BOOK", "PDNG"}),
}
_TX_AMOUNT_PATHS = (("Amt",), ("AmtDtls", "TxAmt", "Amt"), ("AmtDtls", "CntrValAmt", "Amt"),
                    ("AmtDtls", "InstdAmt", "Amt"))
_FAST_TRIAL = 32  # entries the fast reader gets in a record before it must have been of use


class EntryContext:
    """What an entry needs from its record: message kind, account currency, fallback date."""

    __slots__ = ("account_currency", "fast", "keep", "kind", "statement_date")

    def __init__(self, kind: str, account_currency: str | None, statement_date: date | None) -> None:
        self.kind = kind
        self.keep = KEEP_STATUSES.get(kind, KEEP_STATUSES["camt.053"])
        self.account_currency = account_currency
        self.statement_date = statement_date
        self.fast = camt_fast.FastState()


def entry_lines(x: Xml, ntry: Element, ctx: EntryContext) -> list[BankLine]:
    """One ``Ntry`` -> its bank lines (one per ``TxDtls`` of a batch booking, else one)."""
    fast = ctx.fast
    if fast.tried < _FAST_TRIAL or fast.used * 4 >= fast.tried:
        fast.tried += 1
        try:
            lines = camt_fast.entry_lines(x.ns, ntry, ctx)
        except ParseError:
            lines = None  # the element reader below raises it with the canonical message
        if lines is not None:
            fast.used += 1
            return lines
    return _entry_lines(x, ntry, ctx)


def entry_status(x: Xml, sts: Element | None) -> str:
    """``Sts`` as text (v1-v7: ``<Sts>BOOK</Sts>``; v8+: ``<Sts><Cd>BOOK</Cd></Sts>``).

    A missing status reads as BOOK: statements carry booked entries, and the Lithuanian
    camt-to-coda samples leave ``Sts`` out altogether.
    """
    if sts is None:
        return "BOOK"
    code = (sts.text or "").strip() or x.text(sts, "Cd") or x.text(sts, "Prtry")
    return (code or "BOOK").upper()


def transaction_code(x: Xml, btc: Element | None) -> tuple[str | None, str | None]:
    """``BkTxCd`` -> (ISO code "PMNT/RCDT/ESCT" or None, proprietary code or None)."""
    if btc is None:
        return None, None
    kids = x.index(btc)
    proprietary = x.text(kids.get("Prtry"), "Cd")
    domn = kids.get("Domn")
    if domn is None:
        return None, proprietary
    fmly = x.child(domn, "Fmly")
    parts = (x.text(domn, "Cd"), x.text(fmly, "Cd"), x.text(fmly, "SubFmlyCd"))
    return "/".join(p for p in parts if p) or None, proprietary


def _entry_lines(x: Xml, ntry: Element, ctx: EntryContext) -> list[BankLine]:
    """The element reader: every value read from lxml elements by local name."""
    names = x.names
    kids: Kids = {}
    txs: list[Element] = []  # camt.05x.001.01 puts TxDtls directly under Ntry
    details: list[Element] = []
    for node in ntry:
        name = names[node.tag]
        if name not in kids:
            kids[name] = node
        if name == "TxDtls":
            txs.append(node)
        elif name == "NtryDtls":
            details.append(node)
    status = entry_status(x, kids.get("Sts"))
    if status not in ctx.keep:
        return []
    amt = kids.get("Amt")
    entry = build_entry(
        ctx.kind, ctx.account_currency, ctx.statement_date, status,
        None if amt is None else (amt.text, amt.get("Ccy")), text_of(kids.get("CdtDbtInd")),
        text_of(kids.get("RvslInd")), _date_read(x, kids.get("ValDt")), _date_read(x, kids.get("BookgDt")),
        text_of(kids.get("NtryRef")), text_of(kids.get("AcctSvcrRef")), transaction_code(x, kids.get("BkTxCd")),
        text_of(kids.get("AddtlNtryInf")),
    )
    for dtls in details:  # some banks send one NtryDtls per TxDtls
        txs += [node for node in dtls if names[node.tag] == "TxDtls"]
    total = entry.sign * entry.minor
    if len(txs) <= 1:
        if not txs:
            return [bare_line(entry, total, raw_xml(ntry))]
        line = line_for(entry, tx_facts(x, txs[0]), total)
        amt = x.child(txs[0], "Amt")
        note_transaction_amount(line, entry, None if amt is None else (amt.text, amt.get("Ccy")))
        return [line]
    if not any(x.child(tx, "Amt") is not None or x.child(tx, "AmtDtls") is not None for tx in txs):
        # A batch booked as one amount whose details carry no amounts (seen in real files):
        # the entry stays one line, with what the details say merged into it.
        parts = [line_for(entry, tx_facts(x, tx), total) for tx in txs]
        return [merge_batch(bare_line(entry, total, raw_xml(ntry)), parts)]
    amounts = [_tx_amount(x, tx, entry.ccy) for tx in txs]
    signed = split_batch(entry, amounts, [x.text(tx, "CdtDbtInd") for tx in txs])
    return batch_lines(entry, [line_for(entry, tx_facts(x, tx), amount)
                               for tx, amount in zip(txs, signed, strict=True)])


def _date_read(x: Xml, el: Element | None) -> DateRead:
    """(text of the first ``Dt``, else of the first ``DtTm``; whether either element is there)."""
    if el is None:
        return None, False
    dt = x.child(el, "Dt")
    dttm = x.child(el, "DtTm")
    return text_of(dt) or text_of(dttm), dt is not None or dttm is not None


def _tx_amount(x: Xml, tx: Element, ccy: str) -> int | None:
    """The transaction's amount in the entry currency: ``Amt``, then the ``AmtDtls`` amounts."""
    for path in _TX_AMOUNT_PATHS:
        amt = x.child(tx, *path)
        if amt is not None and (amt.get("Ccy") or ccy).strip().upper() == ccy:
            return x.amount(amt, ccy)[0]
    return None


def tx_facts(x: Xml, tx: Element) -> TxFacts:
    """The values of one ``TxDtls`` element (see :class:`TxFacts`)."""
    kids = x.index(tx)
    facts = TxFacts()
    facts.raw = raw_xml(tx)
    refs = {name: text_of(node) for name, node in x.index(kids.get("Refs")).items()}
    facts.e2e, facts.bank_reference = refs.get("EndToEndId"), refs.get("AcctSvcrRef")
    facts.ref_extras = ref_extras(refs)
    facts.code, facts.prtry = transaction_code(x, kids.get("BkTxCd"))
    parties = x.index(kids.get("RltdPties"))
    agents = kids.get("RltdAgts")
    facts.debtor = _party(x, parties, agents, "Dbtr")
    facts.creditor = _party(x, parties, agents, "Cdtr")
    rmt = kids.get("RmtInf")
    facts.ustrd = x.texts(rmt, "Ustrd")
    facts.creditor_refs, facts.docs, facts.notes = [], [], []
    for strd in x.children(rmt, "Strd"):
        for cri in x.children(strd, "CdtrRefInf"):
            ref = x.text(cri, "Ref")
            if ref:
                facts.creditor_refs.append(
                    (ref, x.first_text(cri, ("Tp", "CdOrPrtry", "Cd"), ("Tp", "CdOrPrtry", "Prtry"))))
        facts.docs += [n for n in (x.text(doc, "Nb") for doc in x.children(strd, "RfrdDocInf")) if n]
        facts.notes += x.texts(strd, "AddtlRmtInf")
    facts.addtl = text_of(kids.get("AddtlTxInf"))
    return facts


def _party(x: Xml, parties: Kids, agents: Element | None, role: str) -> Party:
    party = parties.get(role)
    acct = x.child(parties.get(role + "Acct"), "Id")
    agent = x.child(agents, role + "Agt", "FinInstnId")
    ultimate = parties.get("Ultmt" + role)
    if party is None and acct is None and agent is None and ultimate is None:
        return NO_PARTY
    return Party(
        x.first_text(party, ("Nm",), ("Pty", "Nm"), ("Agt", "FinInstnId", "Nm")) if party is not None else None,
        x.first_text(acct, ("IBAN",), ("Othr", "Id")) if acct is not None else None,
        x.first_text(agent, ("BIC",), ("BICFI",)) if agent is not None else None,
        x.first_text(ultimate, ("Nm",), ("Pty", "Nm")) if ultimate is not None else None,
    )

