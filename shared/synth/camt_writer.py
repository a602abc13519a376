"""CAMT.053.001.08 writer, streamed element by element (no document tree in memory).

Element order follows the ISO 20022 schema (AccountStatement9 / ReportEntry10 /
EntryTransaction10). Some credits are booked as batch entries: one ``Ntry`` with several
``TxDtls``, each carrying its own ``Refs/AcctSvcrRef`` (the receipt's bank reference) while the
entry has a batch reference of its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

from shared.synth.statements import StatementOut, decimal_text
from shared.synth.world import Receipt

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
_DOMAIN = {
    "transfer": ("PMNT", "RCDT", "ESCT"),
    "debit": ("PMNT", "ICDT", "ESCT"),
    "interest": ("CAMT", "ACCB", "INTR"),
}


def _t(tag: str, text: str) -> str:
    return f"<{tag}>{escape(text)}</{tag}>"


def _amt(tag: str, minor: int, currency: str) -> str:
    return f"<{tag} Ccy={quoteattr(currency)}>{decimal_text(abs(minor), currency)}</{tag}>"


def _cd(minor: int) -> str:
    return _t("CdtDbtInd", "CRDT" if minor >= 0 else "DBIT")


def _balance(code: str, minor: int, currency: str, day: date) -> str:
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>{_amt('Amt', minor, currency)}{_cd(minor)}"
        f"<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>"
    )


def _account(account: str) -> str:
    if account[:2].isalpha():
        return f"<Id><IBAN>{escape(account)}</IBAN></Id>"
    return f"<Id><Othr><Id>{escape(account)}</Id></Othr></Id>"


def _bktxcd(kind: str) -> str:
    domain, family, sub = _DOMAIN[kind]
    fmly = f"<Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly>"
    return f"<BkTxCd><Domn><Cd>{domain}</Cd>{fmly}</Domn></BkTxCd>"


def _remittance(r: Receipt, rng: random.Random) -> str:
    parts: list[str] = []
    text = r.remittance
    if text:
        # Some banks hand the 140 characters over as several 35-character lines (cut at words).
        if len(text) > 35 and rng.random() < 0.3:
            parts += [_t("Ustrd", chunk) for chunk in _word_chunks(text, 35)]
        else:
            parts.append(_t("Ustrd", text))
    if r.creditor_reference:
        tp = (
            "<Cd>SCOR</Cd>"
            if r.creditor_reference_type == "SCOR"
            else f"<Prtry>{escape(r.creditor_reference_type)}</Prtry>"
        )
        parts.append(
            f"<Strd><CdtrRefInf><Tp><CdOrPrtry>{tp}</CdOrPrtry></Tp>{_t('Ref', r.creditor_reference)}"
            "</CdtrRefInf></Strd>"
        )
    return f"<RmtInf>{''.join(parts)}</RmtInf>" if parts else ""


def _word_chunks(text: str, width: int) -> list[str]:
    chunks, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width or not current:
            current = candidate
        else:
            chunks.append(current)
            current = word
    chunks.append(current)
    return chunks


def _parties(r: Receipt) -> str:
    role, acct = ("Dbtr", "DbtrAcct") if r.amount_minor > 0 else ("Cdtr", "CdtrAcct")
    out = f"<{role}><Pty>{_t('Nm', r.payer_name)}</Pty></{role}>" if r.payer_name else ""
    if r.payer_account:
        out += f"<{acct}>{_account(r.payer_account)}</{acct}>"
    return f"<RltdPties>{out}</RltdPties>" if out else ""


def _tx(r: Receipt, currency: str, rng: random.Random, *, own_ref: bool) -> str:
    refs = _t("AcctSvcrRef", r.bank_reference) if own_ref else ""
    refs += _t("EndToEndId", r.end_to_end_id or "NOTPROVIDED")
    return (
        f"<TxDtls><Refs>{refs}</Refs>{_amt('Amt', r.amount_minor, currency)}{_cd(r.amount_minor)}"
        f"{_bktxcd(r.kind)}{_parties(r)}{_remittance(r, rng)}</TxDtls>"
    )


def _entry(rs: list[Receipt], currency: str, rng: random.Random, batch_ref: str) -> str:
    total = sum(r.amount_minor for r in rs)
    first = rs[0]
    batch = len(rs) > 1
    ref = batch_ref if batch else first.bank_reference
    head = (
        f"<Ntry>{_amt('Amt', total, currency)}{_cd(total)}<Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{first.booking_date.isoformat()}</Dt></BookgDt>"
        f"<ValDt><Dt>{first.value_date.isoformat()}</Dt></ValDt>{_t('AcctSvcrRef', ref)}{_bktxcd(first.kind)}"
    )
    details = f"<Btch><NbOfTxs>{len(rs)}</NbOfTxs></Btch>" if batch else ""
    # Single entries sometimes repeat the reference in TxDtls, sometimes only on the entry:
    # parsers must fall back to the entry's AcctSvcrRef.
    details += "".join(_tx(r, currency, rng, own_ref=batch or rng.random() < 0.5) for r in rs)
    return f"{head}<NtryDtls>{details}</NtryDtls></Ntry>"


def _entries(st: StatementOut, rng: random.Random) -> Iterator[list[Receipt]]:
    """Group the statement's receipts into entries: mostly single, some credit batches of 2-5."""
    pending = list(st.receipts)
    while pending:
        r = pending.pop(0)
        group = [r]
        if r.amount_minor > 0 and r.kind == "transfer" and rng.random() < 0.06:
            while (
                pending
                and len(group) < rng.randint(2, 5)
                and pending[0].amount_minor > 0
                and pending[0].kind == "transfer"
                and pending[0].value_date == r.value_date
            ):
                group.append(pending.pop(0))
        yield group


