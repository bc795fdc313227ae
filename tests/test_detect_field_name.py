"""Device identifiers by field name: identifier-shaped values under device-id keys, below
every validated detector, only without a profile, and nowhere on the ad-tech and mining
captures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.detect import Engine
from phonehome.detect.base import Detector
from phonehome.detect.field_name import FieldNameDetector
from phonehome.model.profile import DeviceProfile
from tests.builders_detect import Case, field, hit, miss
from tests.conftest import SHARED

CASES = [
    hit("350672920106648", "device_id", value="350672920106648"),  # fails Luhn
    hit("a1f3e9c2b7d04e56", "did", value="a1f3e9c2b7d04e56"),
    hit(
        "6f1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d", "udid", value="6f1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
    ),
    hit("HW7731XK9925QP", "hwid", value="HW7731XK9925QP"),
    hit("436587092110203", "IMEI", value="436587092110203"),
    miss("350672920106648", "id"),  # a generic key says nothing
    miss("350672920106648", "session_id"),
    miss("1700000000", "device_id"),  # a clock
    miss("1700000000123", "device_id"),
    miss("000000000000000", "imei"),  # placeholders
    miss("004999010640000", "imei"),  # an Intel modem's default IMEI
    miss("358240051111110", "device_id"),  # the Android emulator's
    miss("123456789012345", "device_id"),
    miss("unknown", "device_id"),
    miss("00000000-0000-0000-0000-000000000000", "udid"),
    miss("android", "device_id"),
    miss("Pixel 7 Pro", "device_id"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(FieldNameDetector)


def test_below_every_validated_detector() -> None:
    (m,) = FieldNameDetector().scan(field("350672920106648", "device_id"))
    lowest = min(
        m2.confidence
        for text, key in (("da:a1:19:00:11:22", None), ("356938035643809", None))
        for m2 in Engine(None).scan(field(text, key))
    )
    assert m.confidence < lowest


def test_a_validated_match_wins_and_a_profile_turns_it_off() -> None:
    found = Engine(None).scan(field("356938035643809", "device_id"))
    assert [m.detector for m in found] == ["PH-IMEI"]
    profiled = Engine(DeviceProfile(values={"imei": ("356938035643809",)}))
    assert "PH-FIELDNAME" not in [d.id for d in profiled.detectors]
    assert issubclass(FieldNameDetector, Detector) and FieldNameDetector.profile_less


@pytest.mark.parametrize("name", ["adtech_mathtag.pcap", "fp_trap_mining.pcapng"])
def test_silent_on_the_ad_tech_and_mining_captures(name: str) -> None:
    path = SHARED / "fixtures" / "real" / name
    res = CliRunner().invoke(main, ["scan", str(path), "--format", "json", "--no-store"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["findings"] == []


def test_the_dropper_check_in_is_reported_unvalidated() -> None:
    path = SHARED / "fixtures" / "real" / "android_dropper_checkin.pcap"
    res = CliRunner().invoke(main, ["scan", str(path), "--format", "json", "--no-store"])
    (f,) = json.loads(res.stdout)["findings"]
    assert (f["identifier"], f["detector"], f["where"]) == (
        "device_id",
        "PH-FIELDNAME",
        "http.body:$.device_id",
    )
    assert f["confidence"] == 0.4
