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

SWIFT_LINE = 65
_SUBFIELD_FULL = 27  # GVC purpose and name sub-fields are 27 characters wide
_SOFT = "\x1e"  # marks a real break between two GVC sub-fields
_GLUE = "\x1f"  # marks where a full line was glued to the next (labels may start there)
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_PLAIN_ACCOUNT = re.compile(r"P?\d{6,12}")
_RF = re.compile(r"RF\d{2}[A-Z0-9]{1,21}")
_NO_REF = "NOTPROVIDED"  # SEPA's literal for "no end-to-end reference"


def clean(text: str | None) -> str | None:
    """Collapse whitespace (and the break markers) to single spaces; ``None`` for nothing."""
    # str.split() treats \x1e / \x1f as whitespace too, and is much faster than a regex
    return " ".join(text.split()) or None if text else None


def is_iban(text: str) -> bool:
    """Syntactic IBAN check: country, check digits, 10-30 alphanumerics."""
    return _IBAN.fullmatch(text) is not None


def is_bic(text: str) -> bool:
    """Syntactic BIC check (8 or 11 characters)."""
    return _BIC.fullmatch(text) is not None


def account_token(text: str | None) -> str | None:
    """An IBAN (spaces removed) or a plain (Dutch giro ``P...``) account number, else ``None``."""
    if not text:
        return None
    compact = text.replace(" ", "")
    if is_iban(compact) or _PLAIN_ACCOUNT.fullmatch(compact):
        return compact
    return None


def rf_reference(text: str | None) -> str | None:
    """An ISO 11649 creditor reference (``RFxx...``) whose mod-97 check holds, else ``None``."""
    if not text or "RF" not in text[:4].upper():
        return None
    compact = text.replace(" ", "").upper()
    if not _RF.fullmatch(compact):
        return None
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return compact if int(digits) % 97 == 1 else None


def _eref(value: str | None) -> str | None:
    value = clean(value)
    return None if value is None or value.upper() == _NO_REF else value


def _set_creditor_ref(out: dict[str, Any], ref: str | None, issuer: str | None) -> None:
    """Record a structured creditor reference: RF (ISO 11649) or a Dutch CUR betalingskenmerk."""
    ref = clean(ref)
    if not ref:
        return
    rf = rf_reference(ref)
    if rf or (issuer == "CUR" and ref.replace(" ", "").isdigit()):
        out["creditor_reference"] = rf or ref.replace(" ", "")
        out["creditor_reference_type"] = "SCOR"
        out["extra"]["creditor_reference_issuer"] = "ISO" if rf else issuer


def join_lines(fields: list[list[str]], hard_only: bool, glue: str = "") -> str:
    """Join the lines of one or more ``:86:`` fields.

    ``hard_only=False`` glues every line (structured text); ``True`` glues a line to the next
    (with ``glue`` between) only when it was full (65 characters counting the tag), else puts a
    space between.
    """
    parts: list[str] = []
    for field in fields:
        for i, line in enumerate(field):
            width = len(line) + (4 if i == 0 else 0)
            parts.append(line)
            parts.append(glue if (not hard_only or width >= SWIFT_LINE) else " ")
        if parts:
            parts[-1] = " "  # separate :86: fields always end a piece of text
    return "".join(parts).strip()


_GVC_HEAD = re.compile(r"\s*(\d{3})(?:([?>])\d\d|\s*$)")
_DUTCH_KEYS = (
    "TRTP|IBAN|BIC|NAME|REMI|EREF|MARF|CSID|CNTP|ORDP|BENM|ULTD|ULTC|ULTB|ADDR|ISDT|PURP|RTRN"
    "|CDTRREFTP|CDTRREF|SVCL|BUSP|PREF|OCMT|CHGS|EXCH|NRTX|INIT"
)
_DUTCH_HEAD = re.compile(rf"\s*/(?:{_DUTCH_KEYS})/")
_LABEL_ANCHOR = re.compile(r"(?:^|[\s/\x1f])(?:IBAN|NAAM|REK):")


def parse_details(fields: list[list[str]]) -> dict[str, Any]:
    """Map the ``:86:`` field(s) of one line onto BankLine attribute names (plus ``extra``)."""
    glued = fields[0][0] if len(fields) == 1 and len(fields[0]) == 1 else join_lines(fields, False)
    head = _GVC_HEAD.match(glued)
    if head:
        return _parse_gvc(glued[head.start(1):], head.group(2))
    if _DUTCH_HEAD.match(glued):
        return _parse_dutch(glued)
    text = join_lines(fields, hard_only=True, glue=_GLUE)
    if _LABEL_ANCHOR.search(text):
        return _parse_labelled(text)
    return {"remittance": clean(text.replace(_GLUE, "")), "extra": {"details_dialect": "free"}}


