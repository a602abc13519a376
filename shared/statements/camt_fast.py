"""Fast reader for camt entries: one serialization and two pattern matches per ``Ntry``.

Reading an entry element by element through lxml costs about half a microsecond per element (a
Python proxy and a ``{namespace}name`` string each), and an entry has 30-60 elements. The audit
``raw`` text needs the serialized XML anyway, so this reader serializes the entry once, matches it
against the patterns of :mod:`shared.statements.camt_patterns` and hands the captured values to
the same rules as the element reader (:mod:`shared.statements.camt_lines`). An entry the patterns
do not cover gives None, and the element reader (:mod:`shared.statements.camt_entries`) reads it.

Why the values are the element reader's:

- lxml serializes an element well-formed: start tag, children, end tag; text and attribute values
  escaped (text: ``&amp; &lt; &gt; &#13;``), so ``<`` only starts markup.
- The patterns take unprefixed names only, with no namespace declaration below the ``Ntry`` start
  tag, whose first declaration must be the record's default namespace (:func:`_decls_ok`): every
  element read is in the record's namespace, the only one the element reader reads.
- See :mod:`shared.statements.camt_patterns` for first-child semantics and skipped elements.
- Leaf text: unescaped, then stripped, as ``.text`` then ``strip()``.
- ``TxDtls`` raw text: ``tostring(TxDtls)`` writes the element's namespace, then the declarations
  of its ancestors; with none on ``NtryDtls`` / ``TxDtls`` and the default namespace first on
  ``Ntry``, those are exactly the ``Ntry`` start tag's, before the same children.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lxml import etree

from shared.statements.camt_lines import (
    NO_PARTY,
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
from shared.statements.camt_one import Text as _Text
from shared.statements.camt_one import code_of as _code_of
from shared.statements.camt_one import get_patterns as _patterns
from shared.statements.camt_one import one_line
from shared.statements.camt_one import plain as _plain
from shared.statements.camt_one import text_of as _text
from shared.statements.camt_one import texts as _texts
from shared.statements.camt_one import unescape as _unescape
from shared.statements.camt_xml import RAW_LIMIT, parse_amount
from shared.statements.model import BankLine

if TYPE_CHECKING:
    from shared.statements.camt_entries import EntryContext

_Amount = tuple[str | None, str | None]  # Amt text (unescaped, as .text) and Ccy attribute
_Tx = tuple[TxFacts, _Amount | None, str | None, str | None]  # facts, Amt, CdtDbtInd, AmtDtls start tag
_tostring = etree.tostring


class FastState:
    """How the fast reader fares in one record (it stops trying where it keeps failing)."""

    __slots__ = ("decls", "tried", "used")

    def __init__(self) -> None:
        self.tried = 0
        self.used = 0
        self.decls: str | None = None  # the Ntry namespace declarations last found right


def _decls_ok(decls: str, ns: str, state: FastState) -> bool:
    """Whether the entry's default namespace is the record's, declared first (see the module doc)."""
    if decls == state.decls:
        return True
    # Without a namespace, no default namespace may be declared (an empty one is no namespace).
    ok = decls.startswith(f' xmlns="{ns[1:-1]}"') if ns else re.search(r' xmlns="[^"]', decls) is None
    if ok:
        state.decls = decls
    return ok


def entry_lines(ns: str, ntry: Any, ctx: EntryContext) -> list[BankLine] | None:
    """The lines of ``ntry`` (the element reader's), or None when the patterns do not cover it."""
    return lines_of(_tostring(ntry, encoding="unicode", with_tail=False), ns, ctx)


def lines_of(s: str, ns: str, ctx: EntryContext, decls: str | None = None) -> list[BankLine] | None:
    """:func:`entry_lines` of the entry whose serialization (``etree.tostring``) is ``s``, or is ``s``
    with the namespace declarations ``decls`` put into its start tag (``s`` then has none)."""
    patterns = _patterns()
    m = patterns.ntry.fullmatch(s)
    if m is None:
        return None
    g = m.groups()
    if decls is None:
        decls = g[0]
    elif g[0]:
        return None
    fast = ctx.fast
    if decls != fast.decls and not _decls_ok(decls, ns, fast):
        return None
    amp = "&" in s
    text = _text if amp else _plain
    # Sts: its own text (v1-v7), else Cd, else Prtry (only one of them matches).
    status = (text(g[6] or g[7] or g[8]) or "BOOK").upper()
    if status not in ctx.keep:
        return []
    span = m.span(patterns.txs_group)
    if span[0] >= 0:
        tm = patterns.tx.match(s, *span)
        if tm is None:
            return None
        if tm.end() == span[1]:
            return one_line(s, g, tm, ctx, status, amp, decls)
    return _lines(s, g, span, ctx, status, text, decls)


def _lines(s: str, g: tuple[Any, ...], span: tuple[int, int], ctx: EntryContext, status: str,
           text: _Text, decls: str) -> list[BankLine] | None:
    """The lines of a matched entry through the shared rules: batches and entries without details."""
    (_, ref, ccy, amt, ind, rvsl, _, _, _, bk_dt, bk_dttm, val_dt, val_dttm, acct_ref, btc, _, addtl) = g
    entry = build_entry(
        ctx.kind, ctx.account_currency, ctx.statement_date, status,
        (_unescape(amt) if text is _text else amt, ccy), text(ind), text(rvsl),
        (text(val_dt or val_dttm), val_dt is not None or val_dttm is not None),
        (text(bk_dt or bk_dttm), bk_dt is not None or bk_dttm is not None), text(ref), text(acct_ref),
        _code_of(btc), text(addtl),
    )
    txs = _transactions(s, span, decls, text)
    if txs is None:
        return None
    total = entry.sign * entry.minor
    if len(txs) == 1:  # not reached from entry_lines (one_line reads these), kept for completeness
        facts, tx_amt, _, _ = txs[0]
        line = line_for(entry, facts, total)
        note_transaction_amount(line, entry, tx_amt)
        return [line]
    whole = s if g[0] == decls else "<Ntry" + decls + s[5:]
    raw = whole if len(whole) <= RAW_LIMIT else whole[:RAW_LIMIT] + "…"
    if not txs:
        return [bare_line(entry, total, raw)]
    if not any(tx_amt is not None or amt_dtls for _, tx_amt, _, amt_dtls in txs):
        # A batch whose details carry no amounts: one line for the booked entry.
        return [merge_batch(bare_line(entry, total, raw), [line_for(entry, facts, total) for facts, _, _, _ in txs])]
    amounts: list[int | None] = []
    for _, tx_amt, _, amt_dtls in txs:
        if tx_amt is not None and (tx_amt[1] or entry.ccy).strip().upper() == entry.ccy:
            amounts.append(parse_amount(tx_amt[0], tx_amt[1], entry.ccy)[0])
        elif amt_dtls:
            return None  # the amount is somewhere in AmtDtls: the element reader looks
        else:
            amounts.append(None)
    signed = split_batch(entry, amounts, [tx_ind for _, _, tx_ind, _ in txs])
    return batch_lines(entry, [line_for(entry, facts, amount)
                               for (facts, _, _, _), amount in zip(txs, signed, strict=True)])


def _transactions(s: str, span: tuple[int, int], decls: str, text: _Text) -> list[_Tx] | None:
    """Each ``TxDtls`` of the entry's ``NtryDtls``, in order (None: not covered).

    The NTRY pattern only locates the run; matching one TxDtls after the other up to its end
    proves that they are all the run holds (each match is a complete element).
    """
    patterns = _patterns()
    pos, end = span
    out: list[_Tx] = []
    while 0 <= pos < end:
        tm = patterns.tx.match(s, pos, end)
        if tm is None:
            return None
        stop = tm.end()
        (msg_id, acct_svcr_ref, pmt_inf_id, instr_id, e2e, uetr, tx_id, mndt_id, ccy, amt, ind, amt_dtls, btc,
         d_nm, d_pnm, d_anm, da_iban, da_othr, ud_nm, ud_pnm, c_nm, c_pnm, c_anm, ca_iban, ca_othr, uc_nm, uc_pnm,
         dg_bic, dg_bicfi, cg_bic, cg_bicfi, ustrd, strd, addtl) = tm.groups()
        facts = TxFacts()
        raw = "<TxDtls" + decls + s[pos + 7 : stop]
        facts.raw = raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT] + "…"
        facts.e2e, facts.bank_reference = text(e2e), text(acct_svcr_ref)
        facts.ref_extras = [] if (msg_id is None and pmt_inf_id is None and instr_id is None and uetr is None
                                  and tx_id is None and mndt_id is None) else ref_extras(
            {"MsgId": text(msg_id), "PmtInfId": text(pmt_inf_id), "InstrId": text(instr_id), "UETR": text(uetr),
             "TxId": text(tx_id), "MndtId": text(mndt_id)})
        facts.code, facts.prtry = _code_of(btc)
        facts.debtor = _party(text, d_nm or d_pnm or d_anm, da_iban or da_othr, dg_bic or dg_bicfi, ud_nm or ud_pnm)
        facts.creditor = _party(text, c_nm or c_pnm or c_anm, ca_iban or ca_othr, cg_bic or cg_bicfi, uc_nm or uc_pnm)
        facts.ustrd = _texts(ustrd, "Ustrd", text)
        facts.creditor_refs, facts.docs, facts.notes = [], [], []
        if strd:
            for sm in patterns.strd.finditer(s, *tm.span(patterns.strd_group)):
                cd, prtry, ref, notes = sm.groups()
                ref = text(ref)
                if ref:
                    facts.creditor_refs.append((ref, text(cd or prtry)))
                facts.notes += _texts(notes, "AddtlRmtInf", text)
        facts.addtl = text(addtl)
        tx_amt = None if amt is None else (_unescape(amt) if "&" in amt else amt, ccy)
        out.append((facts, tx_amt, text(ind), amt_dtls))
        pos = stop
    return out


def _party(text: _Text, name: str | None, account: str | None, bic: str | None, ultimate: str | None) -> Party:
    """A side of the transaction from its captured leaves (each the only one of its alternatives)."""
    if name is None and account is None and bic is None and ultimate is None:
        return NO_PARTY
    return Party(text(name), text(account), text(bic), text(ultimate))
