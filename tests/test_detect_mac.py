"""MAC detector: separated octets bare, 12 hex / Cisco dotted under MAC keys."""

from __future__ import annotations

import pytest

from phonehome.detect.mac import MacDetector
from tests.builders_detect import field, values

HITS = [
    ("AC:37:43:4D:7F:12", None, "ac:37:43:4d:7f:12"),
    ("mac=ac-37-43-4d-7f-12&x=1", None, "ac:37:43:4d:7f:12"),
    ("ac37434d7f12", "MACID", "ac:37:43:4d:7f:12"),
    ("AC37.434D.7F12", "wifi_mac", "ac:37:43:4d:7f:12"),
    ("da:a1:19:00:11:22", None, "da:a1:19:00:11:22"),  # locally administered: kept, lower
]

MISSES = [
    ("00:00:00:00:00:00", "mac"),
    ("ff:ff:ff:ff:ff:ff", "mac"),
    ("01:00:5e:00:00:fb", "mac"),  # multicast
    ("ac37434d7f12", None),  # 12 hex without a key
    ("ac37434d7f12", "id"),
    ("ac:37:43:4d:7f:12:34:56", None),  # EUI-64 / longer octet string
    ("00:ac:37:43:4d:7f:12", None),
    ("ac:37-43:4d:7f:12", None),  # mixed separators
    ("ac37434d7f1234", "mac"),  # 14 hex under a MAC key
    ("fe80::1ff:fe23:4567:890a", None),
]


@pytest.mark.parametrize(("text", "key", "expected"), HITS)
def test_hits(text: str, key: str | None, expected: str) -> None:
    found = MacDetector().scan(field(text, key))
    assert values(found) == [expected]
    assert found[0].detector == "PH-MAC"


def test_bare_hex_inside_json_text_needs_the_extractor_key() -> None:
    assert MacDetector().scan(field('{"MACID":"ac37434d7f12"}')) == []


@pytest.mark.parametrize(("text", "key"), MISSES)
def test_misses(text: str, key: str | None) -> None:
    assert MacDetector().scan(field(text, key)) == []


def test_random_mac_has_lower_confidence() -> None:
    burned_in = MacDetector().scan(field("ac:37:43:4d:7f:12"))[0]
    random = MacDetector().scan(field("da:a1:19:00:11:22"))[0]
    assert random.confidence < burned_in.confidence
