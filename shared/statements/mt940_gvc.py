"""German GVC ``:86:`` details (DFÜ-Abkommen), the hot path of the MT940 reader.

``NNN?00..?10..?20-?29 ?30 ?31 ?32/?33 ?34 ?60-?63`` with the SEPA keywords (``EREF+``,
``SVWZ+`` ...) inside the purpose sub-fields; Triodos uses ``>`` instead of ``?``.

Speed: the usual layout (sub-fields once each, in order) is read with one regex and the usual
purpose (``EREF+`` / ``SVWZ+``) directly; anything else takes the general way. Both give the same
result, held equal by comparing with the straightforward reader on real and generated files.
"""

from __future__ import annotations

import re
from typing import Any

from shared.statements.mt940_text import (
    CLEANED,
    SOFT,
    account_token,
    bic_match,
    clean,
    clean_cached,
    iban_match,
    is_bic,
    rf_reference,
    set_creditor_ref,
)

_SUBFIELD_FULL = 27  # GVC purpose and name sub-fields are 27 characters wide
_SUBFIELD_SPLIT = re.compile(r"\?(\d\d)").split
_TRIODOS_SPLIT = re.compile(r">(\d\d)").split
# the SEPA keywords; every one is followed by "+", and none is the tail of another
_SEPA_KEYS4 = frozenset(["EREF", "KREF", "MREF", "CRED", "DEBT", "COAM", "OAMT", "SVWZ", "ABWA", "ABWE",
                         "IBAN", "PURP", "SQTP", "MDAT", "ORCR", "ORMR", "DDAT", "RTRN"])
_PURPOSE_KEYS = frozenset([f"2{i}" for i in range(10)] + ["60", "61", "62", "63"])
_CLEAN_EXTRA = {"00": "posting_text", "10": "primanota", "34": "gvc_extension"}
_EMPTY = {"00": "", "10": None, "34": None}  # what each of those is when it holds no text
_PURPOSE, _NAME, _CLEAN, _BANK, _ACCOUNT = range(5)  # what a sub-field key stands for
_KINDS = dict.fromkeys(_PURPOSE_KEYS, _PURPOSE)
_KINDS.update({"32": _NAME, "33": _NAME, "00": _CLEAN, "10": _CLEAN, "34": _CLEAN, "30": _BANK, "31": _ACCOUNT})
# The usual layout, every sub-field at most once and in this order (any other goes the long way).
# Possessive (never give back): what one part took no later part could take, so a text that does
# not fit fails at once instead of after trying every shorter split.
_LAYOUT = re.compile(
    r"([0-9]{3})(?:\?00([^?]*+))?+(?:\?10([^?]*+))?+(?:\?20([^?]*+))?+((?:\?2[1-9][^?]*+)*+)"
    r"(?:\?30([^?]*+))?+(?:\?31([^?]*+))?+(?:\?32([^?]*+))?+(?:\?33([^?]*+))?+(?:\?34([^?]*+))?+"
).fullmatch
# the same groups for the most usual layout of all (fewer optional parts: a quicker match)
_USUAL = re.compile(
    r"([0-9]{3})\?00([^?]*+)\?10([^?]*+)\?20([^?]*+)((?:\?2[1-9][^?]*+)*+)"
    r"\?30([^?]*+)\?31([^?]*+)\?32([^?]*+)(?:\?33([^?]*+))?+\?34([^?]*+)"
).fullmatch

# A keyword after a space or sub-field break, the only places when no sub-field is full (the text
# gets a break in front for one at the start). The split drops that space or break from the text
# before the keyword: harmless, as every value is cleaned of whitespace (and of breaks) in the end.
_SEPA_SPLIT = re.compile(
    r"[ \x1e](EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|IBAN|BIC|PURP|SQTP|MDAT|ORCR|ORMR|DDAT"
    r"|RTRN)\+"
).split
_NO_REF = "NOTPROVIDED"  # SEPA's literal for "no end-to-end reference"
_EREF_SVWZ = frozenset(["EREF+", "SVWZ+"])
_TEXT_KEYS = frozenset({"SVWZ", "ABWA", "ABWE"})  # free text that runs on over sub-field breaks
_KEY_BEFORE = " " + SOFT
_SEPA_EXTRA = {
    "MREF": "mandate_reference", "CRED": "creditor_id", "DEBT": "debtor_id",
    "ABWA": "ultimate_debtor", "ABWE": "ultimate_creditor", "PURP": "purpose_code",
    "COAM": "compensation_amount", "OAMT": "original_amount", "KREF": "kref",
}


