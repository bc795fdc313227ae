"""Advertising ID detector: a UUID under an ad-id key only."""

from __future__ import annotations

import pytest

from phonehome.detect.ad_id import AdIdDetector
from tests.builders_detect import field, values

AAID = "38400000-8cf0-11bd-b23e-10b96e40000d"

HITS = [
    (AAID, "adid", AAID),
    (AAID.upper(), "gaid", AAID),
    (AAID, "advertising_id", AAID),
    (AAID, "IDFA", AAID),
    (AAID, "aaid", AAID),
    (AAID, "ad_id", AAID),
]

MISSES = [
    (AAID, None),  # never bare
    (AAID, "request_id"),
    (AAID, "uuid"),
    (AAID, "idfv"),  # vendor id, not the advertising id
    ("00000000-0000-0000-0000-000000000000", "gaid"),  # limit ad tracking
    ("38400000-8cf0-11bd-b23e-10b96e40000", "adid"),
    ("384000008cf011bdb23e10b96e40000d", "adid"),
]


@pytest.mark.parametrize(("text", "key", "expected"), HITS)
def test_hits(text: str, key: str, expected: str) -> None:
    found = AdIdDetector().scan(field(text, key))
    assert values(found) == [expected]
    assert found[0].detector == "PH-ADID"


@pytest.mark.parametrize(("text", "key"), MISSES)
def test_misses(text: str, key: str | None) -> None:
    assert AdIdDetector().scan(field(text, key)) == []
