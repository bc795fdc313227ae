"""ICCID pattern detector: 89 + Luhn, 18-20 digits, trailing F allowed."""

from __future__ import annotations

import pytest

from phonehome.detect.iccid import IccidDetector
from tests.builders_detect import field, values

HITS = [
    ("89470800123456789016", None, "89470800123456789016"),
    ('{"SIM1ICCID":"89012601234567890121"}', None, "89012601234567890121"),
    ("8947000000000000012", "iccid", "8947000000000000012"),
    ("8947000000000000012F", "SIM1ICCID", "8947000000000000012"),
    ("iccid=8947000000000000012f&x=1", None, "8947000000000000012"),
]

MISSES = [
    "89470800123456789017",  # Luhn fails
    "79470800123456789011",  # not 89
    "189470800123456789016",  # inside a longer run
    "ab89470800123456789016",  # inside a hex run
    "894708001234567",  # too short
    "8947080012345678901600",  # too long
]


@pytest.mark.parametrize(("text", "key", "expected"), HITS)
def test_hits(text: str, key: str | None, expected: str) -> None:
    assert values(IccidDetector().scan(field(text, key))) == [expected]


@pytest.mark.parametrize("text", MISSES)
def test_misses(text: str) -> None:
    assert IccidDetector().scan(field(text, "iccid")) == []


def test_trailing_f_is_in_the_span() -> None:
    m = IccidDetector().scan(field("8947000000000000012F"))[0]
    assert (m.start, m.end) == (0, 20)
