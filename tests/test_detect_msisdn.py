"""Phone number detector: valid numbers under phone keys, or bare in E.164 form."""

from __future__ import annotations

import pytest

from phonehome.detect.msisdn import MsisdnDetector
from phonehome.model.profile import DeviceProfile
from tests.builders_detect import field, values

NORWAY = DeviceProfile(home_country="NO")

HITS = [
    ("+4791234567", None, None, "+4791234567"),
    ("to=+8613800138000&t=1", None, None, "+8613800138000"),
    ('{"phone":"+12025550123"}', None, None, "+12025550123"),
    ("+86 138 0013 8000", "msisdn", None, "+8613800138000"),
    ("91234567", "msisdn", NORWAY, "+4791234567"),
    ("0171 1234567", "phone_number", DeviceProfile(home_country="DE"), "+491711234567"),
    ("+4791234567", "Line1Number", None, "+4791234567"),
]

MISSES = [
    ("91234567", None, NORWAY),  # digits without key or '+'
    ("91234567", "msisdn", None),  # no home country to parse a national number in
    ("+15555555555", None, None),  # not a valid number
    ("+4912345", None, None),  # too short
    ("v1+4791234567", None, None),  # '+' glued to a word: a query-string space
    ("a=1+4791234567", "cid", None),
    ("263713", "tel", NORWAY),
]


@pytest.mark.parametrize(("text", "key", "profile", "expected"), HITS)
def test_hits(text: str, key: str | None, profile: DeviceProfile | None, expected: str) -> None:
    found = MsisdnDetector(profile).scan(field(text, key))
    assert values(found) == [expected]
    assert found[0].detector == "PH-MSISDN"


@pytest.mark.parametrize(("text", "key", "profile"), MISSES)
def test_misses(text: str, key: str | None, profile: DeviceProfile | None) -> None:
    assert MsisdnDetector(profile).scan(field(text, key)) == []


def test_keyed_is_more_confident_than_bare() -> None:
    bare = MsisdnDetector().scan(field("+4791234567"))[0]
    keyed = MsisdnDetector().scan(field("+4791234567", "msisdn"))[0]
    assert keyed.confidence > bare.confidence
