"""Serial number detector: a device serial under a serial key only (no form of its own)."""

from __future__ import annotations

import pytest

from phonehome.detect import Engine
from phonehome.detect.serial import SerialDetector
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit("R58M123ABCD", "serial", value="R58M123ABCD"),  # a phone's Build.SERIAL
    hit("R58M123ABCD", "ro.serialno", value="R58M123ABCD"),
    hit("ZX1G22KLMN7Q", "ro.boot.serialno", value="ZX1G22KLMN7Q"),
    hit("C02XK0Z8JG5H", "serialNumber", value="C02XK0Z8JG5H"),
    hit(" SN-2019-0045871 ", "device_serial", value="SN-2019-0045871"),  # an IoT label
    hit("4c3a2e91", "Build.SERIAL", value="4c3a2e91"),
    hit("00A1B2C3D4E5F607", "hw_serial", value="00A1B2C3D4E5F607"),
    miss("R58M123ABCD"),  # never bare
    miss("R58M123ABCD", "id"),
    miss("89470000000012345673", "sim_serial"),  # Android's name for the ICCID
    miss("unknown", "serial"),  # what Build.SERIAL says without the permission
    miss("0123456789ABCDEF", "serial"),  # the serial of countless cheap devices
    miss("emulator-5554", "serialno"),
    miss("ABCDEFGH", "serial"),  # no digit
    miss("AB12", "serial"),  # too short
    miss("1700000000000", "serial"),  # a clock
    miss("1111111111", "serial"),  # one repeated character
    miss("ABC123 DEF456", "serial"),  # two tokens
    miss("R58M123ABCD", "serial_hash"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(SerialDetector)


def test_a_profile_less_scan_reports_it_and_not_as_a_device_id() -> None:
    """``device_serial`` is also a field-name key; the serial detector's validated match
    keeps the fallback (PH-FIELDNAME, identifier device_id) quiet."""
    found = Engine(None).scan(field("R58M123ABCD", "device_serial"))
    assert [(m.detector, m.identifier) for m in found] == [("PH-SERIAL", "serial")]
