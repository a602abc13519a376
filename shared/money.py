"""Money as integer minor units with an ISO 4217 currency; Decimal only at the edges."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from shared.errors import ParseError

# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}


def exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


def parse_decimal(text: str) -> Decimal:
    """Read an amount as written in bank files: ``1234.56``, ``1234,56``, ``1.234,56``, ``-0,5``.

    The last ``,`` or ``.`` is the decimal separator when followed by 1-5 digits; the others
    are grouping. Raises :class:`ParseError` (``INGEST_BAD_AMOUNT``) on anything else.
    """
    raw = text.strip().replace(" ", "").replace("'", "")
    if not raw:
        raise ParseError("empty amount", code="INGEST_BAD_AMOUNT")
    sign = ""
    if raw[0] in "+-":
        sign, raw = ("-" if raw[0] == "-" else ""), raw[1:]
    last = max(raw.rfind(","), raw.rfind("."))
    if last >= 0:
        whole, frac = raw[:last], raw[last + 1 :]
        whole = whole.replace(",", "").replace(".", "")
        raw = f"{whole or '0'}.{frac or '0'}"
    try:
        value = Decimal(sign + raw)
    except InvalidOperation as exc:
        raise ParseError(f"not an amount: {text!r}", code="INGEST_BAD_AMOUNT") from exc
    if not value.is_finite():
        raise ParseError(f"not an amount: {text!r}", code="INGEST_BAD_AMOUNT")
    return value


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """Exact conversion to minor units; refuses amounts finer than the currency allows.

    ``to_minor(Decimal("12.30"), "EUR") == 1230``. ``12.305 EUR`` raises ``INGEST_BAD_AMOUNT``:
    money is never rounded silently.
    """
    value = amount if isinstance(amount, Decimal) else parse_decimal(str(amount))
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ParseError(
            f"amount {value} has more decimals than {currency} allows", code="INGEST_BAD_AMOUNT"
        )
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Decimal value of ``minor`` units of ``currency`` (``1230, EUR -> Decimal('12.30')``)."""
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def format_minor(minor: int, currency: str) -> str:
    """Decimal string for JSON, CSV and reports (``"12.30"``): ``str(from_minor(...))``.

    Integer arithmetic only (exports write it for every row); a test holds it to the Decimal form.
    """
    fmt = _FORMATTERS.get(currency)
    if fmt is None:
        fmt = minor_formatter(currency)
        if len(_FORMATTERS) < 1000:  # currency codes are few; bound it against odd input
            _FORMATTERS[currency] = fmt
    return fmt(minor)


def minor_formatter(currency: str) -> Callable[[int], str]:
    """``format_minor`` for one currency, its exponent looked up once (for per-row exports).

    Exact ``int`` amounts take a ``%``-format of the zero-padded digits (about twice as fast as
    ``divmod`` and a nested format spec); other integer types keep the general path.
    """
    exp = _EXPONENTS.get(currency.upper(), 2) if currency else 2
    if exp == 0:
        return str
    pad, scale = f"%0{exp + 1}d", _POW10[exp]

    def fmt(minor: int) -> str:
        if type(minor) is not int:  # bool, numpy integers...: divmod keeps their old result
            whole, frac = divmod(-minor if minor < 0 else minor, scale)
            return f"{'-' if minor < 0 else ''}{whole}.{frac:0{exp}d}"
        if minor < 0:
            digits = pad % -minor
            return f"-{digits[:-exp]}.{digits[-exp:]}"
        digits = pad % minor
        return f"{digits[:-exp]}.{digits[-exp:]}"

    return fmt


_POW10 = [10**i for i in range(10)]
_FORMATTERS: dict[str, Callable[[int], str]] = {}


def split_minor(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` so that the parts sum exactly to ``total``.

    Largest-remainder rounding; deterministic (ties go to the earlier part).
    """
    if not weights:
        return []
    wsum = sum(weights)
    if wsum == 0:
        parts = [0] * len(weights)
        parts[0] = total
        return parts
    raw = [total * w for w in weights]
    parts = [r // wsum for r in raw]
    rest = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] % wsum), i))
    for i in order[:rest]:
        parts[i] += 1
    return parts
