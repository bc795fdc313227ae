"""Community ID v1 flow hashes.

Zeek, Suricata, Arkime and Wireshark can all print this hash for a flow, so putting it
next to our findings lets a user pivot from a phonehome report to the same connection in
their other tools. Specification: github.com/corelight/community-id-spec.

Compiled with the packet core (:mod:`phonehome.native`): a scan hashes the flow of every
occurrence it keeps as evidence, and on leak-dense traffic, where most connections carry
a finding, that was a tenth of the aggregation.
"""

from __future__ import annotations

import binascii
import hashlib
import struct
from functools import lru_cache

from phonehome.net.addr import parse_ip

_PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}


@lru_cache(maxsize=4096)
def community_id(
    transport: str, src_ip: str, sport: int, dst_ip: str, dport: int, seed: int = 0
) -> str:
    """``"1:" + base64(sha1(seed, ordered endpoints, proto, ports))`` for a port-based flow.

    Remembered for recent flows: the scan's evidence asks once per occurrence of every
    finding (up to ``findings.KEEP`` each), mostly for the same few flows, and parsing
    the two addresses is most of the cost.

    The endpoints are put in a canonical order (smaller address first, or smaller port
    when the addresses are equal) so both directions of a flow give the same hash.
    """
    proto = _PROTOCOLS.get(transport.lower())
    if proto is None:
        raise ValueError(f"community id: unsupported transport {transport!r}")
    a = parse_ip(src_ip)
    b = parse_ip(dst_ip)
    if len(a) != len(b):
        raise ValueError("community id: mixed IPv4 and IPv6 endpoints")
    if not 0 <= sport <= 0xFFFF or not 0 <= dport <= 0xFFFF or not 0 <= seed <= 0xFFFF:
        raise ValueError("community id: port or seed out of range")
    if (b, dport) < (a, sport):
        a, b, sport, dport = b, a, dport, sport
    data = struct.pack("!H", seed) + a + b + struct.pack("!BBHH", proto, 0, sport, dport)
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    return "1:" + binascii.b2a_base64(digest, newline=False).decode("ascii")
