"""Location detector: lat/lon pairs under location keys, in range, not 0/0."""

from __future__ import annotations

import pytest

from phonehome.detect.location import LocationDetector, distance_m
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit(field("59.9139", "lat", lon="10.7522"), value="59.9139,10.7522"),
    hit(field("-33.8688", "latitude", longitude="151.2093"), value="-33.8688,151.2093"),
    hit(field("39.90", "gps_lat", gps_lng="116.40"), value="39.90,116.40"),
    hit(field("59.9139,10.7522", "ll"), value="59.9139,10.7522"),
    hit(field("10.7522, 59.9139", "geo"), value="10.7522,59.9139"),
    hit(field("151.2093,-33.8688", "location"), value="-33.8688,151.2093"),  # lon first, |lon| > 90
    miss(field("59.9139")),  # no key
    miss(field("59.9139", "lat")),  # no longitude sibling
    miss(field("10.7522", "lon", lat="59.9139")),  # reported on the latitude field only
    miss(field("0.00", "lat", lon="0.00")),  # unset fix
    miss(field("95.1234", "lat", lon="10.7522")),  # out of range
    miss(field("59.9", "lat", lon="10.7")),  # one decimal: too coarse
    miss(field("59.9139", "price", lon="10.7522")),
    miss(field("59.9139,10.7522", "version")),
    miss(field("1.25,3.50", "loc x")),  # key normalises to 'locx'
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(LocationDetector)


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        ((59.9139, 10.7522), (59.9139, 10.7522), 0),
        ((59.0, 10.0), (60.0, 10.0), 111_320),
        ((0.0, 0.0), (0.0, 1.0), 111_320),
        ((60.0, 10.0), (60.0, 11.0), 55_660),
    ],
)
def test_distance(a: tuple[float, float], b: tuple[float, float], metres: float) -> None:
    assert distance_m(*a, *b) == pytest.approx(metres, rel=0.01, abs=1)
