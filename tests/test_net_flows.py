"""The flow table: client/server and device side, reassembly wiring, closing, caps."""

from __future__ import annotations

import pytest

from phonehome.context import Context, DeviceSelector
from phonehome.model.frame import Packet
from phonehome.net.addr import ntop
from phonehome.net.flows import Flow, FlowTable
from phonehome.net.link import Decoder
from phonehome.protocols.base import Parsed, Session
from tests import tshark
from tests.builders_net import (
    ACK,
    FIN,
    IP_A,
    IP_B,
    MAC_A,
    MAC_B,
    PSH,
    RST,
    SYN,
    PacketMaker,
    RecordingSession,
)
from tests.conftest import SHARED

C_ISN = 1000  # client's first data byte is C_ISN + 1
S_ISN = 5000


class Harness:
    def __init__(self, ctx: Context | None = None, **kw: float) -> None:
        self.ctx = ctx or Context()
        self.sessions: dict[int, RecordingSession] = {}
        self.out: list[tuple[Flow, Parsed]] = []
        self.done_after: int | None = None
        self.table = FlowTable(self.ctx, self._factory, **kw)  # type: ignore[arg-type]

    def _factory(self, flow: Flow) -> Session:
        s = RecordingSession(done_after=self.done_after)
        self.sessions[flow.id] = s
        return s

    def feed(self, *pkts: Packet) -> None:
        for p in pkts:
            self.out.extend(self.table.process(p))

    def flush(self) -> None:
        self.out.extend(self.table.flush())

    @property
    def only(self) -> RecordingSession:
        [s] = self.sessions.values()
        return s


def handshake(m: PacketMaker) -> list[Packet]:
    return [
        m(True, seq=C_ISN, flags=SYN),
        m(False, seq=S_ISN, ack=C_ISN + 1, flags=SYN | ACK),
        m(True, seq=C_ISN + 1, ack=S_ISN + 1),
    ]


def test_full_connection() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(
        m(True, b"GET / HTTP/1.1\r\n\r\n", seq=C_ISN + 1, ack=S_ISN + 1, flags=PSH | ACK),
        m(False, b"HTTP/1.1 200 OK\r\n\r\n", seq=S_ISN + 1, ack=C_ISN + 19, flags=PSH | ACK),
        m(True, seq=C_ISN + 19, ack=S_ISN + 20, flags=FIN | ACK),
        m(False, seq=S_ISN + 20, ack=C_ISN + 20, flags=FIN | ACK),
        m(True, seq=C_ISN + 20, ack=S_ISN + 21),  # last ACK: must not open a flow
    )
    s = h.only
    assert s.events == [
        ("data", True, b"GET / HTTP/1.1\r\n\r\n", 4),
        ("data", False, b"HTTP/1.1 200 OK\r\n\r\n", 5),
        ("close",),
    ]
    [flow] = {f.id: f for f, _ in h.out}.values()
    assert (flow.client, flow.cport, flow.server, flow.sport) == (IP_A, 40000, IP_B, 80)
    assert flow.transport == "tcp" and flow.device_is_client and flow.packets == 8
    assert flow.bytes == 37 and flow.closed
    assert [p.from_client for _, p in h.out] == [True, False]
    assert h.table.closed_flows == 1 and h.table.midstream == 0
    assert not h.ctx.anomalies.counts
    # it lingers for late segments without its session (parser state of every
    # connection of the last minute would otherwise stay in memory)
    assert flow.id in h.table._closed and flow.session.done
    assert flow.session is not h.only


def test_output_is_an_empty_constant_when_nothing_parsed() -> None:
    h = Harness()
    m = PacketMaker()
    results = [h.table.process(p) for p in handshake(m)]
    assert all(r == () for r in results)


def test_out_of_order_and_retransmitted_segments() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(
        m(True, b"world", seq=C_ISN + 7),
        m(True, b"hello ", seq=C_ISN + 1),
        m(True, b"hello ", seq=C_ISN + 1),
        m(True, b"!", seq=C_ISN + 12),
    )
    assert h.only.stream(True) == b"hello world!"
    assert [e[3] for e in h.only.events if e[0] == "data"] == [5, 4, 7]


def test_overlap_with_different_bytes_is_reported() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(m(True, b"IMEI=1234", seq=C_ISN + 1), m(True, b"IMEI=9999", seq=C_ISN + 1))
    assert h.only.stream(True) == b"IMEI=1234"
    assert h.ctx.anomalies.counts == {"tcp.overlap_mismatch": 1}


