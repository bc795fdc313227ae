"""Location detector: lat/lon pairs under location keys, in range, not 0/0."""

from __future__ import annotations

import pytest

from phonehome.detect.location import LocationDetector, distance_m
from phonehome.model.field import Field
from tests.builders_detect import field, values

HITS = [
    (field("59.9139", "lat", lon="10.7522"), "59.9139,10.7522"),
    (field("-33.8688", "latitude", longitude="151.2093"), "-33.8688,151.2093"),
    (field("39.90", "gps_lat", gps_lng="116.40"), "39.90,116.40"),
    (field("59.9139,10.7522", "ll"), "59.9139,10.7522"),
    (field("10.7522, 59.9139", "geo"), "10.7522,59.9139"),
    (field("151.2093,-33.8688", "location"), "-33.8688,151.2093"),  # lon first, |lon| > 90
]

MISSES = [
    field("59.9139"),  # no key
    field("59.9139", "lat"),  # no longitude sibling
    field("10.7522", "lon", lat="59.9139"),  # reported on the latitude field only
    field("0.00", "lat", lon="0.00"),  # unset fix
    field("95.1234", "lat", lon="10.7522"),  # out of range
    field("59.9", "lat", lon="10.7"),  # one decimal: too coarse
    field("59.9139", "price", lon="10.7522"),
    field("59.9139,10.7522", "version"),
    field("1.25,3.50", "loc x"),  # key normalises to 'locx'
]


@pytest.mark.parametrize(("f", "expected"), HITS)
def test_hits(f: Field, expected: str) -> None:
    found = LocationDetector().scan(f)
    assert values(found) == [expected]
    assert found[0].detector == "PH-LOCATION"


@pytest.mark.parametrize("f", MISSES)
def test_misses(f: Field) -> None:
    assert LocationDetector().scan(f) == []


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
