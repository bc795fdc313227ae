"""Real scan documents for the store tests, and tests of the capture surgery they rely on.

"Before" and "after" an update are the same simulated Nokia day with and without the
China Telecom self-registration: the "before" capture is the simulator's pcap with every
packet to or from the zzhc server cut out (or with the day cut short), so both are real
captures scanned by the real pipeline.
"""

from __future__ import annotations

import json
import struct
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from phonehome import simulate
from phonehome.detect.profile import load_profile
from phonehome.pipeline import open_all
from phonehome.privacy import ValueIds
from phonehome.report.view import build_view
from phonehome.scan_pass import run_scan

KEY = bytes(range(32))
"""One fixed installation key, so value ids agree across the scans of a test."""

Keep = Callable[[float, bytes], bool]
"""(timestamp, frame bytes) -> keep the packet?"""


def scan_doc(capture: Path, profile: Path | None, reveal: bool = False) -> dict[str, Any]:
    prof = load_profile(profile)[0] if profile is not None else None
    result = run_scan(open_all([str(capture)]), prof)
    return build_view(result, ValueIds(KEY), reveal=reveal).doc


def filter_pcap(src: Path, dst: Path, keep: Keep) -> tuple[int, int]:
    """Copy a classic little-endian pcap keeping the packets ``keep`` accepts."""
    data = src.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "builder handles little-endian microsecond pcap"
    out = bytearray(data[:24])
    pos, kept, dropped = 24, 0, 0
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        if keep(sec + usec / 1e6, frame):
            out += data[pos : pos + 16 + incl]
            kept += 1
        else:
            dropped += 1
        pos += 16 + incl
    dst.write_bytes(bytes(out))
    return kept, dropped


def ipv4_peer(frame: bytes) -> tuple[bytes, bytes] | None:
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    return frame[26:30], frame[30:34]


def without_ip(ip: str) -> Keep:
    raw = bytes(int(x) for x in ip.split("."))

    def keep(_t: float, frame: bytes) -> bool:
        peers = ipv4_peer(frame)
        return peers is None or raw not in peers

    return keep


def until(t_end: float) -> Keep:
    return lambda t, _frame: t < t_end


@dataclass
class Day:
    """A simulated Nokia day: capture, profile, ground truth and its raw values."""

    capture: Path
    profile: Path
    truth: dict[str, Any]

    @property
    def zzhc_ip(self) -> str:
        ips = {leak["ip"] for leak in self.truth["leaks"]}
        assert len(ips) == 1
        return ips.pop()

    def raw_values(self) -> list[str]:
        """Every profile value (the store must never hold one)."""
        prof = tomllib.loads(self.profile.read_text())
        values: list[str] = []
        for key, v in prof.items():
            if key in ("name", "home_country", "location"):
                continue
            values.extend(v if isinstance(v, list) else [v])
        for leak in self.truth["leaks"]:
            values += [leak["value"], leak.get("raw", "")]
        return [v for v in values if len(v) >= 6]


def nokia_day(directory: Path, seed: int = 3) -> Day:
    res = simulate.run("nokia7plus", directory / "nokia.pcap", seed=seed)
    return Day(res.capture, res.profile, json.loads(res.truth.read_text()))


def before_update(day: Day, out: Path) -> Path:
    """The same day without the self-registration: the 'November' capture."""
    filter_pcap(day.capture, out, without_ip(day.zzhc_ip))
    return out


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return nokia_day(tmp_path_factory.mktemp("day"))


def test_before_capture_lacks_exactly_the_zzhc_packets(day: Day, tmp_path: Path) -> None:
    kept, dropped = filter_pcap(day.capture, tmp_path / "b.pcap", without_ip(day.zzhc_ip))
    posts = len(day.truth["leaks"][0]["times"])
    # Each registration is a TCP exchange of several packets (handshake, split POST,
    # answer, close); nothing else goes to that address.
    assert dropped >= 6 * posts
    assert kept > dropped
    after = scan_doc(day.capture, day.profile)
    before = scan_doc(tmp_path / "b.pcap", day.profile)
    assert {f["host"] for f in after["findings"]} == {"zzhc.vnet.cn"}
    assert before["findings"] == []
    assert before["stats"]["packets"] == kept


def test_filter_keeping_everything_is_byte_identical(day: Day, tmp_path: Path) -> None:
    kept, dropped = filter_pcap(day.capture, tmp_path / "same.pcap", lambda _t, _f: True)
    assert dropped == 0 and kept > 1000
    assert (tmp_path / "same.pcap").read_bytes() == day.capture.read_bytes()