@pytest.mark.parametrize(
    ("first_from_server", "sport", "cport"),
    [(True, 443, 51000), (False, 443, 51000), (True, 8883, 8883), (False, 5228, 40000)],
)
def test_midstream_flow_orientation(first_from_server: bool, sport: int, cport: int) -> None:
    h = Harness()
    m = PacketMaker(sport=sport, cport=cport)
    h.feed(
        m(not first_from_server, b"one", seq=77, ack=99),
        m(first_from_server, b"two", seq=99, ack=80),
    )
    flow = h.out[0][0]
    if sport == cport:  # tie: the first sender is the client
        assert flow.client == (IP_B if first_from_server else IP_A)
    else:
        assert (flow.client, flow.sport) == (IP_A, sport)
    assert h.ctx.anomalies.counts == {"tcp.midstream": 1}
    assert h.table.midstream == 1
    assert len(h.only.events) == 2


def test_syn_ack_without_syn_is_not_midstream() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(
        m(False, seq=S_ISN, ack=C_ISN + 1, flags=SYN | ACK),
        m(True, b"hi", seq=C_ISN + 1, ack=S_ISN + 1),
    )
    flow = h.out[0][0]
    assert flow.client == IP_A and not h.ctx.anomalies.counts
    assert h.only.stream(True) == b"hi"


def test_gap_is_reported_and_data_after_it_delivered() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(
        m(True, b"abcd", seq=C_ISN + 1),
        # bytes 5..8 never captured
        m(True, b"ijkl", seq=C_ISN + 9),
        m(False, seq=S_ISN + 1, ack=C_ISN + 13),  # server has them all
        m(True, b"mn", seq=C_ISN + 13),
    )
    s = h.only
    assert s.stream(True) == b"abcd????ijklmn"
    assert ("gap", True, 4) in s.events
    assert h.ctx.anomalies.counts == {"tcp.gap": 1}


def test_fin_gives_up_a_hole_before_it() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(
        m(True, b"ab", seq=C_ISN + 1),
        m(True, b"ef", seq=C_ISN + 5, flags=FIN | ACK),
        m(False, seq=S_ISN + 1, ack=C_ISN + 8, flags=FIN | ACK),
    )
    s = h.only
    assert s.stream(True) == b"ab??ef"
    assert s.events[-1] == ("close",)
    assert h.ctx.anomalies.counts == {"tcp.gap": 1}


def test_rst_closes_the_flow() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(m(True, b"x", seq=C_ISN + 1), m(False, seq=S_ISN + 1, flags=RST))
    assert h.only.events[-1] == ("close",)
    assert h.table.closed_flows == 1 and h.table.live_flows == 0


def test_port_reuse_starts_a_new_flow() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m), m(True, b"first", seq=C_ISN + 1), m(False, seq=S_ISN + 1, flags=RST))
    h.feed(m(True, seq=9000, flags=SYN), m(True, seq=9000, flags=SYN))  # new SYN + its retry
    h.feed(m(True, b"second", seq=9001))
    assert sorted(h.sessions) == [1, 2]
    assert h.sessions[1].stream(True) == b"first"
    assert h.sessions[2].stream(True) == b"second"
    assert h.table.port_reuse == 1


def test_new_syn_on_a_live_flow_closes_it() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m), m(True, b"first", seq=C_ISN + 1))
    h.feed(m(True, seq=9000, flags=SYN))
    assert h.sessions[1].events[-1] == ("close",)
    assert 2 in h.sessions


def test_buffer_cap_turns_a_hole_into_a_gap() -> None:
    h = Harness(max_buffered_per_direction=10)
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(m(True, b"x" * 8, seq=C_ISN + 5), m(True, b"y" * 8, seq=C_ISN + 13))
    assert h.only.stream(True) == b"????" + b"x" * 8 + b"y" * 8


def test_done_session_gets_no_more_data_but_still_closes() -> None:
    h = Harness()
    h.done_after = 1
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(
        m(True, b"hello", seq=C_ISN + 1),
        m(True, b"more", seq=C_ISN + 10),  # out of order: would be buffered
        m(True, b"data", seq=C_ISN + 6),
        m(True, seq=C_ISN + 14, flags=FIN | ACK),
        m(False, seq=S_ISN + 1, flags=FIN | ACK),
    )
    assert h.only.events == [("data", True, b"hello", 4), ("close",)]
    assert not h.ctx.anomalies.counts


