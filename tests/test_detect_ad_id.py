"""Advertising ID detector: a UUID under an ad-id key only."""

from __future__ import annotations

import pytest

from phonehome.detect.ad_id import AdIdDetector
from tests.builders_detect import Case, hit, miss

AAID = "38400000-8cf0-11bd-b23e-10b96e40000d"

CASES = [
    hit(AAID, "adid", value=AAID),
    hit(AAID.upper(), "gaid", value=AAID),
    hit(AAID, "advertising_id", value=AAID),
    hit(AAID, "IDFA", value=AAID),
    hit(AAID, "aaid", value=AAID),
    hit(AAID, "ad_id", value=AAID),
    miss(AAID),  # never bare
    miss(AAID, "request_id"),
    miss(AAID, "uuid"),
    miss(AAID, "idfv"),  # vendor id, not the advertising id
    miss("00000000-0000-0000-0000-000000000000", "gaid"),  # limit ad tracking
    miss("38400000-8cf0-11bd-b23e-10b96e40000", "adid"),
    miss("384000008cf011bdb23e10b96e40000d", "adid"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(AdIdDetector)
