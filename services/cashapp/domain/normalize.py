"""Normalisation of references, payer names and accounts (pure; Python and polars twins).

Each rule exists twice: a plain Python function (the readable reference, used for single values
and in tests) and a polars expression builder (the fast path over whole frames). A test keeps the
twins in agreement on a table of examples.

References: upper case, separators dropped, known prefixes (``INV``, ``RE``, ``RG.NR.`` ...)
dropped, leading zeros dropped. Two keys per text: the *compact* key (all tokens glued,
``INV-2026-004512`` -> ``2026004512``) and the *grouped* key (each token stripped of its padding
zeros, ``INV-2026-004512`` -> ``2026-4512``) so that ``INV-2026-4512`` matches as well.

Names: lower case, transliterated (ü/ue -> u, ß -> ss, accents dropped), punctuation and dots
dropped (``G.m.b.H.`` -> ``gmbh``), legal forms and filler words removed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

import polars as pl

TOKEN_RE = r"[A-Z0-9]+"
_TOKEN = re.compile(TOKEN_RE)
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")

# Letters a bank or an ERP may write differently; mapped to one plain form before comparing.
_TRANSLIT = {
    "ä": "a",
    "ö": "o",
    "ü": "u",
    "ß": "ss",
    "æ": "ae",
    "ø": "o",
    "å": "a",
    "œ": "oe",
    "þ": "th",
    "ð": "d",
    "ł": "l",
    "đ": "d",
    "ı": "i",
}


def compact_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Prefixes as they look after separators are dropped (``RG.NR.`` -> ``RGNR``), longest first."""
    out = {re.sub(r"[^A-Z0-9]", "", p.upper()) for p in prefixes}
    out.discard("")
    return sorted(out, key=lambda p: (-len(p), p))


def _alternation(prefixes: Iterable[str]) -> str:
    return "|".join(re.escape(p) for p in compact_prefixes(prefixes))


def prefix_strip_pattern(prefixes: Iterable[str]) -> str:
    """Regex (Python and Rust compatible) removing leading prefixes that are followed by a digit."""
    alt = _alternation(prefixes)
    return rf"^(?:{alt})+([0-9])" if alt else r"^()([0-9])"


def prefix_token_pattern(prefixes: Iterable[str]) -> str:
    """Regex matching a token that is nothing but a prefix word (``INV``, ``RECHNUNG``)."""
    alt = _alternation(prefixes)
    return rf"^(?:{alt})+$" if alt else r"^\b$"


class RefNormalizer:
    """Python reference implementation of the reference keys for one prefix list."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        self._strip = re.compile(prefix_strip_pattern(prefixes))
        self._only = re.compile(prefix_token_pattern(prefixes))

    def tokens(self, text: str) -> list[str]:
        """Upper-case alphanumeric runs of ``text``."""
        return _TOKEN.findall(text.upper())

    def compact(self, text: str) -> str:
        """``INV-2026-004512`` -> ``2026004512``; ``RE 0090004512`` -> ``90004512``."""
        return self.compact_tokens(self.tokens(text))

    def compact_tokens(self, tokens: list[str]) -> str:
        """Compact key of already split tokens (glued, prefixes and leading zeros dropped)."""
        return self._strip.sub(r"\1", "".join(tokens)).lstrip("0")

    def group_part(self, token: str) -> str:
        """One token's part of the grouped key ('' when the token is only a prefix word)."""
        if self._only.match(token):
            return ""
        return self._strip.sub(r"\1", token).lstrip("0")

    def grouped(self, text: str) -> str:
        """``INV-2026-004512`` -> ``2026-4512`` (each token without its padding zeros)."""
        return "-".join(p for p in (self.group_part(t) for t in self.tokens(text)) if p)


def compact_text_expr(text: pl.Expr, prefixes: Iterable[str]) -> pl.Expr:
    """Polars twin of :meth:`RefNormalizer.compact` over a text column."""
    glued = text.str.to_uppercase().str.replace_all(r"[^A-Z0-9]+", "")
    return glued.str.replace(prefix_strip_pattern(prefixes), "$1").str.strip_chars_start("0")