def glue_subfields(values: list[str]) -> tuple[str, set[int]]:
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
            parts.append(value + SOFT)
            pos += 1
        else:
            parts.append(value)
            starts.add(pos)
    parts.append(values[-1])
    return "".join(parts), starts


def _glued(values: list[str]) -> str:
    """:func:`glue_subfields` without the start positions."""
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        first = values[0]
        return first + SOFT + values[1] if len(first) < _SUBFIELD_FULL else first + values[1]
    return "".join([v if len(v) >= _SUBFIELD_FULL else v + SOFT for v in values[:-1]]) + values[-1]


def sepa_keys(text: str, starts: set[int] | frozenset[int]) -> list[tuple[int, int, str]]:
    """``(start, value start, key)`` of each SEPA keyword in ``text``: at the start, after a space
    or break, or where a sub-field starts (``starts``)."""
    keys = []
    find = text.find
    p = find("+")
    while p >= 0:
        if p >= 4 and text[p - 4 : p] in _SEPA_KEYS4:
            s = p - 4
        elif p >= 3 and text[p - 3 : p] == "BIC":
            s = p - 3
        else:
            p = find("+", p + 1)
            continue
        if s in starts or text[s - 1] in _KEY_BEFORE:
            keys.append((s, p + 1, text[s:p]))
        p = find("+", p + 1)
    return keys


def _sepa_split(text: str, starts: set[int] | frozenset[int]) -> list[str]:
    """``[text before, key, value, key, value ...]`` at the SEPA keywords (as :func:`sepa_keys`)."""
    keys = sepa_keys(text, starts)
    if not keys:
        return [text]
    parts = [text[: keys[0][0]]]
    ends = [k[0] for k in keys[1:]] + [len(text)]
    for (_, value_start, key), end in zip(keys, ends, strict=True):
        parts += [key, text[value_start:end]]
    return parts


def parse_gvc(text: str, sep: str | None) -> dict[str, Any]:
    """``text`` starts with the three-digit GVC, then ``sep`` (``?``, ``>`` or ``None``)."""
    if sep == "?":
        split = _SUBFIELD_SPLIT(text)  # the code, then key, value, key, value ...
        info = _subfields([split[0]] + [k + v for k, v in zip(split[1::2], split[2::2], strict=True)])
        assert info is not None  # sub-field keys of non-ASCII digits are read as unknown ones
        return info
    code = text[:3]
    out: dict[str, Any] = {"transaction_code": code, "extra": {"details_dialect": "gvc", "gvc": code}}
    if sep is None:
        return out
    pieces = _TRIODOS_SPLIT(text)
    return _triodos(list(zip(pieces[1::2], pieces[2::2], strict=True)), out)


def parse_gvc_fast(text: str) -> dict[str, Any] | None:
    """:func:`parse_gvc` for ``text`` that starts with three ASCII digits and ``?``, when every
    ``?`` starts a sub-field (``?`` and two decimal digits); else ``None``."""
    m = _USUAL(text) or _LAYOUT(text)
    if m is None:
        return _subfields(text.split("?"))
    code, p00, p10, p20, p2x, p30, p31, p32, p33, p34 = m.groups()
    extra: dict[str, Any] = {"details_dialect": "gvc", "gvc": code}
    out: dict[str, Any] = {"transaction_code": code, "extra": extra}
    if p00 is not None:  # clean(); text of letters and digits only is clean already
        extra["posting_text"] = p00 if p00.isalnum() else CLEANED.get(p00) or clean_cached(p00)
    if p10 is not None:
        extra["primanota"] = p10 if p10.isalnum() else " ".join(p10.split()) or None
    if p30 is not None:  # _bank(), inline
        v = p30.strip()
        if is_bic(v):
            out["counterparty_bic"] = v
        elif v:
            extra["counterparty_bank_code"] = v
    if p31 is not None:
        v31 = p31.strip()
        if v31:
            out["counterparty_account"] = account_token(v31) or v31
    if p32 is not None:
        if p33 is not None:  # _glued([p32, p33])
            p32 = p32 + SOFT + p33 if len(p32) < _SUBFIELD_FULL else p32 + p33
        out["counterparty_name"] = " ".join(p32.split()) or None
    elif p33 is not None:
        out["counterparty_name"] = " ".join(p33.split()) or None
    if p34 is not None:
        extra["gvc_extension"] = p34 if p34.isalnum() else " ".join(p34.split()) or None
    if p31 is not None and not v31:
        extra["gvc_subfields"] = {"31": ""}  # an empty ?31 is kept as an unknown sub-field
    _layout_purpose(p20, p2x, out, extra)
    return out


