"""Checks and normal forms shared by the profile loader and the detectors.

Pure functions over strings, no tables: the ones that need reference data (MCC/MNC,
TAC, OUI) live in :mod:`phonehome.refdata`.
"""

from __future__ import annotations

import re

_NON_HEX = re.compile(r"[^0-9a-fA-F]")


def _luhn_total(digits: str, double: bool) -> int:
    """The Luhn sum of ASCII ``digits`` from the right, the rightmost one doubled when
    ``double``."""
    total = 0
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return total


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check, as used by IMEI and ICCID check digits."""
    if not (digits.isascii() and digits.isdigit()):  # '²' is a digit to str.isdigit
        return False
    return _luhn_total(digits, False) % 10 == 0


def luhn_digit(body: str) -> str:
    """The check digit that makes ``body + digit`` Luhn-valid (one pass, not ten tries)."""
    if body and not (body.isascii() and body.isdigit()):
        raise ValueError(body)
    return str(-_luhn_total(body, True) % 10)


def imei_ok(value: str) -> bool:
    return len(value) == 15 and luhn_ok(value)


def iccid_ok(value: str) -> bool:
    """ICCID: 18-20 digits starting 89, Luhn over all digits; a trailing F is padding."""
    v = value.upper().rstrip("F")
    return 18 <= len(v) <= 20 and v.startswith("89") and luhn_ok(v)


def normal_mac(value: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for any of the usual spellings, else None."""
    hexdigits = _NON_HEX.sub("", value)
    if len(hexdigits) != 12 or len(value) not in (12, 14, 17):
        return None
    h = hexdigits.lower()
    return ":".join(h[i : i + 2] for i in range(0, 12, 2))


def digits_only(value: str) -> str:
    return "".join(ch for ch in value if "0" <= ch <= "9")


def to_tbcd(digits: str) -> bytes:
    """TBCD (TS 29.002) bytes of a digit string: two digits a byte, the low nibble first,
    ``F`` filling the last high nibble of an odd count."""
    padded = digits + "F" if len(digits) % 2 else digits
    return bytes(int(padded[i + 1], 16) << 4 | int(padded[i], 16) for i in range(0, len(padded), 2))
