"""Strict readers the camt modules share: element lookups by local name, amounts, dates, currencies.

Every ISO 20022 version of camt.052/053/054 uses the same local element names, so the parser binds
the namespace of each record (:class:`Xml`) and reads children by local name. Only elements of
that namespace count: a bank's extension element in another namespace never matches.

:meth:`Xml.index` maps a parent's children once (``{local name: first child}``) for elements read
several times; the path helpers (:meth:`Xml.child`, :meth:`Xml.text`, ...) walk a few steps.
Every reader raises :class:`ParseError` with a specific code and lets no other exception out.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lxml import etree

from shared.errors import ParseError
from shared.money import exponent, to_minor

RAW_LIMIT = 4096  # characters of source XML kept per line / statement header, for audit
# The parser of camt files: no DTD, no entity, no network, no huge trees (see camt.py).
PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
    "remove_blank_text": True,
}

_CCY_RE = re.compile(r"[A-Z]{3}")
# xs:date / xs:dateTime: the date part as written, then nothing, a time or a time zone.
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T Z+-])")
_FAST_DIGITS = 18  # amounts this short are exact as plain integers (Decimal's context has 28 digits)
_NAMES_LIMIT = 4096  # distinct tags (up to 512 characters) remembered per namespace: a hostile file may invent many

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


class Names(dict[object, str]):
    """``{tag: local name}`` for one namespace; '' for other namespaces and non-element nodes."""

    __slots__ = ("ns",)

    def __init__(self, ns: str) -> None:
        super().__init__()
        self.ns = ns

    def __missing__(self, tag: object) -> str:
        ns = self.ns
        name = ""
        if isinstance(tag, str):
            if tag.startswith(ns) and (ns or not tag.startswith("{")):
                name = tag[len(ns):]
            if len(tag) > 512:
                return name  # not remembered
        if len(self) < _NAMES_LIMIT:
            self[tag] = name
        return name


def text_of(node: Element | None) -> str | None:
    """Stripped text of ``node`` (None when absent or blank)."""
    if node is None:
        return None
    text = node.text
    if text is None:
        return None
    return text.strip() or None


class Xml:
    """Child lookups bound to one namespace, by local name, tolerant of missing parents."""

    __slots__ = ("names", "ns")

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.names = Names(ns)

    @classmethod
    def of(cls, ns: str) -> Xml:
        """The (shared) readers for namespace ``ns``, e.g. ``{urn:...camt.053.001.08}``."""
        found = _XML_CACHE.get(ns)
        if found is None:
            if len(_XML_CACHE) > 64:
                _XML_CACHE.clear()
            found = _XML_CACHE[ns] = cls(ns)
        return found

    def index(self, el: Element | None) -> Kids:
        """First child of ``el`` per local name, for elements read several times (one pass, not N)."""
        kids: Kids = {}
        if el is not None:
            names = self.names
            for node in el:
                name = names[node.tag]
                if name not in kids:
                    kids[name] = node
        return kids

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
        return text_of(self.child(el, *names))

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
        dt = dttm = None
        names = self.names
        for node in el:
            name = names[node.tag]
            if name == "Dt":
                if dt is None:
                    dt = node
            elif name == "DtTm" and dttm is None:
                dttm = node
        raw = text_of(dt) or text_of(dttm)
        if raw is None:
            if dt is not None or dttm is not None:
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


def _check_currency(raw: str) -> str:
    ccy = raw.strip().upper()
    if not _CCY_RE.fullmatch(ccy):
        raise ParseError(f"not a currency code: {ccy[:10]!r}", code="INGEST_BAD_CURRENCY")
    return ccy


_CURRENCIES: dict[str, tuple[str, int]] = {}  # Ccy as written -> (ISO code, minor-unit digits)


def parse_currency(raw: str | None, fallback: str | None = None) -> str:
    """An ISO 4217 alphabetic code (upper-cased); refuses anything else."""
    return _currency_exponent(raw or fallback or "")[0]


def _currency_exponent(raw: str) -> tuple[str, int]:
    found = _CURRENCIES.get(raw)
    if found is None:
        ccy = _check_currency(raw)
        found = (ccy, exponent(ccy))
        if len(raw) <= 8 and len(_CURRENCIES) < 512:
            _CURRENCIES[raw] = found
    return found


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
    whole, dot, frac = raw.partition(".")
    # The ISO pattern \d{1,30}(\.\d{1,30})? (\d: any Unicode decimal digit, as str.isdecimal).
    if not (whole.isdecimal() and len(whole) <= 30 and (not dot or (frac.isdecimal() and len(frac) <= 30))):
        raise ParseError(f"not an ISO 20022 amount: {raw[:40]!r}", code="INGEST_BAD_AMOUNT")
    ccy, exp = _currency_exponent(ccy_attr or fallback_ccy or "")
    if len(raw) <= _FAST_DIGITS:
        # Few digits: the same exact value as Decimal scaling, without Decimal.
        if len(frac) <= exp:
            return int(whole + frac.ljust(exp, "0")), ccy
        if not frac[exp:].strip("0"):
            return int(whole + frac[:exp]), ccy
    return to_minor(Decimal(raw), ccy), ccy


def direction(x: Xml, el: Element, *, required: bool) -> int | None:
    """``CdtDbtInd`` of ``el``: +1 for CRDT, -1 for DBIT, None when absent and not required."""
    return sign_of(x.text(el, "CdtDbtInd"), required=required)


def sign_of(ind: str | None, *, required: bool) -> int | None:
    """+1 for ``CRDT``, -1 for ``DBIT``; None for a missing optional indicator; else refused."""
    if ind == "CRDT":
        return 1
    if ind == "DBIT":
        return -1
    if ind is None and not required:
        return None
    raise ParseError(f"credit/debit indicator is {ind!r}, expected CRDT or DBIT",
                     code="INGEST_CAMT_NO_DIRECTION")


def raw_xml(el: Element) -> str:
    """Serialized XML of ``el`` (without its tail), truncated to :data:`RAW_LIMIT` characters."""
    text: str = etree.tostring(el, encoding="unicode", with_tail=False)
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"


_XML_CACHE: dict[str, Xml] = {}
