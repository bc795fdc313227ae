"""IMSI pattern detector: only under IMSI-like keys, MCC/MNC from the operator table."""

from __future__ import annotations

import pytest

from phonehome.detect.imsi import ImsiDetector
from tests.builders_detect import Case, hit, miss

CASES = [
    hit("242011234567890", "imsi", value="242011234567890"),
    hit("460110123456789", "SIM1LTEIMSI", value="460110123456789"),
    hit("460001234567890", "SIM1CDMAIMSI", value="460001234567890"),
    hit("31041012345678", "subscriber_id", value="31041012345678"),
    hit(" 262011234567890", "IMSI1", value="262011234567890"),
    miss("242011234567890"),  # bare digits: too many numbers look like this
    miss("242011234567890", "whimsical"),
    miss("242011234567890", "cid"),
    miss("999991234567890", "imsi"),  # no such MCC
    miss("2420112345678901", "imsi"),  # 16 digits
    miss("ab242011234567890", "imsi"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(ImsiDetector)
