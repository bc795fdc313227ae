"""TcpSession: protocol recognition by content on any port, fallbacks, tunnels, fixtures."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.context import Context
from phonehome.model.message import (
    Content,
    DnsMessage,
    HttpRequest,
    HttpResponse,
    MqttMessage,
    RawPayload,
    TlsClientHello,
)
from phonehome.protocols.base import Parsed
from phonehome.protocols.tcp import RAW_LIMIT, TcpSession
from tests import tshark
from tests.conftest import SHARED

from .test_protocols_http import request, response
from .test_protocols_mqtt import connect, packet, publish

FIXTURES = SHARED / "fixtures" / "real"


# --- builders -------------------------------------------------------------------------


def client_hello_record(sni: str) -> bytes:
    host = sni.encode()
    entry = b"\x00" + struct.pack("!H", len(host)) + host
    sni_ext = struct.pack("!HH", 0, len(entry) + 2) + struct.pack("!H", len(entry)) + entry
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x00"
        + b"\x00\x02\x13\x01"
        + b"\x01\x00"
        + struct.pack("!H", len(sni_ext))
        + sni_ext
    )
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def dns_query_tcp(name: str, ident: int = 0x1234, response: bool = False) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    flags = 0x8180 if response else 0x0100
    msg = struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"
    return struct.pack("!H", len(msg)) + msg


class Run:
    """Drives a session like the flow table does and collects what it parsed."""

    def __init__(self, port: int = 4711) -> None:
        self.ctx = Context()
        self.session = TcpSession(self.ctx, 0, port)
        self.out: list[Parsed] = []
        self.frame = 0

    def send(self, from_client: bool, data: bytes) -> Run:
        self.frame += 1
        if not self.session.done:
            self.out += self.session.data(from_client, data, float(self.frame), self.frame)
        return self

    def c(self, data: bytes) -> Run:
        return self.send(True, data)

    def s(self, data: bytes) -> Run:
        return self.send(False, data)

    def gap(self, from_client: bool, size: int) -> Run:
        self.session.gap(from_client, size)
        return self

    def close(self) -> list[Parsed]:
        self.out += self.session.close()
        return self.out

    def contents(self) -> list[tuple[bool, Content]]:
        return [(p.from_client, p.content) for p in self.close()]


# --- HTTP -----------------------------------------------------------------------------


def test_http_on_any_port_with_method_queue() -> None:
    r = Run(8100)
    r.c(request("HEAD", "/h") + request("GET", "/g"))
    r.s(response(200, [("Content-Length", "999")]) + response(200, body=b"body"))
    got = r.contents()
    assert [(fc, type(m).__name__) for fc, m in got] == [
        (True, "HttpRequest"),
        (True, "HttpRequest"),
        (False, "HttpResponse"),
        (False, "HttpResponse"),
    ]
    assert [m.body for _, m in got[2:] if isinstance(m, HttpResponse)] == [b"", b"body"]
    assert r.session.protocol == "http"


def test_request_split_into_tiny_segments_waits_for_enough_bytes() -> None:
    data = request("POST", "/x", body=b"imei=350672920106648")
    r = Run()
    for i in range(len(data)):
        r.c(data[i : i + 1])
    (p,) = r.close()
    assert isinstance(p.content, HttpRequest) and p.content.body == b"imei=350672920106648"
    assert p.frame == 1


def test_malformed_http_becomes_raw_with_anomaly() -> None:
    data = b"GET /path?imei=350672920106648 HTTP/9\r\nHost: x\r\n\r\n"
    r = Run(80)
    got = r.c(data).contents()
    assert got == [(True, RawPayload(data))]
    assert r.ctx.anomalies.counts["http.bad_start_line"] == 1


def test_http_gap_resyncs() -> None:
    r = Run()
    r.c(request("GET", "/a") + b"GET /b HTTP/1.1\r\nHo").gap(True, 100)
    r.c(b"dy of something\r\n" + request("GET", "/c"))
    got = [m.target for _, m in r.contents() if isinstance(m, HttpRequest)]
    assert got == ["/a", "/b", "/c"]
    assert r.ctx.anomalies.counts["http.resync"] == 1


def test_server_only_capture() -> None:
    got = Run().s(response(200, body=b"hello")).contents()
    assert [(fc, type(m).__name__) for fc, m in got] == [(False, "HttpResponse")]


def test_close_delimited_response_through_session() -> None:
    r = Run()
    r.c(request("GET", "/")).s(b"HTTP/1.0 200 OK\r\n\r\nall of ").s(b"this")
    got = r.contents()
    assert isinstance(got[-1][1], HttpResponse) and got[-1][1].body == b"all of this"


def test_capture_starting_mid_stream_finds_http_again() -> None:
    r = Run(80)
    r.s(b"tail of a response body that was cut by the capture start")
    r.c(b"more tail, now from the client side\r\n")
    r.c(request("GET", "/next"))
    r.s(response(200, body=b"ok"))
    got = r.contents()
    kinds = [(fc, type(m).__name__) for fc, m in got]
    assert kinds == [
        (False, "RawPayload"),
        (True, "RawPayload"),
        (True, "HttpRequest"),
        (False, "HttpResponse"),
    ]
    assert r.ctx.anomalies.counts["http.resync"] == 1


def test_upgrade_refused_then_pipelined_head() -> None:
    r = Run()
    r.c(request("GET", "/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade")]))
    r.c(request("HEAD", "/h"))
    r.s(response(200, body=b"no upgrade") + response(200, [("Content-Length", "50")]))
    r.s(response(200, body=b"never"))  # would be swallowed if HEAD were not known
    got = r.contents()
    assert [
        (m.target if isinstance(m, HttpRequest) else m.body)  # type: ignore[union-attr]
        for _, m in got
    ] == ["/ws", b"no upgrade", "/h", b"", b"never"]


def test_websocket_upgrade_becomes_raw() -> None:
    r = Run()
    r.c(request("GET", "/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade")]))
    r.s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    r.c(b"\x81\x85\x00\x00\x00\x00hello, this is a masked websocket frame")
    got = r.contents()
    assert [type(m).__name__ for _, m in got] == [
        "HttpRequest",
        "HttpResponse",
        "RawPayload",
        "RawPayload",
    ]


# --- TLS ------------------------------------------------------------------------------


def test_tls_client_hello_then_done() -> None:
    hello = client_hello_record("api.example.com")
    r = Run(8443)
    r.c(hello[:5]).c(hello[5:40])
    assert not r.session.done
    r.c(hello[40:] + b"\x17\x03\x03\x00\x10" + bytes(16))
    assert r.session.done
    got = r.contents()
    assert len(got) == 1
    fc, m = got[0]
    assert fc and isinstance(m, TlsClientHello) and m.sni == "api.example.com"
    assert r.out[0].frame == 1
    assert r.session.protocol == "tls"


def test_connect_then_tls() -> None:
    r = Run(3128)
    r.c(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
    r.s(b"HTTP/1.1 200 Connection established\r\n\r\n")
    r.c(client_hello_record("api.example.com"))
    assert r.session.done
    got = r.contents()
    assert [type(m).__name__ for _, m in got] == ["HttpRequest", "HttpResponse", "TlsClientHello"]


def test_connect_with_hello_sent_before_the_answer() -> None:
    r = Run(8080)
    r.c(b"CONNECT h.test:443 HTTP/1.1\r\n\r\n" + client_hello_record("h.test"))
    assert not r.session.done
    r.s(b"HTTP/1.1 200 OK\r\n\r\n")
    got = r.contents()
    assert [type(m).__name__ for _, m in got] == ["HttpRequest", "HttpResponse", "TlsClientHello"]
    assert isinstance(got[2][1], TlsClientHello) and got[2][1].sni == "h.test"


def test_connect_answer_never_captured() -> None:
    r = Run(8080)
    r.c(b"CONNECT h.test:443 HTTP/1.1\r\n\r\n" + client_hello_record("h.test"))
    got = r.contents()
    assert [type(m).__name__ for _, m in got] == ["HttpRequest", "TlsClientHello"]


def test_connect_refused_goes_on_as_http() -> None:
    r = Run(8080)
    r.c(b"CONNECT h.test:443 HTTP/1.1\r\n\r\n" + request("GET", "http://h.test/after"))
    r.s(response(407, body=b"auth") + response(200, body=b"ok"))
    got = r.contents()
    assert [
        (m.method if isinstance(m, HttpRequest) else m.status)  # type: ignore[union-attr]
        for _, m in got
    ] == ["CONNECT", 407, "GET", 200]


def test_bad_hello_is_counted_and_flow_skipped() -> None:
    r = Run()
    r.c(b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\x00\x00\x00\x00" + bytes(20))
    assert r.session.done
    assert r.close() == []
    assert r.ctx.anomalies.counts["tls.bad_client_hello"] == 1


# --- MQTT -----------------------------------------------------------------------------


def test_mqtt_v5_both_directions() -> None:
    r = Run(9999)
    r.c(connect(5, username="u") + publish("up", b"c2s", 1, level=5, props=b"\x01\x01"))
    r.s(packet(0x20, b"\x00\x00\x00") + publish("down", b"s2c", 0, level=5, props=b"\x01\x01"))
    got = r.contents()
    assert all(isinstance(m, MqttMessage) for _, m in got)
    assert [(fc, m.packet_type, m.topic, m.payload) for fc, m in got] == [  # type: ignore[union-attr]
        (True, "CONNECT", None, b""),
        (True, "PUBLISH", "up", b"c2s"),
        (False, "PUBLISH", "down", b"s2c"),
    ]
    assert r.session.protocol == "mqtt"


def test_mqtt_gap_turns_rest_to_raw() -> None:
    r = Run(1883)
    r.c(connect(4)).gap(True, 10).c(b"after the gap")
    got = r.contents()
    assert isinstance(got[0][1], MqttMessage)
    assert got[-1] == (True, RawPayload(b"after the gap"))


# --- DNS over TCP -----------------------------------------------------------------------


def test_dns_over_tcp_two_queries_split() -> None:
    q = dns_query_tcp("a.example.com") + dns_query_tcp("b.example.com", 2)
    r = Run(53)
    r.c(q[:7]).c(q[7:30]).c(q[30:])
    r.s(dns_query_tcp("a.example.com", response=True))
    got = r.contents()
    assert [(fc, m.questions, m.response) for fc, m in got if isinstance(m, DnsMessage)] == [
        (True, (("a.example.com", "A"),), False),
        (True, (("b.example.com", "A"),), False),
        (False, (("a.example.com", "A"),), True),
    ]
    assert [p.frame for p in r.out] == [1, 3, 4]


def test_dns_damage_becomes_raw() -> None:
    bad = struct.pack("!H", 14) + struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x05a"
    r = Run(53)
    got = r.c(bad).contents()
    assert got == [(True, RawPayload(bad))]
    assert r.ctx.anomalies.counts["dns.malformed"] == 1


# --- raw ------------------------------------------------------------------------------


def test_raw_turns_are_coalesced() -> None:
    r = Run(3333)
    r.c(b'{"id":1,"method":"login",').c(b'"params":{"imei":"350672920106648"}}\n')
    r.s(b'{"id":1,"result":true}\n')
    r.c(b'{"id":2,"method":"submit"}\n')
    got = r.contents()
    assert got == [
        (True, RawPayload(b'{"id":1,"method":"login","params":{"imei":"350672920106648"}}\n')),
        (False, RawPayload(b'{"id":1,"result":true}\n')),
        (True, RawPayload(b'{"id":2,"method":"submit"}\n')),
    ]
    assert [p.frame for p in r.out] == [1, 3, 4]
    assert r.session.protocol == "tcp"


def test_raw_is_bounded_and_flow_done() -> None:
    r = Run()
    block = bytes(range(256)) * 64  # 16 KiB, not any protocol
    for _ in range(6):
        r.c(block)
    r.s(b"\x00\x01" + block)
    for _ in range(6):
        r.s(block)
    assert r.session.done
    got = r.contents()
    c_bytes = sum(len(m.data) for fc, m in got if fc and isinstance(m, RawPayload))
    s_bytes = sum(len(m.data) for fc, m in got if not fc and isinstance(m, RawPayload))
    assert c_bytes == s_bytes == RAW_LIMIT
    assert [m.truncated for _, m in got if isinstance(m, RawPayload)] == [True, True]


def test_short_client_message_decided_when_server_speaks() -> None:
    r = Run()
    r.c(b"\x01\x02").s(b"banner of the server\r\n")
    got = r.contents()
    assert got == [
        (True, RawPayload(b"\x01\x02")),
        (False, RawPayload(b"banner of the server\r\n")),
    ]


def test_server_first_banner_then_client() -> None:
    # An FTP greeting starts with 220 as SMTP's does; only SMTP is a registered protocol
    r = Run(21)
    r.s(b"220 ProFTPD Server ready\r\n").c(b"USER anonymous\r\n")
    got = r.contents()
    assert got == [
        (False, RawPayload(b"220 ProFTPD Server ready\r\n")),
        (True, RawPayload(b"USER anonymous\r\n")),
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.one_of(
                st.binary(max_size=60),
                st.sampled_from(
                    [
                        b"GET / HTTP/1.1\r\n\r\n",
                        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
                        b"CONNECT a:1 HTTP/1.1\r\n\r\n",
                        b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03",
                        connect(5)[:20],
                        b"\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00",
                    ]
                ),
            ),
            st.integers(0, 12),
        ),
        max_size=12,
    )
)
def test_fuzz_session_never_raises(events: list[tuple[bool, bytes, int]]) -> None:
    r = Run()
    for from_client, data, g in events:
        if g == 0:
            r.gap(from_client, 17)
        r.send(from_client, data)
    r.close()
    assert r.session.done


# --- real captures ----------------------------------------------------------------------


def tcp_segments(path: Path) -> list[tuple[int, bool, bytes, int]]:
    """(frame, from_client, payload) of a classic Ethernet/IPv4 pcap, in order, with
    retransmissions dropped: enough reassembly for the clean fixtures used here."""
    data = path.read_bytes()
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    pos = 24
    frame = 0
    expected: dict[tuple[bytes, int, bytes, int], int] = {}
    out: list[tuple[int, bool, bytes, int]] = []
    while pos + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from(endian + "IIII", data, pos)
        pkt = data[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen
        frame += 1
        if pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 0xF) * 4
        total = int.from_bytes(ip[2:4], "big")
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack_from("!HHI", tcp, 0)
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4 :]
        key = (ip[12:16], sport, ip[16:20], dport)
        if flags & 0x02:
            expected[key] = seq + 1
            continue
        if not payload or expected.get(key, seq) != seq:
            continue
        expected[key] = seq + len(payload)
        client_key = min(sport, dport)  # the fixtures' servers sit on the lower port
        out.append((frame, dport == client_key, payload, hash(frozenset((sport, dport)))))
    return out


def run_pcap(path: Path) -> tuple[list[Parsed], Context]:
    ctx = Context()
    sessions: dict[int, TcpSession] = {}
    out: list[Parsed] = []
    for frame, from_client, payload, flow in tcp_segments(path):
        session = sessions.setdefault(flow, TcpSession(ctx, 0, 0))
        if not session.done:
            out += session.data(from_client, payload, float(frame), frame)
    for session in sessions.values():
        out += session.close()
    return out, ctx


def fixture(name: str) -> Path:
    return FIXTURES / name


def test_android_dropper_checkin() -> None:
    out, ctx = run_pcap(fixture("android_dropper_checkin.pcap"))
    req, resp = (p.content for p in out)
    assert isinstance(req, HttpRequest) and isinstance(resp, HttpResponse)
    assert (req.method, req.target, req.host) == (
        "POST",
        "/api/sdk/init2",
        "sdk.xinxiansk.com:8100",
    )
    # Content-Encoding: gzip on a plain JSON body: kept as is, not claimed decoded
    assert req.body.startswith(b'{"sdk_version":11026') and req.encodings == ()
    assert b'"device_id":"350672920106648"' in req.body
    assert ctx.anomalies.counts["http.bad_content_encoding"] == 1
    assert (resp.status, resp.reason, len(resp.body)) == (200, "", 224)
    assert [p.frame for p in out] == [4, 6]


def test_adtech_http_matches_tshark() -> None:
    path = fixture("adtech_mathtag.pcap")
    out, ctx = run_pcap(path)
    requests = [p.content for p in out if isinstance(p.content, HttpRequest)]
    responses = [p.content for p in out if isinstance(p.content, HttpResponse)]
    assert len(requests) == len(responses) == 8
    assert all(r.host == "bidder.mathtag.com" for r in requests)
    assert not ctx.anomalies.counts
    fields = [
        uri
        for (uri,) in tshark.fields(
            path,
            "http.request.uri",
            display_filter="http.request && !tcp.analysis.retransmission",
        )
    ]
    # tshark also dissects the first segment of some retransmitted requests on its own,
    # giving cut URIs; compare with the complete ones.
    complete = {u for u in fields if not any(v != u and v.startswith(u) for v in fields)}
    assert {r.target for r in requests} == complete