def _summary(groups: list[list[Receipt]], currency: str) -> str:
    """TxsSummry: number and sum of credit and debit entries (a batch counts once)."""
    totals = [sum(r.amount_minor for r in g) for g in groups]
    credits, debits = [t for t in totals if t > 0], [-t for t in totals if t < 0]
    return (
        f"<TxsSummry><TtlCdtNtries><NbOfNtries>{len(credits)}</NbOfNtries>"
        f"<Sum>{decimal_text(sum(credits), currency)}</Sum></TtlCdtNtries>"
        f"<TtlDbtNtries><NbOfNtries>{len(debits)}</NbOfNtries>"
        f"<Sum>{decimal_text(sum(debits), currency)}</Sum></TtlDbtNtries></TxsSummry>"
    )


def write_camt053(
    fh: TextIO, statements: list[StatementOut], rng: random.Random, msg_id: str, created: date
) -> None:
    """Stream one camt.053 document holding ``statements`` to ``fh``."""
    stamp = f"{created.isoformat()}T18:00:00"
    fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    fh.write(f'<Document xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n')
    fh.write(
        f"<BkToCstmrStmt><GrpHdr>{_t('MsgId', msg_id)}<CreDtTm>{stamp}</CreDtTm>"
        "<MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn></GrpHdr>\n"
    )
    for st in statements:
        acc, cur = st.account, st.account.currency
        stmt_id = f"{acc.account[-10:]}-{st.day:%Y%m%d}-{st.number}"
        fh.write(
            f"<Stmt>{_t('Id', stmt_id)}<ElctrncSeqNb>{st.number}</ElctrncSeqNb>"
            f"<LglSeqNb>{st.number}</LglSeqNb><CreDtTm>{st.day.isoformat()}T18:00:00</CreDtTm>"
            f"<FrToDt><FrDtTm>{st.day.isoformat()}T00:00:00</FrDtTm><ToDtTm>{st.day.isoformat()}T23:59:59"
            f"</ToDtTm></FrToDt><Acct>{_account(acc.account)}{_t('Ccy', cur)}"
            f"<Svcr><FinInstnId>{_t('BICFI', acc.bic)}{_t('Nm', acc.bank_name)}</FinInstnId></Svcr></Acct>\n"
        )
        fh.write(_balance("OPBD", st.opening_minor, cur, st.prev_day) + "\n")
        fh.write(_balance("CLBD", st.closing_minor, cur, st.day) + "\n")
        groups = list(_entries(st, rng))
        fh.write(_summary(groups, cur) + "\n")
        for n, group in enumerate(groups):
            fh.write(_entry(group, cur, rng, f"BT{group[0].bank_reference[1:]}{n:02d}") + "\n")
        fh.write("</Stmt>\n")
    fh.write("</BkToCstmrStmt>\n</Document>\n")