# --------------------------------------------------------------------------- German GVC

_SUBFIELD = {"?": re.compile(r"\?(\d\d)"), ">": re.compile(r">(\d\d)")}
_SEPA_KEY = re.compile(
    r"(EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|IBAN|BIC|PURP|SQTP|MDAT|ORCR|ORMR"
    r"|DDAT|RTRN)\+"
)
_PURPOSE_KEYS = frozenset([f"2{i}" for i in range(10)] + ["60", "61", "62", "63"])
_TEXT_KEYS = {"SVWZ", "ABWA", "ABWE"}  # free text that runs on over sub-field breaks
_KEY_BEFORE = " " + _SOFT
_SEPA_EXTRA = {
    "MREF": "mandate_reference", "CRED": "creditor_id", "DEBT": "debtor_id",
    "ABWA": "ultimate_debtor", "ABWE": "ultimate_creditor", "PURP": "purpose_code",
    "COAM": "compensation_amount", "OAMT": "original_amount", "KREF": "kref",
}


def _glue_subfields(values: list[str]) -> tuple[str, set[int]]:
    """Concatenate sub-fields: full (27-character) ones run on, shorter ones end a piece.

    Also returns where a sub-field was glued on: a keyword may start there without a space.
    """
    if len(values) < 2:
        return (values[0] if values else ""), {0}
    parts: list[str] = []
    starts, pos = {0}, 0
    for value in values[:-1]:
        pos += len(value)
        if len(value) < _SUBFIELD_FULL:
            parts.append(value + _SOFT)
            pos += 1
        else:
            parts.append(value)
            starts.add(pos)
    parts.append(values[-1])
    return "".join(parts), starts


def _sepa_segments(text: str, starts: set[int]) -> list[tuple[str, str]]:
    """Split purpose text at SEPA keywords into ``(key, value)`` runs, in order; free text
    (before the first keyword, or after an identifier that ended with its sub-field) has key
    ``""``."""
    # a keyword counts at the start, after a space or break, or where a sub-field starts
    keys = [(m.start(), m.end(), m[1]) for m in _SEPA_KEY.finditer(text)
            if m.start() in starts or text[m.start() - 1] in _KEY_BEFORE]
    if not keys:
        return [("", text)]
    runs: list[tuple[str, str]] = [("", text[: keys[0][0]])]
    ends = [k[0] for k in keys[1:]] + [len(text)]
    for (_, value_start, key), end in zip(keys, ends, strict=True):
        value = text[value_start:end]
        if _SOFT in value and key not in _TEXT_KEYS:
            # identifiers end where a sub-field ended early; what follows is plain text
            value, orphan = value.split(_SOFT, 1)
            runs += [(key, value), ("", orphan)]
        else:
            runs.append((key, value))
    return runs


def _parse_gvc(text: str, sep: str | None) -> dict[str, Any]:
    code = text[:3]
    extra: dict[str, Any] = {"details_dialect": "gvc", "gvc": code}
    out: dict[str, Any] = {"transaction_code": code, "extra": extra}
    if sep is None:
        return out
    pieces = _SUBFIELD[sep].split(text[3:])
    subs = zip(pieces[1::2], pieces[2::2], strict=True)
    if sep == ">":
        return _triodos(list(subs), out)
    purpose: list[str] = []
    names: list[str] = []
    other: dict[str, str] = {}
    for key, value in subs:
        if key in _PURPOSE_KEYS:
            purpose.append(value)
        elif key == "32" or key == "33":
            names.append(value)
        elif key == "00":
            extra["posting_text"] = " ".join(value.split())
        else:
            _gvc_other(key, value.strip(), out, other)
    if names:
        out["counterparty_name"] = clean(_glue_subfields(names)[0])
    if other:
        extra["gvc_subfields"] = other
    _gvc_purpose(purpose, out)
    return out


