"""802.11 captures (monitor mode: radiotap, link type 127; or bare 802.11, 105): the
data frames' MSDUs are read as Ethernet payloads, with the addresses the DS bits say.

Frames are built here byte by byte after IEEE 802.11-2020 9.2-9.3 and the radiotap
specification, and tshark's dissection of the same capture is the cross-check.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from phonehome.context import Context
from phonehome.model.message import DnsMessage, Message
from phonehome.net.link import radiotap_flags
from phonehome.pipeline import iter_messages, open_all
from phonehome.simulate.appproto import dns_query
from phonehome.simulate.packets import Host, udp_frame
from tests.builders_wifi import amsdu, pcap
from tests.needs import need_tool
from tests.test_protocols_eapol import PERMANENT, REALM, eap_identity, pdu

PHONE = Host(bytes.fromhex("2039565c7a13"), bytes([192, 168, 1, 23]))
AP = bytes.fromhex("7483c2102030")
ROUTER = Host(bytes.fromhex("c80e14a291f0"), bytes([192, 168, 1, 1]))
SNAP = b"\xaa\xaa\x03\x00\x00\x00"


def radiotap(fcs: bool = True, tsft: bool = True, extended: bool = False) -> bytes:
    """A radiotap header with TSFT (8 bytes, 8-aligned), Flags and Rate."""
    present = (1 if tsft else 0) | 0x2 | 0x4 | (0x80000000 if extended else 0)
    words = struct.pack("<I", present) + (struct.pack("<I", 0) if extended else b"")
    head_len = 4 + len(words)
    fields = b""
    if tsft:
        pad = (-head_len) % 8
        fields += bytes(pad) + struct.pack("<Q", 123456789)
    fields += bytes([0x10 if fcs else 0x00, 0x0C])  # Flags, Rate (6 Mb/s)
    length = head_len + len(fields)
    return struct.pack("<BBH", 0, 0, length) + words + fields


def data_frame(
    body: bytes,
    *,
    to_ds: bool = True,
    from_ds: bool = False,
    qos: bool = True,
    protected: bool = False,
    amsdu: bool = False,
    src: bytes = PHONE.mac,
    dst: bytes = ROUTER.mac,
    fragment: int = 0,
) -> bytes:
    subtype = 8 if qos else 0
    fc = bytes([(subtype << 4) | (2 << 2), (1 if to_ds else 0) | (2 if from_ds else 0)])
    if protected:
        fc = bytes([fc[0], fc[1] | 0x40])
    if to_ds and from_ds:
        a1, a2, a3, a4 = AP, bytes.fromhex("020000000001"), dst, src
    elif to_ds:
        a1, a2, a3, a4 = AP, src, dst, b""
    elif from_ds:
        a1, a2, a3, a4 = dst, AP, src, b""
    else:
        a1, a2, a3, a4 = dst, src, AP, b""
    head = fc + b"\x00\x00" + a1 + a2 + a3 + struct.pack("<H", fragment) + a4
    if qos:
        head += bytes([0x80 if amsdu else 0x00, 0])
    return head + body


def msdu(ethernet: bytes) -> bytes:
    """An Ethernet frame's payload as an 802.11 MSDU: LLC/SNAP and the EtherType."""
    return SNAP + ethernet[12:]


FCS = b"\xde\xad\xbe\xef"
DNS = msdu(udp_frame(PHONE, ROUTER, 53000, 53, dns_query(7, "phone.example.com")))
EAPOL = SNAP + b"\x88\x8e" + pdu(0, eap_identity(2, 1, PERMANENT))
BEACON = bytes([0x80, 0]) + b"\x00\x00" + b"\xff" * 6 + AP + AP + b"\x00\x00" + bytes(12)


def frames() -> list[bytes]:
    return [
        radiotap() + data_frame(DNS) + FCS,  # 1: phone -> AP -> router, QoS, FCS
        radiotap(fcs=False, tsft=False) + data_frame(EAPOL, qos=False, dst=AP),  # 2
        radiotap(extended=True) + BEACON + FCS,  # 3: management
        radiotap() + data_frame(DNS, protected=True) + FCS,  # 4: WPA
        radiotap() + data_frame(DNS, amsdu=True) + FCS,  # 5: A-MSDU, not one: damaged
        radiotap() + data_frame(DNS, to_ds=True, from_ds=True) + FCS,  # 6: WDS, 4 addresses
        radiotap() + data_frame(DNS, to_ds=False, from_ds=True) + FCS,  # 7: AP -> station
        radiotap() + data_frame(DNS, fragment=1) + FCS,  # 8: a fragment (not reassembled)
    ]


