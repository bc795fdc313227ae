"""The engine: all detectors over a field, known values winning over patterns."""

from __future__ import annotations

import base64
import json

import pytest

from phonehome.detect import PATTERN_DETECTORS, Engine
from phonehome.model.profile import DeviceProfile
from tests.builders_detect import field

IMEI = "356938035643809"
PROFILE = DeviceProfile(values={"imei": (IMEI,), "mac": ("ac:37:43:4d:7f:12",)})


def test_detector_ids_are_stable_and_unique() -> None:
    ids = [d.id for d in Engine(PROFILE).detectors]
    assert ids == [
        "PH-KNOWN",
        "PH-IMEI",
        "PH-MEID",
        "PH-IMSI",
        "PH-NAI",
        "PH-ICCID",
        "PH-MSISDN",
        "PH-MAC",
        "PH-EMAIL",
        "PH-SIPURI",
        "PH-LOCATION",
        "PH-CELLID",
        "PH-BSSID",
        "PH-ANDROIDID",
        "PH-ADID",
        "PH-SERIAL",
    ]
    # the field-name heuristic runs only without a profile, last
    assert [d.id for d in Engine(None).detectors][-1] == "PH-FIELDNAME"
    # one detector per identifier, unless a second one says how it differs (rule_text)
    primary = [cls for cls in PATTERN_DETECTORS if cls.rule_text is None]
    assert len({cls.identifier for cls in primary}) == len(primary)
    assert all(d.name for d in Engine(PROFILE).detectors)


def test_without_profile_only_pattern_detectors_run() -> None:
    engine = Engine(None)
    assert "PH-KNOWN" not in [d.id for d in engine.detectors]
    [m] = engine.scan(field(f"imei={IMEI}"))
    assert (m.detector, m.profile_match) == ("PH-IMEI", False)


@pytest.mark.parametrize("text", [f"imei={IMEI}", f'{{"IMEI1":"{IMEI}"}}', IMEI])
def test_pattern_and_known_on_one_span_report_once_as_profile_match(text: str) -> None:
    [m] = Engine(PROFILE).scan(field(text, "IMEI1"))
    assert (m.detector, m.identifier, m.value, m.profile_match) == ("PH-KNOWN", "imei", IMEI, True)


def test_other_identifiers_are_still_reported_beside_known_ones() -> None:
    other_mac = "00:1a:11:22:33:44"
    found = Engine(PROFILE).scan(field(f"a=ac:37:43:4d:7f:12&b={other_mac}"))
    assert [(m.detector, m.value) for m in found] == [
        ("PH-KNOWN", "ac:37:43:4d:7f:12"),
        ("PH-MAC", other_mac),
    ]


def test_zzhc_registration_body() -> None:
    """The China Telecom self-registration request, decoded once by the extractor."""
    body = {
        "REGVER": "1",
        "MEID": IMEI[:14],
        "MODEL": "TA-1062",
        "SIM1ICCID": "89470800123456789016",
        "SIM1LTEIMSI": "242011234567890",
        "SIM1CELLID": "0x1A2B3C",
        "MACID": "ac37434d7f12",
        "IMEI1": IMEI,
        "REGDATE": "2019-01-10,08:13:55",
    }
    engine = Engine(PROFILE)
    found = {
        (m.identifier, m.profile_match)
        for k, v in body.items()
        for m in engine.scan(field(v, k, **{kk.lower(): vv for kk, vv in body.items() if kk != k}))
    }
    assert {("imei", True), ("iccid", False), ("cell_id", False), ("mac", True)} <= found
    assert ("meid", False) in found  # the IMEI body under MEID: both meanings kept
    whole = base64.b64encode(json.dumps(body).encode()).decode()
    assert {m.identifier for m in engine.scan(field(whole))} == {"imei", "mac"}


def test_empty_field() -> None:
    assert Engine(PROFILE).scan(field("")) == []
