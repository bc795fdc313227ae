"""MEID pattern detector: 14 hex under an MEID key (CDMA regional code or IMEI body)."""

from __future__ import annotations

import pytest

from phonehome.detect.meid import MeidDetector
from tests.builders_detect import field, values

HITS = [
    ("35693803564380", "MEID", "35693803564380"),  # zzhc: IMEI without check digit
    ("A1000049A1B2C3", "meid", "A1000049A1B2C3"),
    ("a1000049a1b2c3", "device_meid", "A1000049A1B2C3"),
    (" 99000862456789 ", "MEID", "99000862456789"),
]

MISSES = [
    ("A1000049A1B2C3", None),  # no key
    ("A1000049A1B2C3", "id"),
    ("12345678ABCDEF", "meid"),  # regional code below A0
    ("15000000000000", "meid"),  # decimal without a reporting body
    ("A1000049A1B2C3D4", "meid"),  # 16 hex: not an MEID
    ("AAAAAAAAAAAAAA", "meid"),
]


@pytest.mark.parametrize(("text", "key", "expected"), HITS)
def test_hits(text: str, key: str, expected: str) -> None:
    found = MeidDetector().scan(field(text, key))
    assert values(found) == [expected]
    assert found[0].detector == "PH-MEID"


@pytest.mark.parametrize(("text", "key"), MISSES)
def test_misses(text: str, key: str | None) -> None:
    assert MeidDetector().scan(field(text, key)) == []
