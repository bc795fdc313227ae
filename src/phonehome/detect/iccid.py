"""ICCID: the SIM card number, 18-20 digits starting 89 (telecom), Luhn-valid.

The fixed ``89`` prefix, the length window and the check digit together make a bare
match specific enough to report without a key; a trailing ``F`` (nibble padding read from
the SIM) is allowed and dropped from the normal form.
"""

from __future__ import annotations

import re

from phonehome.detect.base import Detector, in_number_run, key_is
from phonehome.detect.validators import iccid_ok
from phonehome.model.field import Field, Match

ICCID_KEYS = re.compile(r"x?(sim\d*)?(iccid\d*|simserial(number)?|simid)")
_CANDIDATE = re.compile(r"(?<![0-9])89[0-9]{16,18}(?![0-9])")


class IccidDetector(Detector):
    id = "PH-ICCID"
    identifier = "iccid"
    name = "ICCID"
    needs = re.compile(r"89[0-9]{16}")

    def scan(self, field: Field) -> list[Match]:
        text = field.text
        if "89" not in text:
            return []
        keyed = key_is(field, ICCID_KEYS)
        found: list[Match] = []
        for m in _CANDIDATE.finditer(text):
            start, end = m.start(), m.end()
            if end < len(text) and text[end] in "Ff":
                end += 1
            if in_number_run(text, start, end) or not iccid_ok(m.group()):
                continue
            found.append(self.match(field, m.group(), start, end, 0.95 if keyed else 0.85))
        return found
