"""MEID pattern detector: 14 hex under an MEID key (CDMA regional code or IMEI body)."""

from __future__ import annotations

import pytest

from phonehome.detect.meid import MeidDetector
from tests.builders_detect import Case, hit, miss

CASES = [
    hit("35693803564380", "MEID", value="35693803564380"),  # zzhc: IMEI without check digit
    hit("A1000049A1B2C3", "meid", value="A1000049A1B2C3"),
    hit("a1000049a1b2c3", "device_meid", value="A1000049A1B2C3"),
    hit(" 99000862456789 ", "MEID", value="99000862456789"),
    miss("A1000049A1B2C3"),  # no key
    miss("A1000049A1B2C3", "id"),
    miss("12345678ABCDEF", "meid"),  # regional code below A0
    miss("15000000000000", "meid"),  # decimal without a reporting body
    miss("A1000049A1B2C3D4", "meid"),  # 16 hex: not an MEID
    miss("AAAAAAAAAAAAAA", "meid"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(MeidDetector)