def _layout_purpose(p20: str | None, p2x: str, out: dict[str, Any], extra: dict[str, Any]) -> None:
    """The purpose sub-fields of a usual layout: ?20, then ``p2x`` = ``"?21...?22..."``."""
    if p2x:
        if p2x.find("?", 1) < 0:  # just ?21
            purpose = [p2x[3:]] if p20 is None else [p20, p2x[3:]]
        else:
            purpose = [x[2:] for x in p2x.split("?")[1:]]
            if p20 is not None:
                purpose.insert(0, p20)
    elif p20 is not None:
        purpose = [p20]
    else:
        out["remittance"] = None
        return
    if not (purpose[0][:5] in _EREF_SVWZ and _eref_svwz(purpose, out)):  # _gvc_purpose(), inline
        _sepa_purpose(purpose, out, extra)


def _bank(v: str, out: dict[str, Any]) -> None:
    """?30: the counterparty's BIC, or else its bank code."""
    if is_bic(v):
        out["counterparty_bic"] = v
    elif v:
        out["extra"]["counterparty_bank_code"] = v


def _subfields(pieces: list[str]) -> dict[str, Any] | None:
    """The GVC details from the code and the sub-fields as ``key + value`` (``"20EREF+..."``);
    ``None`` when a piece does not start with two digits (a ``?`` in the text: see parse_gvc)."""
    code = pieces[0]
    extra: dict[str, Any] = {"details_dialect": "gvc", "gvc": code}
    out: dict[str, Any] = {"transaction_code": code, "extra": extra}
    purpose: list[str] = []
    names: list[str] = []
    other: dict[str, str] = {}
    kinds = _KINDS
    it = iter(pieces)
    next(it)  # the code
    for piece in it:
        key = piece[:2]
        kind = kinds.get(key)
        value = piece[2:]
        if kind == _PURPOSE:
            purpose.append(value)
        elif kind == _NAME:
            names.append(value)
        elif kind == _CLEAN:  # ?00 posting text, ?10 primanota, ?34 extension
            # clean(); a value of letters and digits only is clean already
            extra[_CLEAN_EXTRA[key]] = value if value.isalnum() else " ".join(value.split()) or _EMPTY[key]
        elif kind == _BANK:
            _bank(value.strip(), out)
        elif kind == _ACCOUNT:
            _account(value.strip(), out, other)
        elif kind is None and not (len(key) == 2 and key.isdecimal()):
            return None  # a "?" in the text: the regex split tells sub-fields from text
        else:
            _gvc_other(key, value.strip(), out, other)
    if names:
        out["counterparty_name"] = " ".join(_glued(names).split()) or None
    if other:
        extra["gvc_subfields"] = other
    if purpose:
        _gvc_purpose(purpose, out, extra)
    else:
        out["remittance"] = None
    return out


def _account(v: str, out: dict[str, Any], other: dict[str, str]) -> None:
    """?31: the counterparty account; a later ?31 replaces it only with an IBAN."""
    if v:
        acct = account_token(v) or v
        if "counterparty_account" not in out or iban_match(acct):
            out["counterparty_account"] = acct
    else:
        other["31"] = ""  # an empty ?31 is kept as an unknown sub-field


def _gvc_other(key: str, v: str, out: dict[str, Any], other: dict[str, str]) -> None:
    """?38 account (IBAN), anything else."""
    if key == "38" and v:
        out["counterparty_account"] = account_token(v) or v
    else:
        other[key] = clean(v) or ""


def _gvc_purpose(purpose: list[str], out: dict[str, Any], extra: dict[str, Any]) -> None:
    """?20-?29 and ?60-?63: plain text, or SEPA ``KEY+value`` runs (SVWZ is the remittance)."""
    if not (purpose[0][:5] in _EREF_SVWZ and _eref_svwz(purpose, out)):
        _sepa_purpose(purpose, out, extra)


