"""IPv4/IPv6 headers and fragment reassembly."""

from __future__ import annotations

import pytest

from phonehome.context import Context
from phonehome.model.frame import Packet
from phonehome.net import addr
from phonehome.net.addr import NTOP_CACHE_CAP, is_local, ntop, parse_ip, parse_mac
from phonehome.net.link import Decoder
from tests.builders_net import (
    IP6_A,
    frame,
    ipv4,
    ipv4_fragments,
    ipv6,
    tcp,
    udp,
    v6_ext,
    v6_frag,
)

BODY = bytes(range(256)) * 4  # 1024 bytes, every 8-byte block distinct
SEGMENT = tcp(40000, 443, seq=1, payload=BODY)  # 20 + 1024 bytes


def run(datagrams: list[bytes], linktype: int = 101, t0: float = 1.0, dt: float = 0.01
        ) -> tuple[Decoder, Context, list[Packet]]:  # fmt: skip
    ctx = Context()
    dec = Decoder(ctx)
    out = []
    for i, d in enumerate(datagrams):
        pkt = dec.decode(frame(d, linktype, number=i + 1, ts=t0 + i * dt))
        if pkt is not None:
            out.append(pkt)
    return dec, ctx, out


def test_ipv4_options_are_skipped() -> None:
    _, ctx, [pkt] = run([ipv4(SEGMENT, options=b"\x94\x04\x00\x00" + b"\x01" * 4)])
    assert pkt.payload == BODY and not ctx.anomalies.counts


def test_tso_zero_total_length_means_rest_of_frame() -> None:
    _, ctx, [pkt] = run([ipv4(SEGMENT, total=0)])
    assert pkt.payload == BODY and not pkt.truncated and not ctx.anomalies.counts


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]])
def test_ipv4_fragments_in_any_order(order: list[int]) -> None:
    frags = ipv4_fragments(SEGMENT, [512, 256, 0])
    dec, ctx, pkts = run([frags[i] for i in order])
    assert len(pkts) == 1
    assert pkts[0].payload == BODY and pkts[0].sport == 40000
    assert pkts[0].frame == 3  # the frame that completed the datagram
    assert not ctx.anomalies.counts
    assert len(dec.ip.defrag) == 0


def test_duplicate_fragment_is_harmless() -> None:
    a, b = ipv4_fragments(SEGMENT, [512, 0])
    _, ctx, [pkt] = run([a, a, b])
    assert pkt.payload == BODY and not ctx.anomalies.counts


def test_overlapping_fragment_with_other_bytes_first_wins() -> None:
    a, b = ipv4_fragments(SEGMENT, [512, 0])
    # A second fragment at offset 504 whose first 8 bytes disagree with fragment a.
    evil = ipv4(b"EVILEVIL" + SEGMENT[512:520], ident=7, frag=0x2000 | 63)
    _, ctx, [pkt] = run([a, evil, b])
    assert pkt.payload == BODY  # first received bytes kept
    assert ctx.anomalies.counts == {"ip.fragment_overlap": 1}


def test_fragments_of_different_datagrams_do_not_mix() -> None:
    a1, b1 = ipv4_fragments(SEGMENT, [512, 0], ident=1)
    other = tcp(40001, 443, payload=b"x" * 600)
    a2, b2 = ipv4_fragments(other, [64, 0], ident=2)
    _, _, pkts = run([a1, a2, b2, b1])
    assert [p.sport for p in pkts] == [40001, 40000]
    assert pkts[1].payload == BODY


def test_oversized_fragment_is_dropped() -> None:
    bad = ipv4(b"x" * 16, ident=9, frag=8190)  # ends at 65536
    dec, ctx, pkts = run([bad])
    assert pkts == [] and ctx.anomalies.counts == {"ip.fragment_oversized": 1}
    assert len(dec.ip.defrag) == 0


