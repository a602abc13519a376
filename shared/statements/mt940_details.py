"""MT940 ``:86:`` information to the account owner: the banks' dialects, mapped onto BankLine.

``:86:`` is free text by the SWIFT standard; banks fill it in their own ways. Recognised here:

- German GVC (DFÜ-Abkommen): ``NNN?00..?10..?20-?29 ?30 ?31 ?32/?33 ?34 ?60-?63`` with the SEPA
  keywords (``EREF+``, ``SVWZ+`` ...) inside the purpose sub-fields; Triodos uses ``>``.
- Dutch structured ``/KEY/value`` (ING, ABN AMRO, Rabobank, Triodos, Knab): ``/NAME/ /REMI/
  /IBAN/ /EREF/ /CNTP/ /BIC/ /ORDP//NAME/ /TRTP/`` ...
- Dutch labelled text (older ABN AMRO and Knab): ``IBAN: .. NAAM: .. OMSCHRIJVING: ..``.
- Anything else is free text, kept whole as the remittance.

Wrapped lines: SWIFT lines are at most 65 characters (the tag included). Structured dialects are
glued back without a separator (their keys carry the structure); free text is glued without a
separator only where a line was full (a hard wrap, so a document number split over a line break
comes back whole) and with a space where the bank ended the line itself.
"""

from __future__ import annotations

import re
from typing import Any

from shared.statements.mt940_gvc import parse_gvc, parse_gvc_fast
from shared.statements.mt940_text import (
    GLUE,
    SWIFT_LINE,
    account_token,
    clean,
    eref,
    is_bic,
    is_iban,
    join_lines,
    rf_reference,
    set_creditor_ref,
)

__all__ = ["SWIFT_LINE", "account_token", "clean", "is_bic", "is_iban", "join_lines", "parse_details",
           "parse_non_swift", "rf_reference"]
_GLUE = GLUE
_eref = eref
_set_creditor_ref = set_creditor_ref


_GVC_HEAD = re.compile(r"\s*(\d{3})(?:([?>])\d\d|\s*$)")
_GVC_START = frozenset(f"{i:03d}?" for i in range(1000))
_DUTCH_KEYS = (
    "TRTP|IBAN|BIC|NAME|REMI|EREF|MARF|CSID|CNTP|ORDP|BENM|ULTD|ULTC|ULTB|ADDR|ISDT|PURP|RTRN"
    "|CDTRREFTP|CDTRREF|SVCL|BUSP|PREF|OCMT|CHGS|EXCH|NRTX|INIT"
)
_DUTCH_HEAD = re.compile(rf"\s*/(?:{_DUTCH_KEYS})/")
_LABEL_ANCHOR = re.compile(r"(?:^|[\s/\x1f])(?:IBAN|NAAM|REK):")


def parse_details(fields: list[list[str]]) -> dict[str, Any]:
    """Map the ``:86:`` field(s) of one line onto BankLine attribute names (plus ``extra``)."""
    if len(fields) == 1:  # join_lines(fields, False), inline
        lines = fields[0]
        glued = lines[0] if len(lines) == 1 else "".join(lines).strip()
    else:
        glued = join_lines(fields, False)
    if glued[:4] in _GVC_START:  # "NNN?": German GVC, most likely
        info = parse_gvc_fast(glued)
        if info is not None:
            return info
    head = _GVC_HEAD.match(glued) if glued[:1] != "/" else None  # (no GVC starts with "/")
    if head:
        return parse_gvc(glued[head.start(1):], head.group(2))
    m = _DUTCH_LAYOUT(glued)
    if m is not None:
        return _dutch_layout(*m.groups())
    if _DUTCH_HEAD.match(glued):
        return _parse_dutch(glued)
    text = join_lines(fields, hard_only=True, glue=_GLUE)
    if _LABEL_ANCHOR.search(text):
        return _parse_labelled(text)
    return {"remittance": clean(text.replace(_GLUE, "")), "extra": {"details_dialect": "free"}}