def _eref_svwz(purpose: list[str], out: dict[str, Any]) -> bool:
    """The usual SEPA purpose: ``[EREF+ref,] SVWZ+text[, more text ...]`` and no other ``+``.

    What :func:`_sepa_purpose` makes of it, done directly; ``False`` (nothing done) for any other.
    """
    first = purpose[0]
    if first[0] == "E":  # EREF+
        if len(purpose) < 2 or purpose[1][:5] != "SVWZ+" or first.count("+") != 1 or SOFT in first:
            return False  # (a break in the reference would end it early)
        text = purpose[1] if len(purpose) == 2 else _glued(purpose[1:])
    else:
        text = first if len(purpose) == 1 else _glued(purpose)
    if text.count("+") != 1:  # a keyword may hide in the text: the long way
        return False
    if first[0] == "E":
        ref = " ".join(first[5:].split())
        out["end_to_end_reference"] = None if not ref or ref.upper() == _NO_REF else ref
    text = text[5:]
    v = text.strip()
    if "RF" in v[:4].upper() and rf_reference(v):
        set_creditor_ref(out, text, None)
    out["remittance"] = " ".join(text.split()) or None
    return True


def _sepa_purpose(purpose: list[str], out: dict[str, Any], extra: dict[str, Any]) -> None:
    """:func:`_gvc_purpose`, every case."""
    if len(purpose) > 1 and max(map(len, purpose[:-1])) >= _SUBFIELD_FULL:
        glued, starts = glue_subfields(purpose)  # keywords may also start where a full one ends
        parts = _sepa_split(glued, starts) if "+" in glued else None
    else:
        glued = SOFT.join(purpose)
        parts = _SEPA_SPLIT(SOFT + glued) if "+" in glued else None
    if parts is None or len(parts) == 1:
        out["remittance"] = " ".join(glued.split()) or None
        return
    remittance = [parts[0]]
    it = iter(parts)
    next(it)
    for key, value in zip(it, it, strict=True):
        if key == "SVWZ":
            remittance.append(value)
            v = value.strip()
            if "RF" in v[:4].upper() and rf_reference(v):
                set_creditor_ref(out, value, None)
            continue
        if SOFT in value and key not in _TEXT_KEYS:
            # identifiers end where a sub-field ended early; what follows is plain text
            value, orphan = value.split(SOFT, 1)
            remittance.append(orphan)
        if key == "EREF":
            value = " ".join(value.split())
            out["end_to_end_reference"] = None if not value or value.upper() == _NO_REF else value
        else:
            _sepa_value(key, value, out, extra)
    out["remittance"] = " ".join(" ".join(remittance).split()) or None
    if extra.get("kref"):
        out["customer_reference"] = extra["kref"]


def _sepa_value(key: str, value: str, out: dict[str, Any], extra: dict[str, Any]) -> None:
    if key == "IBAN":
        out.setdefault("counterparty_account", account_token(value) or clean(value))
    elif key == "BIC":
        out.setdefault("counterparty_bic", clean(value))
    else:
        extra[_SEPA_EXTRA.get(key, key.lower())] = clean(value)


def _triodos(subs: list[tuple[str, str]], out: dict[str, Any]) -> dict[str, Any]:
    """Triodos writes ``>`` sub-fields: >20 BIC and >21 IBAN of the counterparty (since 2013),
    else >10 holds the counterparty account; >22.. the name and description; >31 own account."""
    extra = out["extra"]
    extra["details_dialect"] = "gvc_triodos"
    del out["transaction_code"]  # always "000": the :61: type code says more
    texts = [v for k, v in subs if "20" <= k <= "29"]
    first = dict(subs)
    if len(texts) >= 2 and bic_match(texts[0].strip()) and account_token(texts[1]):
        out["counterparty_bic"] = texts[0].strip()
        out["counterparty_account"] = account_token(texts[1])
        texts = texts[2:]
    elif first.get("10", "").strip("0 "):
        out["counterparty_account"] = account_token(first["10"]) or first["10"].strip()
    if first.get("31"):
        extra["own_account"] = first["31"].strip()
    out["remittance"] = clean(glue_subfields(texts)[0])
    return out