def test_lone_ack_of_unknown_connection_opens_no_flow() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(m(True, seq=1, ack=2), m(False, seq=2, flags=RST))
    assert h.sessions == {} and h.table.no_flow == 2


@pytest.mark.parametrize(
    ("sport_a", "sport_b", "a_sends_first", "client_is_a"),
    [
        (51000, 53, True, True),  # DNS query
        (51000, 53, False, True),  # DNS answer seen first
        (123, 123, False, False),  # NTP both sides: first sender
        (5353, 5353, True, True),
        (40000, 1900, False, True),  # SSDP
        (50000, 3000, False, True),  # both unprivileged: higher port is the client
        (68, 67, True, True),  # DHCP
    ],
)
def test_udp_client_detection(
    sport_a: int, sport_b: int, a_sends_first: bool, client_is_a: bool
) -> None:
    h = Harness()
    m = PacketMaker(cport=sport_a, sport=sport_b, proto=17)
    h.feed(m(a_sends_first, b"1"), m(not a_sends_first, b"2"))
    flow = h.out[0][0]
    assert flow.transport == "udp"
    assert flow.client == (IP_A if client_is_a else IP_B)
    assert [p.from_client for _, p in h.out] == (
        [a_sends_first == client_is_a, a_sends_first != client_is_a]
    )


def test_explicit_device_ip_drops_other_hosts() -> None:
    other = bytes([192, 168, 1, 77])
    ctx = Context(device=DeviceSelector(ips=frozenset({IP_B})))
    h = Harness(ctx)
    theirs = PacketMaker(client=other, server=bytes([8, 8, 8, 8]), cport=41000, proto=17, sport=53)
    mine = PacketMaker(client=IP_A, server=IP_B, cport=42000, sport=53, proto=17)
    h.feed(theirs(True, b"q"), theirs(False, b"a"), theirs(True, b"q2"), mine(True, b"q"))
    assert h.table.dropped_other_host == 1
    assert ctx.anomalies.counts == {"device.other_host": 1}
    assert len(h.sessions) == 1
    [flow] = {f.id: f for f, _ in h.out}.values()
    assert flow.server == IP_B and not flow.device_is_client  # the device is the server


def test_explicit_device_mac_selects_flows() -> None:
    ctx = Context(device=DeviceSelector(macs=frozenset({MAC_A})))
    h = Harness(ctx)
    m = PacketMaker()
    h.feed(m(True, seq=C_ISN, flags=SYN, src_mac=MAC_A, dst_mac=MAC_B))
    h.feed(PacketMaker(cport=1234)(True, seq=1, flags=SYN, src_mac=MAC_B, dst_mac=MAC_B))
    flow_ids = list(h.sessions)
    assert flow_ids == [1]
    assert h.table.dropped_other_host == 1


@pytest.mark.parametrize(
    ("client", "server", "device_is_client"),
    [
        (IP_A, IP_B, True),  # private -> public
        (IP_B, IP_A, False),  # public -> private: a service on the device
        (IP_B, bytes([8, 8, 8, 8]), True),  # both public
        (IP_A, bytes([10, 0, 0, 1]), True),  # both local
        (bytes([100, 64, 0, 9]), IP_B, True),  # CGNAT
    ],
)
def test_implicit_device_side(client: bytes, server: bytes, device_is_client: bool) -> None:
    h = Harness()
    h.feed(PacketMaker(client=client, server=server)(True, seq=1, flags=SYN))
    assert h.table._flows and next(iter(h.table._flows.values())).device_is_client is (
        device_is_client
    )


def test_idle_timeouts_close_flows_by_capture_time() -> None:
    h = Harness(idle_timeout_tcp=600.0, idle_timeout_udp=120.0)
    dns = PacketMaker(cport=5000, sport=53, proto=17, ts=0.0)
    web = PacketMaker(cport=6000, ts=0.0)
    h.feed(dns(True, b"q"), *handshake(web))
    h.feed(PacketMaker(cport=7000, sport=53, proto=17, ts=200.0)(True, b"x"))
    assert h.sessions[1].events[-1] == ("close",)  # UDP idle 200 s > 120 s
    assert h.sessions[2].count("close") == 0  # TCP idle 200 s < 600 s
    h.feed(PacketMaker(cport=7000, sport=53, proto=17, ts=700.0)(True, b"y"))
    assert h.sessions[2].events[-1] == ("close",)
    assert h.table.timed_out == 3
    assert h.table.live_flows == 1