# --------------------------------------------------------------------------- Dutch /KEY/ form

_DUTCH_KEY = re.compile(rf"/({_DUTCH_KEYS})/")
_PARTY_KEYS = {"ORDP": "counterparty", "BENM": "counterparty", "CNTP": "counterparty",
               "ULTD": "ultimate", "ULTC": "ultimate", "ULTB": "ultimate"}
_DUTCH_EXTRA = {
    "TRTP": "trtp", "MARF": "mandate_reference", "CSID": "creditor_id", "ISDT": "settlement_date",
    "PURP": "purpose_code", "RTRN": "return_reason", "ADDR": "counterparty_address",
}
# the usual layout (ING, ABN AMRO ...): these keys once each and in this order, no "/" in a value
_DUTCH_LAYOUT = re.compile(  # (possessive: see mt940_gvc._LAYOUT)
    r"/TRTP/([^/]*+)(?:/IBAN/([^/]*+))?+(?:/BIC/([^/]*+))?+(?:/NAME/([^/]*+))?+(?:/REMI/([^/]*+))?+"
    r"(?:/EREF/([^/]*+))?+"
).fullmatch
_REMI = re.compile(r"/?(USTD|STRD)/+(.*)", re.S)
_ABN_REF = re.compile(r"ISSUER:\s*(\w+)\s+REF:\s*(\w+)")


def _parse_dutch(text: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"details_dialect": "dutch"}
    out: dict[str, Any] = {"extra": extra}
    pieces = _DUTCH_KEY.split(text)  # [text before, key, value, key, value, ...]
    party = "counterparty"
    remittance: list[str] = []
    issuer = None
    for key, raw in zip(pieces[1::2], pieces[2::2], strict=True):
        value = raw.rstrip("/").strip()
        if key == "EREF":
            out["end_to_end_reference"] = _eref(value)
        elif key == "REMI":
            remittance.append(_remi(value, out))
        elif key in _PARTY_KEYS:
            party = _PARTY_KEYS[key]
            if key == "CNTP":
                _cntp(value, out)
            elif value.startswith("/ID/") or value.startswith("ID/"):
                extra[f"{party}_id"] = value.split("ID/", 1)[1].strip("/ ")
        elif key == "NAME":
            if party == "counterparty":
                out.setdefault("counterparty_name", clean(value))
            else:
                extra["ultimate_party"] = clean(value)
        elif key == "IBAN":
            out["counterparty_account"] = account_token(value) or clean(value)
        elif key == "BIC":
            out["counterparty_bic"] = clean(value)
        elif key == "CDTRREFTP":
            issuer = value.split("ISSR/", 1)[1].strip("/ ") if "ISSR/" in value else None
        elif key == "CDTRREF":
            _set_creditor_ref(out, value, issuer)
        elif value:
            extra[_DUTCH_EXTRA.get(key, key.lower())] = clean(value)
    out["remittance"] = clean(" ".join(remittance))
    return out


def _dutch_layout(
    trtp: str, iban: str | None, bic: str | None, name: str | None, remi: str | None, ref: str | None,
) -> dict[str, Any]:
    """:func:`_parse_dutch` for the usual layout: those keys once, in this order, no ``/`` in a value."""
    extra: dict[str, Any] = {"details_dialect": "dutch"}
    out: dict[str, Any] = {"extra": extra}
    if trtp.strip():
        extra["trtp"] = clean(trtp)
    if iban is not None:
        out["counterparty_account"] = account_token(iban.strip()) or clean(iban)
    if bic is not None:
        out["counterparty_bic"] = clean(bic)
    if name is not None:
        out["counterparty_name"] = clean(name)
    if remi is not None and "ISSUER:" in remi:
        remi = _remi(remi.strip(), out)
    if ref is not None:
        out["end_to_end_reference"] = _eref(ref)
    out["remittance"] = clean(remi)
    return out