def read(path: Path) -> tuple[list[Message], Context]:
    ctx = Context()
    return list(iter_messages(open_all([str(path)]), ctx)), ctx


@pytest.fixture()
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.pcap"
    path.write_bytes(pcap(frames(), 127))
    return path


def test_radiotap_data_frames_are_read_with_the_ds_addresses(capture: Path) -> None:
    msgs, ctx = read(capture)
    got = [(m.frame, m.protocol, m.src.ip, m.dst.ip) for m in msgs]
    assert got == [
        (1, "dns", "192.168.1.23", "192.168.1.1"),
        (2, "eapol", "20:39:56:5c:7a:13", "74:83:c2:10:20:30"),
        (6, "dns", "192.168.1.23", "192.168.1.1"),
        (7, "dns", "192.168.1.23", "192.168.1.1"),
    ]
    assert isinstance(msgs[0].content, DnsMessage)
    assert msgs[1].host == REALM
    # the protected and fragmented frames: counted, the first of each reason reported
    # once; a frame flagged A-MSDU that holds no subframe is damaged
    assert ctx.anomalies.counts == {"wifi.unread": 2, "wifi.bad_amsdu": 1}
    protected, aggregate, fragment = ctx.anomalies.samples
    assert protected.frame == 4 and "protected (no --wifi-key given)" in protected.detail
    assert aggregate.frame == 5 and "subframe 1" in aggregate.detail
    assert fragment.frame == 8 and "fragmented" in fragment.detail


def test_the_device_is_picked_by_the_wifi_source_address(capture: Path) -> None:
    from phonehome.cli.options import make_context

    ctx = make_context((), ("20:39:56:5c:7a:13",))
    msgs = [m for m in iter_messages(open_all([str(capture)]), ctx) if m.protocol == "dns"]
    assert [m.direction for m in msgs] == ["out", "out", "out"]


def test_tshark_reads_the_same_frames(capture: Path) -> None:
    need_tool("tshark")
    out = subprocess.run(
        ["tshark", "-r", str(capture), "-Y", "(dns || eapol) && frame.number < 8", "-T", "fields",
         "-e", "frame.number", "-e", "dns.qry.name", "-e", "eap.code"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [line.split("\t") for line in out.splitlines()]
    msgs, _ = read(capture)
    ours = []
    for m in msgs:
        c = m.content
        name = c.questions[0][0] if isinstance(c, DnsMessage) else ""
        code = str(c.eap.code) if m.protocol == "eapol" else ""  # type: ignore[attr-defined]
        ours.append([str(m.frame), name, code])
    assert ours == theirs


def test_bare_80211_link_type(tmp_path: Path) -> None:
    path = tmp_path / "bare.pcap"
    path.write_bytes(pcap([data_frame(DNS, qos=False)], 105))
    msgs, ctx = read(path)
    assert [(m.protocol, m.src.ip) for m in msgs] == [("dns", "192.168.1.23")]
    assert ctx.anomalies.counts == {}


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b"\x00\x00\x08", "link.truncated"),  # shorter than a radiotap header
        (struct.pack("<BBHI", 0, 0, 200, 0) + bytes(10), "link.truncated"),  # length > frame
        (radiotap(fcs=False) + bytes(10), "link.truncated"),  # shorter than an 802.11 header
    ],
)
def test_damaged_frames_are_counted(tmp_path: Path, frame: bytes, kind: str) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(pcap([frame], 127))
    msgs, ctx = read(path)
    assert msgs == [] and ctx.anomalies.counts == {kind: 1}


def test_radiotap_flags_behind_extended_present_words() -> None:
    for fcs in (True, False):
        for tsft in (True, False):
            for extended in (True, False):
                head = radiotap(fcs, tsft, extended)
                want = 0x10 if fcs else 0
                assert radiotap_flags(head, len(head)) == want, (fcs, tsft, extended)


OTHER = Host(bytes.fromhex("3c2eff000001"), bytes([192, 168, 1, 40]))


