"""Android ID detector: 16 hex under android_id/androidid/ssaid only."""

from __future__ import annotations

import pytest

from phonehome.detect.android_id import AndroidIdDetector
from tests.builders_detect import field, values

HITS = [
    ("3f2a9c0d1e4b5a67", "android_id", "3f2a9c0d1e4b5a67"),
    ("3F2A9C0D1E4B5A67", "androidId", "3f2a9c0d1e4b5a67"),
    (" 3f2a9c0d1e4b5a67 ", "ANDROID_ID", "3f2a9c0d1e4b5a67"),
    ("3f2a9c0d1e4b5a67", "ssaid", "3f2a9c0d1e4b5a67"),
]

MISSES = [
    ("3f2a9c0d1e4b5a67", None),  # never bare
    ("3f2a9c0d1e4b5a67", "aid"),
    ("3f2a9c0d1e4b5a67", "id"),
    ("3f2a9c0d1e4b5a67", "session_id"),
    ("9774d56d682e549c", "android_id"),  # shared by a generation of devices
    ("0000000000000000", "android_id"),
    ("3f2a9c0d1e4b5a6", "android_id"),  # 15 hex
    ("3f2a9c0d1e4b5a67ab", "android_id"),
    ("id=3f2a9c0d1e4b5a67", "android_id"),
]


@pytest.mark.parametrize(("text", "key", "expected"), HITS)
def test_hits(text: str, key: str, expected: str) -> None:
    found = AndroidIdDetector().scan(field(text, key))
    assert values(found) == [expected]
    assert found[0].detector == "PH-ANDROIDID"


@pytest.mark.parametrize(("text", "key"), MISSES)
def test_misses(text: str, key: str | None) -> None:
    assert AndroidIdDetector().scan(field(text, key)) == []
