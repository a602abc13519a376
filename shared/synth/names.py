"""International company names, the variants payers really write, and non-customer payers.

Names are built from per-country stems, trades and towns so that 30,000 customers stay distinct
after legal forms are stripped (the generator refuses a name whose base is already taken).
"""

from __future__ import annotations

import random
import re
import unicodedata
from functools import lru_cache

from shared.synth.name_data import (
    COUNTRIES,
    FACTORING_PAYERS,
    FIRST_NAMES,
    GROUP_COMPANIES,
    LAST_NAMES,
    LEGAL_ALIASES,
    SUPPLIERS,
    TAX_PAYERS,
)

__all__ = [
    "FACTORING_PAYERS",
    "GROUP_COMPANIES",
    "SUPPLIERS",
    "TAX_PAYERS",
    "base_key",
    "company_name",
    "name_variants",
    "person_name",
    "transliterate",
]


_LEGAL_LONGEST_FIRST = {k: sorted(v.legal, key=len, reverse=True) for k, v in COUNTRIES.items()}
_LEGAL_TABLE = {
    k: [i for i in range(len(v.legal)) for _ in range(2 ** (len(v.legal) - i))] for k, v in COUNTRIES.items()
}
_NON_WORD = re.compile(r"[\W_]+")

_TRANSLIT = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "Ä": "Ae",
        "Ö": "Oe",
        "Ü": "Ue",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
    }
)


@lru_cache(maxsize=1 << 16)
def transliterate(text: str) -> str:
    """German-style transliteration (ü->ue, ß->ss), then accents dropped (é->e, ń->n): ASCII out."""
    # After NFKD an accented letter is its base letter plus combining marks; dropping every
    # non-ASCII code point removes the marks (and the rare symbol without an ASCII form).
    return unicodedata.normalize("NFKD", text.translate(_TRANSLIT)).encode("ascii", "ignore").decode("ascii")


def base_key(name: str) -> str:
    """Comparison key of a company name without legal form, case, accents or punctuation."""
    return _NON_WORD.sub("", transliterate(name).lower())


def _weighted_legal(rng: random.Random, country: str) -> str:
    """A legal form of ``country``, the first listed twice as likely as the next, and so on."""
    legal = COUNTRIES[country].legal
    return legal[_LEGAL_TABLE[country][rng.randrange(len(_LEGAL_TABLE[country]))]]


def company_base(rng: random.Random, country: str, *, roomy: bool = False) -> str:
    """A company name without legal form: stem, trade and sometimes a town or a second stem.

    ``roomy`` skips the two-word shape, whose few combinations run out first in large worlds.
    """
    c = COUNTRIES[country]
    stem, trade = rng.choice(c.stems), rng.choice(c.trades)
    shape = rng.randrange(1 if roomy else 0, 4)
    if shape == 0:
        words = [trade, stem] if c.trade_first else [stem, trade]
    elif shape == 1:
        words = [trade, stem, rng.choice(c.towns)] if c.trade_first else [stem, trade, rng.choice(c.towns)]
    elif shape == 2:
        other = rng.choice([s for s in c.stems if s != stem])
        joiner = "&" if country in ("GB", "US", "DE", "AT", "CH") else "et" if country == "FR" else "&"
        words = [stem, joiner, other, trade]
    else:
        words = [stem, trade, rng.choice(c.towns)] if c.trade_first else [rng.choice(c.towns), stem, trade]
    return " ".join(words)


def company_name(rng: random.Random, country: str, taken: set[str], attempts: int = 60) -> str:
    """A full company name (with legal form) whose :func:`base_key` is not in ``taken``.

    Adds the key to ``taken``. After ``attempts`` collisions a numeric branch suffix makes it
    unique (``Müller Logistik Ulm 2 GmbH``), which happens only for very large worlds.
    """
    base = company_base(rng, country)
    for _ in range(attempts):
        if base_key(base) not in taken:
            break
        base = company_base(rng, country, roomy=True)
    else:
        n = 2
        while base_key(f"{base} {n}") in taken:
            n += 1
        base = f"{base} {n}"
    taken.add(base_key(base))
    return f"{base} {_weighted_legal(rng, country)}"


def _split_legal(name: str, country: str) -> tuple[str, str]:
    for form in _LEGAL_LONGEST_FIRST[country]:
        if name.endswith(" " + form):
            return name[: -len(form) - 1], form
    return name, ""


def _typo(rng: random.Random, word: str) -> str:
    """One realistic typing error inside ``word`` (drop, double, swap neighbours)."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def name_variants(rng: random.Random, name: str, country: str) -> tuple[str, ...]:
    """How payers and their banks write ``name``: transliterated, upper case, legal form missing
    or respelled, abbreviated, with one typo. Distinct and never the exact name."""
    base, legal = _split_legal(name, country)
    words = base.split()
    alias = rng.choice(LEGAL_ALIASES.get(legal, (legal,))) if legal else ""
    candidates = [
        transliterate(name),
        transliterate(name).upper(),
        base,
        f"{base} {alias}".strip(),
        f"{transliterate(base).upper()} {alias.upper()}".strip(),
        " ".join([*words[:-1], words[-1][:4] + "."]) + (f" {legal}" if legal else "")
        if len(words) > 1
        else base,
        " ".join(_typo(rng, w) if i == 0 else w for i, w in enumerate(words))
        + (f" {legal}" if legal else ""),
    ]
    seen: list[str] = []
    for cand in candidates:
        cand = " ".join(cand.split())
        if cand and cand != name and cand not in seen:
            seen.append(cand)
    rng.shuffle(seen)
    return tuple(seen[: rng.randint(3, 5)])


def person_name(rng: random.Random) -> str:
    """A private person (never a customer here): the typical unknown payer."""
    country = rng.choice(tuple(FIRST_NAMES))
    first, last = rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])
    return rng.choice(
        (f"{first} {last}", f"{last}, {first}", f"{first[0]}. {last}", f"{first} {last}".upper())
    )
