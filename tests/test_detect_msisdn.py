"""Phone number detector: valid numbers under phone keys, or bare in E.164 form."""

from __future__ import annotations

import pytest

from phonehome.detect.msisdn import MsisdnDetector
from phonehome.model.profile import DeviceProfile
from tests.builders_detect import Case, field, hit, miss

NORWAY = DeviceProfile(home_country="NO")
GERMANY = DeviceProfile(home_country="DE")

CASES = [
    hit("+4791234567", value="+4791234567"),
    hit("to=+8613800138000&t=1", value="+8613800138000"),
    hit('{"phone":"+12025550123"}', value="+12025550123"),
    hit("+86 138 0013 8000", "msisdn", value="+8613800138000"),
    hit("91234567", "msisdn", value="+4791234567", profile=NORWAY),
    hit("0171 1234567", "phone_number", value="+491711234567", profile=GERMANY),
    hit("+4791234567", "Line1Number", value="+4791234567"),
    miss("91234567", profile=NORWAY),  # digits without key or '+'
    miss("91234567", "msisdn"),  # no home country to parse a national number in
    miss("+15555555555"),  # not a valid number
    miss("+4912345"),  # too short
    miss("v1+4791234567"),  # '+' glued to a word: a query-string space
    miss("a=1+4791234567", "cid"),
    miss("263713", "tel", profile=NORWAY),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(MsisdnDetector)


def test_keyed_is_more_confident_than_bare() -> None:
    bare = MsisdnDetector().scan(field("+4791234567"))[0]
    keyed = MsisdnDetector().scan(field("+4791234567", "msisdn"))[0]
    assert keyed.confidence > bare.confidence
