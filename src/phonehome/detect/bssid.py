"""BSSIDs: the MAC address of the Wi-Fi access point the device is attached to.

An access point's BSSID locates the device as well as a cell id does (Wi-Fi positioning
databases map BSSIDs to places). IMS phones name it in P-Access-Network-Info for Wi-Fi
access (``IEEE-802.11; i-wlan-node-id=…``, TS 24.229 7.2A.4), carrier Wi-Fi sends it to
the AAA server as RADIUS Called-Station-Id (``AA-BB-CC-DD-EE-FF:SSID``, RFC 3580 3.20), and
apps post it under ``bssid`` keys. Only those keys count: a bare MAC is the MAC
detector's. Android's ``02:00:00:00:00:00`` (what ``WifiInfo.getBSSID()`` returns when
location is off) and the all-zero and broadcast addresses are placeholders.
"""

from __future__ import annotations

import re
from typing import Final

from phonehome.detect.base import Detector, key_is
from phonehome.detect.mac import PLACEHOLDERS
from phonehome.detect.validators import normal_mac
from phonehome.model.field import Field, Match

BSSID_KEYS: Final = re.compile(
    r"x?(wifi|wlan|ap|connected)?(bssid|apmac|accesspointmac)|calledstationid"
)
_VALUE: Final = re.compile(
    r"\s*([0-9A-Fa-f]{2}([:-]?)(?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2})(?=$|[\s:;,])"
)


class BssidDetector(Detector):
    id = "PH-BSSID"
    identifier = "bssid"
    name = "Wi-Fi access point (BSSID)"
    keys = BSSID_KEYS

    def scan(self, field: Field) -> list[Match]:
        if not key_is(field, BSSID_KEYS):
            return []
        m = _VALUE.match(field.text)
        if m is None:
            return []
        mac = normal_mac(m.group(1))
        if mac is None or mac in PLACEHOLDERS or int(mac[:2], 16) & 1:
            return []
        return [self.match(field, mac, m.start(1), m.end(1), 0.85)]
