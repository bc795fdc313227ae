"""Per-packet records on the hot path.

These are slotted, mutable classes rather than frozen dataclasses: a 200 MB capture holds
hundreds of thousands of packets and object creation dominates the cost of a pure-Python
decoder. Addresses stay as packed bytes here; they become strings at the message level.
"""

from __future__ import annotations

from typing import Final

TunnelHop = tuple[str, bytes, bytes, tuple[int, ...]]
"""One decapsulated tunnel layer as the packet path keeps it: ``(kind, outer source, outer
destination, ids)``. The outer addresses are packed (4 or 16 bytes for IP, 6 for a MAC,
empty when the layer has none of its own); ``ids`` are the tunnel's identifiers in this
direction (GTP-U TEID, VNI, GRE key, MPLS label stack ...; see :mod:`phonehome.net.tunnel`).
A plain tuple: hashable and compared by value, so a stack of them is part of a flow key."""


class Frame:
    """One captured link-layer frame as read from a capture file.

    ``number`` is 1-based within its input (what Wireshark calls frame.number).
    ``uid`` is the app uid from a PCAPdroid trailer or ``u-<uid>`` comment, else None.
    """

    __slots__ = (
        "caplen",
        "comment",
        "data",
        "iface",
        "input",
        "linktype",
        "number",
        "ts",
        "uid",
        "wirelen",
    )

    def __init__(
        self,
        number: int,
        ts: float,
        linktype: int,
        data: bytes,
        wirelen: int,
        input: int = 0,
        iface: int = 0,
        uid: int | None = None,
        comment: str | None = None,
    ) -> None:
        self.number = number
        self.ts = ts
        self.linktype = linktype
        self.data = data
        self.caplen = len(data)
        self.wirelen = wirelen
        self.input = input
        self.iface = iface
        self.uid = uid
        self.comment = comment


class Packet:
    """A decoded IP packet carrying TCP or UDP (after link layer, IP and defragmentation).

    ``src``/``dst`` are packed addresses (4 or 16 bytes). ``payload`` is the transport
    payload. ``flags`` and ``seq`` are meaningful for TCP only. ``src_mac``/``dst_mac``
    are the Ethernet addresses when the link layer had them (used to pick the device).
    ``tunnel`` lists the tunnels the packet was carried in, outermost first (empty for
    the usual untunnelled packet); the addresses and ports are then the innermost ones.
    """

    __slots__ = (
        "ack",
        "dport",
        "dst",
        "dst_mac",
        "flags",
        "frame",
        "input",
        "payload",
        "proto",
        "seq",
        "sport",
        "src",
        "src_mac",
        "truncated",
        "ts",
        "tunnel",
        "uid",
    )

    def __init__(
        self,
        frame: int,
        ts: float,
        src: bytes,
        dst: bytes,
        proto: int,
        sport: int,
        dport: int,
        payload: bytes,
        seq: int = 0,
        ack: int = 0,
        flags: int = 0,
        src_mac: bytes | None = None,
        dst_mac: bytes | None = None,
        uid: int | None = None,
        input: int = 0,
        truncated: bool = False,
        tunnel: tuple[TunnelHop, ...] = (),
    ) -> None:
        self.frame = frame
        self.ts = ts
        self.src = src
        self.dst = dst
        self.proto = proto
        self.sport = sport
        self.dport = dport
        self.payload = payload
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.src_mac = src_mac
        self.dst_mac = dst_mac
        self.uid = uid
        self.input = input
        self.truncated = truncated
        self.tunnel = tunnel


# TCP flag bits
FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10


LinkFrame = tuple[Frame, bytes, bytes | None, bytes | None]
"""A frame of a link-layer protocol read beside IP (EAPOL): the frame, its payload after
the link header (and any VLAN tags), the source and destination MAC addresses (None
where not captured)."""
