"""Ethernet/IPv4/IPv6/TCP/UDP frames and a TCP connection builder for simulated captures.

The capture point is the phone itself (as with PCAPdroid or tcpdump on a rooted device):
frames the phone sends appear when sent, the server's frames when they arrive, so one
round trip separates a request from its ACK. Remote hosts are reached through the router,
so their frames carry the router's MAC.

Everything here runs per packet in the ``bench`` scenario, hence plain functions,
``struct.pack`` and a checksum done with one big-integer modulo instead of a word loop.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple, Protocol

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
PROTO_TCP = 6
PROTO_UDP = 17

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10

MTU = 1500


class Host(NamedTuple):
    """An address as seen on the capture's link: the next-hop MAC and the packed IP."""

    mac: bytes
    ip: bytes


class FrameSink(Protocol):
    """Where built frames go: a capture writer or a :class:`Trace` that sorts them first."""

    def emit(self, ts_us: int, frame: bytes) -> int: ...


class Trace:
    """Collects frames from overlapping activities and writes them in time order.

    Scenarios build one activity after another (a background flow, then an unlock), so
    frames arrive out of order; ``emit`` hands out a reference that ``frame_number``
    turns into the 1-based frame number once the trace is written.
    """

    def __init__(self) -> None:
        self._frames: list[tuple[int, int, bytes]] = []
        self._numbers: list[int] = []

    def emit(self, ts_us: int, frame: bytes) -> int:
        ref = len(self._frames)
        self._frames.append((ts_us, ref, frame))
        return ref

    def write_to(self, sink: FrameSink) -> None:
        self._numbers = [0] * len(self._frames)
        for ts_us, ref, frame in sorted(self._frames):
            self._numbers[ref] = sink.emit(ts_us, frame)

    def frame_number(self, ref: int) -> int:
        return self._numbers[ref]

    def timestamp(self, ref: int) -> int:
        return self._frames[ref][0]


def checksum(data: bytes) -> int:
    """Internet checksum (RFC 1071).

    The one's-complement sum of 16-bit words is congruent to the whole buffer read as one
    big-endian integer modulo 0xFFFF (since 0x10000 ≡ 1), which CPython computes in C.
    """
    if len(data) & 1:
        data += b"\0"
    n = int.from_bytes(data, "big") % 0xFFFF
    if n == 0:
        n = 0xFFFF if any(data) else 0
    return 0xFFFF - n


def _pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def ip_frame(
    src: Host, dst: Host, proto: int, segment: bytes, ident: int = 0, ttl: int = 64
) -> bytes:
    """Ethernet + IPv4 (DF set) or IPv6 header around a transport segment."""
    if len(src.ip) == 4:
        header = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(segment),
            ident & 0xFFFF,
            0x4000,
            ttl,
            proto,
            0,
            src.ip,
            dst.ip,
        )
        header = header[:10] + checksum(header).to_bytes(2, "big") + header[12:]
        return dst.mac + src.mac + b"\x08\x00" + header + segment
    header = struct.pack("!IHBB16s16s", 0x60000000, len(segment), proto, ttl, src.ip, dst.ip)
    return dst.mac + src.mac + b"\x86\xdd" + header + segment


def udp_frame(
    src: Host, dst: Host, sport: int, dport: int, payload: bytes, ident: int = 0
) -> bytes:
    length = 8 + len(payload)
    segment = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = checksum(_pseudo_header(src.ip, dst.ip, PROTO_UDP, length) + segment) or 0xFFFF
    segment = segment[:6] + csum.to_bytes(2, "big") + segment[8:]
    return ip_frame(src, dst, PROTO_UDP, segment, ident)


def tcp_frame(
    src: Host,
    dst: Host,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    *,
    window: int = 65535,
    options: bytes = b"",
    ident: int = 0,
) -> bytes:
    offset = (20 + len(options)) // 4
    header = (
        struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            offset << 4,
            flags,
            window,
            0,
            0,
        )
        + options
    )
    segment = header + payload
    csum = checksum(_pseudo_header(src.ip, dst.ip, PROTO_TCP, len(segment)) + segment)
    segment = segment[:16] + csum.to_bytes(2, "big") + segment[18:]
    return ip_frame(src, dst, PROTO_TCP, segment, ident)


def mss_for(ip: bytes) -> int:
    return MTU - (20 if len(ip) == 4 else 40) - 20


