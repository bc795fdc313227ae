"""Android ID detector: 16 hex under android_id/androidid/ssaid only."""

from __future__ import annotations

import pytest

from phonehome.detect.android_id import AndroidIdDetector
from tests.builders_detect import Case, hit, miss

CASES = [
    hit("3f2a9c0d1e4b5a67", "android_id", value="3f2a9c0d1e4b5a67"),
    hit("3F2A9C0D1E4B5A67", "androidId", value="3f2a9c0d1e4b5a67"),
    hit(" 3f2a9c0d1e4b5a67 ", "ANDROID_ID", value="3f2a9c0d1e4b5a67"),
    hit("3f2a9c0d1e4b5a67", "ssaid", value="3f2a9c0d1e4b5a67"),
    miss("3f2a9c0d1e4b5a67"),  # never bare
    miss("3f2a9c0d1e4b5a67", "aid"),
    miss("3f2a9c0d1e4b5a67", "id"),
    miss("3f2a9c0d1e4b5a67", "session_id"),
    miss("9774d56d682e549c", "android_id"),  # shared by a generation of devices
    miss("0000000000000000", "android_id"),
    miss("3f2a9c0d1e4b5a6", "android_id"),  # 15 hex
    miss("3f2a9c0d1e4b5a67ab", "android_id"),
    miss("id=3f2a9c0d1e4b5a67", "android_id"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(AndroidIdDetector)
