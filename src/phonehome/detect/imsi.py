"""IMSI: 14-15 digits, MCC + MNC of a real operator, only under an IMSI-like key.

Unlike an IMEI, an IMSI has no check digit, and valid MCC/MNC prefixes cover a large share
of all 15-digit numbers; bare digit runs would bury the report in false positives. So the
key is required (``imsi``, ``SIM1LTEIMSI``, ``subscriber_id`` ...) and the MCC/MNC must be
in the bundled operator table (:func:`phonehome.refdata.mcc_mnc`). Without that table the
detector reports nothing rather than guess. A profile's own IMSI is still found anywhere
by the known-value detector.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from phonehome.detect.base import Detector, in_number_run, key_is
from phonehome.model.field import Field, Match

IMSI_KEYS = re.compile(r"x?(sim\d*)?(lte|cdma|gsm)?(imsi\d*|subscriberid)")
_CANDIDATE = re.compile(r"(?<![0-9])[0-9]{14,15}(?![0-9])")


def _operator_lookup() -> Callable[[str], object | None] | None:
    try:
        from phonehome.refdata import mcc_mnc
    except ImportError:
        return None
    return mcc_mnc


class ImsiDetector(Detector):
    id = "PH-IMSI"
    identifier = "imsi"
    name = "IMSI"
    keys = IMSI_KEYS

    def scan(self, field: Field) -> list[Match]:
        if not key_is(field, IMSI_KEYS):
            return []
        lookup = _operator_lookup()
        if lookup is None:
            return []
        found: list[Match] = []
        for m in _CANDIDATE.finditer(field.text):
            if in_number_run(field.text, m.start(), m.end()) or lookup(m.group()) is None:
                continue
            found.append(self.match(field, m.group(), m.start(), m.end(), 0.9))
        return found
