"""The fast camt reader's leaf readers, and its reader of the entries with one ``TxDtls`` (most are).

:func:`one_line` applies the rules of :mod:`shared.statements.camt_lines` (``build_entry``,
``line_for``, ``note_transaction_amount``) to the captured values directly, without the
intermediate objects, for the common case; :mod:`shared.statements.camt_fast` reads every other
entry the patterns cover through those rules. Both give the element reader's lines (a test holds
the readers equal on every corpus entry).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.errors import ParseError
from shared.statements.camt_lines import NOT_PROVIDED, POSTFINANCE_MARKER_RE, cref_type, ref_extras
from shared.statements.camt_patterns import Patterns, compiled
from shared.statements.camt_xml import _CURRENCIES, RAW_LIMIT, parse_amount, parse_date
from shared.statements.model import BankLine

if TYPE_CHECKING:
    from shared.statements.camt_entries import EntryContext

_UNESCAPE = (("&lt;", "<"), ("&gt;", ">"), ("&#13;", "\r"), ("&amp;", "&"))
CODES: dict[str | None, tuple[str | None, str | None]] = {None: (None, None)}
Text = Callable[[str | None], str | None]
_PATTERNS: Patterns | None = None  # compiled() once used (the patterns take some 50 ms to compile)


def get_patterns() -> Patterns:
    """The compiled patterns (compiled on first use)."""
    global _PATTERNS
    if _PATTERNS is None:
        _PATTERNS = compiled()
    return _PATTERNS


def unescape(text: str) -> str:
    for escaped, char in _UNESCAPE:
        text = text.replace(escaped, char)
    return text


def text_of(raw: str | None) -> str | None:
    """Stripped text of a captured leaf (None when absent or blank), unescaped."""
    if raw is None:
        return None
    if "&" in raw:
        raw = unescape(raw)
    return raw.strip() or None


def plain(raw: str | None) -> str | None:
    """:func:`text_of` for an entry without any ``&`` (nothing to unescape)."""
    return None if raw is None else raw.strip() or None


def texts(run: str | None, name: str, text: Text) -> list[str]:
    """Non-blank texts of a run of ``<name>text</name>`` leaves."""
    out: list[str] = []
    if run:
        for raw in run[len(name) + 2 : -len(name) - 3].split(f"</{name}><{name}>"):
            value = text(raw)
            if value:
                out.append(value)
    return out


def code_of(btc: str | None) -> tuple[str | None, str | None]:
    """(ISO code, proprietary code) of a ``BkTxCd`` content; a file repeats a handful of them."""
    found = CODES.get(btc)
    if found is None:
        m = get_patterns().code.fullmatch(btc or "")
        if m is None:  # cannot happen: NTRY and TX checked the content with the same pattern
            raise AssertionError("camt_fast: BkTxCd content out of step with its pattern")
        dcd, fcd, sub, pcd = m.groups()
        parts = (text_of(dcd), text_of(fcd), text_of(sub))
        found = ("/".join(p for p in parts if p) or None, text_of(pcd))
        if len(CODES) < 4096 and len(btc or "") <= 512:
            CODES[btc] = found
    return found


def one_line(s: str, g: tuple[Any, ...], tm: re.Match[str], ctx: EntryContext, status: str,
             amp: bool, decls: str) -> list[BankLine] | None:
    """The line of an entry with exactly one ``TxDtls``: :func:`build_entry`, :func:`line_for` and
    :func:`note_transaction_amount` on the captured values, inlined (most entries are such).

    Leaf values are unescaped first (``amp``: the entry has an ``&``), so ``v and v.strip() or None``
    is :func:`text_of`. Only the side of the transaction the line reports is read. Wherever the rules
    would raise, this gives None: the caller then lets the element reader raise the canonical error.
    """
    btc = g[14]
    tg = tm.groups()
    tx_btc, ustrd, strd = tg[12], tg[31], tg[32]
    if amp:
        start, end = tm.span()
        if s.find("&", 0, start) >= 0 or s.find("&", end) >= 0:
            g = unescaped(g)
        if s.find("&", start, end) >= 0:
            tg = unescaped(tg)
    facts = _entry_facts(g, ctx, status)
    if facts is None:
        return None
    amount, minor, currency, value, booked, reversal, extra = facts
    (msg_id, acct_svcr_ref, pmt_inf_id, instr_id, e2e, uetr, tx_id, mndt_id, tx_ccy, tx_amt, _, _, _,
     d_nm, d_pnm, d_anm, da_iban, da_othr, ud_nm, ud_pnm, c_nm, c_pnm, c_anm, ca_iban, ca_othr, uc_nm, uc_pnm,
     dg_bic, dg_bicfi, cg_bic, cg_bicfi, _, _, tx_addtl) = tg
    # line_for
    if not (msg_id is None and pmt_inf_id is None and instr_id is None and uetr is None and tx_id is None
            and mndt_id is None):
        for key, ref in ref_extras({"MsgId": plain(msg_id), "PmtInfId": plain(pmt_inf_id),
                                    "InstrId": plain(instr_id), "UETR": plain(uetr), "TxId": plain(tx_id),
                                    "MndtId": plain(mndt_id)}):
            extra[key] = ref
    code, prtry = CODES.get(tx_btc) or code_of(tx_btc)
    entry_code, entry_prtry = CODES.get(btc) or code_of(btc)
    prtry = prtry or entry_prtry
    code = code or entry_code or prtry
    if prtry and prtry != code:
        extra["bank_transaction_code_proprietary"] = prtry
    if (amount > 0) != reversal:  # debtor for money in, creditor for money out; a reversal flips it
        name, account, bic, ultimate = d_nm or d_pnm or d_anm, da_iban or da_othr, dg_bic or dg_bicfi, ud_nm or ud_pnm
        if ultimate and (ultimate := ultimate.strip()):
            extra["ultimate_debtor"] = ultimate
    else:
        name, account, bic, ultimate = c_nm or c_pnm or c_anm, ca_iban or ca_othr, cg_bic or cg_bicfi, uc_nm or uc_pnm
        if ultimate and (ultimate := ultimate.strip()):
            extra["ultimate_creditor"] = ultimate
    # _remittance (a fast-read detail has no RfrdDocInf)
    remittance, cref, cref_kind = _remittance(s, tm, ustrd, strd, amp, extra,
                                              (tx_addtl and tx_addtl.strip()) or (g[16] and g[16].strip()))
    if tx_amt is not None:
        _note_amount(extra, tx_amt, tx_ccy, g[3], g[2], currency, minor)
    e2e = e2e and e2e.strip()
    raw = "<TxDtls" + decls + s[tm.start() + 7 : tm.end()]
    return [BankLine(
        booked, amount, currency, value,
        (acct_svcr_ref and acct_svcr_ref.strip()) or (g[13] and g[13].strip()) or None,
        e2e if e2e and e2e.upper() not in NOT_PROVIDED else None, None, code,
        (name and name.strip()) or None, (account and account.strip()) or None, (bic and bic.strip()) or None,
        remittance, cref, cref_kind, reversal, raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT] + "…", extra,
    )]


def _entry_facts(g: tuple[Any, ...], ctx: EntryContext, status: str) -> tuple[Any, ...] | None:
    """:func:`build_entry` on unescaped captures: (signed amount, minor units, currency, value date,
    booking date, reversal, extra), or None where it would raise."""
    (_, ref, ccy, amt, ind, rvsl, _, _, _, bk_dt, bk_dttm, val_dt, val_dttm, _, _, _, _) = g
    # parse_amount's result, computed here for a plain amount with the currency's digits
    whole, dot, frac = amt.partition(".")
    known = _CURRENCIES.get(ccy or ctx.account_currency or "")
    if known is not None and len(frac) == known[1] and len(amt) <= 18 and whole.isdecimal() and (
            frac.isdecimal() or not dot):
        minor, currency = int(whole + frac), known[0]
    else:
        minor, currency = parse_amount(amt, ccy, ctx.account_currency)
    ind = ind and ind.strip()
    if ind != "CRDT" and ind != "DBIT":
        return None
    value = _date(val_dt if val_dttm is None else val_dttm)  # at most one is set
    if value is False:
        return None
    extra: dict[str, Any] = {}
    booked = _date(bk_dt if bk_dttm is None else bk_dttm)
    if booked is False:
        return None
    if booked is None:
        booked = value or ctx.statement_date
        extra["booking_date_inferred"] = True
        if booked is None:
            return None
    if ctx.kind != "camt.053":
        extra["status"] = status
    if ref and (ref := ref.strip()):
        extra["entry_reference"] = ref
    return (minor if ind == "CRDT" else -minor, minor, currency, value, booked,
            ((rvsl and rvsl.strip()) or "").lower() in ("true", "1"), extra)


def _date(raw: str | None) -> Any:
    """A Dt / DtTm capture as a date; None when there is none, False for an empty one (refused)."""
    if raw is None:
        return None
    raw = raw.strip()
    return parse_date(raw) if raw else False


def _remittance(s: str, tm: re.Match[str], ustrd: str | None, strd: str | None, amp: bool,
                extra: dict[str, Any], addtl: str | None) -> tuple[str | None, str | None, str | None]:
    """camt_lines._remittance of one TxDtls: (remittance, creditor reference, its type).

    ``addtl``: AddtlTxInf, else AddtlNtryInf (unescaped, stripped).
    """
    text = text_of if amp else plain
    notes: list[str] = []
    cref = cref_kind = None
    if strd:
        refs: list[tuple[str, str | None]] = []
        patterns = get_patterns()
        for sm in patterns.strd.finditer(s, *tm.span(patterns.strd_group)):
            cd, cd_prtry, cr, run = sm.groups()
            cr = text(cr)
            if cr:
                refs.append((cr, text(cd or cd_prtry)))
            notes += texts(run, "AddtlRmtInf", text)
        if refs:
            cref, declared = refs[0]
            cref_kind = cref_type(declared, cref)
            if len(refs) > 1:
                extra["creditor_references"] = [r for r, _ in refs]
    if not ustrd:
        parts = []
    elif "<" in (one := ustrd[7:-8]):  # several Ustrd
        parts = [p for p in texts(ustrd, "Ustrd", text) if p.upper() not in NOT_PROVIDED]
    else:
        one = (unescape(one) if amp and "&" in one else one).strip()
        parts = [one] if one and one.upper() not in NOT_PROVIDED else []
    if not parts:
        parts = [n for n in notes if not POSTFINANCE_MARKER_RE.fullmatch(n)]
        if addtl:
            parts.append(addtl)
    return " ".join(" ".join(parts).split()) or None, cref, cref_kind


def _note_amount(extra: dict[str, Any], tx_amt: str, tx_ccy: str | None, amt: str, ccy: str | None, currency: str,
                 minor: int) -> None:
    """note_transaction_amount: the detail's own amount (unescaped), when it differs from the booked one."""
    tx_ccy_text = (tx_ccy or "").strip()
    if tx_amt == amt and tx_ccy == ccy and tx_ccy:
        same = tx_ccy_text == currency  # the very amount the entry books, read the same way
    else:
        try:
            same = tx_ccy_text == currency and parse_amount(tx_amt, tx_ccy, tx_ccy_text)[0] == minor
        except ParseError:
            same = False
    if not same:
        extra["transaction_amount"] = f"{tx_amt.strip()[:40]} {tx_ccy_text[:3]}".strip()


def unescaped(groups: tuple[str | None, ...]) -> tuple[str | None, ...]:
    """``groups`` with every value holding an ``&`` unescaped."""
    return tuple([v if v is None or "&" not in v else unescape(v) for v in groups])