def test_incomplete_datagram_times_out() -> None:
    a, _ = ipv4_fragments(SEGMENT, [512, 0], ident=1)
    a2, b2 = ipv4_fragments(SEGMENT, [512, 0], ident=2)
    dec, ctx, pkts = run([a, a2, b2], dt=20.0)  # a is 40 s old when b2 arrives
    assert len(pkts) == 1
    assert ctx.anomalies.counts == {"ip.fragment_incomplete": 1}
    assert len(dec.ip.defrag) == 0


def test_incomplete_datagram_reported_at_end_of_input() -> None:
    a, _ = ipv4_fragments(SEGMENT, [512, 0], ident=1)
    dec, ctx, _ = run([a])
    assert not ctx.anomalies.counts
    dec.flush()
    assert ctx.anomalies.counts == {"ip.fragment_incomplete": 1}


def test_pending_datagrams_are_capped() -> None:
    firsts = [ipv4_fragments(SEGMENT, [512, 0], ident=i)[0] for i in range(1030)]
    dec, ctx, _ = run(firsts, dt=0.0)
    assert len(dec.ip.defrag) == 1024
    assert ctx.anomalies.counts == {"ip.fragment_incomplete": 6}


def test_snaplen_cut_fragment_is_dropped_with_anomaly() -> None:
    a, _ = ipv4_fragments(SEGMENT, [512, 0])
    ctx = Context()
    assert Decoder(ctx).decode(frame(a[:100], 101, wirelen=len(a))) is None
    assert ctx.anomalies.counts == {"ip.fragment_truncated": 1}


def test_ipv6_hop_by_hop_and_fragment_header() -> None:
    hbh_then_frag = 44
    f1 = ipv6(v6_ext(hbh_then_frag) + v6_frag(6, 0, True, 0xABCD) + SEGMENT[:512], nh=0)
    f2 = ipv6(v6_ext(hbh_then_frag) + v6_frag(6, 512, False, 0xABCD) + SEGMENT[512:], nh=0)
    _, ctx, pkts = run([f2, f1])
    assert len(pkts) == 1
    assert pkts[0].payload == BODY and pkts[0].src == IP6_A and pkts[0].dport == 443
    assert not ctx.anomalies.counts


def test_ipv6_routing_destination_and_atomic_fragment() -> None:
    chain = v6_ext(60) + v6_ext(44) + v6_frag(17, 0, False, 1) + udp(5000, 53, b"q")
    _, ctx, [pkt] = run([ipv6(chain, nh=43)])
    assert (pkt.proto, pkt.payload) == (17, b"q") and not ctx.anomalies.counts


def test_ipv6_authentication_header() -> None:
    ah = bytes([6, 4]) + b"\0" * 22  # (4 + 2) * 4 = 24 bytes
    _, _, [pkt] = run([ipv6(ah + SEGMENT, nh=51)])
    assert pkt.payload == BODY


@pytest.mark.parametrize(
    ("datagram", "proto"),
    [
        (ipv6(b"\0" * 16, nh=50), "esp"),
        (ipv6(b"", nh=59), "no next header"),
        (ipv6(b"\x80\0\0\0\0\0\0\0", nh=58), "icmpv6"),
        (ipv4(b"\x08\0\0\0\0\0\0\0", proto=1), "icmp"),
        (ipv4(b"\0" * 8, proto=47), "gre"),
    ],
)
def test_other_transports_are_counted(datagram: bytes, proto: str) -> None:
    dec, ctx, pkts = run([datagram])
    assert pkts == [] and dec.other_transport == 1, proto
    assert not ctx.anomalies.counts


