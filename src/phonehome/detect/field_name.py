"""Device identifiers by field name: what an app calls its device id, form unvalidated.

The validating detectors need a value's own form to vouch for it (Luhn and a reporting
body for an IMEI, MCC/MNC for an IMSI). An app that sends ``{"device_id":"350672920106648"}``
(a real Android malware check-in: 15 digits that fail the Luhn check) names its device
identifier in the key instead. Without a device profile, such a value is worth a finding
of its own identifier (``device_id``), at a confidence below every validated detector,
so it is never mistaken for a validated one. Only when:

* the key names a device identifier: ``device_id``, ``deviceid``, ``dev_id``, ``did``,
  ``udid``, ``hwid``, ``hardware_id``, ``unique_device_id``, ``device_uuid``,
  ``machine_id``, ``imei``, ``meid``, ``device_serial`` (normalised, docs/detectors.md);
* the whole value is identifier-shaped: 8-20 digits, 12-64 hex digits (dashes allowed),
  or 10-40 letters and digits with at least three digits;
* it is not a placeholder or a clock: one repeated character, ``0123456789``-like runs,
  a 10- or 13-digit Unix time of this century, ``null``/``unknown``, or a value
  :mod:`phonehome.detect.placeholders` knows (the emulator's and modems' default IMEIs);
* no other detector (a validated one, or the profile's values) found something there.

It runs only without a profile: with one, the profile's values are what the scan is for.
"""

from __future__ import annotations

import re
from typing import Final

from phonehome.detect import placeholders
from phonehome.detect.base import Detector, key_is
from phonehome.model.field import Field, Match

DEVICE_ID_KEYS: Final = re.compile(
    r"x?(device|dev|unique|uniquedevice|hardware|hw|machine|terminal|phone)"
    r"(id|uid|udid|uuid|identifier|serial|serialno)\d*|did|udid|hwid|imei\d*|meid\d*"
)
_VALUE: Final = re.compile(
    r"\s*([0-9]{8,20}|[0-9A-Fa-f]{12,64}|[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}"
    r"|[A-Za-z0-9]{10,40})\s*"
)
_SEQUENCES: Final = ("0123456789", "1234567890", "9876543210")


def identifier_shaped(value: str) -> bool:
    """The value could be a stable id: not a placeholder, a counter or a clock."""
    compact = value.replace("-", "").lower()
    if len(set(compact)) < 3 or any(s in compact for s in _SEQUENCES):
        return False
    if compact.isdigit():
        # Unix time in s or ms from 2001 to 2286 (10/13 digits starting 1-9): a clock.
        return not (len(compact) in (10, 13) and compact[0] in "123456789")
    if compact.isalnum() and not all(c in "0123456789abcdef" for c in compact):
        return sum(c.isdigit() for c in compact) >= 3
    return True


class FieldNameDetector(Detector):
    id = "PH-FIELDNAME"
    identifier = "device_id"
    name = "device identifier by field name (unvalidated)"
    keys = DEVICE_ID_KEYS
    profile_less = True
    fallback = True

    def scan(self, field: Field) -> list[Match]:
        if not key_is(field, DEVICE_ID_KEYS):
            return []
        m = _VALUE.fullmatch(field.text)
        if m is None or not identifier_shaped(m.group(1)) or placeholders.scan(field):
            return []
        return [self.match(field, m.group(1), m.start(1), m.end(1), 0.4)]
