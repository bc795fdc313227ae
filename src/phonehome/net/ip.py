"""IPv4/IPv6 headers, fragment reassembly and the TCP/UDP header: bytes -> Packet.

Checksums are not verified: captures taken on the sending host carry the zeros or
garbage left by checksum offloading, and a leak is a leak whatever the checksum says.
An IPv4 total length of 0 is taken as "rest of the frame" for the same reason (TCP
segmentation offload). Bytes after the IP datagram (Ethernet padding) are dropped so they
never end up in a stream.
"""

from __future__ import annotations

import struct
from typing import Final

from phonehome.context import Context
from phonehome.model.frame import Frame, Packet
from phonehome.net.tunnel import (
    IPPROTO_GRE,
    IPPROTO_IPIP,
    IPPROTO_IPV6,
    NOT_TUNNEL,
    Decapsulator,
    udp_tunnel_port,
)

TCP: Final = 6
UDP: Final = 17

_unpack_v4: Final = struct.Struct("!BBHHHBBH4s4s").unpack_from
# Version/IHL, total length, flags+offset, protocol, addresses, then the TCP ports,
# sequence, acknowledgement and offset+flags: the common packet in one call.
_unpack_v4_tcp: Final = struct.Struct("!BxHxxHxB2x4s4sHHIIH").unpack_from
_unpack_tcp: Final = struct.Struct("!HHIIH").unpack_from
_unpack_udp: Final = struct.Struct("!HHH").unpack_from
_unpack_h: Final = struct.Struct("!H").unpack_from
_unpack_v6frag: Final = struct.Struct("!BxHI").unpack_from

# IPv6 extension headers walked with the generic (length + 1) * 8 rule.
_V6_EXT: Final = frozenset((0, 43, 60, 135, 139, 140))
_V6_FRAGMENT: Final = 44
_V6_AH: Final = 51
MAX_V6_EXT_HEADERS: Final = 16

MAX_DATAGRAM: Final = 65_535


