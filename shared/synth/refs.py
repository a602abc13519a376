"""Check-digit arithmetic for the synthetic world: IBAN (ISO 13616), RF (ISO 11649), Swiss QRR.

Everything here is pure integer / string work so that generated references are valid for any
validator a bank or ERP would run, and tests can verify them independently.
"""

from __future__ import annotations

import random

# Swiss QR-reference / ESR recursive modulo-10 carry table (SIX "Implementation Guidelines").
_QRR_TABLE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)


_LETTERS = str.maketrans({chr(ord("A") + i): str(10 + i) for i in range(26)})


def _alnum_to_digits(text: str) -> str:
    """ISO 7064 letter conversion used by IBAN and RF: A=10 ... Z=35, digits unchanged."""
    return text.upper().translate(_LETTERS)


def mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 remainder of an alphanumeric string (letters converted first)."""
    return int(_alnum_to_digits(text)) % 97


def iban_from_bban(country: str, bban: str) -> str:
    """Build an IBAN with correct check digits from a country code and a national BBAN."""
    check = 98 - mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def iban_is_valid(iban: str) -> bool:
    """True when ``iban`` (spaces allowed) passes the ISO 13616 mod-97 check."""
    compact = iban.replace(" ", "").upper()
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    return mod97(compact[4:] + compact[:4]) == 1


def rf_reference(base: str) -> str:
    """ISO 11649 creditor reference ``RFcc<base>`` for an alphanumeric ``base`` (<= 21 chars)."""
    if not (base.isascii() and base.isalnum()) or not 1 <= len(base) <= 21:
        raise ValueError(f"RF base must be 1-21 alphanumerics: {base!r}")
    check = 98 - mod97(base.upper() + "RF00")
    return f"RF{check:02d}{base.upper()}"


def rf_is_valid(ref: str) -> bool:
    """True when ``ref`` (spaces allowed) is a well-formed ISO 11649 reference."""
    compact = ref.replace(" ", "").upper()
    if not compact.startswith("RF") or not 5 <= len(compact) <= 25 or not compact.isalnum():
        return False
    return mod97(compact[4:] + compact[:4]) == 1


def qrr_check_digit(digits: str) -> int:
    """Recursive modulo-10 check digit of a numeric string (Swiss QRR / ESR)."""
    carry = 0
    for ch in digits:
        carry = _QRR_TABLE[(carry + int(ch)) % 10]
    return (10 - carry) % 10


def qrr_reference(base: str) -> str:
    """27-digit Swiss QR reference: ``base`` left-padded with zeros to 26 digits + check digit."""
    if not base.isdigit() or len(base) > 26:
        raise ValueError(f"QRR base must be up to 26 digits: {base!r}")
    body = base.zfill(26)
    return body + str(qrr_check_digit(body))


def qrr_is_valid(ref: str) -> bool:
    """True when ``ref`` (spaces allowed) is 27 digits with a correct recursive mod-10 digit."""
    compact = ref.replace(" ", "")
    return len(compact) == 27 and compact.isdigit() and qrr_check_digit(compact[:26]) == int(compact[26])


def group(text: str, size: int = 4, sep: str = " ") -> str:
    """Print form of a reference in groups (``RF18 5390 0754 7034``)."""
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


def qrr_print_form(ref: str) -> str:
    """QRR as printed on the slip: 2 digits then groups of five (``21 00000 00003 ...``)."""
    return ref[:2] + " " + group(ref[2:], 5)


# --- national BBANs -------------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**n):0{n}d}"


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))


def _fr_rib_key(bank: str, branch: str, account: str) -> str:
    return f"{97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97:02d}"


def _be_check(first10: str) -> str:
    rem = int(first10) % 97
    return f"{rem or 97:02d}"


def _es_dc(bank: str, branch: str, account: str) -> str:
    weights = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)

    def digit(ten: str) -> str:
        value = 11 - sum(int(c) * w for c, w in zip(ten, weights, strict=True)) % 11
        return "0" if value == 11 else "1" if value == 10 else str(value)

    return digit("00" + bank + branch) + digit(account)


_IT_ODD = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)


def _it_cin(abi: str, cab: str, account: str) -> str:
    """Italian CIN letter over ABI+CAB+account (odd positions use the special table)."""
    total = 0
    for pos, ch in enumerate(abi + cab + account):
        value = int(ch, 36) - 10 if ch.isalpha() else int(ch)
        total += _IT_ODD[value] if pos % 2 == 0 else value
    return chr(ord("A") + total % 26)


def _pl_sort_code(rng: random.Random) -> str:
    seven = _digits(rng, 7)
    weights = (3, 9, 7, 1, 3, 9, 7)
    check = (10 - sum(int(c) * w for c, w in zip(seven, weights, strict=True)) % 10) % 10
    return seven + str(check)


def random_bban(rng: random.Random, country: str) -> str:
    """A national BBAN in the country's layout, with its national check digits where simple."""
    if country == "DE":
        return _digits(rng, 8) + _digits(rng, 10)
    if country == "NL":
        return rng.choice(("ABNA", "INGB", "RABO", "SNSB", "TRIO", "KNAB")) + _digits(rng, 10)
    if country == "GB":
        return rng.choice(("BARC", "LOYD", "NWBK", "HBUK", "MIDL")) + _digits(rng, 14)
    if country == "FR":
        bank, branch, account = _digits(rng, 5), _digits(rng, 5), _digits(rng, 11)
        return bank + branch + account + _fr_rib_key(bank, branch, account)
    if country == "CH":
        return _digits(rng, 5) + _digits(rng, 12)
    if country == "AT":
        return _digits(rng, 5) + _digits(rng, 11)
    if country == "BE":
        first10 = _digits(rng, 10)
        return first10 + _be_check(first10)
    if country == "ES":
        bank, branch, account = _digits(rng, 4), _digits(rng, 4), _digits(rng, 10)
        return bank + branch + _es_dc(bank, branch, account) + account
    if country == "IT":
        abi, cab, account = _digits(rng, 5), _digits(rng, 5), _digits(rng, 12)
        return _it_cin(abi, cab, account) + abi + cab + account
    if country == "PL":
        return _pl_sort_code(rng) + _digits(rng, 16)
    raise ValueError(f"no IBAN layout for {country}")


IBAN_COUNTRIES = ("DE", "NL", "GB", "FR", "CH", "AT", "BE", "ES", "IT", "PL")


def random_iban(rng: random.Random, country: str) -> str:
    """A random valid IBAN of ``country`` (must be one of :data:`IBAN_COUNTRIES`)."""
    return iban_from_bban(country, random_bban(rng, country))


def us_account(rng: random.Random) -> str:
    """A US routing + account number (no IBAN exists in the US): ``021000021-123456789012``."""
    return _digits(rng, 9) + "-" + _digits(rng, 12)


def pseudo_bic(account: str) -> str:
    """A BIC-shaped code derived from an IBAN's bank code, so the same account has one BIC."""
    country = account[:2] if account[:2].isalpha() else "US"
    bank = account[4:8] if account[:2].isalpha() else account[:4]
    letters = "".join(ch if ch.isalpha() else "ABCDEFGHIJ"[int(ch)] for ch in bank.upper())
    return f"{letters}{country}2X"