def grouped_text_expr(text: pl.Expr, prefixes: Iterable[str]) -> pl.Expr:
    """Polars twin of :meth:`RefNormalizer.grouped` over a text column (string regexes only)."""
    alt = _alternation(prefixes) or "(?!)"
    # Every token gets its own pair of dashes so that adjacent prefix words are each removed.
    s = "--" + text.str.to_uppercase().str.replace_all(r"[^A-Z0-9]+", "--") + "--"
    s = s.str.replace_all(rf"-(?:{alt})+-", "-").str.replace_all(rf"-(?:{alt})+([0-9])", "-$1")
    return s.str.replace_all(r"-0+", "-").str.replace_all(r"-+", "-").str.strip_chars("-")


def compact_expr(tokens: pl.Expr, prefixes: Iterable[str]) -> pl.Expr:
    """Polars twin of :meth:`RefNormalizer.compact_tokens` over a ``list[str]`` token column."""
    return tokens.list.join("").str.replace(prefix_strip_pattern(prefixes), "$1").str.strip_chars_start("0")


def group_part_expr(token: pl.Expr, prefixes: Iterable[str]) -> pl.Expr:
    """Polars twin of :meth:`RefNormalizer.group_part` (null instead of '' for dropped tokens)."""
    part = (
        token.str.replace(prefix_token_pattern(prefixes), "")
        .str.replace(prefix_strip_pattern(prefixes), "$1")
        .str.strip_chars_start("0")
    )
    return part.replace("", None)  # (written once: eager polars does not share subexpressions)


def grouped_expr(tokens: pl.Expr, prefixes: Iterable[str]) -> pl.Expr:
    """Polars twin of :meth:`RefNormalizer.grouped` over a ``list[str]`` token column."""
    parts = tokens.list.eval(group_part_expr(pl.element(), prefixes).drop_nulls())
    return parts.list.join("-")


# --- check digits -----------------------------------------------------------------------------

_QRR_TABLE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)


