"""Placeholders: dismissed by the detectors, counted by the engine, listed in the report."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.detect import Engine
from phonehome.detect.placeholders import Placeholder, scan
from phonehome.simulate.mobile_build import radius, radius_attr
from tests.builders_detect import field

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("02:00:00:00:00:00", "wifi_mac", ("mac", "02:00:00:00:00:00")),
        ('{"mac":"02-00-00-00-00-00"}', None, ("mac", "02:00:00:00:00:00")),
        ("00:00:00:00:00:00", None, ("mac", "00:00:00:00:00:00")),
        (ZERO_UUID, "gaid", ("ad_id", ZERO_UUID)),
        ("000000000000000", "imei", ("imei", "000000000000000")),
        ("004999010640000", "IMEI1", ("imei", "004999010640000")),
        ("358240051111110", "IMEI", ("imei", "358240051111110")),  # the Android emulator's
        ("358240051111110", "x", ("imei", "358240051111110")),  # passes the checks: anywhere
        ("0000000000000000", "android_id", ("android_id", "0000000000000000")),
        ("9774d56d682e549c", "android_id", ("android_id", "9774d56d682e549c")),
        ("2a7f3c9e1b@wlan.mnc001.mcc242.3gppnetwork.org", "User-Name", ("imsi", None)),
        ("4de3f2cc6b1d@wlan.mnc001.mcc242.3gppnetwork.org", None, ("imsi", None)),
    ],
)  # fmt: skip
def test_placeholders(text: str, key: str | None, expected: tuple[str, str | None]) -> None:
    (p,) = scan(field(text, key))
    assert (p.identifier, p.value) == expected and p.why


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("02:00:00:00:00:01", None),
        ("00:00:00:00:00:00:00", None),
        ("000000000000000", "id"),  # zeros under no IMEI key: nothing said
        ("00000000-0000-0000-0000-000000000000", "request_id"),
        ("0242011234567890@wlan.mnc001.mcc242.3gppnetwork.org", None),  # a real IMSI
    ],
)
def test_not_placeholders(text: str, key: str | None) -> None:
    assert scan(field(text, key)) == []


def test_the_engine_counts_them_also_for_remembered_fields() -> None:
    engine = Engine(None)
    for _ in range(3):
        assert engine.scan(field("02:00:00:00:00:00", "mac")) == []
    (p,) = engine.not_identifiers
    assert p == Placeholder("mac", "02:00:00:00:00:00", p.why)
    assert engine.not_identifiers[p] == 3


def test_the_report_lists_them(tmp_path: pytest.TempPathFactory) -> None:
    from phonehome.simulate.packets import Host, udp_frame
    from phonehome.simulate.pcap_writer import PcapWriter

    nas = Host(bytes(6), bytes([10, 0, 0, 1]))
    aaa = Host(bytes(6), bytes([10, 0, 0, 2]))
    pseudonym = "2a7f3c9e1b@wlan.mnc001.mcc242.3gppnetwork.org"
    packet = radius(
        1, 1, [radius_attr(1, pseudonym.encode()), radius_attr(31, b"02-00-00-00-00-00")]
    )
    path = tmp_path / "p.pcap"  # type: ignore[operator]
    with PcapWriter(path) as w:
        w.write(1_000_000, udp_frame(nas, aaa, 40000, 1812, packet))
    res = CliRunner().invoke(main, ["scan", str(path), "--format", "json", "--no-store"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["findings"] == []
    got = {(x["identifier"], x["value"], x["count"]) for x in doc["not_identifiers"]}
    assert got == {("mac", "02:00:00:00:00:00", 1), ("imsi", None, 1)}
    text = CliRunner().invoke(main, ["scan", str(path), "--no-store"]).stdout
    assert "Not identifiers" in text and "02:00:00:00:00:00" in text
