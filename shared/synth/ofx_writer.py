"""OFX 2.x (XML) writer: one ``STMTRS`` per account per file, one ``STMTTRN`` per receipt.

OFX has no opening balance, no payer account and no end-to-end id: ``NAME`` (32 characters)
carries the payer, ``MEMO`` the remittance (with any structured reference appended), ``FITID``
the bank reference, ``LEDGERBAL`` the closing balance of the window.
"""

from __future__ import annotations

from datetime import date
from itertools import groupby
from typing import TextIO
from xml.sax.saxutils import escape

from shared.synth.mt940_writer import free_text
from shared.synth.statements import StatementOut, decimal_text
from shared.synth.world import Receipt

NAME_MAX = 32
MEMO_MAX = 255
_TRNTYPE = {"transfer": "CREDIT", "debit": "DEBIT", "interest": "INT"}


def _t(tag: str, text: str) -> str:
    return f"<{tag}>{escape(text)}</{tag}>"


def memo(r: Receipt) -> str:
    """The remittance as OFX shows it: free text, then the structured reference if not in it."""
    return free_text(r)[:MEMO_MAX]


def _signed(minor: int, currency: str) -> str:
    return ("-" if minor < 0 else "") + decimal_text(abs(minor), currency)


def _trn(r: Receipt, currency: str) -> str:
    trntype = _TRNTYPE[r.kind] if r.amount_minor > 0 or r.kind == "debit" else "DEBIT"
    sign = "-" if r.amount_minor < 0 else ""
    body = (
        f"<STMTTRN>{_t('TRNTYPE', trntype)}<DTPOSTED>{r.booking_date:%Y%m%d}</DTPOSTED>"
        f"<DTUSER>{r.value_date:%Y%m%d}</DTUSER><TRNAMT>{sign}{decimal_text(abs(r.amount_minor), currency)}"
        f"</TRNAMT>{_t('FITID', r.bank_reference)}"
    )
    if r.payer_name:
        body += _t("NAME", r.payer_name[:NAME_MAX])
    text = memo(r)
    if text:
        body += _t("MEMO", text)
    return body + "</STMTTRN>"


def _write_stmtrs(fh: TextIO, statements: list[StatementOut], first: date, last: date, trnuid: int) -> None:
    acc, cur = statements[0].account, statements[0].account.currency
    fh.write(
        f"<STMTTRNRS><TRNUID>{trnuid}</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        f"<STMTRS><CURDEF>{cur}</CURDEF><BANKACCTFROM>{_t('BANKID', acc.bic)}{_t('ACCTID', acc.account)}"
        f"<ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST><DTSTART>{first:%Y%m%d}</DTSTART>"
        f"<DTEND>{last:%Y%m%d}</DTEND>\n"
    )
    for st in statements:
        for r in st.receipts:
            fh.write(_trn(r, cur) + "\n")
    fh.write(
        f"</BANKTRANLIST><LEDGERBAL><BALAMT>{_signed(statements[-1].closing_minor, cur)}</BALAMT>"
        f"<DTASOF>{last:%Y%m%d}</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS>\n"
    )


def write_ofx(fh: TextIO, statements: list[StatementOut], first: date, last: date) -> None:
    """Stream an OFX 2.2 document for ``statements`` (grouped per account) to ``fh``."""
    fh.write('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n')
    fh.write('<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n')
    fh.write(
        f"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        f"<DTSERVER>{last:%Y%m%d}180000</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>\n"
        "<BANKMSGSRSV1>\n"
    )
    for n, (_, group) in enumerate(groupby(statements, key=lambda s: s.account.account), start=1):
        _write_stmtrs(fh, list(group), first, last, n)
    fh.write("</BANKMSGSRSV1></OFX>\n")