def _gvc_other(key: str, v: str, out: dict[str, Any], other: dict[str, str]) -> None:
    """?00 posting text, ?10 primanota, ?30 BIC or bank code, ?31 / ?38 account, ?34 ..."""
    extra = out["extra"]
    if key == "10":
        extra["primanota"] = clean(v)
    elif key == "30":
        if is_bic(v):
            out["counterparty_bic"] = v
        elif v:
            extra["counterparty_bank_code"] = v
    elif key in ("31", "38") and v:
        acct = account_token(v) or v
        if key == "38" or "counterparty_account" not in out or is_iban(acct):
            out["counterparty_account"] = acct
    elif key == "34":
        extra["gvc_extension"] = clean(v)
    else:
        other[key] = clean(v) or ""


def _gvc_purpose(purpose: list[str], out: dict[str, Any]) -> None:
    """?20-?29 and ?60-?63: plain text, or SEPA ``KEY+value`` runs (SVWZ is the remittance)."""
    glued, starts = _glue_subfields(purpose)
    if "+" not in glued:
        out["remittance"] = clean(glued)
        return
    extra = out["extra"]
    remittance: list[str] = []
    for key, value in _sepa_segments(glued, starts):
        if not key or key == "SVWZ":
            remittance.append(value)
            if key and rf_reference(value.strip()):
                _set_creditor_ref(out, value, None)
        elif key == "EREF":
            out["end_to_end_reference"] = _eref(value)
        elif key == "IBAN":
            out.setdefault("counterparty_account", account_token(value) or clean(value))
        elif key == "BIC":
            out.setdefault("counterparty_bic", clean(value))
        else:
            extra[_SEPA_EXTRA.get(key, key.lower())] = clean(value)
    out["remittance"] = clean(" ".join(remittance))
    if extra.get("kref"):
        out["customer_reference"] = extra["kref"]


def _triodos(subs: list[tuple[str, str]], out: dict[str, Any]) -> dict[str, Any]:
    """Triodos writes ``>`` sub-fields: >20 BIC and >21 IBAN of the counterparty (since 2013),
    else >10 holds the counterparty account; >22.. the name and description; >31 own account."""
    extra = out["extra"]
    extra["details_dialect"] = "gvc_triodos"
    del out["transaction_code"]  # always "000": the :61: type code says more
    texts = [v for k, v in subs if "20" <= k <= "29"]
    first = dict(subs)
    if len(texts) >= 2 and is_bic(texts[0].strip()) and account_token(texts[1]):
        out["counterparty_bic"] = texts[0].strip()
        out["counterparty_account"] = account_token(texts[1])
        texts = texts[2:]
    elif first.get("10", "").strip("0 "):
        out["counterparty_account"] = account_token(first["10"]) or first["10"].strip()
    if first.get("31"):
        extra["own_account"] = first["31"].strip()
    out["remittance"] = clean(_glue_subfields(texts)[0])
    return out


# --------------------------------------------------------------------------- Dutch /KEY/ form

_DUTCH_KEY = re.compile(rf"/({_DUTCH_KEYS})/")
_PARTY_KEYS = {"ORDP": "counterparty", "BENM": "counterparty", "CNTP": "counterparty",
               "ULTD": "ultimate", "ULTC": "ultimate", "ULTB": "ultimate"}
_DUTCH_EXTRA = {
    "TRTP": "trtp", "MARF": "mandate_reference", "CSID": "creditor_id", "ISDT": "settlement_date",
    "PURP": "purpose_code", "RTRN": "return_reason", "ADDR": "counterparty_address",
}
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


def _cntp(value: str, out: dict[str, Any]) -> None:
    """ING ``/CNTP/account/BIC/name/city/``."""
    parts = value.split("/", 2)
    if parts[0].strip():
        out["counterparty_account"] = account_token(parts[0]) or parts[0].strip()
    if len(parts) > 1 and parts[1].strip():
        out["counterparty_bic"] = parts[1].strip()
    if len(parts) > 2:
        name, _, city = parts[2].rpartition("/") if "/" in parts[2] else (parts[2], "", "")
        if clean(name):
            out["counterparty_name"] = clean(name)
        if clean(city):
            out["extra"]["counterparty_city"] = clean(city)


def _remi(value: str, out: dict[str, Any]) -> str:
    """REMI text without the ``USTD//`` / ``STRD/CUR/`` wrapping; structured refs recorded."""
    m = _REMI.match(value)
    if m is None:
        abn = _ABN_REF.search(value)  # ABN AMRO: "/REMI/ISSUER: CUR   REF: 4420043232693268"
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
