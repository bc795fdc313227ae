"""Redaction holds where a capture puts values in unusual places.

Found by a privacy review: values encoded in a TLS server name or a DNS label, Base64 or
MD5 of a value used as a JSON key or a path segment, an IMEI inside a User-Agent's "app
name", neighbouring values in an excerpt's context, and terminal control sequences in
hosts and keys. Every output format is checked for every form the known-value detector
searches for.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import REPORT_FORMATS, main
from phonehome.detect.known import targets
from phonehome.detect.profile import load_profile
from phonehome.simulate.appproto import dns_query, http_request, http_response
from phonehome.simulate.packets import Lan, Trace
from phonehome.simulate.pcap_writer import PcapWriter
from phonehome.simulate.tls_build import client_hello, tls_records

IMEI = "352071026884283"
IMSI = "242010676851628"
ICCID = "8947011370479532051"
MAC = "20:39:56:5c:7a:13"
PROFILE = f"""
name = "hostile"
imei = "{IMEI}"
imsi = "{IMSI}"
iccid = "{ICCID}"
mac = "{MAC}"
[[location]]
lat = 59.9139
lon = 10.7522
"""


def build(path: Path) -> None:
    b64 = base64.b64encode(IMEI.encode()).decode()
    hx = IMEI.encode().hex()
    md5 = hashlib.md5(IMEI.encode()).hexdigest()
    body = json.dumps(
        {
            "imsi": IMSI,
            "x": b64,
            "y": "20-39-56-5C-7A-13",
            "lat": 59.9139,
            "lon": 10.7522,
            b64: {"iccid": ICCID},
            "u": {md5: {"imei": IMEI}},
        }
    ).encode()
    evil = "\x1b]0;title\x07\x1b[31mred\r\nFAKE.example.com"
    tr = Trace()
    lan = Lan(
        tr,
        bytes.fromhex("203956aabbcc"),
        bytes([192, 168, 1, 23]),
        bytes(16),
        bytes.fromhex("001122334455"),
        bytes([192, 168, 1, 1]),
        bytes(16),
    )
    t = 1_772_438_460_000_000
    requests = [
        http_request(
            "POST",
            f"/v1/{md5}/x?imsi={IMSI}",
            "w.example.com",
            [("Content-Type", "application/json")],
            body,
        ),
        http_request(
            "GET",
            f"/p?imei={IMEI}",
            "u.example.com",
            [("User-Agent", f"com.example.i{IMEI}/1.0 (Linux; Android 9)")],
        ),
        http_request(
            "POST",
            f"/k?imei={IMEI}",
            evil,
            [("Content-Type", "application/json")],
            json.dumps({"\x1b[2J\r\nkey": IMEI}).encode(),
        ),
    ]
    for req in requests:
        c = lan.tcp(t, bytes([93, 184, 216, 34]), 80)
        c.open()
        c.send(req)
        c.send(http_response(200, "OK"), from_client=False)
        c.close()
        t = c.t_us + 1_000_000
    c = lan.tcp(t, bytes([93, 184, 216, 35]), 443)
    c.open()
    c.send(tls_records(client_hello(f"{hx}.t.example.com")))
    c.close()
    lan.udp(
        c.t_us + 10**6,
        True,
        bytes([192, 168, 1, 1]),
        53,
        40002,
        dns_query(7, f"{hx}.leak.example.org"),
    )
    with PcapWriter(path) as w:
        tr.write_to(w)


def needles(profile_path: Path) -> set[str]:
    profile, _ = load_profile(profile_path)
    loose, strict = targets(profile)
    found = {s.lower() for s, _ in loose if len(s) >= 6}
    found |= {s for s, _ in strict if len(s) >= 6}
    found |= {"59.9139", "10.7522", "20-39-56-5c-7a-13"}
    return found


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostile")
    pcap = d / "hostile.pcap"
    build(pcap)
    profile = d / "hostile.toml"
    profile.write_text(PROFILE)
    return pcap, profile


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_no_form_of_a_profile_value_in_any_output(
    capture: tuple[Path, Path], fmt: str, tmp_path: Path
) -> None:
    pcap, profile = capture
    out = tmp_path / f"r.{fmt}"
    res = CliRunner().invoke(
        main,
        [
            "scan",
            str(pcap),
            "--device",
            str(profile),
            "--format",
            fmt,
            "-o",
            str(out),
            "--db",
            str(tmp_path / "db"),
        ],
    )
    assert res.exit_code == 1, res.output
    text = out.read_text()
    lowered = text.lower()
    leaked = sorted(n for n in needles(profile) if n in text or n.lower() in lowered)
    assert leaked == []
    stored = (tmp_path / "db").read_bytes().decode("latin-1").lower()
    assert [n for n in needles(profile) if n.lower() in stored] == []


def test_text_output_shows_control_characters_escaped(capture: tuple[Path, Path]) -> None:
    pcap, profile = capture
    res = CliRunner().invoke(main, ["scan", str(pcap), "--device", str(profile), "--no-store"])
    assert res.exit_code == 1
    assert "\x1b" not in res.stdout and "\r" not in res.stdout
    assert "\\x1b" in res.stdout  # shown, not obeyed


def test_flows_text_shows_control_characters_escaped(capture: tuple[Path, Path]) -> None:
    pcap, _ = capture
    res = CliRunner().invoke(main, ["flows", str(pcap)])
    assert res.exit_code == 0
    assert "\x1b" not in res.stdout and "\r" not in res.stdout
    assert "\\x1b]0;title\\x07" in res.stdout


def test_times_beyond_the_calendar_do_not_stop_a_report(tmp_path: Path) -> None:
    """A damaged pcapng timestamp (year 292,000) is shown as epoch seconds."""
    from tests.builders_capture import epb, idb, shb
    from tests.builders_net import ether, ipv4, udp

    payload = f'{{"imei":"{IMEI}"}}'.encode()
    frame = ether(ipv4(udp(40000, 9999, payload), 17))
    p = tmp_path / "future.pcapng"
    p.write_bytes(shb() + idb(1, tsresol=6) + epb(0, 2**63 - 1, frame))
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE)
    for args in (["flows", str(p)], ["flows", "--format", "jsonl", str(p)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
        assert "epoch:" in res.stdout
    for fmt in REPORT_FORMATS:
        res = CliRunner().invoke(
            main, ["scan", str(p), "--device", str(profile), "--format", fmt, "--no-store"]
        )
        assert res.exit_code == 1, (fmt, res.output)
