"""MAC addresses: six octets with ``:`` or ``-``, or 12 hex / Cisco dotted under a MAC key.

Separated octets are specific enough to report bare. The all-zero and broadcast addresses
and multicast addresses (group bit set) are never a device, nor is ``02:00:00:00:00:00``,
the constant Android returns for ``WifiInfo.getMacAddress()`` since Android 6 (and for
the BSSID when location is off). Locally administered addresses (Android's per-network
random MACs) are reported with lower confidence: they still link visits to one network,
but not to the hardware. A MAC under a key that names another device's interface (an
access point's BSSID, RADIUS Called-Station-Id) is not the device's MAC.
"""

from __future__ import annotations

import re

from phonehome.detect.base import Detector, in_hex_run, key_is
from phonehome.detect.validators import normal_mac
from phonehome.model.field import Field, Match

PLACEHOLDERS = frozenset(("00:00:00:00:00:00", "02:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"))
"""Addresses that are no interface's: unset, Android's constant, broadcast."""
OTHER_DEVICE_KEYS = re.compile(r"x?(bssid|apmac|calledstationid|iwlannodeid|wlannodeid)")
"""Keys whose MAC is another device's (the access point's)."""
MAC_KEYS = re.compile(r"x?(wifi|wlan|bt|bluetooth|eth|device|hw)?mac(addr(ess)?|id)?\d*")
_SEPARATED = re.compile(
    r"(?<![0-9A-Fa-f])(?<![0-9A-Fa-f][:-])"
    r"[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"(?![0-9A-Fa-f])(?![:-][0-9A-Fa-f])"
)
_BARE = re.compile(r"[0-9A-Fa-f]{12}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")


def mac_confidence(mac: str, keyed: bool) -> float:
    """0 for addresses that are never a device's, lower for locally administered ones."""
    first = int(mac[:2], 16)
    if mac in PLACEHOLDERS or first & 1:
        return 0.0
    if first & 2:
        return 0.5
    return 0.95 if keyed else 0.8


class MacDetector(Detector):
    id = "PH-MAC"
    identifier = "mac"
    name = "MAC address"
    keys = MAC_KEYS
    needs = re.compile(r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]")

    def scan(self, field: Field) -> list[Match]:
        text = field.text
        if key_is(field, OTHER_DEVICE_KEYS):
            return []
        keyed = key_is(field, MAC_KEYS)
        spans = [(m.start(), m.end()) for m in _SEPARATED.finditer(text)]
        if keyed:
            spans += [
                (m.start(), m.end())
                for m in _BARE.finditer(text)
                if not in_hex_run(text, m.start(), m.end())
            ]
        found: list[Match] = []
        for start, end in spans:
            mac = normal_mac(text[start:end])
            confidence = mac_confidence(mac, keyed) if mac else 0.0
            if mac and confidence:
                found.append(self.match(field, mac, start, end, confidence))
        return found
