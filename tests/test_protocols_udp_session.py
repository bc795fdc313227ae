"""The UDP session: DNS/mDNS/LLMNR on any port, one QuicInitial per QUIC flow, raw rest."""

from __future__ import annotations

import struct

import pytest

from phonehome.context import Context
from phonehome.model.message import DnsMessage, QuicInitial, RawPayload
from phonehome.protocols.base import Parsed, Session
from phonehome.protocols.udp import RAW_LIMIT, UdpSession
from phonehome.simulate.quic_build import client_initial_datagrams
from phonehome.simulate.tls_build import client_hello


def dns_query(qname: str, qtype: int = 1, flags: int = 0x0100, qd: int = 1) -> bytes:
    wire = b"".join(bytes((len(p),)) + p.encode() for p in qname.split(".")) + b"\x00"
    return struct.pack("!HHHHHH", 7, flags, qd, 0, 0, 0) + wire + struct.pack("!HH", qtype, 1)


HELLO = client_hello("quic.tracker.example", ("h3",), padding_to=1300)
DCID = bytes.fromhex("5e5e5e5e5e5e5e5e")


def session(client_port: int = 40000, server_port: int = 53) -> tuple[Context, UdpSession]:
    ctx = Context()
    return ctx, UdpSession(ctx, 3, client_port, server_port)


def contents(parsed: list[Parsed]) -> list[object]:
    return [p.content for p in parsed]


def test_is_a_session() -> None:
    _, udp = session()
    checked: Session = udp
    assert checked.done is False
    assert udp.close() == []


@pytest.mark.parametrize(
    ("client_port", "server_port", "qname"),
    [
        (40000, 53, "example.com"),  # unicast DNS
        (5353, 5353, "_googlecast._tcp.local"),  # mDNS
        (50123, 5355, "wpad"),  # LLMNR
        (40000, 9999, "odd-port.example"),  # a resolver on a port nobody expects
    ],
)
def test_dns_recognised_on_any_port(client_port: int, server_port: int, qname: str) -> None:
    ctx, udp = session(client_port, server_port)
    out = udp.data(True, dns_query(qname), 1.5, 10)
    assert len(out) == 1
    parsed = out[0]
    assert (parsed.from_client, parsed.time, parsed.frame) == (True, 1.5, 10)
    assert isinstance(parsed.content, DnsMessage)
    assert parsed.content.questions == ((qname, "A"),)
    assert not udp.done
    assert ctx.anomalies.total() == 0


def test_dns_query_and_answer_both_parsed() -> None:
    ctx, udp = session()
    query = dns_query("example.com")
    answer = bytearray(query)
    answer[2:4] = b"\x81\x80"
    answer[6:8] = b"\x00\x01"
    answer += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes((192, 0, 2, 1))
    out = udp.data(True, query, 1.0, 1) + udp.data(False, bytes(answer), 1.1, 2)
    messages = contents(out)
    assert all(isinstance(m, DnsMessage) for m in messages)
    reply = messages[1]
    assert isinstance(reply, DnsMessage) and reply.answers[0].value == "192.0.2.1"
    assert ctx.anomalies.total() == 0


def test_truncated_dns_answer_kept_with_anomaly() -> None:
    ctx, udp = session()
    answer = bytearray(dns_query("example.com"))
    answer[2:4] = b"\x81\x80"
    answer[6:8] = b"\x00\x01"
    answer += b"\xc0\x0c\x00\x01"  # answer record cut after its type
    (parsed,) = udp.data(False, bytes(answer), 1.0, 5)
    assert isinstance(parsed.content, DnsMessage)
    assert parsed.content.questions == (("example.com", "A"),)
    assert ctx.anomalies.counts["dns.truncated_answers"] == 1
    assert ctx.anomalies.samples[0].input == 3 and ctx.anomalies.samples[0].frame == 5


def test_malformed_dns_becomes_raw_with_anomaly() -> None:
    ctx, udp = session()
    data = dns_query("example.com", qd=2)  # claims a second question that is not there
    (parsed,) = udp.data(True, data, 1.0, 9)
    assert parsed.content == RawPayload(data)
    assert ctx.anomalies.counts["dns.malformed"] == 1


def test_quic_flow_gives_one_initial_then_done() -> None:
    ctx, udp = session(51000, 443)
    first, second = client_initial_datagrams(HELLO, DCID, b"\x01", packets=2, shuffle_frames=True)
    assert udp.data(True, first, 1.0, 1) == []
    assert udp.data(False, b"\xc1" + bytes(60), 1.05, 2) == []  # server reply: ignored
    out = udp.data(True, second, 1.1, 3)
    assert len(out) == 1
    initial = out[0].content
    assert isinstance(initial, QuicInitial)
    assert initial.version == "v1" and initial.dcid == DCID.hex()
    assert initial.hello is not None and initial.hello.sni == "quic.tracker.example"
    assert out[0].frame == 3
    assert udp.done
    assert udp.data(True, first, 1.2, 4) == []
    assert ctx.anomalies.total() == 0


def test_quic_v2_on_odd_port() -> None:
    _, udp = session(51000, 8443)
    (datagram,) = client_initial_datagrams(HELLO, DCID, b"", version=2)
    (parsed,) = udp.data(True, datagram, 1.0, 1)
    assert isinstance(parsed.content, QuicInitial) and parsed.content.version == "v2"


def test_quic_lookalike_that_does_not_decrypt_is_raw() -> None:
    ctx, udp = session(51000, 443)
    (datagram,) = client_initial_datagrams(HELLO, DCID, b"")
    damaged = datagram[:-1] + bytes((datagram[-1] ^ 0xFF,))
    (parsed,) = udp.data(True, damaged, 1.0, 1)
    assert parsed.content == RawPayload(damaged)
    assert ctx.anomalies.counts["quic.decrypt_failed"] == 1
    assert not udp.done


def test_unrecognised_payload_is_raw_and_bounded_per_direction() -> None:
    ctx, udp = session(40000, 7777)
    chunk = b"IMEI=356938035643809;" * 60  # 1260 bytes
    kept_client = []
    for i in range(60):
        for p in udp.data(True, chunk, float(i), i + 1):
            assert isinstance(p.content, RawPayload)
            kept_client.append(p.content)
    assert sum(len(r.data) for r in kept_client) == RAW_LIMIT
    assert kept_client[-1].truncated and not kept_client[0].truncated
    assert not udp.done  # the server side may still say something
    (reply,) = udp.data(False, b"OK", 100.0, 100)
    assert reply.content == RawPayload(b"OK")
    while not udp.done:
        udp.data(False, chunk, 101.0, 101)
    assert udp.data(False, b"late", 102.0, 102) == []
    assert ctx.anomalies.total() == 0


def test_empty_datagram_gives_nothing() -> None:
    _, udp = session()
    assert udp.data(True, b"", 1.0, 1) == []
