"""EAPOL (802.1X on the link): a station's EAP identity is read beside the IP path.

Hand-built frames for the PDU's edge cases, the simulated carrier Wi-Fi capture against
tshark's dissection of the same frames, a cooked (``tcpdump -i any``) capture, scans with
and without the device's profile, and the evidence export of a link-layer finding.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.context import Context
from phonehome.ingest import open_capture
from phonehome.model.anomaly import Anomalies
from phonehome.model.message import Message
from phonehome.model.profile import DeviceProfile
from phonehome.pipeline import iter_messages, open_all
from phonehome.protocols import eapol
from phonehome.scan_pass import run_scan
from tests.needs import need_tool

IMSI = "242010676851628"
REALM = "wlan.mnc001.mcc242.3gppnetwork.org"
PHONE = bytes.fromhex("2039565c7a13")
AP = bytes.fromhex("7483c2102030")


def eap_identity(code: int, ident: int, identity: str) -> bytes:
    body = b"\x01" + identity.encode()
    return struct.pack("!BBH", code, ident, 4 + len(body)) + body


def pdu(ptype: int, body: bytes, version: int = 2, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return struct.pack("!BBH", version, ptype, n) + body


def ether(src: bytes, dst: bytes, payload: bytes, etype: int = 0x888E) -> bytes:
    frame = dst + src + etype.to_bytes(2, "big") + payload
    return frame + bytes(max(0, 60 - len(frame)))  # padded to the Ethernet minimum


def pcap(frames: list[bytes], linktype: int = 1) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f
    return out


def sll(src: bytes, payload: bytes, outgoing: bool = True) -> bytes:
    """A Linux cooked (SLL) header: packet type, ARPHRD_ETHER, address, protocol."""
    head = struct.pack("!HHH", 4 if outgoing else 0, 1, 6) + src + b"\x00\x00"
    return head + (0x888E).to_bytes(2, "big") + payload


PERMANENT = f"0{IMSI}@{REALM}"


def test_parse_response_identity_is_the_supplicants() -> None:
    frame, problem = eapol.parse(pdu(0, eap_identity(2, 1, PERMANENT)) + bytes(20))
    assert problem is None and frame is not None
    assert frame.eap is not None and frame.eap.identity == PERMANENT
    assert frame.from_supplicant and frame.describe() == "Response/Identity"
    assert eapol.EAPOL.host(frame) == REALM


@pytest.mark.parametrize(
    ("data", "supplicant", "described"),
    [
        (pdu(1, b""), True, "Start"),
        (pdu(2, b""), True, "Logoff"),
        (pdu(0, struct.pack("!BBHB", 1, 1, 5, 1)), False, "Request/Identity"),
        (pdu(0, struct.pack("!BBH", 3, 1, 4)), False, "Success"),
        (pdu(3, b"\x02" + (0x008A).to_bytes(2, "big") + bytes(92)), False, "Key"),  # Key Ack
        (pdu(3, b"\x02" + (0x010A).to_bytes(2, "big") + bytes(92)), True, "Key"),
        (pdu(9, b"x"), True, "type 9"),
    ],
)
def test_direction_is_the_protocols(data: bytes, supplicant: bool, described: str) -> None:
    frame, problem = eapol.parse(data)
    assert problem is None and frame is not None
    assert (frame.from_supplicant, frame.describe()) == (supplicant, described)
    assert eapol.EAPOL.host(frame) is None


@pytest.mark.parametrize(
    ("data", "parsed", "problem"),
    [
        (b"\x02\x00", False, "2 bytes, shorter than the EAPOL header"),
        (pdu(0, eap_identity(2, 1, PERMANENT), length=500), True, "EAPOL body length 500"),
        (pdu(0, b"\x02\x01"), True, "2 bytes, shorter than the EAP header"),
    ],
)
def test_damaged_pdus_are_counted(data: bytes, parsed: bool, problem: str) -> None:
    anomalies = Anomalies()
    msg = eapol.message(data, 1.0, 0, 7, PHONE, AP, anomalies)
    assert (msg is not None) == parsed
    assert anomalies.counts == {"eapol.malformed": 1}
    (sample,) = anomalies.samples
    assert sample.frame == 7 and sample.detail.startswith(problem)


def _messages(path: Path) -> list[Message]:
    ctx = Context()
    return [m for m in iter_messages(open_all([str(path)]), ctx) if m.protocol == "eapol"]


def test_ethernet_and_cooked_captures_give_the_identity(tmp_path: Path) -> None:
    start = pdu(1, b"")
    identity = pdu(0, eap_identity(2, 1, PERMANENT))
    eth = tmp_path / "eth.pcap"
    eth.write_bytes(pcap([ether(PHONE, AP, start), ether(PHONE, AP, identity)]))
    cooked = tmp_path / "any.pcap"
    cooked.write_bytes(pcap([sll(PHONE, start), sll(PHONE, identity)], linktype=113))
    for path, dst in ((eth, "74:83:c2:10:20:30"), (cooked, "")):
        msgs = _messages(path)
        assert [(m.frame, m.direction) for m in msgs] == [(1, "out"), (2, "out")]
        m = msgs[1]
        assert m.src.ip == "20:39:56:5c:7a:13" and m.dst.ip == dst
        assert m.host == REALM and m.flow.transport == "eapol"


def _scan(path: Path, profile: DeviceProfile | None) -> list[tuple[str, str, str, str]]:
    res = run_scan(open_all([str(path)]), profile)
    return sorted(
        (f.identifier, f.value, f.where, f.host) for f in res.findings if f.protocol == "eapol"
    )


def test_scan_finds_the_imsi_with_and_without_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "eth.pcap"
    path.write_bytes(pcap([ether(PHONE, AP, pdu(0, eap_identity(2, 1, PERMANENT)))]))
    want = [("imsi", IMSI, "eapol.eap:identity", REALM)]
    assert _scan(path, None) == want
    assert _scan(path, DeviceProfile(values={"imsi": (IMSI,)})) == want
    pseudonym = tmp_path / "pseudonym.pcap"
    pseudonym.write_bytes(
        pcap([ether(PHONE, AP, pdu(0, eap_identity(2, 1, f"2{IMSI}abc@{REALM}")))])
    )
    assert _scan(pseudonym, None) == []  # a pseudonym (leading 2) is no IMSI


def vxlan(inner: bytes) -> bytes:
    """``inner`` (an Ethernet frame) in VXLAN (RFC 7348) over UDP 4789 over IPv4."""
    udp_len = 8 + 8 + len(inner)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0x4000, 64, 17, 0,
        bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]),
    )  # fmt: skip
    udp = struct.pack("!HHHH", 40000, 4789, udp_len, 0)
    return ip + udp + struct.pack("!II", 0x08000000, 42 << 8) + inner


def test_vlan_tagged_and_tunnelled_eapol_is_read(tmp_path: Path) -> None:
    identity = pdu(0, eap_identity(2, 1, PERMANENT))
    tagged = ether(PHONE, AP, b"\x00\x64\x88\x8e" + identity, etype=0x8100)  # VLAN 100
    controller = bytes.fromhex("c80e14a291f0")
    tunnelled = ether(controller, AP, vxlan(ether(PHONE, AP, identity)), etype=0x0800)
    path = tmp_path / "trunk.pcap"
    path.write_bytes(pcap([tagged, tunnelled]))
    msgs = _messages(path)
    assert [(m.frame, m.host, m.src.ip, m.direction) for m in msgs] == [
        (1, REALM, "20:39:56:5c:7a:13", "out"),
        (2, REALM, "20:39:56:5c:7a:13", "out"),
    ]


def test_non_eapol_frames_still_count_as_non_ip(tmp_path: Path) -> None:
    arp = tmp_path / "arp.pcap"
    arp.write_bytes(pcap([ether(PHONE, AP, bytes(28), etype=0x0806)]))
    assert _messages(arp) == []


@pytest.fixture(scope="module")
def carrier_wifi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eap") / "eap.pcap"
    simulate.run("eap-aka", path, seed=1)
    return path


def test_simulated_eapol_frames_match_tshark(carrier_wifi: Path) -> None:
    need_tool("tshark")
    out = subprocess.run(
        ["tshark", "-r", str(carrier_wifi), "-Y", "eapol", "-T", "fields",
         "-e", "frame.number", "-e", "eapol.type", "-e", "eap.code", "-e", "eap.type"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [tuple(line.split("\t")) for line in out.splitlines()]
    ours = []
    for m in _messages(carrier_wifi):
        c = m.content
        eap = c.eap
        ours.append(
            (
                str(m.frame),
                str(c.type),
                str(eap.code) if eap else "",
                str(eap.type) if eap and eap.type else "",
            )
        )
    assert len(ours) > 20 and ours == theirs


def test_export_copies_the_link_layer_evidence(carrier_wifi: Path, tmp_path: Path) -> None:
    report = tmp_path / "scan.json"
    device = carrier_wifi.with_name("eap.device.toml")
    args = ["scan", str(carrier_wifi), "--device", str(device), "--format", "json"]
    res = CliRunner().invoke(main, [*args, "-o", str(report), "--no-store"])
    assert res.exit_code == 1, res.output
    doc = json.loads(report.read_text())
    frames = {
        e["frame"] for f in doc["findings"] if f["protocol"] == "eapol" for e in f["evidence"]
    }
    assert len(frames) == 2
    out = tmp_path / "evidence.pcapng"
    res = CliRunner().invoke(main, ["export", str(report), "--pcap", str(out)])
    assert res.exit_code == 0, res.output
    ctx = Context()
    cap = open_capture(str(out))
    eapol_frames = [f for f in cap.frames(ctx) if f.data[12:14] == b"\x88\x8e"]
    cap.close()
    assert len(eapol_frames) == 2
    assert all("imsi at eapol.eap:" in (f.comment or "") for f in eapol_frames)
