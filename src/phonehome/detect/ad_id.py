"""Advertising ID (Google AAID, Apple IDFA): a UUID, only under an ad-id key.

UUIDs name requests, sessions and installs everywhere, so only the keys SDKs use for the
resettable advertising id count: ``adid``, ``ad_id``, ``gaid``, ``aaid``, ``idfa``,
``advertising_id``, ``google_ad_id``. The all-zero UUID is what the OS returns when the
user limited ad tracking: no identifier.
"""

from __future__ import annotations

import re

from phonehome.detect.base import Detector, key_is
from phonehome.model.field import Field, Match

AD_ID_KEYS = re.compile(r"x?(adid|gaid|aaid|idfa|advertisingid|googleadid|googleadvertisingid)")
_VALUE = re.compile(
    r"\s*([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\s*"
)
_ZERO = "00000000-0000-0000-0000-000000000000"


class AdIdDetector(Detector):
    id = "PH-ADID"
    identifier = "ad_id"
    name = "advertising ID"
    keys = AD_ID_KEYS

    def scan(self, field: Field) -> list[Match]:
        if not key_is(field, AD_ID_KEYS):
            return []
        m = _VALUE.fullmatch(field.text)
        if m is None or m.group(1) == _ZERO:
            return []
        return [self.match(field, m.group(1).lower(), m.start(1), m.end(1), 0.9)]
