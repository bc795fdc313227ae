"""MEID: 14 hex digits, only under an MEID-like key.

Bare 14-hex runs are everywhere (ids, hashes), so the key is required. Two shapes are
accepted: a CDMA MEID, whose regional code (first two hex digits) is A0-FF, and 14
decimal digits with an IMEI reporting-body prefix (the IMEI without its check digit, as
the China Telecom self-registration request sends it).
"""

from __future__ import annotations

import re

from phonehome.detect.base import Detector, in_hex_run, key_is
from phonehome.detect.imei import REPORTING_BODIES
from phonehome.model.field import Field, Match

MEID_KEYS = re.compile(r"x?(device)?meid\d*")
_CANDIDATE = re.compile(r"[0-9A-Fa-f]{14}")


class MeidDetector(Detector):
    id = "PH-MEID"
    identifier = "meid"
    name = "MEID"
    keys = MEID_KEYS

    def scan(self, field: Field) -> list[Match]:
        if not key_is(field, MEID_KEYS):
            return []
        found: list[Match] = []
        for m in _CANDIDATE.finditer(field.text):
            if in_hex_run(field.text, m.start(), m.end()):
                continue
            value = m.group().upper()
            if value.isdigit():
                ok = value[:2] in REPORTING_BODIES
            else:
                ok = value[0] in "ABCDEF" and len(set(value)) > 2
            if ok:
                found.append(self.match(field, value, m.start(), m.end(), 0.9))
        return found
