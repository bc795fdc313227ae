"""Android ID (``Settings.Secure.ANDROID_ID``): 16 hex digits, only under its own key.

Sixteen hex digits are any 64-bit id or half a hash, so the key list is kept tight:
``android_id``/``androidid``/``ssaid`` (normalised). ``9774d56d682e549c`` is the ID a
whole generation of Android 2.2 devices shared, so it identifies no one.
"""

from __future__ import annotations

import re

from phonehome.detect.base import Detector, key_is
from phonehome.model.field import Field, Match

ANDROID_ID_KEYS = re.compile(r"x?(androidid|ssaid)")
_VALUE = re.compile(r"\s*([0-9A-Fa-f]{16})\s*")
SHARED_IDS = frozenset(("9774d56d682e549c",))


class AndroidIdDetector(Detector):
    id = "PH-ANDROIDID"
    identifier = "android_id"
    name = "Android ID"
    keys = ANDROID_ID_KEYS

    def scan(self, field: Field) -> list[Match]:
        if not key_is(field, ANDROID_ID_KEYS):
            return []
        m = _VALUE.fullmatch(field.text)
        if m is None:
            return []
        value = m.group(1).lower()
        if value in SHARED_IDS or len(set(value)) < 3:
            return []
        return [self.match(field, value, m.start(1), m.end(1), 0.9)]
