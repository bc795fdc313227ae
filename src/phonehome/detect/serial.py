"""Device serial numbers, under a serial key only.

A serial has no form of its own (a vendor's letters and digits), so the key must say it:
``serial``, ``serialno``, ``serial_number``, Android's ``ro.serialno`` /
``ro.boot.serialno`` and ``Build.SERIAL``, ``device_serial``, ``hw_serial`` ...
(normalised; docs/detectors.md), but not ``sim_serial`` (Android's name for the ICCID,
which the ICCID detector validates). The value must be one token of 6-32 letters and
digits (dashes inside allowed) that could be a stable id
(:func:`~phonehome.detect.field_name.identifier_shaped`: not one repeated character, not
a ``0123456789`` run, not a clock, three digits at least when it has letters), and not one
of the values devices report when they have none (``unknown``, ``0123456789ABCDEF``, an
emulator's).
"""

from __future__ import annotations

import re
from typing import Final

from phonehome.detect.base import Detector, key_is
from phonehome.detect.field_name import identifier_shaped
from phonehome.model.field import Field, Match

SERIAL_KEYS: Final = re.compile(
    r"x?(android)?(os)?(device|hardware|hw|build|ro|roboot|phone|board|unit|product)?"
    r"serial(no|number|num|nr)?\d*"
)
_VALUE: Final = re.compile(r"\s*([A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)\s*")
PLACEHOLDER_SERIALS: Final = frozenset(
    ("unknown", "0123456789abcdef", "emulator", "none", "null", "serial", "default")
)
"""Serials devices report when they have none (lowercase); ``emulator-5554`` style too."""


class SerialDetector(Detector):
    id = "PH-SERIAL"
    identifier = "serial"
    name = "serial number"
    keys = SERIAL_KEYS

    def scan(self, field: Field) -> list[Match]:
        if not key_is(field, SERIAL_KEYS):
            return []
        m = _VALUE.fullmatch(field.text)
        if m is None:
            return []
        value = m.group(1)
        compact = value.replace("-", "")
        if not 6 <= len(compact) <= 32 or not any(c.isdigit() for c in compact):
            return []
        lower = value.lower()
        if lower in PLACEHOLDER_SERIALS or lower.startswith("emulator"):
            return []
        if not identifier_shaped(value):
            return []
        return [self.match(field, value, m.start(1), m.end(1), 0.6)]
