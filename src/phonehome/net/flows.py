"""The flow table: packets -> per-flow sessions -> parsed messages.

One :class:`Flow` per TCP connection or UDP conversation, keyed by input and 5-tuple in
both orientations so each packet costs one dict lookup. Memory is bounded by the number
of live flows, never by the capture: flows expire after an idle time measured in capture
time, the table evicts the least recently active flow beyond ``max_flows``, and each TCP
direction buffers at most ``max_buffered_per_direction`` out-of-order bytes.

Which side is the client: the sender of a SYN (or the receiver of a SYN-ACK). Without
either, the side on a well-known service port, else the one on the higher port, else
the first sender. Which side is the device: see :meth:`FlowTable._device_is_client`.

A tunnelled packet's flow is its innermost 5-tuple *within its tunnels*: the key's last
element is then a scope id standing for ``(input, tunnel stack)`` instead of the input,
so two GTP-U tunnels carrying the same private addresses are two phones' flows. Tunnel
ids often differ by direction (a GTP-U TEID is chosen by the receiving end), so the
reverse direction is found under the predicted stack (endpoints swapped, same ids) or,
failing that, under a "loose" key without ids that the first packet of the other
direction binds to the flow (:meth:`FlowTable._tunnelled_flow`).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Final

from phonehome.context import Context
from phonehome.model.frame import ACK, FIN, RST, SYN, Packet, TunnelHop
from phonehome.net.addr import is_local, ntop
from phonehome.net.contracts import Parsed, ReaderFilter, Session
from phonehome.net.link import (
    ETH_IPV4,
    ETH_IPV6,
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    RAW_IP_LINKTYPES,
)
from phonehome.net.tcp import Event, Stream
from phonehome.net.tunnel import (
    GTP_GPDU,
    GTPU_PORT,
    MAX_GTP_EXTENSIONS,
    udp_tunnel_port,
)

TCP: Final = 6
UDP: Final = 17

Key = tuple[bytes, bytes, int, int, int, int]
"""src, dst, sport, dport, protocol, scope: the input index, or for a tunnelled packet the
id :meth:`FlowTable._scope` gives ``(input, tunnel stack)`` (or, in the loose index of
tunnelled flows whose reverse direction has not been seen, ``("loose", input, stack
without ids)``). Interned ints rather than the stacks themselves: a flat key of ints and
bytes hashes and compares as fast as an untunnelled one."""

SCOPE_BASE: Final = 1 << 40
"""Tunnel scope ids start here, far above any input index."""
SCOPE_CACHE_CAP: Final = 65_536

# Ports that identify the server side of a flow whose start was not captured.
WELL_KNOWN_PORTS: Final = frozenset(
    (
        20, 21, 22, 25, 53, 67, 69, 80, 110, 123, 137, 138, 143, 161, 389, 443, 465, 500,
        514, 554, 587, 853, 993, 995, 1194, 1645, 1646, 1812, 1813, 1883, 1900, 2123, 3386,
        3478, 3799, 3868, 4500, 5060, 5061, 5222, 5223, 5228, 5349, 5353, 5355, 5683, 5684,
        8080, 8443, 8883, 9999,
    )
)  # fmt: skip

CLOSED_LINGER: Final = 60.0
"""Seconds a finished TCP flow is kept so its trailing ACKs do not start a new flow."""

SWEEP_INTERVAL: Final = 1.0

_NONE: Final[tuple[tuple[Flow, Parsed], ...]] = ()

# The done filter's view of an IP packet: the header and the first 14 transport bytes in
# one call. TCP: ports, (half the sequence number), data offset byte, flags. UDP: ports,
# length (the last two fields are then payload bytes, unused).
_V4: Final = struct.Struct("!BxH2xHxB2x4s4sHHH6xBB").unpack_from
_V6: Final = struct.Struct("!4xHBx16s16sHHH6xBB").unpack_from
_V4_LEN: Final = 20 + 14
_V6_LEN: Final = 40 + 14
_SEQ_ACK: Final = struct.Struct("!II").unpack_from
_READY_MAX: Final = 64
"""Messages the reader-side fast path queues before it lets a frame take the full path
(which hands them on): bounds what waits between two yields of the reader."""


class _Ignored:
    """Session of a flow that is dropped (another host's traffic): never fed."""

    done = True

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        return []

    def gap(self, from_client: bool, size: int) -> None:
        return None

    def close(self) -> list[Parsed]:
        return []


IGNORED: Final[Session] = _Ignored()


class Flow:
    """One TCP connection or UDP conversation, oriented client -> server.

    ``bytes`` counts transport payload bytes of both directions. ``c2s``/``s2c`` are the
    TCP reassembly states (None for UDP and once the flow is closed). ``header`` belongs
    to the pipeline: the flow's part of its messages' header, made at the first message.
    ``tunnel_c2s``/``tunnel_s2c``: the tunnels each direction came through (empty when
    untunnelled; the direction not yet seen holds the prediction). ``loose``: the key under
    which a tunnelled flow waits in the loose index for its reverse direction.
    """

    __slots__ = (
        "bytes",
        "c2s",
        "client",
        "client_mac",
        "closed",
        "cport",
        "device_is_client",
        "dropped",
        "header",
        "id",
        "input",
        "keys",
        "last",
        "loose",
        "packets",
        "s2c",
        "server",
        "server_mac",
        "session",
        "sport",
        "start",
        "syn_seq",
        "transport",
        "tunnel_c2s",
        "tunnel_s2c",
        "uid",
    )

    def __init__(
        self,
        id: int,
        transport: str,
        client: bytes,
        cport: int,
        server: bytes,
        sport: int,
        start: float,
        input: int,
    ) -> None:
        self.id = id
        self.transport = transport
        self.client = client
        self.cport = cport
        self.server = server
        self.sport = sport
        self.start = start
        self.last = start
        self.input = input
        self.device_is_client = True
        self.client_mac: bytes | None = None
        self.server_mac: bytes | None = None
        self.uid: int | None = None
        self.packets = 0
        self.bytes = 0
        self.session: Session = IGNORED
        self.dropped = False
        self.closed = False
        self.syn_seq = -1  # client ISN when the SYN was seen
        self.c2s: Stream | None = None
        self.s2c: Stream | None = None
        self.keys: tuple[Key, ...] = ()
        self.header: Any = None
        self.tunnel_c2s: tuple[TunnelHop, ...] = ()
        self.tunnel_s2c: tuple[TunnelHop, ...] = ()
        self.loose: Key | None = None

    def __repr__(self) -> str:
        via = ""
        if self.tunnel_c2s:
            via = " via " + ">".join([hop[0] for hop in self.tunnel_c2s])
        return (
            f"Flow({self.id} {self.transport} {ntop(self.client)}:{self.cport} -> "
            f"{ntop(self.server)}:{self.sport}{via})"
        )


class _Stack:
    """What the flow table needs of one tunnel stack (as seen in one direction), worked
    out once per stack: its scope and loose scope ids, and those of the reverse stack
    (endpoints swapped, same ids), which is the prediction for the other direction."""

    __slots__ = ("hops", "input", "loose", "rev", "rev_loose", "rev_scope", "scope")

    def __init__(
        self,
        input: int,
        hops: tuple[TunnelHop, ...],
        scope: int,
        loose: int,
        rev: tuple[TunnelHop, ...],
        rev_scope: int,
        rev_loose: int,
    ) -> None:
        self.input = input
        self.hops = hops
        self.scope = scope
        self.loose = loose
        self.rev = rev
        self.rev_scope = rev_scope
        self.rev_loose = rev_loose


def _loose(input: int, tunnel: tuple[TunnelHop, ...]) -> object:
    """What a tunnelled flow's loose scope stands for: tunnel kinds and endpoints, no ids."""
    return ("loose", input, tuple([(kind, src, dst) for kind, src, dst, _ in tunnel]))


def _server_score(port: int) -> int:
    if port in WELL_KNOWN_PORTS:
        return 2
    return 1 if port < 1024 else 0


def _sender_is_client(sport: int, dport: int) -> bool:
    """Guess for a flow whose opening was not seen; the sender wins ties."""
    s, d = _server_score(sport), _server_score(dport)
    if s != d:
        return d > s
    if sport != dport:
        return sport > dport
    return True


class FlowTable:
    """Feeds each flow's :class:`Session` and returns what it parsed.

    Counters: ``closed_flows`` (sessions closed for any reason), ``dropped_other_host``,
    ``evicted`` (over ``max_flows``), ``timed_out``, ``midstream``, ``port_reuse``,
    ``no_flow`` (payload-less TCP packets of unknown connections, e.g. a lone ACK or RST,
    which do not open a flow).
    """

    def __init__(
        self,
        ctx: Context,
        session_factory: Callable[[Flow], Session],
        *,
        idle_timeout_tcp: float = 600.0,
        idle_timeout_udp: float = 120.0,
        max_flows: int = 100_000,
        max_buffered_per_direction: int = 4 << 20,
        use_done_filter: bool = True,
        on_flush: Callable[[list[Flow]], None] | None = None,
    ) -> None:
        """``use_done_filter=False`` turns the reader-side shortcut off and ``on_flush``
        sees every flow still held at the end of the input: together they let tests show
        the shortcut changes nothing (tests/test_net_done_filter.py), with no patching,
        which compiled classes do not allow."""
        self._ctx = ctx
        self._anomalies = ctx.anomalies
        self._factory = session_factory
        self.idle_timeout_tcp = idle_timeout_tcp
        self.idle_timeout_udp = idle_timeout_udp
        self.max_flows = max_flows
        self.max_buffered = max_buffered_per_direction
        self._flows: dict[Key, Flow] = {}
        # Tunnelled flows whose reverse direction is not known yet, by loose key, oldest
        # first (several only when tunnels carry the same inner 5-tuple at once).
        self._loose: dict[Key, list[Flow]] = {}
        # Tunnel stacks -> scope ids (see ``Key``); pruned to the ids live keys use.
        self._scopes: dict[object, int] = {}
        self._next_scope = SCOPE_BASE
        self._scopes_prune_at = max_flows
        self._stacks: dict[tuple[int, tuple[TunnelHop, ...]], _Stack] = {}
        self._stack_hint: _Stack | None = None
        self._stack_hint_for: tuple[TunnelHop, ...] | None = None
        # The done filter's shortcuts to GTP-U stacks: by TEID, and the last two seen.
        self._gtpu_scopes: dict[int, _Stack] = {}
        self._gtpu_a: _Stack | None = None
        self._gtpu_a_teid = -1
        self._gtpu_b: _Stack | None = None
        self._gtpu_b_teid = -1
        # Least recently active first; closed TCP flows linger apart, not counted as live.
        self._tcp: OrderedDict[int, Flow] = OrderedDict()
        self._udp: OrderedDict[int, Flow] = OrderedDict()
        self._closed: OrderedDict[int, Flow] = OrderedDict()
        self._next_id = 1
        self._now = float("-inf")
        self._next_sweep = float("-inf")
        self._pending: list[tuple[Flow, Parsed]] = []  # from sweeps and evictions
        self.ready: list[tuple[Flow, Parsed]] = []
        """What packets processed inside the reader parsed: the pipeline takes these
        before the next frame the reader yields, and at the end of the input."""
        self.closed_flows = 0
        self.dropped_other_host = 0
        self.evicted = 0
        self.timed_out = 0
        self.midstream = 0
        self.port_reuse = 0
        self.no_flow = 0
        self.filtered_frames = 0
        self.filtered_bytes = 0
        self.use_done_filter = use_done_filter
        self._on_flush = on_flush

    @property
    def live_flows(self) -> int:
        return len(self._tcp) + len(self._udp)

    def process(self, pkt: Packet) -> Sequence[tuple[Flow, Parsed]]:
        """Account one packet; returns what the sessions parsed (usually nothing)."""
        ts = pkt.ts
        if ts > self._now:
            self._now = ts
            if ts >= self._next_sweep:
                self._next_sweep = ts + SWEEP_INTERVAL
                self._sweep(ts)
        if pkt.tunnel:
            flow = self._tunnelled_flow(pkt)
        else:
            flow = self._flows.get((pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto, pkt.input))
        res = self._tcp_packet(flow, pkt) if pkt.proto == TCP else self._udp_packet(flow, pkt)
        if self._pending:
            out = self._pending
            self._pending = []
            out.extend(res)
            return out
        return res

    def done_filter(self, linktype: int, input: int) -> ReaderFilter | None:
        """A check a capture reader runs on a frame's bytes before making any object of it.

        Most packets of a phone's capture belong to flows whose session is done (TLS and
        QUIC application data): all :meth:`process` does with them is move the flow's
        clock and counters. Making a Frame and a Packet for each is most of the cost of a
        pure-Python reader, so the filter reads the common shapes (Ethernet or raw IP;
        IPv4 without options or fragmentation, IPv6 without extension headers; TCP without
        SYN/FIN/RST, UDP) at fixed offsets, looks the 5-tuple up, does that accounting and
        returns True: the reader then drops the frame (counted in ``filtered_frames`` /
        ``filtered_bytes``). Anything else returns False and takes the full path, which
        then behaves exactly as if there were no filter: flows that are not done, a sweep
        that is due, TCP flows with buffered or unstarted streams or a FIN seen, damaged or
        unusual headers. None for link types it does not read.
        """
        if not self.use_done_filter:
            return None
        if linktype == LINKTYPE_ETHERNET:
            ip_at = 14
        elif linktype in RAW_IP_LINKTYPES:
            ip_at = 0
        else:
            return None
        allow_v4 = linktype != LINKTYPE_IPV6
        allow_v6 = linktype != LINKTYPE_IPV4
        flows = self._flows
        tcp_lru = self._tcp
        udp_lru = self._udp
        ready = self.ready
        # Methods are called through ``self``, not bound-method locals: compiled, a call
        # on ``self`` is a direct C call and a local alias a generic Python call.

        def done(buf: bytes, start: int, stop: int, ts: float, number: int) -> bool:
            ip = start + ip_at
            if ip >= stop:
                return False
            if ip_at:
                etype = buf[start + 12] << 8 | buf[start + 13]
                if etype == ETH_IPV4:
                    v6 = False
                elif etype == ETH_IPV6:
                    v6 = True
                else:
                    return False
            else:
                v6 = allow_v6 and buf[ip] >> 4 == 6
                if not v6 and not allow_v4:
                    return False
            if v6:
                if stop - ip < _V6_LEN or buf[ip] >> 4 != 6:
                    return False
                plen, proto, src, dst, sport, dport, ulen, doff, flags = _V6(buf, ip)
                if not plen:
                    return False
                tp = ip + 40
                end = tp + plen
            else:
                if stop - ip < _V4_LEN:
                    return False
                vihl, total, frag, proto, src, dst, sport, dport, ulen, doff, flags = _V4(buf, ip)
                if vihl != 0x45 or frag & 0x3FFF or not total:
                    return False
                tp = ip + 20
                end = ip + total
            if end > stop:
                return False
            if proto == TCP:
                if flags & (SYN | FIN | RST) or doff < 0x50:
                    return False
                size = end - tp - (doff >> 4) * 4
                if size < 0:
                    return False
                lru = tcp_lru
            elif proto == UDP:
                if ulen < 8 or tp + ulen > end:
                    return False
                if udp_tunnel_port(sport, dport):
                    # Maybe a tunnel: GTP-U is read here, anything else is left to the
                    # decoder, which unwraps it.
                    if dport == GTPU_PORT or sport == GTPU_PORT:
                        return self._gtpu_done(
                            buf, tp + 8, tp + ulen, src, dst, ts, number, input, stop - start
                        )
                    return False
                size = ulen - 8
                lru = udp_lru
            else:
                return False
            flow = flows.get((src, dst, sport, dport, proto, input))
            if flow is not None and flow.session.done and ts < self._next_sweep:
                if proto == UDP:
                    quiet = True
                else:
                    c2s = flow.c2s
                    s2c = flow.s2c
                    quiet = not (
                        c2s is None
                        or s2c is None
                        or c2s.heap
                        or s2c.heap
                        or c2s.fin >= 0
                        or s2c.fin >= 0
                        or not c2s.started
                        or not s2c.started
                    )
                if quiet:
                    # All a packet of a done session does: move the flow's clock, counters
                    # and LRU position.
                    if ts > self._now:
                        self._now = ts
                    flow.last = ts
                    flow.packets += 1
                    flow.bytes += size
                    lru.move_to_end(flow.id)
                    self.filtered_frames += 1
                    self.filtered_bytes += stop - start
                    return True
            # Not just accounting: when the frame is a shape the decoder's own IPv4
            # fast path would turn into a Packet, make that Packet here and process it
            # (what the pipeline would do), queueing the messages in ``ready``.
            if v6 or stop - ip < 40 or len(ready) >= _READY_MAX:
                return False
            if ip_at:
                src_mac: bytes | None = buf[start + 6 : start + 12]
                dst_mac: bytes | None = buf[start : start + 6]
            else:
                src_mac = dst_mac = None
            if proto == TCP:
                seq, ack = _SEQ_ACK(buf, tp + 4)
                pkt = Packet(number, ts, src, dst, TCP, sport, dport,
                             buf[end - size : end], seq, ack, flags, src_mac, dst_mac,
                             None, input, False)  # fmt: skip
            else:
                pkt = Packet(number, ts, src, dst, UDP, sport, dport,
                             buf[tp + 8 : tp + ulen], 0, 0, 0, src_mac, dst_mac,
                             None, input, False)  # fmt: skip
            if ts >= self._next_sweep:
                res = self.process(pkt)
            else:
                # process() without its sweep check and second lookup (the flow is known;
                # only a sweep could have removed it).
                if ts > self._now:
                    self._now = ts
                res = self._tcp_packet(flow, pkt) if proto == TCP else self._udp_packet(flow, pkt)
                if self._pending:  # an eviction made room for a new flow
                    ready.extend(self._pending)
                    self._pending = []
            if res:
                ready.extend(res)
            self.filtered_frames += 1
            self.filtered_bytes += stop - start
            return True

        return done

    def _gtpu_done(
        self,
        buf: bytes,
        p: int,
        end: int,
        outer_src: bytes,
        outer_dst: bytes,
        ts: float,
        number: int,
        input: int,
        frame_len: int,
    ) -> bool:
        """:meth:`done_filter` for a GTP-U datagram ``buf[p:end]``: a G-PDU of a done
        inner flow is accounted, any other the decoder would unwrap into a plain packet
        is made into that packet here and processed (its messages queued in ``ready``).

        Operator captures are mostly GTP-U, and mostly the application data of finished
        handshakes, like any phone's traffic. Only what the decoder would unwrap into the
        very same packet is taken (the G-PDU checks of ``tunnel.Decapsulator._gtpu``, an
        inner IPv4 packet without options or fragmentation or IPv6 without extension
        headers, TCP or UDP not on a tunnel port, nothing cut off); the accounting
        shortcut only for flows whose reverse direction is bound (no loose key left,
        whose binding is the full path's) and TCP without SYN/FIN/RST. Unlike the
        untunnelled shapes, SYN/FIN/RST segments are made into packets here too: the
        full path would cost them the decapsulation. Everything else returns False.
        """
        if end - p < 8:
            return False
        flags = buf[p]
        if flags & 0xF0 != 0x30 or buf[p + 1] != GTP_GPDU:
            return False
        # Indexing rather than struct: compiled, no tuple and no int objects per frame.
        body_end = p + 8 + (buf[p + 2] << 8 | buf[p + 3])
        if body_end > end:
            return False
        off = p + 8
        if flags & 0x07:
            if off + 4 > body_end:
                return False
            nxt = buf[off + 3] if flags & 0x04 else 0
            off += 4
            hops = 0
            while nxt:
                hops += 1
                if off >= body_end or hops > MAX_GTP_EXTENSIONS:
                    return False
                size = buf[off] * 4
                if size == 0 or off + size > body_end:
                    return False
                nxt = buf[off + size - 1]
                off += size
        # The inner header by indexing too (what _V4/_V6 would unpack): native ints.
        avail = body_end - off
        if avail <= 0:
            return False
        version = buf[off] >> 4
        if version == 4:
            if avail < _V4_LEN:
                return False
            total = buf[off + 2] << 8 | buf[off + 3]
            if buf[off] != 0x45 or (buf[off + 6] & 0x3F) | buf[off + 7] or not total:
                return False
            if total > avail:
                return False
            proto = buf[off + 9]
            src = buf[off + 12 : off + 16]
            dst = buf[off + 16 : off + 20]
            tp = off + 20
            iend = off + total
        elif version == 6:
            if avail < _V6_LEN:
                return False
            plen = buf[off + 4] << 8 | buf[off + 5]
            if not plen or 40 + plen > avail:
                return False
            proto = buf[off + 6]
            src = buf[off + 8 : off + 24]
            dst = buf[off + 24 : off + 40]
            tp = off + 40
            iend = tp + plen
        else:
            return False
        sport = buf[tp] << 8 | buf[tp + 1]
        dport = buf[tp + 2] << 8 | buf[tp + 3]
        ulen = buf[tp + 4] << 8 | buf[tp + 5]
        doff = buf[tp + 12]
        tflags = buf[tp + 13]
        if proto == TCP:
            if doff < 0x50:
                return False
            size = iend - tp - (doff >> 4) * 4
            if size < 0:
                return False
        elif proto == UDP:
            if ulen < 8 or tp + ulen > iend:
                return False
            if udp_tunnel_port(sport, dport):
                return False  # a tunnel in the tunnel
            size = ulen - 8
        else:
            return False
        teid = buf[p + 4] << 24 | buf[p + 5] << 16 | buf[p + 6] << 8 | buf[p + 7]
        # The two stacks seen last first (a phone's tunnel is two TEIDs, one each way),
        # then the per-TEID map: no int object is made for the usual frame.
        stack = self._gtpu_a
        if (
            stack is None
            or teid != self._gtpu_a_teid
            or stack.input != input
            or stack.hops[0][1] != outer_src
            or stack.hops[0][2] != outer_dst
        ):
            stack = self._gtpu_b
            if (
                stack is None
                or teid != self._gtpu_b_teid
                or stack.input != input
                or stack.hops[0][1] != outer_src
                or stack.hops[0][2] != outer_dst
            ):
                stack = self._gtpu_stack(teid, outer_src, outer_dst, input)
            self._gtpu_b, self._gtpu_b_teid = self._gtpu_a, self._gtpu_a_teid
            self._gtpu_a, self._gtpu_a_teid = stack, teid
        flow: Flow | None = None
        if ts < self._next_sweep:
            flow = self._flows.get((src, dst, sport, dport, proto, stack.scope))
            if (
                flow is not None
                and flow.session.done
                and flow.loose is None
                and not (proto == TCP and tflags & (SYN | FIN | RST))
            ):
                if proto == TCP:
                    c2s = flow.c2s
                    s2c = flow.s2c
                    quiet = not (
                        c2s is None
                        or s2c is None
                        or c2s.heap
                        or s2c.heap
                        or c2s.fin >= 0
                        or s2c.fin >= 0
                        or not c2s.started
                        or not s2c.started
                    )
                    lru = self._tcp
                else:
                    quiet = True
                    lru = self._udp
                if quiet:
                    if ts > self._now:
                        self._now = ts
                    flow.last = ts
                    flow.packets += 1
                    flow.bytes += size
                    lru.move_to_end(flow.id)
                    self.filtered_frames += 1
                    self.filtered_bytes += frame_len
                    return True
        ready = self.ready
        if len(ready) >= _READY_MAX:
            return False
        tunnel = stack.hops
        if proto == TCP:
            seq, ack = _SEQ_ACK(buf, tp + 4)
            pkt = Packet(number, ts, src, dst, TCP, sport, dport, buf[iend - size : iend],
                         seq, ack, tflags, None, None, None, input, False, tunnel)  # fmt: skip
        else:
            pkt = Packet(number, ts, src, dst, UDP, sport, dport, buf[tp + 8 : tp + ulen],
                         0, 0, 0, None, None, None, input, False, tunnel)  # fmt: skip
        if ts >= self._next_sweep:
            res = self.process(pkt)
        else:
            # process() without its sweep check and with the stack at hand, as the
            # untunnelled packets' path does
            if ts > self._now:
                self._now = ts
            if flow is None or flow.loose is not None:
                flow = self._tunnelled_flow(pkt, stack, flow)
            res = self._tcp_packet(flow, pkt) if proto == TCP else self._udp_packet(flow, pkt)
            if self._pending:
                ready.extend(self._pending)
                self._pending = []
        if res:
            ready.extend(res)
        self.filtered_frames += 1
        self.filtered_bytes += frame_len
        return True

    def _tunnelled_flow(
        self, pkt: Packet, stack: _Stack | None = None, found: Flow | None = None
    ) -> Flow | None:
        """The flow of a tunnelled packet: under its exact key, else bound through the
        flow's loose key (the first packet of the reverse direction, whose tunnel ids
        differ from the prediction, as GTP-U TEIDs do). ``stack``: the packet's, when
        the caller has it (else looked up); ``found``: what the caller's lookup of the
        exact key gave, when it made one (``stack`` given)."""
        flows = self._flows
        tunnel = pkt.tunnel
        if stack is None:
            stack = self._stack(pkt.input, tunnel)
            flow = flows.get((pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto, stack.scope))
        else:
            flow = found
        self._stack_hint = stack  # for _tunnel_keys, should the packet open a flow
        self._stack_hint_for = tunnel
        if flow is not None:
            loose = flow.loose
            if loose is not None and pkt.src == loose[0] and pkt.sport == loose[2]:
                self._unwait(flow)  # the reverse direction came as predicted
            return flow
        lk: Key = (pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto, stack.loose)
        waiting = self._loose.get(lk)
        if not waiting:
            return None
        flow = waiting[0]
        if pkt.proto == TCP and pkt.flags & (SYN | ACK) == SYN | ACK:
            # Several tunnels carry this 5-tuple at once: the SYN-ACK names its SYN.
            for f in waiting:
                if f.syn_seq >= 0 and (f.syn_seq + 1) & 0xFFFFFFFF == pkt.ack:
                    flow = f
                    break
        self._unwait(flow)
        key: Key = (pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto, stack.scope)
        flows[key] = flow
        flow.keys = (*flow.keys, key)
        if pkt.src == flow.client and pkt.sport == flow.cport:
            flow.tunnel_c2s = tunnel
        else:
            flow.tunnel_s2c = tunnel
        return flow

    def flush(self) -> list[tuple[Flow, Parsed]]:
        """End of input: close every session, in flow order."""
        if self._on_flush is not None:
            self._on_flush([*self._tcp.values(), *self._udp.values(), *self._closed.values()])
        out, self._pending = self._pending, []
        for flow in sorted([*self._tcp.values(), *self._udp.values()], key=lambda f: f.id):
            self._close(flow, out)
        self._flows.clear()
        self._loose.clear()
        self._scopes.clear()
        self._stacks.clear()
        self._gtpu_scopes.clear()
        self._tcp.clear()
        self._udp.clear()
        self._closed.clear()
        return out

    # -- TCP ---------------------------------------------------------------------------

    def _tcp_packet(self, flow: Flow | None, pkt: Packet) -> Sequence[tuple[Flow, Parsed]]:
        # The common packet, handled inline: an established live flow, no SYN/FIN/RST,
        # in-order data or a bare ACK, nothing buffered in either direction.
        if flow is None or pkt.flags & (SYN | FIN | RST) or flow.c2s is None:
            return self._tcp_unusual(flow, pkt)
        payload = pkt.payload
        flow.last = pkt.ts
        flow.packets += 1
        flow.bytes += len(payload)
        if flow.uid is None and pkt.uid is not None:
            flow.uid = pkt.uid
        self._tcp.move_to_end(flow.id)
        st: Stream | None = flow.c2s
        other: Stream | None = flow.s2c
        from_client = pkt.sport == flow.cport and pkt.src == flow.client
        if not from_client:
            st, other = other, st
        assert st is not None and other is not None
        if st.heap or other.heap or other.fin >= 0 or not st.started or not other.started:
            return self._tcp_segment(flow, pkt, from_client, st, other)
        session = flow.session
        if not payload or session.done:
            return _NONE
        if pkt.seq != st.seq:
            return self._tcp_segment(flow, pkt, from_client, st, other)
        st.advance(payload)
        parsed = session.data(from_client, payload, pkt.ts, pkt.frame)
        if not parsed:
            return _NONE
        if len(parsed) == 1:
            return ((flow, parsed[0]),)
        return [(flow, p) for p in parsed]

    def _tcp_unusual(self, flow: Flow | None, pkt: Packet) -> Sequence[tuple[Flow, Parsed]]:
        flags = pkt.flags
        out: list[tuple[Flow, Parsed]] | None = None
        if flow is not None and (flow.closed or flags & SYN):
            if flags & (SYN | ACK) == SYN and pkt.seq != flow.syn_seq:
                # A new connection on the same ports (or the first SYN of a flow that
                # started midstream): the old one is over.
                self.port_reuse += 1
                out = []
                self._remove(flow, out)
                flow = None
            elif flow.closed:
                flow.last = pkt.ts
                flow.packets += 1
                if flow.id in self._closed:
                    self._closed.move_to_end(flow.id)
                return _NONE
        if flow is None:
            flow = self._new_tcp(pkt)
            if flow is None:
                return out or _NONE
        else:
            self._touch(flow, pkt, self._tcp)
        if flow.c2s is None or flow.s2c is None:  # dropped
            return out or _NONE
        if pkt.src == flow.client and pkt.sport == flow.cport:
            res = self._tcp_segment(flow, pkt, True, flow.c2s, flow.s2c)
        else:
            res = self._tcp_segment(flow, pkt, False, flow.s2c, flow.c2s)
        if out is None:
            return res
        out.extend(res)
        return out

    def _tcp_segment(
        self, flow: Flow, pkt: Packet, from_client: bool, st: Stream, other: Stream
    ) -> Sequence[tuple[Flow, Parsed]]:
        """Everything a TCP segment can do to an open flow (already counted)."""
        out: list[tuple[Flow, Parsed]] | None = None
        flags = pkt.flags
        session = flow.session
        seq = pkt.seq
        if flags & SYN:
            seq = (seq + 1) & 0xFFFFFFFF
            if not st.started:
                st.start(seq)
            if flags & ACK and not other.started:
                other.start(pkt.ack)
        elif not st.started:
            st.start(seq)
        payload = pkt.payload
        if session.done:
            if st.heap:
                st.discard()
        elif payload:
            events = st.add(seq, payload, pkt.ts, pkt.frame)
            if events:
                out = self._deliver(flow, from_client, events, out)
        if flags & ACK:
            if not other.started:
                other.start(pkt.ack)
            elif (other.heap or other.fin > other.nxt) and not session.done:
                events = other.acked(pkt.ack, pkt.ts, pkt.frame)
                if events:
                    out = self._deliver(flow, not from_client, events, out)
        if flags & FIN:
            st.set_fin((seq + len(payload)) & 0xFFFFFFFF)
        if flags & RST or (
            st.fin >= 0 and other.fin >= 0 and (session.done or (st.complete and other.complete))
        ):
            if out is None:
                out = []
            self._close(flow, out)
            self._tcp.pop(flow.id, None)
            self._closed[flow.id] = flow
            if len(self._closed) > self.max_flows:
                self._forget(next(iter(self._closed.values())))
        return out or _NONE

    def _new_tcp(self, pkt: Packet) -> Flow | None:
        flags = pkt.flags
        if flags & SYN:
            sender_is_client = not flags & ACK
        elif not pkt.payload:
            self.no_flow += 1
            return None
        else:
            sender_is_client = _sender_is_client(pkt.sport, pkt.dport)
        flow = self._create(pkt, "tcp", sender_is_client, self._tcp)
        if flags & (SYN | ACK) == SYN:
            flow.syn_seq = pkt.seq
        if flow.dropped:
            return flow
        flow.c2s = Stream(self.max_buffered, self._anomalies, pkt.input)
        flow.s2c = Stream(self.max_buffered, self._anomalies, pkt.input)
        if not flags & SYN:
            self.midstream += 1
            self._anomalies.add(
                "tcp.midstream",
                pkt.input,
                pkt.frame,
                f"{flow!r}: start not captured; parsed from the first byte seen",
            )
        return flow

    def _deliver(
        self,
        flow: Flow,
        from_client: bool,
        events: list[Event],
        out: list[tuple[Flow, Parsed]] | None,
    ) -> list[tuple[Flow, Parsed]] | None:
        session = flow.session
        for item, time, frame in events:
            if session.done:
                break
            if isinstance(item, int):
                self._anomalies.add(
                    "tcp.gap",
                    flow.input,
                    frame,
                    f"{flow!r} {'client' if from_client else 'server'} side: "
                    f"{item} bytes not captured",
                )
                session.gap(from_client, item)
            else:
                parsed = session.data(from_client, item, time, frame)
                if parsed:
                    if out is None:
                        out = []
                    for p in parsed:
                        out.append((flow, p))
        return out

    # -- UDP ---------------------------------------------------------------------------

    def _udp_packet(self, flow: Flow | None, pkt: Packet) -> Sequence[tuple[Flow, Parsed]]:
        if flow is None:
            flow = self._create(pkt, "udp", _sender_is_client(pkt.sport, pkt.dport), self._udp)
        else:
            self._touch(flow, pkt, self._udp)
        session = flow.session
        if session.done or not pkt.payload:
            return _NONE
        from_client = pkt.src == flow.client and pkt.sport == flow.cport
        parsed = session.data(from_client, pkt.payload, pkt.ts, pkt.frame)
        if not parsed:
            return _NONE
        if len(parsed) == 1:  # one datagram, one message: no comprehension frame
            return ((flow, parsed[0]),)
        return [(flow, p) for p in parsed]

    # -- common ------------------------------------------------------------------------

    def _touch(self, flow: Flow, pkt: Packet, lru: OrderedDict[int, Flow]) -> None:
        flow.last = pkt.ts
        flow.packets += 1
        flow.bytes += len(pkt.payload)
        if flow.uid is None and pkt.uid is not None:
            flow.uid = pkt.uid
        lru.move_to_end(flow.id)

    def _create(
        self, pkt: Packet, transport: str, sender_is_client: bool, lru: OrderedDict[int, Flow]
    ) -> Flow:
        if len(self._tcp) + len(self._udp) >= self.max_flows:
            self._evict_one()
        if sender_is_client:
            flow = Flow(self._next_id, transport, pkt.src, pkt.sport, pkt.dst, pkt.dport,
                        pkt.ts, pkt.input)  # fmt: skip
            flow.client_mac, flow.server_mac = pkt.src_mac, pkt.dst_mac
        else:
            flow = Flow(self._next_id, transport, pkt.dst, pkt.dport, pkt.src, pkt.sport,
                        pkt.ts, pkt.input)  # fmt: skip
            flow.client_mac, flow.server_mac = pkt.dst_mac, pkt.src_mac
        self._next_id += 1
        flow.packets = 1
        flow.bytes = len(pkt.payload)
        flow.uid = pkt.uid
        tunnel = pkt.tunnel
        if tunnel:
            self._tunnel_keys(flow, pkt, tunnel, sender_is_client)
        else:
            k1: Key = (pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto, pkt.input)
            k2: Key = (pkt.dst, pkt.src, pkt.dport, pkt.sport, pkt.proto, pkt.input)
            flow.keys = (k1, k2)
            self._flows[k1] = flow
            self._flows[k2] = flow
        lru[flow.id] = flow
        device = self._device_is_client(flow)
        if device is None:
            flow.dropped = True
            self.dropped_other_host += 1
            self._anomalies.add(
                "device.other_host",
                pkt.input,
                pkt.frame,
                f"{flow!r}: neither end is the selected device; flow ignored",
            )
        else:
            flow.device_is_client = device
            flow.session = self._factory(flow)
        return flow

    def _tunnel_keys(
        self, flow: Flow, pkt: Packet, tunnel: tuple[TunnelHop, ...], sender_is_client: bool
    ) -> None:
        stack = self._stack_hint
        if stack is None or self._stack_hint_for is not tunnel or stack.input != pkt.input:
            stack = self._stack(pkt.input, tunnel)
        rev = stack.rev
        k1: Key = (pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto, stack.scope)
        k2: Key = (pkt.dst, pkt.src, pkt.dport, pkt.sport, pkt.proto, stack.rev_scope)
        flows = self._flows
        flows[k1] = flow
        flows[k2] = flow
        flow.keys = (k1, k2)
        loose: Key = (pkt.dst, pkt.src, pkt.dport, pkt.sport, pkt.proto, stack.rev_loose)
        waiting = self._loose.get(loose)
        if waiting is None:
            self._loose[loose] = [flow]
        else:
            waiting.append(flow)
        flow.loose = loose
        if sender_is_client:
            flow.tunnel_c2s, flow.tunnel_s2c = tunnel, rev
        else:
            flow.tunnel_c2s, flow.tunnel_s2c = rev, tunnel

    def _device_is_client(self, flow: Flow) -> bool | None:
        """Which end is the device; None when the user named a device and it is neither.

        Without a named device: the client, unless only the server is local (a service on
        the device's own network, e.g. the phone running a server reached from outside).
        """
        dev = self._ctx.device
        if dev.explicit:
            if flow.client in dev.ips or flow.client_mac in dev.macs:
                return True
            if flow.server in dev.ips or flow.server_mac in dev.macs:
                return False
            return None
        return not (is_local(flow.server) and not is_local(flow.client))

    def _close(self, flow: Flow, out: list[tuple[Flow, Parsed]]) -> None:
        """End the flow's session: give up holes, then let the session flush."""
        if flow.closed:
            return
        flow.closed = True
        if flow.dropped:
            return
        session = flow.session
        if flow.c2s is not None and flow.s2c is not None and not session.done:
            now = flow.last
            for st, from_client in ((flow.c2s, True), (flow.s2c, False)):
                events = st.finish(now, 0)
                if events:
                    self._deliver(flow, from_client, events, out)
        flow.c2s = flow.s2c = None
        # A closed TCP flow lingers (CLOSED_LINGER) for its late segments, which only
        # move counters: its session (parser and decryption state, often KBs) goes now,
        # or memory would follow the connection rate times the linger.
        flow.session = IGNORED
        self.closed_flows += 1
        for p in session.close():
            out.append((flow, p))

    def _remove(self, flow: Flow, out: list[tuple[Flow, Parsed]]) -> None:
        self._close(flow, out)
        self._forget(flow)

    def _stack(self, input: int, tunnel: tuple[TunnelHop, ...]) -> _Stack:
        """The scope ids of a tunnel stack and of its reverse (see ``Key``).

        Ids are made at a stack's first use and never reused. Those no key uses any
        more are dropped when the map has doubled since the last pruning, so it stays
        bounded by the live flows; pruning happens only here, before any id is handed
        out, so no id in use can be lost."""
        stack = self._stacks.get((input, tunnel))
        if stack is not None:
            return stack
        if len(self._scopes) >= self._scopes_prune_at:
            self._prune_scopes()
        rev = tuple([(kind, dst, src, ids) for kind, src, dst, ids in tunnel])
        stack = _Stack(
            input,
            tunnel,
            self._scope((input, tunnel)),
            self._scope(_loose(input, tunnel)),
            rev,
            self._scope((input, rev)),
            self._scope(_loose(input, rev)),
        )
        if len(self._stacks) >= SCOPE_CACHE_CAP:
            self._stacks.clear()
        self._stacks[(input, tunnel)] = stack
        return stack

    def _gtpu_stack(self, teid: int, outer_src: bytes, outer_dst: bytes, input: int) -> _Stack:
        """The stack of a GTP-U tunnel, by TEID (checked against its endpoints)."""
        stack = self._gtpu_scopes.get(teid)
        if (
            stack is not None
            and stack.input == input
            and stack.hops[0][1] == outer_src
            and stack.hops[0][2] == outer_dst
        ):
            return stack
        stack = self._stack(input, (("gtpu", outer_src, outer_dst, (teid,)),))
        if len(self._gtpu_scopes) >= SCOPE_CACHE_CAP:
            self._gtpu_scopes.clear()
        self._gtpu_scopes[teid] = stack
        return stack

    def _scope(self, stands_for: object) -> int:
        scope = self._scopes.get(stands_for, -1)
        if scope < 0:
            scope = self._next_scope
            self._next_scope += 1
            self._scopes[stands_for] = scope
        return scope

    def _prune_scopes(self) -> None:
        used = {key[5] for key in self._flows}
        used.update(key[5] for key in self._loose)
        self._scopes = {k: v for k, v in self._scopes.items() if v in used}
        self._stacks.clear()
        self._stack_hint = None
        self._gtpu_scopes.clear()
        self._gtpu_a = self._gtpu_b = None
        self._scopes_prune_at = max(self.max_flows, 2 * len(self._scopes))

    def _unwait(self, flow: Flow) -> None:
        """Take a tunnelled flow out of the loose index."""
        loose = flow.loose
        if loose is None:
            return
        flow.loose = None
        waiting = self._loose.get(loose)
        if waiting is not None:
            if flow in waiting:
                waiting.remove(flow)
            if not waiting:
                del self._loose[loose]

    def _forget(self, flow: Flow) -> None:
        flows = self._flows
        for k in flow.keys:
            if flows.get(k) is flow:
                del flows[k]
        if flow.loose is not None:
            self._unwait(flow)
        fid = flow.id
        if flow.transport == "udp":
            self._udp.pop(fid, None)
        else:
            self._tcp.pop(fid, None)
            self._closed.pop(fid, None)

    def _evict_one(self) -> None:
        candidates = [next(iter(lru.values())) for lru in (self._tcp, self._udp) if lru]
        victim = min(candidates, key=lambda f: f.last)
        self.evicted += 1
        self._anomalies.add(
            "flow.evicted",
            victim.input,
            None,
            f"{victim!r}: more than {self.max_flows} live flows; least recently active closed",
        )
        self._remove(victim, self._pending)

    def _sweep(self, now: float) -> None:
        for lru, timeout in (
            (self._tcp, self.idle_timeout_tcp),
            (self._udp, self.idle_timeout_udp),
            (self._closed, CLOSED_LINGER),
        ):
            limit = now - timeout
            while lru:
                flow = next(iter(lru.values()))
                if flow.last > limit:
                    break
                if not flow.closed:
                    self.timed_out += 1
                self._remove(flow, self._pending)
