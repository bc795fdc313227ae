"""IMEI: 15 digits with a Luhn check digit and a GSMA reporting-body prefix.

A Luhn check alone passes one random number in ten, so the first two digits must also name
a reporting body (the issuer of the TAC). That set has no 15-19, so millisecond and
microsecond epoch times (``1[5-9]...``) never pass. The TAC itself is not looked up: TAC
tables are incomplete and an unknown model is no reason to miss an IMEI. IMEISV (14-digit
body + 2-digit software version, no check digit) is accepted only under an IMEI-like key.

The IMEI URN of RFC 7254 (``urn:gsma:imei:TTTTTTTT-SSSSSS-D``, what a VoLTE phone's SIP
Contact carries as ``+sip.instance``) declares itself: TAC and SNR with a reporting-body
prefix, and a last digit that is the spare digit 0 or the Luhn check digit. It is
reported under any key, as the IMEI with its check digit (form ``urn``). Under an IMEI
key, the groupings a label or a settings screen prints (2-6-6-1 or 8-6-1, with dashes or
spaces) are read too (form ``grouped``): bare, four digit groups are too common to be one.
"""

from __future__ import annotations

import re
from typing import Final

from phonehome.detect.base import Detector, in_number_run, key_is
from phonehome.detect.validators import luhn_digit, luhn_ok
from phonehome.model.field import Field, Match

_BODIES = (1, 10, 30, 33, 35, 44, 45, 49, 50, 51, 52, 53, 54, 86, 91, 98, 99)
REPORTING_BODIES = frozenset(f"{n:02d}" for n in _BODIES)
"""GSMA reporting-body identifiers (first two TAC digits); 00 is test IMEIs, left out."""

IMEI_KEYS = re.compile(r"x?(device)?(imei(sv)?\d*|deviceid\d*|meid)")
_CANDIDATE = re.compile(r"(?<![0-9])[0-9]{15,16}(?![0-9])")
_URN = re.compile(r"urn:gsma:imei:([0-9]{8})-([0-9]{6})-([0-9])(?![0-9])", re.IGNORECASE)
_GROUPED = re.compile(r"(?<![0-9])([0-9]{2})([- ]?)([0-9]{6})([- ])([0-9]{6})\4([0-9])(?![0-9])")
"""The IMEI as a label or a settings screen prints it: 2-6-6-1 (``35-912345-678901-2``,
``35 912345 678901 2``, the reporting body apart) or 8-6-1 (TAC, SNR, check digit)."""


PLACEHOLDER_IMEIS: Final[dict[str, str]] = {
    "000000000000000": "an emulator's IMEI (all zero)",
    "004999010640000": "an Intel modem's default IMEI",
    "358240051111110": "the Android emulator's IMEI (API 28 and later)",
}
"""IMEIs that many devices report: no one's. The emulator's passes every check, so it is
rejected here as well as counted (``detect.placeholders``)."""


def plausible_imei(digits: str) -> bool:
    return (
        len(digits) == 15
        and digits[:2] in REPORTING_BODIES
        and luhn_ok(digits)
        and digits not in PLACEHOLDER_IMEIS
    )


class ImeiDetector(Detector):
    id = "PH-IMEI"
    identifier = "imei"
    name = "IMEI"
    needs = re.compile(r"[0-9]{15}|(?i:urn:gsma:imei:)|[0-9]{6}[- ][0-9]{6}[- ][0-9]")

    def scan(self, field: Field) -> list[Match]:
        text = field.text
        keyed = key_is(field, IMEI_KEYS)
        found: list[Match] = []
        for m in _URN.finditer(text) if ":" in text else ():
            body = m.group(1) + m.group(2)
            check = luhn_digit(body)
            if plausible_imei(body + check) and m.group(3) in ("0", check):
                found.append(self.match(field, body + check, m.start(), m.end(), 0.95, "urn"))
        if keyed:  # grouped digits are an IMEI only where the key says so
            for m in _GROUPED.finditer(text):
                if m.group(2) not in ("", m.group(4)):
                    continue
                digits = m.group(1) + m.group(3) + m.group(5) + m.group(6)
                if plausible_imei(digits):
                    found.append(self.match(field, digits, m.start(), m.end(), 0.95, "grouped"))
        for m in _CANDIDATE.finditer(text):
            digits = m.group()
            if in_number_run(text, m.start(), m.end()):
                continue
            if len(digits) == 15:
                if plausible_imei(digits):
                    found.append(
                        self.match(field, digits, m.start(), m.end(), 0.95 if keyed else 0.7)
                    )
            elif keyed and plausible_imei(digits[:14] + luhn_digit(digits[:14])):
                imei = digits[:14] + luhn_digit(digits[:14])
                found.append(self.match(field, imei, m.start(), m.end(), 0.85))
        return found