@pytest.mark.parametrize(
    ("datagram", "kind"),
    [
        (ipv4(SEGMENT)[:19], "ipv4.bad_header"),
        (b"\x44" + ipv4(SEGMENT)[1:], "ipv4.bad_header"),  # IHL 4
        (ipv4(SEGMENT, total=10), "ipv4.bad_header"),
        (ipv4(SEGMENT, total=2000), "ipv4.bad_length"),
        (ipv6(SEGMENT)[:39], "ipv6.bad_header"),
        (ipv6(v6_ext(6)[:4], nh=0), "ipv6.bad_header"),
        (ipv6(SEGMENT, plen=2000), "ipv6.bad_length"),
        (ipv4(SEGMENT[:19]), "tcp.bad_header"),
        (ipv4(SEGMENT[:12] + b"\x40" + SEGMENT[13:]), "tcp.bad_header"),  # data offset 16
        (ipv4(SEGMENT[:12] + b"\xf0" + SEGMENT[13:40]), "tcp.bad_header"),  # options cut
        (ipv4(udp(1, 2, b"abc")[:7], proto=17), "udp.bad_header"),
        (ipv4(udp(1, 2, b"abc", length=4), proto=17), "udp.bad_header"),
        (ipv4(udp(1, 2, b"abc", length=40), proto=17), "udp.bad_length"),
    ],
)
def test_malformed_headers_become_anomalies(datagram: bytes, kind: str) -> None:
    _, ctx, pkts = run([datagram])
    assert kind in ctx.anomalies.counts
    if kind.endswith("bad_length"):
        assert len(pkts) == 1 and pkts[0].truncated  # still decoded: what is there
    else:
        assert pkts == []


def test_udp_length_trims_trailing_bytes() -> None:
    _, _, [pkt] = run([ipv4(udp(1, 2, b"abc", length=10) + b"zzz", proto=17)])
    assert pkt.payload == b"ab"


# --- address helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("packed", "text"),
    [
        (bytes([192, 168, 1, 10]), "192.168.1.10"),
        (bytes(4), "0.0.0.0"),
        (bytes.fromhex("20010db8000000000000000000000001"), "2001:db8::1"),
        (bytes(10) + b"\xff\xff" + bytes([1, 2, 3, 4]), "::ffff:1.2.3.4"),
    ],
)
def test_ntop_and_parse_ip_round_trip(packed: bytes, text: str) -> None:
    assert ntop(packed) == text
    assert ntop(packed) == text  # cached
    assert parse_ip(text) == packed


def test_ntop_cache_is_bounded() -> None:
    for i in range(NTOP_CACHE_CAP + 10):
        ntop(i.to_bytes(4, "big"))
    assert len(addr._ntop_cache) <= NTOP_CACHE_CAP


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("10.1.2.3", True), ("172.16.0.1", True), ("172.31.255.255", True),
        ("172.32.0.1", False), ("192.168.0.1", True), ("192.169.0.1", False),
        ("100.64.0.1", True), ("100.127.255.255", True), ("100.128.0.1", False),
        ("127.0.0.1", True), ("169.254.1.1", True), ("8.8.8.8", False),
        ("93.184.216.34", False), ("::1", True), ("fe80::1", True), ("febf::1", True),
        ("fec0::1", False), ("fd12:3456::1", True), ("fc00::1", True),
        ("2a00:1450::1", False), ("::ffff:192.168.1.1", True), ("::ffff:8.8.8.8", False),
    ],
)  # fmt: skip
def test_is_local(text: str, local: bool) -> None:
    assert is_local(parse_ip(text)) is local


@pytest.mark.parametrize(
    "text",
    [
        "aa:bb:cc:dd:ee:ff",
        "AA-BB-CC-DD-EE-FF",
        "aabb.ccdd.eeff",
        "AABBCCDDEEFF",
        " aa:bb:cc:dd:ee:ff ",
    ],
)
def test_parse_mac_spellings(text: str) -> None:
    assert parse_mac(text) == bytes.fromhex("aabbccddeeff")


@pytest.mark.parametrize(
    "text", ["aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fg", "aabbccddeeff00", "", "aa:bb:cc:dd:ee:ff:00"]
)
def test_parse_mac_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mac(text)


@pytest.mark.parametrize("text", ["300.1.1.1", "example.com", "", "1.2.3"])
def test_parse_ip_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ip(text)