class _Datagram:
    """Fragments of one IP datagram collected so far."""

    __slots__ = ("bad", "end", "info", "parts", "size", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.parts: list[tuple[int, bytes]] = []
        self.size = 0
        self.end: int | None = None  # known once the last fragment (MF=0) arrived
        self.info = -1  # IPv4: protocol; IPv6: next header of the offset-0 fragment
        self.bad = False


class Defragmenter:
    """Reassembles IP datagrams, keyed by (src, dst, protocol or 0, id).

    Bounded three ways so a hostile capture cannot grow it: datagrams pending at once,
    bytes pending at once, and age in capture time. Overlapping fragments keep the bytes
    that arrived first (what the first receiver would most likely have accepted); when
    the overlapping bytes differ that is an evasion attempt or damage, counted as
    ``ip.fragment_overlap``.
    """

    def __init__(
        self,
        ctx: Context,
        *,
        max_datagrams: int = 1024,
        max_bytes: int = 16 << 20,
        timeout: float = 30.0,
    ) -> None:
        self._anomalies = ctx.anomalies
        self.max_datagrams = max_datagrams
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._pending: dict[tuple[bytes, bytes, int, int], _Datagram] = {}
        self._bytes = 0
        self.reassembled = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self,
        key: tuple[bytes, bytes, int, int],
        offset: int,
        data: bytes,
        more: bool,
        info: int,
        frame: Frame,
    ) -> tuple[int, bytes] | None:
        """Add one fragment; returns ``(info, payload)`` when the datagram is complete."""
        self._expire(frame)
        dg = self._pending.get(key)
        if dg is None:
            while self._pending and (
                len(self._pending) >= self.max_datagrams or self._bytes + len(data) > self.max_bytes
            ):
                old_key = next(iter(self._pending))
                self._drop(old_key, "ip.fragment_incomplete", frame, "pending cap reached")
            dg = _Datagram(frame.ts)
            self._pending[key] = dg
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            self._drop(key, "ip.fragment_oversized", frame, f"fragment ends at {end}")
            return None
        if not more:
            if dg.end is not None and dg.end != end:
                self._anomalies.add(
                    "ip.fragment_overlap",
                    frame.input,
                    frame.number,
                    f"two last fragments end at {dg.end} and {end}",
                )
                return None
            dg.end = end
        if dg.end is not None and end > dg.end:
            self._anomalies.add(
                "ip.fragment_overlap",
                frame.input,
                frame.number,
                f"fragment ends at {end}, after the datagram end {dg.end}",
            )
            return None
        for o, d in dg.parts:
            lo = max(o, offset)
            hi = min(o + len(d), end)
            if lo < hi and d[lo - o : hi - o] != data[lo - offset : hi - offset]:
                self._anomalies.add(
                    "ip.fragment_overlap",
                    frame.input,
                    frame.number,
                    f"bytes {lo}..{hi} differ; first received kept",
                )
                break
        if offset == 0:
            dg.info = info
        dg.parts.append((offset, data))
        dg.size += len(data)
        self._bytes += len(data)
        if dg.end is None or dg.info < 0 or not _covers(dg.parts, dg.end):
            return None
        del self._pending[key]
        self._bytes -= dg.size
        buf = bytearray(dg.end)
        for o, d in reversed(dg.parts):  # earlier arrivals written last: first wins
            buf[o : o + len(d)] = d
        self.reassembled += 1
        return dg.info, bytes(buf)

    def flush(self, frame: Frame | None = None) -> None:
        """End of input: whatever is still incomplete is reported and dropped."""
        for key in list(self._pending):
            self._drop(key, "ip.fragment_incomplete", frame, "end of input")

    def _expire(self, frame: Frame) -> None:
        if not self._pending:
            return
        limit = frame.ts - self.timeout
        while self._pending:
            key, dg = next(iter(self._pending.items()))
            if dg.start >= limit:
                break
            self._drop(key, "ip.fragment_incomplete", frame, "timed out")

    def _drop(
        self, key: tuple[bytes, bytes, int, int], kind: str, frame: Frame | None, why: str
    ) -> None:
        dg = self._pending.pop(key)
        self._bytes -= dg.size
        self._anomalies.add(
            kind,
            frame.input if frame else 0,
            frame.number if frame else None,
            f"{why}; {len(dg.parts)} fragment(s), {dg.size} bytes",
        )


def _covers(parts: list[tuple[int, bytes]], end: int) -> bool:
    reach = 0
    for o, d in sorted(parts, key=lambda p: p[0]):
        if o > reach:
            return False
        reach = max(reach, o + len(d))
    return reach >= end