def rf_valid(ref: str) -> bool:
    """ISO 11649 creditor reference (``RF18 5390 0754 7034``) with a valid mod-97 check."""
    s = re.sub(r"[^A-Z0-9]", "", ref.upper())
    if not re.fullmatch(r"RF\d{2}[0-9A-Z]{1,21}", s):
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def rf_make(payload: str) -> str:
    """Build the RF reference for ``payload`` (computes the two check digits)."""
    body = re.sub(r"[^A-Z0-9]", "", payload.upper())
    digits = "".join(str(int(c, 36)) for c in body + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{body}"


def qrr_check_digit(digits: str) -> str:
    """Mod-10 recursive check digit (Swiss QRR / ESR) of a digit string."""
    carry = 0
    for d in digits:
        carry = _QRR_TABLE[(carry + int(d)) % 10]
    return str((10 - carry) % 10)


def qrr_valid(ref: str) -> bool:
    """Swiss QR reference: 27 digits, the last one the mod-10 recursive check digit."""
    s = re.sub(r"\s", "", ref)
    return bool(re.fullmatch(r"\d{27}", s)) and qrr_check_digit(s[:26]) == s[26]


_RF_HEAD = re.compile(r"RF[0-9]{2}")
_BASE36 = {c: str(int(c, 36)) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def rf_valid_prefix(compact: str) -> str | None:
    """Longest prefix of ``compact`` (``RF..`` glued text) that is a valid RF reference, if any.

    A pattern cannot know where a spaced reference ends (``RF18 5390 0754 7034 THANKS``); the
    check digits can. (Same answer as trying :func:`rf_valid` on every prefix, longest first; the
    mod-97 remainders of all prefixes are computed in one pass.)
    """
    if not compact.isascii() or not compact.isalnum() or not compact.isupper() or not _RF_HEAD.match(compact):
        return _rf_valid_prefix_slow(compact)
    # rf_valid(prefix): int(digits(payload) + digits(head)) % 97 == 1, head = "RFdd" (6 digits)
    head = int("".join(_BASE36[c] for c in compact[:4]))
    ok: list[int] = []
    rest = 0
    for end in range(5, min(len(compact), 25) + 1):
        piece = _BASE36[compact[end - 1]]
        rest = (rest * 10 ** len(piece) + int(piece)) % 97
        if (rest * 1_000_000 + head) % 97 == 1:
            ok.append(end)
    return compact[: ok[-1]] if ok else None


def _rf_valid_prefix_slow(compact: str) -> str | None:
    for end in range(min(len(compact), 25), 4, -1):
        if rf_valid(compact[:end]):
            return compact[:end]
    return None


# --- payer names and accounts ---------------------------------------------------------------


def _words_pattern(words: Iterable[str]) -> str | None:
    # Longest first so that a phrase ("gesellschaft mit beschrankter haftung") wins over its parts.
    # Written naturally in the rule file ("G.m.b.H.", "Société Anonyme"), compared normalised.
    cleaned = sorted({_name_base(w) for w in words} - {""}, key=lambda w: (-len(w), w))
    if not cleaned:
        return None
    return r"\b(?:" + "|".join(re.escape(w) for w in cleaned) + r")\b"


def _name_base(name: str) -> str:
    s = name.lower()
    s = "".join(_TRANSLIT.get(c, c) for c in s)
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    # "G.m.b.H." -> "gmbh", "S.A." -> "sa"; other dots separate words ("Sp.z" -> "sp z", "Logi." -> "logi").
    s = re.sub(r"\b([a-z0-9])\.", r"\1", s)
    return re.sub(r"[^a-z0-9]+", " ", s).strip()


@functools.cache
def _cut_legal_forms(legal_forms: tuple[str, ...]) -> frozenset[str]:
    forms = {_name_base(form) for form in legal_forms}
    words = {w for form in forms for w in form.split()}
    # One-word forms only: the words of a phrase ("societe par actions ...") are ordinary words too.
    cut = {re.sub(r"([aou])e", r"\1", w[:k]) for w in forms if " " not in w for k in range(1, len(w))}
    return frozenset(cut - words)


def cut_legal_forms(legal_forms: Iterable[str]) -> frozenset[str]:
    """The starts of one-word legal forms, as a normalised name's last word shows them when the
    bank cut the name off inside its legal form: ``l``, ``lt``, ``limi``, ``incorpora``, ``gmb``
    (no word of a legal form itself, which normalising drops anyway)."""
    return _cut_legal_forms(tuple(legal_forms))


def normalize_name(name: str | None, legal_forms: Iterable[str], stopwords: Iterable[str] = ()) -> str:
    """``Müller Maschinenbau G.m.b.H. & Co. KG`` -> ``muller maschinenbau``.

    Legal forms (words or phrases) and filler words are dropped unless nothing else is left;
    ``ae/oe/ue`` collapse to ``a/o/u`` so that ``Müller``, ``Mueller`` and ``Muller`` are one name.
    """
    if not name:
        return ""
    s = _name_base(name)
    pattern = _words_pattern([*legal_forms, *stopwords])
    if pattern:
        kept = " ".join(re.sub(pattern, " ", s).split())
        s = kept or s
    return re.sub(r"([aou])e", r"\1", s)


def name_expr(col: pl.Expr, legal_forms: Iterable[str], stopwords: Iterable[str] = ()) -> pl.Expr:
    """Polars twin of :func:`normalize_name`."""
    s = col.str.to_lowercase().str.replace_many(list(_TRANSLIT), list(_TRANSLIT.values()))
    s = s.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.replace_all(r"\b([a-z0-9])\.", "$1")
    s = s.str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()
    pattern = _words_pattern([*legal_forms, *stopwords])
    if pattern:
        kept = s.str.replace_all(pattern, " ").str.replace_all(r" +", " ").str.strip_chars()
        s = pl.when(kept.str.len_bytes() > 0).then(kept).otherwise(s)
    return s.str.replace_all(r"([aou])e", "$1").fill_null("")


def normalize_account(value: str | None) -> str:
    """IBAN or account number as one comparable string (upper, no spaces; plain numbers unpadded)."""
    if not value:
        return ""
    s = re.sub(r"[^A-Z0-9]", "", value.upper())
    return s if _IBAN.match(s) else s.lstrip("0")


def account_expr(col: pl.Expr) -> pl.Expr:
    """Polars twin of :func:`normalize_account`."""
    s = col.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    # An IBAN starts with letters: dropping leading zeros leaves it as it is (one pass, not three).
    return s.str.strip_chars_start("0").fill_null("")
