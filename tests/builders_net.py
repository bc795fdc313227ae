"""Byte builders for link/IP/TCP/UDP headers and a recording session for flow tests.

Checksums are left at zero: the decoder ignores them, as it must for captures taken on
hosts with checksum offloading.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from phonehome.model.frame import ACK, FIN, PSH, RST, SYN, Frame, Packet
from phonehome.model.message import RawPayload
from phonehome.protocols.base import Parsed

__all__ = ["ACK", "FIN", "PSH", "RST", "SYN"]

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
IP_A = bytes([192, 168, 1, 10])
IP_B = bytes([93, 184, 216, 34])
IP6_A = bytes.fromhex("fe800000000000000000000000000001")
IP6_B = bytes.fromhex("2a0014500000000000000000000000aa")


def tcp(
    sport: int = 40000,
    dport: int = 80,
    seq: int = 1000,
    ack: int = 0,
    flags: int = ACK,
    payload: bytes = b"",
    options: bytes = b"",
) -> bytes:
    doff = (20 + len(options)) // 4
    return (
        struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, 0, 0)
        + options
        + payload
    )


def udp(
    sport: int = 40000, dport: int = 53, payload: bytes = b"", length: int | None = None
) -> bytes:
    n = 8 + len(payload) if length is None else length
    return struct.pack("!HHHH", sport, dport, n, 0) + payload


def ipv4(
    l4: bytes,
    proto: int = 6,
    src: bytes = IP_A,
    dst: bytes = IP_B,
    ident: int = 1,
    frag: int = 0,
    total: int | None = None,
    options: bytes = b"",
) -> bytes:
    """``frag`` is the raw flags+offset field (0x2000 = MF, offset in 8-byte units)."""
    ihl = 5 + len(options) // 4
    tot = ihl * 4 + len(l4) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, ident, frag, 64, proto, 0, src, dst)
    return hdr + options + l4


def ipv4_fragments(
    l4: bytes, sizes: list[int], proto: int = 6, ident: int = 7, **kw: bytes
) -> list[bytes]:
    """Split a transport segment into IPv4 fragments of the given sizes (multiples of 8)."""
    out = []
    off = 0
    for i, n in enumerate(sizes):
        last = i == len(sizes) - 1
        chunk = l4[off:] if last else l4[off : off + n]
        frag = (0 if last else 0x2000) | (off // 8)
        out.append(ipv4(chunk, proto, ident=ident, frag=frag, **kw))
        off += n
    return out


def ipv6(
    l4: bytes, nh: int = 6, src: bytes = IP6_A, dst: bytes = IP6_B, plen: int | None = None
) -> bytes:
    n = len(l4) if plen is None else plen
    return struct.pack("!IHBB16s16s", 6 << 28, n, nh, 64, src, dst) + l4


def v6_ext(nh: int, body: bytes = b"\0" * 6) -> bytes:
    """Hop-by-hop / routing / destination options header (body padded to 8n - 2)."""
    assert (len(body) + 2) % 8 == 0
    return bytes([nh, (len(body) + 2) // 8 - 1]) + body


def v6_frag(nh: int, offset: int, more: bool, ident: int) -> bytes:
    return struct.pack("!BBHI", nh, 0, offset | int(more), ident)


def ether(payload: bytes, etype: int | None = None, vlans: tuple[int, ...] = (),
          src: bytes = MAC_A, dst: bytes = MAC_B) -> bytes:  # fmt: skip
    """``vlans``: TPIDs of the tags to insert, outermost first (each with VLAN id 5)."""
    if etype is None:
        etype = 0x0800 if payload[0] >> 4 == 4 else 0x86DD
    tags = b"".join(struct.pack("!HH", tpid, 5) for tpid in vlans)
    return dst + src + tags + struct.pack("!H", etype) + payload


def sll(payload: bytes, proto: int = 0x0800, pkttype: int = 4, mac: bytes = MAC_A) -> bytes:
    return struct.pack("!HHH8sH", pkttype, 1, 6, mac + b"\0\0", proto) + payload


def sll2(payload: bytes, proto: int = 0x0800, pkttype: int = 4, mac: bytes = MAC_A) -> bytes:
    return struct.pack("!HHIHBB8s", proto, 0, 3, 1, pkttype, 6, mac + b"\0\0") + payload


def null(payload: bytes, af: int, order: str = "<") -> bytes:
    return struct.pack(order + "I", af) + payload


def frame(data: bytes, linktype: int = 1, number: int = 1, ts: float = 1.0,
          wirelen: int | None = None, uid: int | None = None) -> Frame:  # fmt: skip
    return Frame(number, ts, linktype, data, len(data) if wirelen is None else wirelen, uid=uid)


def pcap(frames: list[bytes], linktype: int) -> bytes:
    """A little-endian pcap file, one frame per second, for tshark cross-checks."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f)
    return b"".join(out)


# --- packets for the flow table --------------------------------------------------------


class PacketMaker:
    """Builds TCP/UDP packets of one conversation with increasing frame numbers."""

    def __init__(self, client: bytes = IP_A, server: bytes = IP_B, cport: int = 40000,
                 sport: int = 80, proto: int = 6, ts: float = 1000.0) -> None:  # fmt: skip
        self.client, self.server, self.cport, self.sport = client, server, cport, sport
        self.proto = proto
        self.ts = ts
        self.number = 0

    def __call__(self, from_client: bool, payload: bytes = b"", seq: int = 0, ack: int = 0,
                 flags: int = ACK, dt: float = 0.001, **kw: object) -> Packet:  # fmt: skip
        self.number += 1
        self.ts += dt
        if from_client:
            src, dst, sp, dp = self.client, self.server, self.cport, self.sport
        else:
            src, dst, sp, dp = self.server, self.client, self.sport, self.cport
        flags = flags if self.proto == 6 else 0
        return Packet(self.number, self.ts, src, dst, self.proto, sp, dp, payload, seq, ack,
                      flags, **kw)  # type: ignore[arg-type]  # fmt: skip


@dataclass
class RecordingSession:
    """Records what the flow table fed it; returns one Parsed per data call."""

    events: list[tuple[object, ...]] = field(default_factory=list)
    done: bool = False
    done_after: int | None = None  # become done after this many data calls

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        self.events.append(("data", from_client, data, frame))
        if self.done_after is not None and self.count("data") >= self.done_after:
            self.done = True
        return [Parsed(from_client, time, frame, RawPayload(data))]

    def gap(self, from_client: bool, size: int) -> None:
        self.events.append(("gap", from_client, size))

    def close(self) -> list[Parsed]:
        self.events.append(("close",))
        return []

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e[0] == kind)

    def stream(self, from_client: bool) -> bytes:
        """Delivered bytes of one direction, gaps as ``?`` runs."""
        out = b""
        for e in self.events:
            if e[0] == "data" and e[1] == from_client:
                out += e[2]  # type: ignore[operator]
            elif e[0] == "gap" and e[1] == from_client:
                out += b"?" * e[2]  # type: ignore[operator]
        return out
