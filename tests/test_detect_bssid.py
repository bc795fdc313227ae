"""BSSID detector: the access point's MAC under BSSID keys only; placeholders dismissed."""

from __future__ import annotations

import pytest

from phonehome.detect.bssid import BssidDetector
from tests.builders_detect import Case, hit, miss

CASES = [
    hit("74:83:c2:10:20:30", "bssid", value="74:83:c2:10:20:30"),
    hit("74-83-C2-10-20-30:CarrierWiFi", "Called-Station-Id", value="74:83:c2:10:20:30"),
    hit("7483c2102030", "wifi_bssid", value="74:83:c2:10:20:30"),
    hit("74:83:c2:10:20:30", "ap_mac", value="74:83:c2:10:20:30"),
    miss("74:83:c2:10:20:30"),  # no key: a MAC, the MAC detector's
    miss("74:83:c2:10:20:30", "mac"),
    miss("02:00:00:00:00:00", "bssid"),  # Android with location off
    miss("00:00:00:00:00:00", "bssid"),
    miss("01:00:5e:00:00:fb", "bssid"),  # multicast
    miss("74:83:c2:10:20", "bssid"),
    miss("carrier-wifi", "Called-Station-Id"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(BssidDetector)
