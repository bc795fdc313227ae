"""IMSI pattern detector: only under IMSI-like keys, MCC/MNC from the operator table."""

from __future__ import annotations

import pytest

from phonehome.detect.imsi import ImsiDetector
from tests.builders_detect import field, values

HITS = [
    ("242011234567890", "imsi", "242011234567890"),
    ("460110123456789", "SIM1LTEIMSI", "460110123456789"),
    ("460001234567890", "SIM1CDMAIMSI", "460001234567890"),
    ("31041012345678", "subscriber_id", "31041012345678"),
    (" 262011234567890", "IMSI1", "262011234567890"),
]

MISSES = [
    ("242011234567890", None),  # bare digits: too many numbers look like this
    ("242011234567890", "whimsical"),
    ("242011234567890", "cid"),
    ("999991234567890", "imsi"),  # no such MCC
    ("2420112345678901", "imsi"),  # 16 digits
    ("ab242011234567890", "imsi"),
]


@pytest.mark.parametrize(("text", "key", "expected"), HITS)
def test_hits(text: str, key: str, expected: str) -> None:
    found = ImsiDetector().scan(field(text, key))
    assert values(found) == [expected]
    assert found[0].detector == "PH-IMSI"


@pytest.mark.parametrize(("text", "key"), MISSES)
def test_misses(text: str, key: str | None) -> None:
    assert ImsiDetector().scan(field(text, key)) == []