class TcpConnection:
    """One TCP connection between the device (client) and a server, built in time order.

    ``t_us`` is the capture clock; every method advances it. ``send`` splits data into
    MSS-sized segments (PSH on the last), and the receiver ACKs every second segment and
    the last one, as delayed ACK does, so tshark sees plausible bytes-in-flight.
    """

    def __init__(
        self,
        sink: FrameSink,
        client: Host,
        cport: int,
        server: Host,
        sport: int,
        t_us: int,
        *,
        rtt_us: int = 30_000,
        isn: tuple[int, int] = (1, 1),
        ident: int = 0,
    ) -> None:
        self.sink = sink
        self.client = client
        self.server = server
        self.cport = cport
        self.sport = sport
        self.t_us = t_us
        self.rtt_us = rtt_us
        self.mss = mss_for(client.ip)
        self.seq = [isn[0], isn[1]]  # next sequence number: [client, server]
        self._ident = [ident, (ident * 7 + 12345) & 0xFFFF]

    def _emit(
        self, from_client: bool, flags: int, payload: bytes = b"", options: bytes = b""
    ) -> int:
        i = 0 if from_client else 1
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sport, dport = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        ack = self.seq[1 - i] if flags & ACK else 0
        frame = tcp_frame(
            src,
            dst,
            sport,
            dport,
            self.seq[i],
            ack,
            flags,
            payload,
            options=options,
            ident=self._ident[i],
        )
        self._ident[i] = (self._ident[i] + 1) & 0xFFFF
        self.seq[i] = (self.seq[i] + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        return self.sink.emit(self.t_us, frame)

    def open(self) -> None:
        mss = struct.pack("!BBH", 2, 4, self.mss)
        self._emit(True, SYN, options=mss + b"\x01\x01\x04\x02")  # MSS, NOP, NOP, SACK-perm
        self.t_us += self.rtt_us
        self._emit(False, SYN | ACK, options=mss + b"\x01\x01\x04\x02")
        self.t_us += 80
        self._emit(True, ACK)
        self.t_us += 200

    def send(
        self,
        data: bytes,
        *,
        from_client: bool = True,
        gap_us: int = 40,
        resend: Callable[[], bool] | None = None,
    ) -> list[int]:
        """Send ``data`` in MSS-sized segments; returns the references of the data frames.

        ``resend`` is asked once per segment: True sends it a second time right after (a
        retransmission the capture sees twice, as when an ACK was lost)."""
        refs: list[int] = []
        mss = self.mss
        n = len(data)
        for k, start in enumerate(range(0, n, mss)):
            last = start + mss >= n
            flags = ACK | (PSH if last else 0)
            segment = data[start : start + mss]
            refs.append(self._emit(from_client, flags, segment))
            if resend is not None and resend():
                i = 0 if from_client else 1
                self.seq[i] = (self.seq[i] - len(segment)) & 0xFFFFFFFF
                self.t_us += 200
                self._emit(from_client, flags, segment)  # the first copy is the message's
            if k % 2 == 1 or last:
                # the receiver's ACK: immediate on the device, one RTT later from the server
                self.t_us += self.rtt_us if from_client else 60
                self._emit(not from_client, ACK)
                self.t_us += gap_us if from_client else 20
            else:
                self.t_us += gap_us
        return refs

    def wait(self, us: int) -> None:
        self.t_us += us

    def close(self, *, by_client: bool = True) -> None:
        self._emit(by_client, FIN | ACK)
        self.t_us += self.rtt_us if by_client else 100
        self._emit(not by_client, FIN | ACK)
        self.t_us += 100 if by_client else self.rtt_us
        self._emit(by_client, ACK)
        self.t_us += 100


class Lan:
    """The device's network: device addresses, the router (gateway and DNS resolver).

    Hands out ephemeral ports and IPv4 identification values so that flows built one
    after another never collide and stay deterministic.
    """

    def __init__(
        self,
        sink: FrameSink,
        device_mac: bytes,
        device_ip4: bytes,
        device_ip6: bytes,
        router_mac: bytes,
        router_ip4: bytes,
        router_ip6: bytes,
    ) -> None:
        self.sink = sink
        self.device4 = Host(device_mac, device_ip4)
        self.device6 = Host(device_mac, device_ip6)
        self.router4 = Host(router_mac, router_ip4)
        self.router6 = Host(router_mac, router_ip6)
        self._port = 40000
        self._ident = 1

    def device_for(self, ip: bytes) -> Host:
        return self.device4 if len(ip) == 4 else self.device6

    def remote(self, ip: bytes) -> Host:
        """A host beyond the router (or the router itself): frames use the router's MAC."""
        return Host(self.router4.mac, ip)

    def ephemeral_port(self) -> int:
        self._port = 40000 + (self._port - 40000 + 1) % 20000
        return self._port

    def ident(self) -> int:
        self._ident = (self._ident + 1) & 0xFFFF
        return self._ident

    def udp(
        self, t_us: int, from_device: bool, remote_ip: bytes, dport: int, sport: int, payload: bytes
    ) -> int:
        """One UDP datagram between the device and ``remote_ip``; ports as seen from the
        device (``sport`` is the device's port)."""
        dev, rem = self.device_for(remote_ip), self.remote(remote_ip)
        if from_device:
            frame = udp_frame(dev, rem, sport, dport, payload, self.ident())
        else:
            frame = udp_frame(rem, dev, dport, sport, payload, self.ident())
        return self.sink.emit(t_us, frame)

    def tcp(
        self,
        t_us: int,
        remote_ip: bytes,
        dport: int,
        *,
        rtt_us: int = 30_000,
        isn: tuple[int, int] = (1, 1),
    ) -> TcpConnection:
        return TcpConnection(
            self.sink,
            self.device_for(remote_ip),
            self.ephemeral_port(),
            self.remote(remote_ip),
            dport,
            t_us,
            rtt_us=rtt_us,
            isn=isn,
            ident=self.ident() * 131,
        )