class IpDecoder:
    """IP layer and TCP/UDP header; see :class:`phonehome.net.link.Decoder` for the entry.

    ``other_transport`` counts datagrams that carry neither TCP nor UDP (ICMP, ESP, ...):
    routine, so a counter rather than an anomaly. ``general_ipv4`` counts IPv4 datagrams
    the fast path left to the general decoder (its tests read it). ``tunnels`` unwraps
    IP-in-IP, GRE and the UDP tunnels (GTP-U, VXLAN, ...) and comes back here for the
    inner packet (:mod:`phonehome.net.tunnel`).
    """

    def __init__(self, ctx: Context) -> None:
        self._anomalies = ctx.anomalies
        self.defrag = Defragmenter(ctx)
        self.other_transport = 0
        self.general_ipv4 = 0
        self.tunnels = Decapsulator(ctx, self)

    def _bad(self, kind: str, frame: Frame, detail: str) -> None:
        self._anomalies.add(kind, frame.input, frame.number, detail)

    def ipv4(
        self, data: bytes, off: int, frame: Frame, src_mac: bytes | None, dst_mac: bytes | None
    ) -> Packet | None:
        if len(data) >= off + 40:
            # Fast path: no options, not a fragment, TCP or UDP, nothing cut off. For UDP
            # the "sequence number" holds the UDP length (upper 16 bits) and checksum.
            vihl, total, frag, proto, src, dst, sport, dport, seq, ack, offflags = _unpack_v4_tcp(
                data, off
            )
            if vihl == 0x45 and not frag & 0x3FFF:
                end = off + total
                if proto == TCP:
                    start = off + 20 + (offflags >> 12) * 4
                    if offflags >= 0x5000 and start <= end <= len(data):
                        return Packet(
                            frame.number,
                            frame.ts,
                            src,
                            dst,
                            TCP,
                            sport,
                            dport,
                            data[start:end],
                            seq,
                            ack,
                            offflags & 0xFF,
                            src_mac,
                            dst_mac,
                            frame.uid,
                            frame.input,
                            False,
                        )
                elif proto == UDP:
                    start = off + 20
                    ulen = seq >> 16
                    if ulen >= 8 and start + ulen <= end <= len(data):
                        if udp_tunnel_port(sport, dport):
                            res = self.tunnels.udp(
                                data, start + 8, start + ulen, sport, dport, src, dst, frame, False
                            )
                            if res is not NOT_TUNNEL:
                                return res
                        return Packet(
                            frame.number,
                            frame.ts,
                            src,
                            dst,
                            UDP,
                            sport,
                            dport,
                            data[start + 8 : start + ulen],
                            0,
                            0,
                            0,
                            src_mac,
                            dst_mac,
                            frame.uid,
                            frame.input,
                            False,
                        )
        return self._ipv4(data, off, frame, src_mac, dst_mac)

    def _ipv4(
        self, data: bytes, off: int, frame: Frame, src_mac: bytes | None, dst_mac: bytes | None
    ) -> Packet | None:
        self.general_ipv4 += 1
        avail = len(data)
        if avail - off < 20:
            self._bad("ipv4.bad_header", frame, f"{avail - off} bytes, header needs 20")
            return None
        vihl, _tos, total, ident, frag, _ttl, proto, _ck, src, dst = _unpack_v4(data, off)
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or ihl < 20:
            self._bad("ipv4.bad_header", frame, f"version/IHL byte 0x{vihl:02x}")
            return None
        if off + ihl > avail:
            self._bad("ipv4.bad_header", frame, "options cut off")
            return None
        truncated = False
        if total == 0:  # TSO: the NIC fills the length in later
            end = avail
        else:
            if total < ihl:
                self._bad("ipv4.bad_header", frame, f"total length {total} < IHL {ihl}")
                return None
            end = off + total
            if end > avail:
                if frame.wirelen <= frame.caplen:
                    self._bad("ipv4.bad_length", frame, f"total length {total} > frame")
                truncated = True
                end = avail
        start = off + ihl
        if frag & 0x3FFF:  # MF set or offset non-zero
            if truncated:
                self._bad("ip.fragment_truncated", frame, "fragment cut by snaplen; dropped")
                return None
            done = self.defrag.add(
                (src, dst, proto, ident),
                (frag & 0x1FFF) * 8,
                data[start:end],
                bool(frag & 0x2000),
                proto,
                frame,
            )
            if done is None:
                return None
            data = done[1]
            start, end = 0, len(data)
        return self.transport(data, start, end, proto, src, dst, frame, src_mac, dst_mac, truncated)

    def ipv6(
        self, data: bytes, off: int, frame: Frame, src_mac: bytes | None, dst_mac: bytes | None
    ) -> Packet | None:
        avail = len(data)
        if avail - off < 40:
            self._bad("ipv6.bad_header", frame, f"{avail - off} bytes, header needs 40")
            return None
        if data[off] >> 4 != 6:
            self._bad("ipv6.bad_header", frame, f"version {data[off] >> 4}")
            return None
        plen = _unpack_h(data, off + 4)[0]
        nh = data[off + 6]
        src = data[off + 8 : off + 24]
        dst = data[off + 24 : off + 40]
        start = off + 40
        truncated = False
        if plen == 0:  # jumbogram or TSO
            end = avail
        else:
            end = start + plen
            if end > avail:
                if frame.wirelen <= frame.caplen:
                    self._bad("ipv6.bad_length", frame, f"payload length {plen} > frame")
                truncated = True
                end = avail
        defragmented = False
        for _ in range(MAX_V6_EXT_HEADERS):
            if nh in (TCP, UDP):
                return self.transport(
                    data, start, end, nh, src, dst, frame, src_mac, dst_mac, truncated
                )
            if nh in _V6_EXT or nh == _V6_AH:
                if start + 8 > end:
                    self._bad("ipv6.bad_header", frame, f"extension header {nh} cut off")
                    return None
                hlen = (data[start + 1] + 2) * 4 if nh == _V6_AH else (data[start + 1] + 1) * 8
                nh = data[start]
                start += hlen
                if start > end:
                    self._bad("ipv6.bad_header", frame, "extension header beyond payload")
                    return None
            elif nh == _V6_FRAGMENT:
                if start + 8 > end:
                    self._bad("ipv6.bad_header", frame, "fragment header cut off")
                    return None
                if defragmented:
                    self._bad("ipv6.bad_header", frame, "nested fragment header")
                    return None
                nxt, offm, ident = _unpack_v6frag(data, start)
                start += 8
                if offm == 0 and nxt != _V6_FRAGMENT:  # atomic fragment (RFC 6946)
                    nh = nxt
                    continue
                if truncated:
                    self._bad("ip.fragment_truncated", frame, "fragment cut by snaplen; dropped")
                    return None
                done = self.defrag.add(
                    (src, dst, 0, ident),
                    offm & 0xFFF8,
                    data[start:end],
                    bool(offm & 1),
                    nxt,
                    frame,
                )
                if done is None:
                    return None
                nh, data = done
                start, end = 0, len(data)
                defragmented = True
            elif nh in (IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE):
                return self.tunnels.ip_proto(nh, data, start, end, src, dst, frame)
            else:  # ESP (50), no next header (59), ICMPv6 (58), ...
                self.other_transport += 1
                return None
        self._bad("ipv6.bad_header", frame, "too many extension headers")
        return None

    def transport(
        self,
        data: bytes,
        start: int,
        end: int,
        proto: int,
        src: bytes,
        dst: bytes,
        frame: Frame,
        src_mac: bytes | None,
        dst_mac: bytes | None,
        truncated: bool,
    ) -> Packet | None:
        if proto == TCP:
            if end - start < 20:
                self._bad("tcp.bad_header", frame, f"{end - start} bytes, header needs 20")
                return None
            sport, dport, seq, ack, offflags = _unpack_tcp(data, start)
            doff = (offflags >> 12) * 4
            if doff < 20:
                self._bad("tcp.bad_header", frame, f"data offset {doff}")
                return None
            if start + doff > end:
                self._bad("tcp.bad_header", frame, "options cut off")
                return None
            return Packet(
                frame.number,
                frame.ts,
                src,
                dst,
                TCP,
                sport,
                dport,
                data[start + doff : end],
                seq,
                ack,
                offflags & 0xFF,
                src_mac,
                dst_mac,
                frame.uid,
                frame.input,
                truncated,
            )
        if proto == UDP:
            if end - start < 8:
                self._bad("udp.bad_header", frame, f"{end - start} bytes, header needs 8")
                return None
            sport, dport, ulen = _unpack_udp(data, start)
            if ulen:
                if ulen < 8:
                    self._bad("udp.bad_header", frame, f"length {ulen}")
                    return None
                if start + ulen <= end:
                    end = start + ulen
                elif not truncated:
                    self._bad("udp.bad_length", frame, f"length {ulen} > IP payload")
                    truncated = True
            if udp_tunnel_port(sport, dport):
                res = self.tunnels.udp(
                    data, start + 8, end, sport, dport, src, dst, frame, truncated
                )
                if res is not NOT_TUNNEL:
                    return res
            return Packet(
                frame.number,
                frame.ts,
                src,
                dst,
                UDP,
                sport,
                dport,
                data[start + 8 : end],
                0,
                0,
                0,
                src_mac,
                dst_mac,
                frame.uid,
                frame.input,
                truncated,
            )
        if proto in (IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE):
            return self.tunnels.ip_proto(proto, data, start, end, src, dst, frame)
        self.other_transport += 1
        return None
