"""Link layers: every supported link type down to the same TCP packet."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.context import Context
from phonehome.model.frame import Packet
from phonehome.net.link import Decoder
from tests import tshark
from tests.builders_net import (
    IP6_A,
    IP6_B,
    IP_A,
    IP_B,
    MAC_A,
    MAC_B,
    PSH,
    ether,
    frame,
    ipv4,
    ipv6,
    null,
    pcap,
    sll,
    sll2,
    tcp,
    udp,
)

SEGMENT = tcp(40000, 80, seq=5, ack=9, flags=PSH | 0x10, payload=b"GET / HTTP/1.1\r\n")
V4 = ipv4(SEGMENT)
V6 = ipv6(SEGMENT)


def decode(
    data: bytes, linktype: int, wirelen: int | None = None
) -> tuple[Decoder, Context, Packet | None]:
    ctx = Context()
    dec = Decoder(ctx)
    return dec, ctx, dec.decode(frame(data, linktype, wirelen=wirelen))


@pytest.mark.parametrize(
    ("name", "linktype", "data", "ip6"),
    [
        ("ethernet", 1, ether(V4), False),
        ("ethernet-v6", 1, ether(V6), True),
        ("802.1q", 1, ether(V4, vlans=(0x8100,)), False),
        ("qinq-88a8", 1, ether(V4, vlans=(0x88A8, 0x8100)), False),
        ("qinq-9100", 1, ether(V6, vlans=(0x9100, 0x8100)), True),
        ("sll", 113, sll(V4), False),
        ("sll-v6", 113, sll(V6, proto=0x86DD), True),
        ("sll2", 276, sll2(V4), False),
        ("sll2-v6", 276, sll2(V6, proto=0x86DD), True),
        ("raw101-v4", 101, V4, False),
        ("raw101-v6", 101, V6, True),
        ("raw12", 12, V4, False),
        ("raw14", 14, V6, True),
        ("ipv4", 228, V4, False),
        ("ipv6", 229, V6, True),
        ("null-le-v4", 0, null(V4, 2, "<"), False),
        ("null-be-v4", 0, null(V4, 2, ">"), False),
        ("null-le-v6-bsd", 0, null(V6, 24, "<"), True),
        ("null-be-v6-freebsd", 0, null(V6, 28, ">"), True),
        ("null-le-v6-macos", 0, null(V6, 30, "<"), True),
        ("loop-v4", 108, null(V4, 2, ">"), False),
        ("loop-v6", 108, null(V6, 24, ">"), True),
    ],
)
def test_every_link_type_yields_the_segment(
    name: str, linktype: int, data: bytes, ip6: bool
) -> None:
    _, ctx, pkt = decode(data, linktype)
    assert pkt is not None, name
    assert (pkt.src, pkt.dst) == ((IP6_A, IP6_B) if ip6 else (IP_A, IP_B))
    assert (pkt.proto, pkt.sport, pkt.dport, pkt.seq, pkt.ack) == (6, 40000, 80, 5, 9)
    assert pkt.flags == PSH | 0x10
    assert pkt.payload == b"GET / HTTP/1.1\r\n"
    assert not pkt.truncated
    assert not ctx.anomalies.counts


def test_ethernet_keeps_both_macs_and_sll_keeps_the_sender() -> None:
    _, _, pkt = decode(ether(V4, vlans=(0x88A8, 0x8100)), 1)
    assert (pkt.src_mac, pkt.dst_mac) == (MAC_A, MAC_B)
    _, _, pkt = decode(sll2(V4, mac=MAC_B), 276)
    assert (pkt.src_mac, pkt.dst_mac) == (MAC_B, None)
    _, _, pkt = decode(sll(V4, mac=MAC_B), 113)
    assert (pkt.src_mac, pkt.dst_mac) == (MAC_B, None)


def test_frame_metadata_is_carried() -> None:
    ctx = Context()
    f = frame(V4, 101, number=42, ts=12.5, uid=10123)
    f.input = 3
    pkt = Decoder(ctx).decode(f)
    assert pkt is not None
    assert (pkt.frame, pkt.ts, pkt.uid, pkt.input) == (42, 12.5, 10123, 3)


def test_ethernet_padding_is_not_payload() -> None:
    short = ipv4(udp(5353, 5353, b"x"), proto=17)
    _, _, pkt = decode(ether(short) + b"\0" * 20, 1)
    assert pkt.payload == b"x"


def test_pppoe_session() -> None:
    pppoe = bytes.fromhex("1100000a") + (len(V4) + 2).to_bytes(2, "big") + b"\x00\x21" + V4
    _, _, pkt = decode(ether(pppoe, etype=0x8864), 1)
    assert pkt.payload == b"GET / HTTP/1.1\r\n"


@pytest.mark.parametrize(
    ("linktype", "data"),
    [
        (1, ether(b"\x00\x01" + b"\0" * 26, etype=0x0806)),  # ARP
        (1, ether(b"\0" * 30, etype=0x88CC)),  # LLDP
        (113, sll(b"\0" * 28, proto=0x0806)),
        (0, null(V4, 7)),  # unknown address family
    ],
)
def test_non_ip_is_counted_not_reported(linktype: int, data: bytes) -> None:
    dec, ctx, pkt = decode(data, linktype)
    assert pkt is None
    assert dec.non_ip == 1
    assert not ctx.anomalies.counts


@pytest.mark.parametrize(
    ("linktype", "data"),
    [
        (1, ether(V4)[:13]),
        (1, ether(V4, vlans=(0x8100,))[:16]),
        (113, sll(V4)[:15]),
        (276, sll2(V4)[:19]),
        (0, b"\x02\x00"),
        (108, b""),
    ],
)
def test_short_link_header_is_an_anomaly(linktype: int, data: bytes) -> None:
    _, ctx, pkt = decode(data, linktype)
    assert pkt is None
    assert ctx.anomalies.counts == {"link.truncated": 1}


def test_unknown_link_type_reported_once() -> None:
    ctx = Context()
    dec = Decoder(ctx)
    for n in range(3):
        assert dec.decode(frame(V4, 147, number=n + 1)) is None
    assert ctx.anomalies.counts == {"link.unsupported": 1}
    assert dec.unsupported_linktype == 3


def test_raw_frame_with_bad_version() -> None:
    _, ctx, pkt = decode(b"\x50" + V4[1:], 101)
    assert pkt is None
    assert ctx.anomalies.counts == {"ip.bad_version": 1}


def test_snaplen_cut_frame_gives_truncated_packet() -> None:
    data = ether(V4)
    cut = data[:-6]
    _, ctx, pkt = decode(cut, 1, wirelen=len(data))
    assert pkt is not None and pkt.truncated
    assert pkt.payload == b"GET / HTTP"
    assert not ctx.anomalies.counts


@pytest.mark.parametrize(
    ("linktype", "data"),
    [
        (1, ether(V4, vlans=(0x88A8, 0x8100))),
        (276, sll2(V6, proto=0x86DD)),
        (0, null(V6, 30, "<")),
        (108, null(V4, 2, ">")),
    ],
)
def test_tshark_agrees(tmp_path: Path, linktype: int, data: bytes) -> None:
    path = tmp_path / "one.pcap"
    path.write_bytes(pcap([data], linktype))
    [row] = tshark.fields(path, "tcp.srcport", "tcp.dstport", "tcp.len")
    _, _, pkt = decode(data, linktype)
    assert row == [str(pkt.sport), str(pkt.dport), str(len(pkt.payload))]


@settings(max_examples=300, deadline=None)
@given(
    linktype=st.sampled_from([0, 1, 12, 14, 101, 108, 113, 228, 229, 276]),
    data=st.binary(max_size=120),
    prefix=st.sampled_from([b"", ether(V4)[:34], ether(V6)[:54], V4[:20], V6[:40]]),
)
def test_decoder_never_raises(linktype: int, data: bytes, prefix: bytes) -> None:
    ctx = Context()
    dec = Decoder(ctx)
    pkt = dec.decode(frame(prefix + data, linktype))
    assert pkt is None or pkt.proto in (6, 17)
