"""MAC detector: separated octets bare, 12 hex / Cisco dotted under MAC keys."""

from __future__ import annotations

import pytest

from phonehome.detect.mac import MacDetector
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit("AC:37:43:4D:7F:12", value="ac:37:43:4d:7f:12"),
    hit("mac=ac-37-43-4d-7f-12&x=1", value="ac:37:43:4d:7f:12"),
    hit("ac37434d7f12", "MACID", value="ac:37:43:4d:7f:12"),
    hit("AC37.434D.7F12", "wifi_mac", value="ac:37:43:4d:7f:12"),
    hit("da:a1:19:00:11:22", value="da:a1:19:00:11:22"),  # locally administered: kept, lower
    miss("00:00:00:00:00:00", "mac"),
    miss("ff:ff:ff:ff:ff:ff", "mac"),
    miss("01:00:5e:00:00:fb", "mac"),  # multicast
    miss("ac37434d7f12"),  # 12 hex without a key
    miss("ac37434d7f12", "id"),
    miss("ac:37:43:4d:7f:12:34:56"),  # EUI-64 / longer octet string
    miss("00:ac:37:43:4d:7f:12"),
    miss("ac:37-43:4d:7f:12"),  # mixed separators
    miss("ac37434d7f1234", "mac"),  # 14 hex under a MAC key
    miss("fe80::1ff:fe23:4567:890a"),
    miss("02:00:00:00:00:00"),  # Android's constant for apps without the permission
    miss('{"wifi_mac":"02:00:00:00:00:00"}'),
    miss("74:83:c2:10:20:30", "bssid"),  # the access point's, not the device's
    miss("74-83-C2-10-20-30:CarrierWiFi", "Called-Station-Id"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(MacDetector)


def test_bare_hex_inside_json_text_needs_the_extractor_key() -> None:
    assert MacDetector().scan(field('{"MACID":"ac37434d7f12"}')) == []


def test_random_mac_has_lower_confidence() -> None:
    burned_in = MacDetector().scan(field("ac:37:43:4d:7f:12"))[0]
    random = MacDetector().scan(field("da:a1:19:00:11:22"))[0]
    assert random.confidence < burned_in.confidence
