"""ICCID pattern detector: 89 + Luhn, 18-20 digits, trailing F allowed."""

from __future__ import annotations

import pytest

from phonehome.detect.iccid import IccidDetector
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit("89470800123456789016", value="89470800123456789016"),
    hit('{"SIM1ICCID":"89012601234567890121"}', value="89012601234567890121"),
    hit("8947000000000000012", "iccid", value="8947000000000000012"),
    hit("8947000000000000012F", "SIM1ICCID", value="8947000000000000012"),
    hit("iccid=8947000000000000012f&x=1", value="8947000000000000012"),
    miss("89470800123456789017", "iccid"),  # Luhn fails
    miss("79470800123456789011", "iccid"),  # not 89
    miss("189470800123456789016", "iccid"),  # inside a longer run
    miss("ab89470800123456789016", "iccid"),  # inside a hex run
    miss("894708001234567", "iccid"),  # too short
    miss("8947080012345678901600", "iccid"),  # too long
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(IccidDetector)


def test_trailing_f_is_in_the_span() -> None:
    m = IccidDetector().scan(field("8947000000000000012F"))[0]
    assert (m.start, m.end) == (0, 20)
