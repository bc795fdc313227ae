"""The IPv4 fast path (no options, not fragmented, TCP or UDP) equals the general decoder."""

from __future__ import annotations

import inspect

import pytest

from phonehome.context import Context
from phonehome.model.frame import Packet
from phonehome.net.ip import IpDecoder

from .builders_net import MAC_A, MAC_B, frame, ipv4, tcp, udp

DNS = b"\x12\x34\x01\x00\x00\x01" + bytes(6) + b"\x01a\x00\x00\x01\x00\x01"

# Every constructor parameter is the attribute of that name (compiled classes have no
# __slots__ to list them).
FIELDS = tuple(inspect.signature(Packet).parameters)

CASES = {
    "udp": (ipv4(udp(payload=DNS), 17), True),
    "udp, empty payload, padded frame": (ipv4(udp(payload=b""), 17) + bytes(20), True),
    "udp padded by ethernet": (ipv4(udp(payload=DNS), 17) + bytes(6), True),
    "udp length 0": (ipv4(udp(payload=DNS, length=0), 17), False),
    "udp length 4": (ipv4(udp(payload=DNS, length=4), 17), False),
    "udp length beyond datagram": (ipv4(udp(payload=DNS, length=200), 17), False),
    "udp total length 0 (TSO)": (ipv4(udp(payload=DNS), 17, total=0), False),
    "udp datagram cut": (ipv4(udp(payload=DNS), 17)[:-3], False),
    "udp with IP options": (ipv4(udp(payload=DNS), 17, options=b"\x01\x01\x01\x00"), False),
    "udp fragment": (ipv4(udp(payload=DNS), 17, frag=0x2000), False),
    "tcp": (ipv4(tcp(payload=b"GET / HTTP/1.1\r\n\r\n")), True),
    "tcp bare ack": (ipv4(tcp()), True),
    "tcp options": (ipv4(tcp(payload=b"x", options=b"\x01\x01\x01\x01")), True),
    "tcp data offset 4": (ipv4(tcp(payload=b"x" * 30))[:32] + b"\x40" + bytes(27), False),
    "icmp": (ipv4(bytes(30), 1), False),
}


@pytest.mark.parametrize(("data", "fast"), list(CASES.values()), ids=list(CASES))
def test_fast_path_equals_general_decoder(data: bytes, fast: bool) -> None:
    ctx_fast, ctx_slow = Context(), Context()
    f = frame(data, linktype=228, number=7, ts=12.5, uid=1000)
    decoder = IpDecoder(ctx_fast)
    got = decoder.ipv4(data, 0, f, MAC_A, MAC_B)
    # The common shapes must not reach the general decoder at all.
    assert decoder.general_ipv4 == (0 if fast else 1)
    want = IpDecoder(ctx_slow)._ipv4(data, 0, f, MAC_A, MAC_B)

    def fields(p: Packet | None) -> object:
        return None if p is None else tuple(getattr(p, s) for s in FIELDS)

    assert fields(got) == fields(want)
    assert ctx_fast.anomalies.counts == ctx_slow.anomalies.counts