def _cntp(value: str, out: dict[str, Any]) -> None:
    """ING ``/CNTP/account/BIC/name/city/``."""
    parts = value.split("/", 2)
    if parts[0].strip():
        out["counterparty_account"] = account_token(parts[0]) or parts[0].strip()
    if len(parts) > 1 and parts[1].strip():
        out["counterparty_bic"] = parts[1].strip()
    if len(parts) > 2:
        name, _, city = parts[2].rpartition("/") if "/" in parts[2] else (parts[2], "", "")
        if cleaned := clean(name):
            out["counterparty_name"] = cleaned
        if cleaned := clean(city):
            out["extra"]["counterparty_city"] = cleaned


def _remi(value: str, out: dict[str, Any]) -> str:
    """REMI text without the ``USTD//`` / ``STRD/CUR/`` wrapping; structured refs recorded."""
    m = _REMI.match(value) if "D/" in value[:6] else None  # (the pattern needs that much)
    if m is None:
        # ABN AMRO: "/REMI/ISSUER: CUR   REF: 4420043232693268"
        abn = _ABN_REF.search(value) if "ISSUER:" in value else None
        if abn:
            _set_creditor_ref(out, abn[2], abn[1])
        return value
    if m[1] == "USTD":
        return m[2].rstrip("/")
    issuer, _, ref = m[2].partition("/")
    ref = ref.split("/", 1)[0]
    _set_creditor_ref(out, ref, issuer.strip())
    return ref


# --------------------------------------------------------------------------- labelled text

_LABEL = re.compile(
    r"(?:^|(?<=[\s/\x1f]))(IBAN|BIC|NAAM|OMSCHRIJVING|KENMERK|BETALINGSKENM(?:\.|ERK)|MACHTIGING"
    r"|INCASSANT|REK|ID DEBITEUR|ID BEGUNSTIGDE):"
)
_LABEL_EXTRA = {"MACHTIGING": "mandate_reference", "INCASSANT": "creditor_id",
                "ID DEBITEUR": "debtor_id", "ID BEGUNSTIGDE": "creditor_party_id"}


def _parse_labelled(text: str) -> dict[str, Any]:
    """ABN AMRO (before its /TRTP/ format) and Knab: ``LABEL: value`` runs in the text."""
    extra: dict[str, Any] = {"details_dialect": "labelled"}
    out: dict[str, Any] = {"extra": extra}
    matches = list(_LABEL.finditer(text))
    lead = text[: matches[0].start()].replace(_GLUE, "").strip()
    remittance: list[str] = []
    if lead.startswith("SEPA "):
        extra["trtp"] = clean(lead)
    else:
        remittance.append(lead)
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        label = m[1]
        value = text[m.end():end].replace(_GLUE, "").strip().rstrip("/").strip()
        if label in ("IBAN", "REK"):
            out["counterparty_account"] = account_token(value) or clean(value)
        elif label == "BIC":
            out["counterparty_bic"] = clean(value)
        elif label == "NAAM":
            out["counterparty_name"] = clean(value)
        elif label == "OMSCHRIJVING":
            remittance.append(value)
        elif label == "KENMERK":
            out["end_to_end_reference"] = _eref(value)
        elif label.startswith("BETALINGSKENM"):
            _set_creditor_ref(out, value.split(",")[0], "CUR")
            remittance.append(value)
        else:
            extra[_LABEL_EXTRA[label]] = clean(value)
    out["remittance"] = clean(" ".join(remittance))
    return out


# --------------------------------------------------------------------------- :NS: fields


def parse_non_swift(lines: list[str]) -> dict[str, Any]:
    """German ``:NS:`` lines after ``:61:`` (``NN`` code + text): 01-14 purpose, 15-16 name."""
    purpose: list[str] = []
    names: list[str] = []
    for line in lines:
        code, text = line[:2], line[2:]
        if "01" <= code <= "14":
            purpose.append(text)
        elif code in ("15", "16"):
            names.append(text)
    return {"remittance": clean(" ".join(purpose)), "counterparty_name": clean("".join(names)),
            "extra": {"details_dialect": "non_swift"}}
