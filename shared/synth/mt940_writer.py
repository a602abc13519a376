"""MT940 writer: SWIFT-conformant statements with German GVC or Dutch structured ``:86:``.

Lines are at most 65 characters, CRLF-terminated, in the SWIFT X character set (umlauts are
transliterated, as German banks do in MT940). ``:86:`` is wrapped at column 65 wherever that
falls, as real banks do, so parsers must join continuation lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO

from shared.synth.names import transliterate
from shared.synth.statements import StatementOut, decimal_text
from shared.synth.world import Receipt

LINE_MAX = 65
SUBFIELD_MAX = 27  # GVC ?20..?29 / ?32 / ?33 subfield width
_NOT_X = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_GVC = {
    "transfer": ("166", "GUTSCHR. UEBERWEISUNG"),
    "debit": ("116", "SEPA-UEBERWEISUNG"),
    "interest": ("805", "ABSCHLUSS"),
}
_TYPE = {"transfer": "NTRF", "debit": "NTRF", "interest": "NINT"}
# Purpose subfields in order: ?20..?29 then the extension ?60..?63.
_PURPOSE_TAGS = [f"{n}" for n in range(20, 30)] + [f"{n}" for n in range(60, 64)]


def free_text(r: Receipt) -> str:
    """Remittance for formats without a structured-reference field: the free text, then the
    creditor reference unless the payer already wrote it there."""
    if r.creditor_reference and r.creditor_reference not in r.remittance.replace(" ", ""):
        return f"{r.remittance} {r.creditor_reference}".strip()
    return r.remittance


def swift_text(text: str, *, dutch: bool = False) -> str:
    """``text`` in the SWIFT X character set: transliterated, no ``?`` (GVC separator), and for
    the Dutch layout no ``/`` inside values (it separates the keywords)."""
    out = _NOT_X.sub(" ", transliterate(text).replace("&", "+")).replace("?", " ")
    if dutch:
        out = out.replace("/", " ")
    return " ".join(out.split())


def amount(minor: int, currency: str) -> str:
    """MT940 amount: decimal comma, no sign, no grouping (``1234,56``)."""
    return decimal_text(abs(minor), currency).replace(".", ",")


def wrap(tag: str, content: str) -> list[str]:
    """``:tag:content`` cut into lines of at most 65 characters; a continuation line never starts
    with ``:`` or ``-`` (that would read as a new field or the end of the message)."""
    text = f":{tag}:{content}"
    lines: list[str] = []
    while len(text) > LINE_MAX:
        cut = LINE_MAX
        while cut > 1 and text[cut] in ":-":
            cut -= 1
        lines.append(text[:cut])
        text = text[cut:]
    lines.append(text)
    return lines


def _chunks(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def gvc_details(r: Receipt, primanota: str) -> str:
    """German ``:86:`` with GVC code, ``?00`` booking text, ``?20..`` EREF+/SVWZ+, ``?30..?34``."""
    code, booking_text = _GVC[r.kind]
    purpose: list[str] = []
    if r.end_to_end_id:
        purpose += _chunks("EREF+" + swift_text(r.end_to_end_id), SUBFIELD_MAX)
    text = swift_text(free_text(r))
    if text or r.kind != "interest":
        purpose += _chunks("SVWZ+" + text, SUBFIELD_MAX)
    parts = [f"{code}?00{booking_text}?10{primanota}"]
    parts += [f"?{tag}{chunk}" for tag, chunk in zip(_PURPOSE_TAGS, purpose, strict=False)]
    if r.payer_account:
        parts.append(f"?30{bic_for(r.payer_account)}?31{r.payer_account.replace('-', '')}")
    name = swift_text(r.payer_name)
    if name:
        parts.append(f"?32{name[:SUBFIELD_MAX]}")
        if len(name) > SUBFIELD_MAX:
            parts.append(f"?33{name[SUBFIELD_MAX : 2 * SUBFIELD_MAX]}")
    parts.append("?34997" if r.kind == "transfer" else "?34000")
    return "".join(parts)


def dutch_details(r: Receipt) -> str:
    """ABN AMRO style ``:86:``: ``/TRTP/.../IBAN/.../BIC/.../NAME/.../REMI/.../EREF/...``."""
    kind = {"transfer": "SEPA OVERBOEKING", "debit": "SEPA OVERBOEKING", "interest": "RENTE"}[r.kind]
    out = f"/TRTP/{kind}"
    if r.payer_account:
        out += f"/IBAN/{r.payer_account.replace('-', '')}/BIC/{bic_for(r.payer_account)}"
    if r.payer_name:
        out += f"/NAME/{swift_text(r.payer_name, dutch=True)[:70]}"
    text = swift_text(free_text(r), dutch=True)
    out += f"/REMI/{text}"
    out += f"/EREF/{swift_text(r.end_to_end_id, dutch=True) or 'NOTPROVIDED'}"
    return out


def bic_for(account: str) -> str:
    """BIC-shaped code of the payer's bank (derived from the account so it is stable)."""
    from shared.synth.refs import pseudo_bic

    return pseudo_bic(account)


def _mark(balance_minor: int) -> str:
    return "C" if balance_minor >= 0 else "D"


def statement_lines(st: StatementOut) -> Iterable[str]:
    """All lines of one MT940 statement (``:20:`` to ``:62F:``), without the ``-`` trailer."""
    acc, cur = st.account, st.account.currency
    yield f":20:STMT{st.day:%y%m%d}{st.number % 10000:04d}"
    yield f":25:{acc.account}"
    yield f":28C:{st.number:05d}/001"
    yield f":60F:{_mark(st.opening_minor)}{st.prev_day:%y%m%d}{cur}{amount(st.opening_minor, cur)}"
    for n, r in enumerate(st.receipts):
        sign = "C" if r.amount_minor > 0 else "D"
        yield (
            f":61:{r.value_date:%y%m%d}{r.booking_date:%m%d}{sign}{amount(r.amount_minor, cur)}"
            f"{_TYPE[r.kind]}NONREF//{r.bank_reference}"
        )
        details = dutch_details(r) if acc.dialect == "nl" else gvc_details(r, f"{9300 + n % 100:04d}")
        yield from wrap("86", details)
    yield f":62F:{_mark(st.closing_minor)}{st.day:%y%m%d}{cur}{amount(st.closing_minor, cur)}"


def write_mt940(fh: TextIO, statements: Iterable[StatementOut]) -> None:
    """Stream ``statements`` to ``fh`` (opened with ``newline=""``), CRLF line ends, ``-`` after each."""
    for st in statements:
        for line in statement_lines(st):
            fh.write(line + "\r\n")
        fh.write("-\r\n")
