"""The flow table's done filter: frames of finished sessions skipped inside the reader.

Every test runs the same capture twice, with the filter and without it, and requires the
same messages, counters, anomalies and per-flow accounting: the filter is a shortcut,
never a behaviour.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from phonehome import simulate
from phonehome.context import Context
from phonehome.flowlist import to_json
from phonehome.model.frame import ACK, FIN, PSH, RST, SYN
from phonehome.net.flows import Flow, FlowTable
from phonehome.pipeline import iter_messages, open_all
from phonehome.protocols.base import Session
from phonehome.simulate.tls_build import client_hello, tls_records
from tests.conftest import SHARED

from .builders_capture import epb, idb, pcap_file, shb
from .builders_net import IP6_A, IP6_B, ether, ipv4, ipv6, tcp, udp

FlowState = tuple[int, str, int, int, float, bool]


@dataclass
class Run:
    lines: list[str]
    stats: Any
    anomalies: dict[str, int]
    samples: list[Any]
    counters: list[tuple[int, ...]]
    flows: list[FlowState]
    filtered: int


def run(path: Path, *, filtered: bool, max_flows: int = 100_000) -> Run:
    tables: list[FlowTable] = []
    flows: list[FlowState] = []

    def at_flush(live: list[Flow]) -> None:
        flows.extend((f.id, f.transport, f.packets, f.bytes, f.last, f.closed) for f in live)

    def make_table(ctx: Context, factory: Callable[[Flow], Session]) -> FlowTable:
        table = FlowTable(
            ctx, factory, max_flows=max_flows, use_done_filter=filtered, on_flush=at_flush
        )
        tables.append(table)
        return table

    ctx = Context()
    lines = [
        to_json(m) for m in iter_messages(open_all([str(path)]), ctx, table_factory=make_table)
    ]
    counters = [
        (
            t.closed_flows,
            t.timed_out,
            t.port_reuse,
            t.midstream,
            t.evicted,
            t.no_flow,
            t.dropped_other_host,
        )
        for t in tables
    ]
    return Run(
        lines,
        ctx.stats,
        dict(ctx.anomalies.counts),
        list(ctx.anomalies.samples),
        counters,
        sorted(flows),
        sum(t.filtered_frames for t in tables),
    )


def assert_same(path: Path, max_flows: int = 100_000) -> Run:
    with_filter = run(path, filtered=True, max_flows=max_flows)
    without = run(path, filtered=False, max_flows=max_flows)
    assert without.filtered == 0
    assert with_filter.lines == without.lines
    assert with_filter.stats == without.stats
    assert with_filter.anomalies == without.anomalies
    assert with_filter.samples == without.samples
    assert with_filter.counters == without.counters
    assert with_filter.flows == without.flows
    return with_filter


@pytest.mark.parametrize(
    ("scenario", "kw"),
    [
        ("bench", {"size_mb": 2}),
        ("nokia7plus", {}),
        ("nokia7plus", {"pcapng": True}),
    ],
)
def test_simulated_captures_same_with_and_without_filter(
    tmp_path: Path, scenario: str, kw: dict[str, Any]
) -> None:
    out = tmp_path / ("x.pcapng" if kw.get("pcapng") else "x.pcap")
    simulate.run(scenario, out, seed=4, **kw)
    got = assert_same(out)
    assert got.filtered > 0
    assert got.lines


@pytest.mark.parametrize("kind", ["gtpu", "vxlan-vlan", "capwap", "teredo", "pppoe"])
def test_tunnelled_captures_same_with_and_without_filter(tmp_path: Path, kind: str) -> None:
    """Tunnelled frames take the full path (a UDP tunnel port sends the filter there, the
    other tunnels are not the shapes it reads); untunnelled ones beside them still skip."""
    out = tmp_path / "x.pcap"
    simulate.run(f"tunnel-{kind}", out, seed=4)
    got = assert_same(out)
    assert got.lines and any('"tunnel":' in line for line in got.lines)
    if kind in ("teredo", "gtpu"):  # IPv4 beside Teredo; GTP-U is read by the filter
        assert got.filtered > 0


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("outer_v6", [False, True], ids=["over-ipv4", "over-ipv6"])
def test_gtpu_edges_same_with_and_without_filter(tmp_path: Path, v6: bool, outer_v6: bool) -> None:
    """The hand-built edge cases, each packet in GTP-U (TEID per direction, some with a
    sequence number or extension headers), plus damaged GTP-U headers among them."""
    from tests.builders_tunnel import gtpu

    c = tls_done_then_edges(v6)
    client = IP6_A if v6 else bytes([192, 168, 1, 23])
    frames = []
    for i, (t, frame) in enumerate(c.frames):
        inner = frame[14 + 4 * (frame[12:14] == b"\x81\x00") :]  # drop a VLAN tag too
        up = inner[12:16] == client[:4] if not v6 else inner[8:24] == client
        teid = 0xA1 if up else 0xB2
        if i % 3 == 1:
            body = gtpu(inner, teid, seq=i)
        elif i % 3 == 2:
            body = gtpu(inner, teid, exts=((0x85, b"\x10\x09"),))
        else:
            body = gtpu(inner, teid)
        if i == 30:
            body = body[:12]  # truncated: tunnel.gtpu.bad_length, then a plain datagram
        if i == 31:
            body = body[:8] + b"\x00" + body[9:]  # extension header of length 0
        seg = udp(2152, 2152, body)
        a, b = (IP6_A, IP6_B) if outer_v6 else (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        if not up:
            a, b = b, a
        frames.append((t, ether(ipv6(seg, 17, a, b) if outer_v6 else ipv4(seg, 17, a, b))))
    c.frames = frames
    got = assert_same(c.pcap(tmp_path / "gtpu-edges.pcap"))
    assert got.filtered > 30
    assert any('"sni":"done.example"' in line for line in got.lines)
    assert any('"uri":"/after-reuse"' in line for line in got.lines)
    assert got.anomalies.get("tunnel.gtpu.bad_length") == 1


def test_a_done_flow_on_a_tunnel_port_does_not_swallow_a_tunnel(tmp_path: Path) -> None:
    """A UDP flow to 2152 that is no tunnel, done, then a real GTP-U packet on the same
    ports: the filter must leave it to the decoder, which unwraps it."""
    from tests.builders_tunnel import gtpu, inner_udp

    c = Conversation()

    def to_2152(payload: bytes) -> None:
        c.add(c.ip(udp(40000, 2152, payload), 17, True))

    for _ in range(70):  # a raw UDP flow past its per-direction budget is done
        to_2152(bytes(1000))
    to_2152(gtpu(inner_udp(b"inside")))
    got = assert_same(c.pcap(tmp_path / "gtp.pcap"))
    assert any('"tunnel":[{"type":"gtpu"' in line for line in got.lines)


def test_real_captures_same_with_and_without_filter() -> None:
    real = sorted((SHARED / "fixtures" / "real").iterdir())
    assert real
    for cap in real:
        assert_same(cap)
    for cap in sorted((SHARED / "fixtures" / "mobile").iterdir()):
        assert_same(cap)


# --- hand-built edge cases --------------------------------------------------------------

HELLO = tls_records(client_hello("done.example"))
T0 = 1_772_409_600


class Conversation:
    """IPv4 or IPv6 TCP/UDP packets of one client and server, one frame every 10 ms."""

    def __init__(self, v6: bool = False) -> None:
        self.v6 = v6
        self.frames: list[tuple[float, bytes]] = []
        self.t = float(T0)
        self.seq = {True: 1000, False: 5000}

    def ip(self, l4: bytes, proto: int, from_client: bool, **kw: Any) -> bytes:
        if self.v6:
            a, b = (IP6_A, IP6_B) if from_client else (IP6_B, IP6_A)
            return ipv6(l4, proto, a, b)
        a, b = (bytes([192, 168, 1, 23]), bytes([198, 18, 0, 1]))
        src, dst = (a, b) if from_client else (b, a)
        return ipv4(l4, proto, src, dst, **kw)

    def add(self, packet: bytes, dt: float = 0.01, **ether_kw: Any) -> None:
        self.t += dt
        self.frames.append((self.t, ether(packet, **ether_kw)))

    def seg(
        self,
        from_client: bool,
        payload: bytes = b"",
        flags: int = ACK | PSH,
        cport: int = 40000,
        dt: float = 0.01,
        ip_kw: dict[str, Any] | None = None,
        **ether_kw: Any,
    ) -> None:
        sp, dp = (cport, 443) if from_client else (443, cport)
        seq = self.seq[from_client]
        ack = self.seq[not from_client]
        self.seq[from_client] = seq + len(payload) + (1 if flags & (SYN | FIN) else 0)
        packet = self.ip(tcp(sp, dp, seq, ack, flags, payload), 6, from_client, **(ip_kw or {}))
        self.add(packet, dt, **ether_kw)

    def dgram(self, from_client: bool, payload: bytes, length: int | None = None) -> None:
        sp, dp = (41000, 9999) if from_client else (9999, 41000)
        self.add(self.ip(udp(sp, dp, payload, length), 17, from_client))

    def handshake(self, cport: int = 40000) -> None:
        self.seg(True, flags=SYN, cport=cport)
        self.seg(False, flags=SYN | ACK, cport=cport)
        self.seg(True, flags=ACK, cport=cport)
        self.seg(True, HELLO, cport=cport)
        self.seg(False, b"\x16\x03\x03" + bytes(300), cport=cport)

    def pcap(self, path: Path, linktype: int = 1) -> Path:
        records = []
        for t, f in self.frames:
            data = f if linktype == 1 else f[14:]
            records.append((int(t), round((t - int(t)) * 1e6), data))
        path.write_bytes(pcap_file(records, linktype))
        return path

    def pcapng(self, path: Path) -> Path:
        blocks = [shb(), idb(1)]
        blocks += [epb(0, round(t * 1e6), f) for t, f in self.frames]
        path.write_bytes(b"".join(blocks))
        return path


def tls_done_then_edges(v6: bool) -> Conversation:
    c = Conversation(v6)
    c.handshake()
    for i in range(20):
        c.seg(i % 3 == 0, bytes([0x17, 3, 3]) + bytes(200 + i))  # application data
        c.seg(i % 3 != 0, flags=ACK)
    if not v6:
        c.seg(False, b"\x17\x03\x03" + bytes(50), ip_kw={"options": b"\x01\x01\x01\x00"})
        c.seg(False, b"\x17\x03\x03" + bytes(50), ip_kw={"total": 0})  # TSO: rest of frame
    c.seg(False, b"\x17\x03\x03" + bytes(60), vlans=(0x8100,))
    c.seg(True, b"\x17\x03\x03" + bytes(60), dt=2.5)  # a sweep is due first
    c.seg(True, flags=FIN | ACK)
    c.seg(False, b"\x17\x03\x03" + bytes(70))  # the client's FIN seen: full path
    c.seg(False, flags=FIN | ACK)
    c.seg(True, flags=ACK)  # trailing ACK of a closed flow
    # Port reuse: a new connection on the same ports, cleartext this time.
    c.seq = {True: 90_000, False: 70_000}
    c.seg(True, flags=SYN)
    c.seg(False, flags=SYN | ACK)
    c.seg(True, flags=ACK)
    c.seg(True, b"GET /after-reuse HTTP/1.1\r\nHost: done.example\r\n\r\n")
    c.seg(False, b"HTTP/1.1 204 No Content\r\n\r\n")
    # A second TLS flow that goes idle beyond the TCP timeout, then resumes.
    c.handshake(cport=40001)
    for _ in range(5):
        c.seg(False, b"\x17\x03\x03" + bytes(100), cport=40001)
    c.seg(False, b"\x17\x03\x03" + bytes(100), cport=40001, dt=700.0)
    c.seg(True, flags=RST | ACK, cport=40001)
    # Least recently active order: an older flow kept busy by skipped frames must not
    # shield a younger idle one from its timeout.
    c.handshake(cport=40002)
    c.handshake(cport=40003)
    for _ in range(1400):  # two per second: one of each pair skips the sweep check
        c.seg(False, b"\x17\x03\x03" + bytes(100), cport=40002, dt=0.5)
    # UDP: a raw flow past its 64 KiB per direction is done; then a bad length.
    for _ in range(70):
        c.dgram(True, bytes(1000))
        c.dgram(False, bytes(1000))
    c.dgram(True, bytes(100))
    c.dgram(True, bytes(100), length=4)  # udp.bad_header
    c.dgram(False, bytes(100), length=400)  # udp.bad_length
    c.dgram(True, bytes(100))
    return c


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("container", ["pcap", "raw-ip-pcap", "pcapng"])
def test_edges_same_with_and_without_filter(tmp_path: Path, v6: bool, container: str) -> None:
    c = tls_done_then_edges(v6)
    if container == "pcapng":
        path = c.pcapng(tmp_path / "edges.pcapng")
    else:
        path = c.pcap(tmp_path / "edges.pcap", 1 if container == "pcap" else 101)
    got = assert_same(path)
    assert got.filtered > 40
    assert any('"uri":"/after-reuse"' in line for line in got.lines)
    assert any('"sni":"done.example"' in line for line in got.lines)
    counters = got.counters[0]
    assert counters[2] == 1  # port reuse
    assert counters[1] >= 2  # the idle TLS flows timed out
    assert got.anomalies.get("udp.bad_length") == 1
    assert got.anomalies.get("udp.bad_header") == 1
    assert got.stats.frames == len(c.frames)


def test_eviction_order_counts_skipped_frames_as_activity(tmp_path: Path) -> None:
    c = Conversation()
    c.handshake(cport=40010)
    c.handshake(cport=40011)
    for _ in range(20):  # within one second: no sweep, every one skipped
        c.seg(False, b"\x17\x03\x03" + bytes(100), cport=40010)
    c.seg(True, flags=SYN, cport=40012)
    got = assert_same(c.pcap(tmp_path / "evict.pcap"), max_flows=2)
    assert got.filtered >= 20
    evicted = [a.detail for a in got.samples if a.kind == "flow.evicted"]
    assert len(evicted) == 1 and ":40011 ->" in evicted[0]


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f[:30],  # cut inside the IP header
        lambda f: f[:-10],  # IP total length beyond the frame
        lambda f: f[:12] + b"\x08\x06" + f[14:],  # ARP
        lambda f: f[:14] + b"\x55" + f[15:],  # IP version 5
        lambda f: f[:20] + b"\x20\x00" + f[22:],  # fragment (MF)
        lambda f: f[:23] + b"\x01" + f[24:],  # ICMP
        lambda f: f[:46] + b"\x40" + f[47:],  # TCP data offset 16
        lambda f: f[:46] + b"\xf0" + f[47:],  # TCP options beyond the segment
    ],
)
def test_damaged_frames_of_a_done_flow_take_the_full_path(tmp_path: Path, damage: Any) -> None:
    c = tls_done_then_edges(False)
    # Damage one application data frame of the done flow.
    index = 8
    t, frame = c.frames[index]
    assert struct.unpack_from("!H", frame, 12)[0] == 0x0800
    c.frames[index] = (t, damage(frame))
    got = assert_same(c.pcap(tmp_path / "damaged.pcap"))
    assert got.filtered > 40