def test_max_flows_evicts_the_least_recently_active() -> None:
    h = Harness(max_flows=3)
    makers = [PacketMaker(cport=10000 + i, sport=53, proto=17, ts=float(i)) for i in range(3)]
    for mk in makers:
        h.feed(mk(True, b"q"))
    h.feed(makers[0](True, b"again"))  # flow 1 is now the most recent
    h.feed(PacketMaker(cport=20000, sport=53, proto=17, ts=5.0)(True, b"new"))
    assert h.table.evicted == 1 and h.table.live_flows == 3
    assert h.sessions[2].events[-1] == ("close",)
    assert h.sessions[1].count("close") == 0
    assert h.ctx.anomalies.counts == {"flow.evicted": 1}


def test_memory_is_bounded_by_concurrent_flows() -> None:
    h = Harness(max_flows=50)
    for i in range(2000):
        m = PacketMaker(cport=1024 + i, ts=float(i))
        h.feed(*handshake(m), m(True, seq=C_ISN + 1, flags=RST))
    assert len(h.table._flows) <= 2 * 100
    assert len(h.table._closed) <= 50


def test_snaplen_truncated_segment_leaves_a_gap_not_garbage() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m))
    h.feed(
        m(True, b"GET /x", seq=C_ISN + 1, truncated=True),  # 10 bytes on the wire
        m(True, b"tail", seq=C_ISN + 11),
        m(False, seq=S_ISN + 1, ack=C_ISN + 15),
    )
    assert h.only.stream(True) == b"GET /x????tail"


def test_uid_and_macs_come_from_packets() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(m(True, seq=C_ISN, flags=SYN, src_mac=MAC_A, dst_mac=MAC_B))
    h.feed(m(False, seq=S_ISN, ack=C_ISN + 1, flags=SYN | ACK, uid=10123))
    h.feed(m(True, b"x", seq=C_ISN + 1, uid=10999))
    flow = h.out[0][0]
    assert (flow.client_mac, flow.server_mac, flow.uid) == (MAC_A, MAC_B, 10123)


def test_flush_closes_everything_and_reports_holes() -> None:
    h = Harness()
    m = PacketMaker()
    h.feed(*handshake(m), m(True, b"late", seq=C_ISN + 5))
    h.feed(PacketMaker(cport=5000, sport=53, proto=17)(True, b"q"))
    h.flush()
    assert h.sessions[1].events == [("gap", True, 4), ("data", True, b"late", 4), ("close",)]
    assert h.sessions[2].events[-1] == ("close",)
    assert h.table.live_flows == 0 and h.table.closed_flows == 2


def test_inputs_are_separate_flows() -> None:
    h = Harness()
    h.feed(PacketMaker(proto=17, sport=53)(True, b"a", input=0))
    h.feed(PacketMaker(proto=17, sport=53)(True, b"b", input=1))
    assert len(h.sessions) == 2


# --- real captures, cross-checked with Wireshark's "Follow TCP stream" -----------------

REAL = ["android_dropper_checkin.pcap", "adtech_mathtag.pcap", "fp_trap_mining.pcapng"]


@pytest.mark.parametrize("name", REAL)
def test_real_capture_streams_match_tshark(name: str) -> None:
    from phonehome.ingest import open_capture

    path = SHARED / "fixtures" / "real" / name
    h = Harness()
    flows: dict[int, Flow] = {}

    def factory(flow: Flow) -> Session:
        flows[flow.id] = flow
        return h._factory(flow)

    h.table = FlowTable(h.ctx, factory)
    dec = Decoder(h.ctx)
    cap = open_capture(str(path))
    try:
        for fr in cap.frames(h.ctx):
            pkt = dec.decode(fr)
            if pkt is not None:
                h.feed(pkt)
    finally:
        cap.close()
    h.flush()
    ours: dict[tuple[str, str], bytes] = {}
    for fid, flow in flows.items():
        if flow.transport != "tcp":
            continue
        c = f"{ntop(flow.client)}:{flow.cport}"
        s = f"{ntop(flow.server)}:{flow.sport}"
        ours[(c, s)] = h.sessions[fid].stream(True)
        ours[(s, c)] = h.sessions[fid].stream(False)
    assert ours == tshark.follow_tcp(path)
    assert "tcp.gap" not in h.ctx.anomalies.counts
