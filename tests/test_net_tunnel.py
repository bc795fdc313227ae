"""Decapsulation (net/tunnel.py): every tunnel kind down to the phone's own packet.

Hand-built headers from the specifications (tests/builders_tunnel.py): the valid forms
and their variants, traffic on tunnel ports that is not a tunnel, and damaged headers,
which are anomalies and leave the outer packet as it was before tunnels were read.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.context import Context
from phonehome.model.frame import Packet
from phonehome.net.link import Decoder
from phonehome.net.tunnel import MAX_DEPTH
from tests.builders_net import IP6_A, IP6_B, MAC_A, MAC_B, ether, frame, ipv4, ipv6, tcp, udp
from tests.builders_tunnel import (
    HTTP_GET,
    OUTER_A,
    OUTER_B,
    PHONE,
    SERVER,
    capwap,
    dot11_data,
    erspan2,
    erspan3,
    geneve,
    gre,
    gtpu,
    inner_tcp,
    inner_udp,
    mpls,
    over_ip,
    over_udp,
    pppoe,
    pptp_gre,
    teredo,
    vxlan,
)

INNER = inner_tcp()
INNER6 = ipv6(tcp(40000, 80, 1000, 0, 0x18, HTTP_GET), 6, IP6_A, IP6_B)
PHONE_MAC = bytes.fromhex("2039565c7a13")
GW_MAC = bytes.fromhex("c80e14a291f0")
BSSID = bytes.fromhex("f09fc2112233")
INNER_FRAME = ether(INNER, src=PHONE_MAC, dst=GW_MAC)


def decode(data: bytes, wirelen: int | None = None) -> tuple[Decoder, Context, Packet | None]:
    ctx = Context()
    dec = Decoder(ctx)
    return dec, ctx, dec.decode(frame(data, 1, wirelen=wirelen))


def hops(pkt: Packet) -> list[tuple[str, bytes, bytes, tuple[int, ...]]]:
    return list(pkt.tunnel)


def is_inner_http(pkt: Packet | None, src: bytes = PHONE, dst: bytes = SERVER) -> bool:
    return (
        pkt is not None
        and (pkt.proto, pkt.src, pkt.dst, pkt.sport, pkt.dport) == (6, src, dst, 40000, 80)
        and pkt.payload == HTTP_GET
    )


A, B = OUTER_A, OUTER_B

VALID: list[tuple[str, bytes, list[tuple[str, bytes, bytes, tuple[int, ...]]]]] = [
    ("gtpu", over_udp(2152, gtpu(INNER)), [("gtpu", A, B, (0x11223344,))]),
    ("gtpu-seq", over_udp(2152, gtpu(INNER, seq=7)), [("gtpu", A, B, (0x11223344,))]),
    ("gtpu-npdu", over_udp(2152, gtpu(INNER, npdu=3)), [("gtpu", A, B, (0x11223344,))]),
    (
        "gtpu-extensions",
        over_udp(2152, gtpu(INNER, seq=1, exts=((0x85, b"\x10\x09"), (0x40, b"\0" * 6)))),
        [("gtpu", A, B, (0x11223344,))],
    ),
    ("gtpu-from-2152", over_udp(40001, gtpu(INNER), sport=2152), [("gtpu", A, B, (0x11223344,))]),
    (
        "gtpu-over-ipv6",
        over_udp(2152, gtpu(INNER), v6=True),
        [("gtpu", IP6_A, IP6_B, (0x11223344,))],
    ),
    ("vxlan", over_udp(4789, vxlan(INNER_FRAME)), [("vxlan", A, B, (5001,))]),
    ("vxlan-gbp", over_udp(4789, vxlan(INNER_FRAME, flags=0x88)), [("vxlan", A, B, (5001,))]),
    (
        "vxlan-inner-vlan",
        over_udp(4789, vxlan(ether(INNER, vlans=(0x8100,), src=PHONE_MAC, dst=GW_MAC))),
        [("vxlan", A, B, (5001,))],
    ),
    (
        "geneve-options",
        over_udp(6081, geneve(INNER_FRAME, options=((0x0102, 0x80, b"\0\0\0\x2a"), (1, 2, b"")))),
        [("geneve", A, B, (7001,))],
    ),
    ("geneve-ip", over_udp(6081, geneve(INNER, ptype=0x0800)), [("geneve", A, B, (7001,))]),
    ("gre", over_ip(47, gre(INNER)), [("gre", A, B, ())]),
    (
        "gre-key-seq-csum",
        over_ip(47, gre(INNER, key=100, seq=5, csum=True)),
        [("gre", A, B, (100,))],
    ),
    ("gre-over-ipv6", over_ip(47, gre(INNER, key=1), v6=True), [("gre", IP6_A, IP6_B, (1,))]),
    ("gre-teb", over_ip(47, gre(INNER_FRAME, 0x6558, key=7)), [("gre", A, B, (7,))]),
    (
        "pptp",
        over_ip(47, pptp_gre(b"\xff\x03\x00\x21" + INNER, ack=3)),
        [("pptp", A, B, (38992,))],
    ),
    ("pptp-acfc-pfc", over_ip(47, pptp_gre(b"\x21" + INNER, seq=None)), [("pptp", A, B, (38992,))]),
    ("erspan-ii", over_ip(47, erspan2(INNER_FRAME)), [("erspan", A, B, (0x2A,))]),
    ("erspan-iii", over_ip(47, erspan3(INNER_FRAME)), [("erspan", A, B, (0x33,))]),
    (
        "erspan-iii-sub",
        over_ip(47, erspan3(INNER_FRAME, subheader=True)),
        [("erspan", A, B, (0x33,))],
    ),
    ("erspan-i", over_ip(47, gre(INNER_FRAME, 0x88BE)), [("erspan", A, B, ())]),
    ("ipip", over_ip(4, INNER), [("ipip", A, B, ())]),
    ("4in6", over_ip(4, INNER, v6=True), [("4in6", IP6_A, IP6_B, ())]),
    ("teredo", over_udp(3544, teredo(INNER6)), [("teredo", A, B, ())]),
    ("teredo-origin", over_udp(3544, teredo(INNER6, origin=True)), [("teredo", A, B, ())]),
    ("teredo-auth", over_udp(3544, teredo(INNER6, auth=True, origin=True)), [("teredo", A, B, ())]),
    (
        "capwap-to-ds",
        over_udp(5247, capwap(dot11_data(INNER, PHONE_MAC, GW_MAC, BSSID))),
        [("capwap", A, B, (1,))],
    ),
    (
        "capwap-from-ds-swapped-fc",
        over_udp(
            5247,
            capwap(dot11_data(INNER, GW_MAC, PHONE_MAC, BSSID, to_ds=False, swapped=True), rid=2),
        ),
        [("capwap", A, B, (2,))],
    ),
    (
        "capwap-radio-mac-non-qos",
        over_udp(
            5247, capwap(dot11_data(INNER, PHONE_MAC, GW_MAC, BSSID, qos=False), radio_mac=BSSID)
        ),
        [("capwap", A, B, (1,))],
    ),
    ("capwap-802.3", over_udp(5247, capwap(INNER_FRAME, native=False)), [("capwap", A, B, (1,))]),
    ("mpls", ether(mpls(INNER), 0x8847), [("mpls", MAC_A, MAC_B, (16, 3001))]),
    (
        "mpls-pw-control-word",
        ether(mpls(b"\0\0\0\x01" + INNER_FRAME, (17,)), 0x8847),
        [("mpls", MAC_A, MAC_B, (17,))],
    ),
    ("mpls-pw-no-cw", ether(mpls(INNER_FRAME, (18,)), 0x8847), [("mpls", MAC_A, MAC_B, (18,))]),
    (
        "mpls-in-gre",
        over_ip(47, gre(mpls(INNER), 0x8847)),
        [("gre", A, B, ()), ("mpls", b"", b"", (16, 3001))],
    ),
    (
        "mpls-after-vlan",
        ether(mpls(INNER, (99,)), 0x8847, vlans=(0x8100,)),
        [("mpls", MAC_A, MAC_B, (99,))],
    ),
    ("pppoe", ether(pppoe(INNER), 0x8864), [("pppoe", MAC_A, MAC_B, (0x0A,))]),
    (
        "gtpu-in-gre",
        over_ip(47, gre(ipv4(udp(2152, 2152, gtpu(INNER, teid=9)), 17, B, A), key=5)),
        [("gre", A, B, (5,)), ("gtpu", B, A, (9,))],
    ),
    (
        "vxlan-in-gtpu",
        over_udp(2152, gtpu(ipv4(udp(50000, 4789, vxlan(INNER_FRAME, vni=3)), 17, B, A))),
        [("gtpu", A, B, (0x11223344,)), ("vxlan", B, A, (3,))],
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), VALID, ids=[v[0] for v in VALID])
def test_inner_packet_and_its_tunnel(
    name: str, data: bytes, expected: list[tuple[str, bytes, bytes, tuple[int, ...]]]
) -> None:
    dec, ctx, pkt = decode(data)
    assert not ctx.anomalies.counts, ctx.anomalies.samples
    if name == "teredo" or name.startswith("teredo-"):
        assert is_inner_http(pkt, IP6_A, IP6_B)
    else:
        assert is_inner_http(pkt), pkt and (pkt.src, pkt.dst, pkt.payload)
    assert pkt is not None and hops(pkt) == expected
    for hop in expected:
        assert dec.ip.tunnels.decapsulated.get(hop[0], 0) >= 1


@pytest.mark.parametrize(
    ("data", "src_mac", "dst_mac"),
    [
        (over_udp(4789, vxlan(INNER_FRAME)), PHONE_MAC, GW_MAC),
        (over_udp(5247, capwap(dot11_data(INNER, PHONE_MAC, GW_MAC, BSSID))), PHONE_MAC, GW_MAC),
        (
            over_udp(5247, capwap(dot11_data(INNER, GW_MAC, PHONE_MAC, BSSID, to_ds=False))),
            GW_MAC,
            PHONE_MAC,
        ),
        (over_udp(2152, gtpu(INNER)), None, None),  # no link layer inside: no MACs
        (ether(mpls(INNER), 0x8847), None, None),  # the label switch routers' MACs are not
        (ether(pppoe(INNER), 0x8864), MAC_A, MAC_B),  # the session's own link
    ],
    ids=["vxlan", "capwap-to-ds", "capwap-from-ds", "gtpu", "mpls", "pppoe"],
)
def test_inner_macs_are_the_inner_frames(
    data: bytes, src_mac: bytes | None, dst_mac: bytes | None
) -> None:
    _, _, pkt = decode(data)
    assert pkt is not None and (pkt.src_mac, pkt.dst_mac) == (src_mac, dst_mac)


def test_ip_in_ip_kinds_follow_outer_and_inner_versions() -> None:
    inner6 = ipv6(udp(1, 2, b"x"), 17, IP6_A, IP6_B)
    for data, kind in [
        (over_ip(4, INNER), "ipip"),
        (over_ip(41, inner6), "6in4"),
        (over_ip(4, INNER, v6=True), "4in6"),
        (over_ip(41, inner6, v6=True), "6in6"),
    ]:
        _, ctx, pkt = decode(data)
        assert pkt is not None and pkt.tunnel[0][0] == kind and not ctx.anomalies.counts


def test_nesting_up_to_the_limit_then_an_anomaly() -> None:
    deep = INNER
    for _ in range(MAX_DEPTH):
        deep = ipv4(deep, 4, OUTER_A, OUTER_B)
    _, ctx, pkt = decode(ether(deep))
    assert is_inner_http(pkt) and pkt is not None and len(pkt.tunnel) == MAX_DEPTH - 1 + 1
    _, ctx, pkt = decode(ether(ipv4(deep, 4, OUTER_A, OUTER_B)))
    assert pkt is None and ctx.anomalies.counts == {"tunnel.too_deep": 1}


def test_outer_fragments_are_reassembled_before_the_tunnel() -> None:
    seg = udp(2152, 2152, gtpu(inner_tcp(HTTP_GET * 40)))
    ctx = Context()
    dec = Decoder(ctx)
    first = ipv4(seg[:1480], 17, OUTER_A, OUTER_B, ident=9, frag=0x2000)
    second = ipv4(seg[1480:], 17, OUTER_A, OUTER_B, ident=9, frag=1480 // 8)
    assert dec.decode(frame(ether(first), 1, number=1)) is None
    pkt = dec.decode(frame(ether(second), 1, number=2))
    assert pkt is not None and pkt.payload == HTTP_GET * 40 and pkt.tunnel[0][0] == "gtpu"
    assert not ctx.anomalies.counts


def test_inner_fragments_are_reassembled_inside_the_tunnel() -> None:
    seg = udp(40000, 9999, b"z" * 2000)
    parts = [
        ipv4(seg[:1000], 17, PHONE, SERVER, ident=4, frag=0x2000),
        ipv4(seg[1000:], 17, PHONE, SERVER, ident=4, frag=1000 // 8),
    ]
    ctx = Context()
    dec = Decoder(ctx)
    out = [dec.decode(frame(over_udp(2152, gtpu(p)), 1, number=i)) for i, p in enumerate(parts)]
    assert out[0] is None and out[1] is not None and out[1].payload == b"z" * 2000
    assert out[1].tunnel[0][0] == "gtpu" and not ctx.anomalies.counts


def test_snaplen_cut_tunnel_gives_a_truncated_inner_packet_without_anomaly() -> None:
    data = over_udp(2152, gtpu(INNER))
    _, ctx, pkt = decode(data[:-10], wirelen=len(data))
    assert pkt is not None and pkt.truncated and pkt.tunnel and not ctx.anomalies.counts
    assert pkt.payload == HTTP_GET[:-10]


# --- not tunnels, signalling, encrypted -------------------------------------------------


@pytest.mark.parametrize(
    ("port", "payload"),
    [
        (2152, b"hello, not GTP"),
        (2152, gtpu(b"plain text, neither IP nor Ethernet")),  # a G-PDU of a non-IP PDU session
        (2152, bytes([0x30, 0x07]) + bytes(10)),  # GTP-U-looking, unknown message type
        (4789, b"\x00" * 30),  # no I flag
        (6081, b"\x40" + bytes(40)),  # version 1
        (6081, struct.pack("!BBHI", 0, 0, 0x1234, 0) + bytes(20)),  # unknown protocol type
        (3544, b"just some text that is not IPv6"),
        (3544, ipv6(b"x" * 10, 17)[:45] + b"trailing"),  # IPv6-looking, length disagrees
        (5247, b"\x10\x00\x00\x00 not CAPWAP"),
        (5247, b"\x01\x00\x00\x00 not DTLS at all"),
    ],
    ids=[
        "text",
        "gtpu-non-ip",
        "gtp-unknown-type",
        "vxlan-no-i",
        "geneve-v1",
        "geneve-proto",
        "teredo-text",
        "teredo-length",
        "capwap-version",
        "capwap-not-dtls",
    ],
)
def test_traffic_on_a_tunnel_port_that_is_no_tunnel_stays_udp(port: int, payload: bytes) -> None:
    _dec, ctx, pkt = decode(over_udp(port, payload))
    assert pkt is not None and pkt.proto == 17 and pkt.payload == payload and not pkt.tunnel
    assert pkt.dport == port and not ctx.anomalies.counts


@pytest.mark.parametrize(
    ("data", "counter"),
    [
        (over_udp(2152, gtpu(b"\x0e\x00", mtype=1)), "control"),  # echo request
        (over_udp(2152, gtpu(bytes(12), mtype=26)), "control"),  # error indication
        (over_udp(2152, gtpu(b"", mtype=254)), "control"),  # end marker
        (over_udp(2152, gtpu(b"")), "control"),  # a G-PDU with nothing in it
        (over_udp(5247, capwap(b"\0" * 8, keepalive=True)), "control"),
        (over_ip(47, pptp_gre(b"", seq=None, ack=5)), "control"),  # acknowledgement only
        (over_ip(47, pptp_gre(b"\xff\x03\xc0\x21" + bytes(10))), "control"),  # LCP
        (over_ip(47, pptp_gre(b"\xff\x03\x00\xfd" + bytes(10))), "encrypted"),  # MPPE
        (over_udp(5247, b"\x01\x00\x00\x00\x17\xfe\xfd" + bytes(20)), "encrypted"),  # DTLS
        (
            over_udp(5247, capwap(dot11_data(INNER, PHONE_MAC, GW_MAC, BSSID, protected=True))),
            "encrypted",
        ),
        (ether(mpls(b"\x10\0\0\0" + bytes(8)), 0x8847), "control"),  # G-ACh
        (ether(pppoe(bytes(10), ppp=0xC021), 0x8864), "non_ip"),  # LCP
        (over_udp(4789, vxlan(ether(bytes(28), 0x0806))), "non_ip"),  # ARP inside VXLAN
        (over_udp(5247, capwap(b"\x80\x00" + bytes(30))), "non_ip"),  # 802.11 beacon
    ],
    ids=[
        "gtp-echo",
        "gtp-error-indication",
        "gtp-end-marker",
        "gtp-empty",
        "capwap-keepalive",
        "pptp-ack",
        "pptp-lcp",
        "pptp-mppe",
        "capwap-dtls",
        "capwap-protected",
        "mpls-gach",
        "pppoe-lcp",
        "vxlan-arp",
        "capwap-beacon",
    ],
)
def test_signalling_and_unreadable_payloads_are_counted(data: bytes, counter: str) -> None:
    dec, ctx, pkt = decode(data)
    assert pkt is None and not ctx.anomalies.counts
    value = dec.non_ip if counter == "non_ip" else getattr(dec.ip.tunnels, counter)
    assert value == 1


# --- damaged headers --------------------------------------------------------------------

GTP_OK = gtpu(INNER)

DAMAGED: list[tuple[str, bytes, str, str]] = [
    # (name, frame, anomaly kind, what the outer becomes: "udp" packet or "other" transport)
    ("gtpu-short", over_udp(2152, b"\x30\xff\x00"), "tunnel.gtpu.truncated", "udp"),
    (
        "gtpu-length",
        over_udp(2152, gtpu(INNER, length=len(INNER) + 50)),
        "tunnel.gtpu.bad_length",
        "udp",
    ),
    (
        "gtpu-options-cut",
        over_udp(2152, struct.pack("!BBHI", 0x32, 255, 2, 1) + b"\0\0"),
        "tunnel.gtpu.truncated",
        "udp",
    ),
    (
        "gtpu-ext-zero",
        over_udp(
            2152, struct.pack("!BBHIHBB", 0x34, 255, 8 + 4, 1, 0, 0, 0x85) + b"\0\0\0\0" + bytes(4)
        ),
        "tunnel.gtpu.bad_extension",
        "udp",
    ),
    (
        "gtpu-ext-cut",
        over_udp(2152, struct.pack("!BBHIHBB", 0x34, 255, 4, 1, 0, 0, 0x85)),
        "tunnel.gtpu.bad_extension",
        "udp",
    ),
    (
        "gtpu-ext-long",
        over_udp(2152, struct.pack("!BBHIHBB", 0x34, 255, 8, 1, 0, 0, 0x85) + b"\x05\0\0\0"),
        "tunnel.gtpu.bad_extension",
        "udp",
    ),
    ("vxlan-short", over_udp(4789, vxlan(b"\0" * 6)), "tunnel.vxlan.truncated", "udp"),
    (
        "geneve-options-cut",
        over_udp(6081, geneve(INNER_FRAME, opt_words=40)[:30]),
        "tunnel.geneve.truncated",
        "udp",
    ),
    (
        "geneve-option-length",
        over_udp(6081, geneve(INNER_FRAME, options=((1, 1, b"\0" * 8),), opt_words=2)),
        "tunnel.geneve.bad_option",
        "udp",
    ),
    (
        "geneve-ip-not-ip",
        over_udp(6081, geneve(b"\x00" * 40, ptype=0x0800)),
        "tunnel.geneve.bad_inner",
        "udp",
    ),
    ("gre-short", over_ip(47, b"\0\0"), "tunnel.gre.truncated", "other"),
    ("gre-key-cut", over_ip(47, gre(b"", key=1)[:6]), "tunnel.gre.truncated", "other"),
    ("gre-routing", over_ip(47, gre(INNER, flags_extra=0x4000)), "tunnel.gre.unsupported", "other"),
    ("gre-version-2", over_ip(47, gre(INNER, flags_extra=2)), "tunnel.gre.bad_header", "other"),
    (
        "gre-v1-not-ppp",
        over_ip(47, gre(INNER, key=1, flags_extra=1)),
        "tunnel.gre.bad_header",
        "other",
    ),
    ("gre-ip-not-ip", over_ip(47, gre(b"\x00" * 30)), "tunnel.gre.bad_inner", "other"),
    (
        "pptp-ppp-not-ip",
        over_ip(47, pptp_gre(b"\xff\x03\x00\x21" + b"\x99" * 30)),
        "tunnel.pptp.bad_inner",
        "none",
    ),
    ("pptp-ppp-cut", over_ip(47, pptp_gre(b"\xff\x03")), "tunnel.pptp.truncated", "none"),
    (
        "erspan-ii-cut",
        over_ip(47, gre(b"\x10\x00", 0x88BE, seq=1)),
        "tunnel.erspan.bad_header",
        "other",
    ),
    (
        "erspan-iii-version",
        over_ip(47, gre(bytes(30), 0x22EB, seq=1)),
        "tunnel.erspan.bad_header",
        "other",
    ),
    ("ipip-not-v4", over_ip(4, INNER6), "tunnel.ipip.bad_inner", "other"),
    ("6in4-empty", over_ip(41, b""), "tunnel.6in4.bad_inner", "other"),
    (
        "teredo-origin-no-ipv6",
        over_udp(3544, teredo(b"Z, not IPv6 " * 6, origin=True)),
        "tunnel.teredo.bad_inner",
        "udp",
    ),
    (
        "teredo-origin-bad-length",
        over_udp(3544, teredo(INNER6 + b"xx", origin=True)),
        "tunnel.teredo.bad_length",
        "udp",
    ),
    ("capwap-hlen", over_udp(5247, capwap(b"", hlen=20)), "tunnel.capwap.bad_length", "udp"),
    (
        "capwap-fragment",
        over_udp(5247, capwap(INNER_FRAME, native=False, fragment=True)),
        "tunnel.capwap.fragment",
        "none",
    ),
    (
        "capwap-binding",
        over_udp(5247, capwap(INNER_FRAME, wbid=3)),
        "tunnel.capwap.bad_binding",
        "none",
    ),
    (
        "capwap-802.11-cut",
        over_udp(5247, capwap(b"\x08\x01" + bytes(10))),
        "tunnel.capwap.truncated",
        "none",
    ),
    (
        "capwap-802.11-version",
        over_udp(5247, capwap(b"\x09\x01" + bytes(40))),
        "tunnel.capwap.bad_inner",
        "none",
    ),
    (
        "capwap-amsdu",
        over_udp(
            5247, capwap(dot11_data(INNER, PHONE_MAC, GW_MAC, BSSID)[:24] + b"\x80\x00" + bytes(20))
        ),
        "tunnel.capwap.amsdu",
        "none",
    ),
    (
        "capwap-802.11-fragment",  # More Fragments set: one piece of an MSDU
        over_udp(
            5247,
            capwap(
                bytes([0x88, 0x05]) + dot11_data(INNER, PHONE_MAC, GW_MAC, BSSID)[2:],
            ),
        ),
        "tunnel.capwap.fragment",
        "none",
    ),
    (
        "capwap-snap-cut",
        over_udp(5247, capwap(dot11_data(INNER, PHONE_MAC, GW_MAC, BSSID)[:30])),
        "tunnel.capwap.truncated",
        "none",
    ),
    (
        "capwap-ether-cut",
        over_udp(5247, capwap(b"\0" * 10, native=False)),
        "tunnel.capwap.truncated",
        "none",
    ),
    ("mpls-no-bottom", ether(mpls(b"", bottom=False), 0x8847), "tunnel.mpls.truncated", "none"),
    (
        "mpls-too-many",
        ether(mpls(INNER, tuple(range(20, 40)), bottom=False), 0x8847),
        "tunnel.mpls.too_many_labels",
        "none",
    ),
    ("mpls-nothing-after", ether(mpls(b""), 0x8847), "tunnel.mpls.truncated", "none"),
    ("mpls-unknown-payload", ether(mpls(b"\x55" * 8), 0x8847), "tunnel.mpls.bad_inner", "none"),
    ("pppoe-cut", ether(b"\x11\x00\x00", 0x8864), "tunnel.pppoe.truncated", "none"),
    (
        "pppoe-discovery-code",
        ether(b"\x11\x09" + bytes(20), 0x8864),
        "tunnel.pppoe.bad_header",
        "none",
    ),
]


@pytest.mark.parametrize(("name", "data", "kind", "outer"), DAMAGED, ids=[d[0] for d in DAMAGED])
def test_damaged_tunnel_headers_are_anomalies_and_the_outer_stays(
    name: str, data: bytes, kind: str, outer: str
) -> None:
    dec, ctx, pkt = decode(data)
    assert ctx.anomalies.counts == {kind: 1}, ctx.anomalies.samples
    sample = ctx.anomalies.samples[0]
    assert sample.frame == 1 and sample.detail
    if outer == "udp":  # as before tunnels were read: a datagram to the tunnel port
        assert pkt is not None and pkt.proto == 17 and not pkt.tunnel
        assert (pkt.src, pkt.dst) == (OUTER_A, OUTER_B)
    elif outer == "other":  # an IP datagram of another transport
        assert pkt is None and dec.other_transport == 1
    else:
        assert pkt is None


# --- no input makes it raise ------------------------------------------------------------

PREFIXES = [
    b"",
    b"\x30\xff",
    b"\x34\xff",
    b"\x36\xff\x00\x10\x00\x00\x00\x01\x00\x00\x00\x85",
    b"\x08\x00\x00\x00\x00\x00\x01\x00",
    b"\x01\x00\x65\x58\x00\x00\x01\x00",
    b"\x00\x00",
    b"\x00\x01\x04\x04",
    b"\x00\x20\x43\x00\x00\x00\x00\x00",
    b"\x00\x10\x42\x10\x00\x00\x00\x00\x08\x01",
]


@settings(max_examples=300, deadline=None)
@given(
    port=st.sampled_from([2152, 3544, 4789, 5247, 6081]),
    prefix=st.sampled_from(PREFIXES),
    tail=st.binary(max_size=120),
)
def test_random_udp_tunnel_payloads_never_raise(port: int, prefix: bytes, tail: bytes) -> None:
    decode(over_udp(port, prefix + tail))


@settings(max_examples=300, deadline=None)
@given(
    proto=st.sampled_from([4, 41, 47]),
    prefix=st.sampled_from(
        [
            b"",
            b"\x00\x00\x08\x00",
            b"\x30\x00\x88\x47",
            b"\x20\x01\x88\x0b",
            b"\x10\x00\x88\xbe",
            b"\x00\x00\x65\x58",
            b"\x45",
            b"\x60",
        ]
    ),
    tail=st.binary(max_size=120),
    v6=st.booleans(),
)
def test_random_ip_tunnel_payloads_never_raise(
    proto: int, prefix: bytes, tail: bytes, v6: bool
) -> None:
    decode(over_ip(proto, prefix + tail, v6=v6))


@settings(max_examples=200, deadline=None)
@given(etype=st.sampled_from([0x8847, 0x8848, 0x8864]), tail=st.binary(max_size=120))
def test_random_link_tunnel_payloads_never_raise(etype: int, tail: bytes) -> None:
    decode(ether(tail, etype))


def test_inner_udp_payload_of_a_tunnel_is_itself_checked() -> None:
    """A tunnel inside a tunnel whose inner UDP is not that tunnel: ordinary inner UDP."""
    data = over_udp(2152, gtpu(inner_udp(b"just data", dport=4789)))
    _, ctx, pkt = decode(data)
    assert pkt is not None and pkt.payload == b"just data" and pkt.dport == 4789
    assert [h[0] for h in pkt.tunnel] == ["gtpu"] and not ctx.anomalies.counts