def aggregate() -> list[bytes]:
    """A-MSDUs: the AP aggregates two senders' queries to the phone (From DS), the phone
    aggregates three of its own (To DS); then one whose second subframe is cut off."""
    down = amsdu(
        udp_frame(ROUTER, PHONE, 53, 53001, dns_query(1, "one.example")),
        udp_frame(OTHER, PHONE, 5353, 5353, dns_query(0, "two.local")),
    )
    up = amsdu(*(udp_frame(PHONE, ROUTER, 53010 + i, 53, dns_query(i, f"up{i}.example"))
                 for i in range(3)))  # fmt: skip
    return [
        radiotap() + data_frame(down, to_ds=False, from_ds=True, amsdu=True) + FCS,
        radiotap() + data_frame(up, amsdu=True) + FCS,
        radiotap() + data_frame(up[:-30], amsdu=True) + FCS,
    ]


def test_amsdu_subframes_are_read_each_with_its_addresses(tmp_path: Path) -> None:
    path = tmp_path / "amsdu.pcap"
    path.write_bytes(pcap(aggregate(), 127))
    msgs, ctx = read(path)
    got = [(m.frame, m.src.ip, m.content.questions[0][0]) for m in msgs]  # type: ignore[union-attr]
    assert got == [
        (1, "192.168.1.1", "one.example"),
        (1, "192.168.1.40", "two.local"),
        (2, "192.168.1.23", "up0.example"),
        (2, "192.168.1.23", "up1.example"),
        (2, "192.168.1.23", "up2.example"),
        (3, "192.168.1.23", "up0.example"),
        (3, "192.168.1.23", "up1.example"),
    ]
    assert ctx.anomalies.counts == {"wifi.bad_amsdu": 1}
    assert "subframe 3" in ctx.anomalies.samples[0].detail
    assert ctx.stats.packets == 7


def test_tshark_reads_the_same_amsdu_subframes(tmp_path: Path) -> None:
    need_tool("tshark")
    path = tmp_path / "amsdu.pcap"
    path.write_bytes(pcap(aggregate()[:2], 127))
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "dns.qry.name"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [(int(n), name) for n, names in (line.split("\t") for line in out.splitlines())
              for name in names.split(",")]  # fmt: skip
    msgs, _ = read(path)
    assert [(m.frame, m.content.questions[0][0]) for m in msgs] == theirs  # type: ignore[union-attr]


def with_sequence(frame: bytes, seq: int, *, retry: bool = False, tid: int | None = None) -> bytes:
    """A data frame (no radiotap) with its sequence number, Retry bit and QoS TID set."""
    fc1 = frame[1] | (0x08 if retry else 0)
    out = frame[:1] + bytes([fc1]) + frame[2:22] + struct.pack("<H", seq << 4) + frame[24:]
    if tid is not None:
        out = out[:24] + bytes([tid]) + out[25:]
    return out


def queries(frames: list[bytes], tmp_path: Path) -> tuple[list[str], Context]:
    path = tmp_path / "retries.pcap"
    path.write_bytes(pcap([radiotap(fcs=False) + f for f in frames], 127))
    msgs, ctx = read(path)
    return [m.content.questions[0][0] for m in msgs], ctx  # type: ignore[union-attr]


def test_a_retried_frame_is_read_once(tmp_path: Path) -> None:
    a = data_frame(msdu(udp_frame(PHONE, ROUTER, 53000, 53, dns_query(1, "a.example"))))
    b = data_frame(msdu(udp_frame(PHONE, ROUTER, 53001, 53, dns_query(2, "b.example"))))
    names, ctx = queries(
        [
            with_sequence(a, 7, tid=0),
            with_sequence(a, 7, retry=True, tid=0),  # the same MPDU again: dropped
            with_sequence(b, 7, retry=True, tid=5),  # another TID's number space: read
            with_sequence(b, 8, retry=True, tid=0),  # a retry of a frame not heard: read
        ],
        tmp_path,
    )
    assert names == ["a.example", "b.example", "b.example"]
    assert ctx.anomalies.counts == {}


def test_a_frame_that_failed_its_fcs_is_not_read(tmp_path: Path) -> None:
    bad = bytearray(radiotap(fcs=True))
    flags_at = len(bad) - 2  # Flags, then Rate, end the header
    bad[flags_at] |= 0x40
    path = tmp_path / "badfcs.pcap"
    path.write_bytes(
        pcap([bytes(bad) + data_frame(DNS) + FCS, radiotap() + data_frame(DNS) + FCS], 127)
    )
    msgs, ctx = read(path)
    assert [m.frame for m in msgs] == [2]
    assert ctx.anomalies.counts == {"wifi.unread": 1}
    assert "bad FCS" in ctx.anomalies.samples[0].detail
