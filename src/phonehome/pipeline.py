"""From capture files to messages: ingest -> link/IP -> flows/reassembly -> protocols.

Each stage is an iterator; this module only wires them and adds the common message
header (direction, readability, host, app) that needs flow-level knowledge. The flow's
part of that header is made once, at its first message, and kept on the flow.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from phonehome.context import Context
from phonehome.ingest import Capture, open_capture
from phonehome.model.frame import TunnelHop
from phonehome.model.message import (
    AppLabel,
    Content,
    DnsMessage,
    Endpoint,
    FlowKey,
    Message,
    Readability,
    TunnelLayer,
)
from phonehome.protocols import registry

if TYPE_CHECKING:
    from phonehome.model.frame import LinkFrame
    from phonehome.net.flows import Flow, FlowTable
    from phonehome.protocols.base import Session

    TableFactory = Callable[[Context, Callable[[Flow], Session]], FlowTable]

GC_THRESHOLD: Final = 50_000


def protocol_of(content: Content, transport: str) -> str:
    """``Message.protocol`` for parsed content: the registered protocol's name (the
    transport for raw payloads)."""
    return registry.protocol_of(content).message_name(content, transport)


@dataclass(slots=True)
class _FlowHeader:
    key: FlowKey
    device_is_client: bool
    host: str | None
    app: AppLabel | None


@dataclass(slots=True)
class _TunnelledFlowHeader(_FlowHeader):
    """A tunnelled flow's header: also each direction's tunnel stack (compared by
    identity) and its message records. A subclass, so untunnelled flows pay nothing."""

    c2s_hops: tuple[TunnelHop, ...] | None = None
    c2s: tuple[TunnelLayer, ...] = ()
    s2c_hops: tuple[TunnelHop, ...] | None = None
    s2c: tuple[TunnelLayer, ...] = ()


_NO_TUNNEL: Final[tuple[TunnelLayer, ...]] = ()


def open_all(paths: list[str], *, hash_inputs: bool = True) -> list[Capture]:
    """Open and sniff every input first, so a bad argument fails before any work."""
    captures: list[Capture] = []
    try:
        for i, p in enumerate(paths):
            captures.append(open_capture(p, i, hash_input=hash_inputs))
    except BaseException:
        for c in captures:
            c.close()
        raise
    return captures


def iter_messages(
    captures: list[Capture],
    ctx: Context,
    on_input: Callable[[Capture], None] | None = None,
    table_factory: TableFactory | None = None,
) -> Iterator[Message]:
    """All messages of all inputs, input by input, in capture order within an input.

    ``table_factory`` makes each input's flow table (default: ``FlowTable(ctx, factory)``);
    tests pass one to set its options and keep hold of it.

    While it runs, the garbage collector's youngest generation is collected every
    ``GC_THRESHOLD`` container allocations instead of 700: a capture makes several
    short-lived objects per packet, almost none in cycles, and the default had the
    collector scanning them about once per hundred packets (~5-10 % of ``flows`` in
    benchmarks/). Cycles are still collected; the old threshold is back when the
    iteration ends or is closed."""
    read_keys_ahead(captures, ctx)
    _GC.enter()
    try:
        for cap in captures:
            ctx.stats.inputs += 1
            if on_input is not None:
                on_input(cap)
            try:
                if cap.format.kind == "messages":
                    for msg in cap.messages(ctx):
                        ctx.stats.messages += 1
                        yield msg
                else:
                    yield from _frame_messages(cap, ctx, table_factory)
            finally:
                cap.close()
    finally:
        _GC.leave()


def read_keys_ahead(captures: list[Capture], ctx: Context) -> None:
    """Make the run's key log (``ctx.keylog``, holding the ``--keylog`` files already
    when given) and add every Decryption Secrets Block of the pcapng inputs to it before
    any packet is read, wherever the DSBs sit in their files. A pcapng on standard input
    cannot be read twice: its DSBs are added as they come (``ctx.keylog_final`` False),
    and decrypt the connections after them."""
    from phonehome.decrypt.keylog import SOURCE_DSB, KeyLog
    from phonehome.ingest import secrets_ahead

    keylog = ctx.keylog
    if keylog is None:
        keylog = ctx.keylog = KeyLog(ctx.anomalies)
    for cap in captures:
        if cap.format.kind != "frames":
            continue
        found = secrets_ahead(cap)
        if found is None:
            if cap.format.name == "pcapng":
                ctx.keylog_final = False
            continue
        for number, (data, frames) in enumerate(found, 1):
            keylog.add_text(data, SOURCE_DSB, f"DSB {number}", cap.index, frames or None)
        ctx.dsb_read_ahead.add(cap.index)


class _RelaxedGc:
    """Counted, so iterations that overlap restore the threshold only when the last ends."""

    __slots__ = ("saved", "users")

    def __init__(self) -> None:
        self.users = 0
        self.saved = gc.get_threshold()

    def enter(self) -> None:
        self.users += 1
        if self.users == 1:
            self.saved = old = gc.get_threshold()
            gc.set_threshold(max(old[0], GC_THRESHOLD), old[1], old[2])

    def leave(self) -> None:
        self.users -= 1
        if self.users == 0:
            gc.set_threshold(*self.saved)


_GC: Final = _RelaxedGc()


def _frame_messages(
    cap: Capture, ctx: Context, table_factory: TableFactory | None
) -> Iterator[Message]:
    # Imported here: the packet stack is only needed for pcap/pcapng inputs.
    from phonehome.net.addr import ntop
    from phonehome.net.flows import FlowTable
    from phonehome.net.link import Decoder
    from phonehome.net.tunnel import tunnel_layers
    from phonehome.protocols.base import Parsed
    from phonehome.protocols.tcp import TcpSession
    from phonehome.protocols.udp import UdpSession

    index = cap.index

    def new_session(flow: Flow) -> Session:
        if flow.transport == "tcp":
            return TcpSession(
                ctx, index, flow.sport, ntop(flow.server), None, flow.device_is_client
            )
        return UdpSession(ctx, index, flow.cport, flow.sport, ntop(flow.client), ntop(flow.server))

    decoder = Decoder(ctx)
    table = (
        FlowTable(ctx, new_session) if table_factory is None else table_factory(ctx, new_session)
    )
    dns = ctx.dns
    stats = ctx.stats
    # Tunnel stacks as message records, made once per stack (a capture has few).
    layers: dict[tuple[TunnelHop, ...], tuple[TunnelLayer, ...]] = {}

    def header_for(flow: Flow) -> _FlowHeader:
        """Made at the flow's first message and kept on the flow (bounded by the table)."""
        client = Endpoint(ntop(flow.client), flow.cport)
        server = Endpoint(ntop(flow.server), flow.sport)
        names = dns.lookup(server.ip, flow.start)
        app = None
        if flow.uid is not None:
            app = AppLabel(
                flow.uid, ctx.uid_map.get(flow.uid, ()), "pcapdroid", ctx.uid_names.get(flow.uid)
            )
        h = (_TunnelledFlowHeader if flow.tunnel_c2s else _FlowHeader)(
            FlowKey(flow.transport, client, server),  # type: ignore[arg-type]
            flow.device_is_client,
            names[0] if names else None,
            app,
        )
        flow.header = h
        stats.flows += 1
        return h

    def to_message(flow: Flow, parsed: Parsed) -> Message:
        h: _FlowHeader | None = flow.header
        if h is None:
            h = header_for(flow)
        content = parsed.content
        # The best name for the remote side, learnt from the flow's own first words;
        # DNS (most messages of a capture) first and on its own.
        readability: Readability = "cleartext"
        extra: tuple[tuple[str, str], ...] = ()
        if type(content) is DnsMessage:
            proto = "dns"
            if content.response:
                _learn_dns(ctx, content, parsed.time)
            host_hint = content.questions[0][0] if content.questions else h.host
        else:
            spec = registry.protocol_of(content)
            proto = spec.message_name(content, flow.transport)
            if spec.encrypted:
                readability = "encrypted"
            host = spec.host(content)
            if host:
                h.host = host
            host_hint = h.host
            layer = parsed.layer
            if layer is not None:
                readability = "decrypted"
                extra = layer.extra()
        key = h.key
        stats.messages += 1
        tunnel = _NO_TUNNEL
        if flow.tunnel_c2s:  # tunnelled: this direction's stack (docs/net.md)
            assert isinstance(h, _TunnelledFlowHeader)
            if parsed.from_client:
                if flow.tunnel_c2s is not h.c2s_hops:
                    h.c2s_hops = flow.tunnel_c2s
                    h.c2s = _layers(layers, flow.tunnel_c2s, tunnel_layers)
                tunnel = h.c2s
            else:
                if flow.tunnel_s2c is not h.s2c_hops:
                    h.s2c_hops = flow.tunnel_s2c
                    h.s2c = _layers(layers, flow.tunnel_s2c, tunnel_layers)
                tunnel = h.s2c
        # Positional: a frozen dataclass's keyword call costs ~30 % more, once per message.
        if parsed.from_client:
            return Message(
                parsed.time, index, parsed.frame, flow.id, key, key.client, key.server,
                "out" if h.device_is_client else "in", proto, readability, content,
                host_hint, h.app, extra, tunnel,
            )  # fmt: skip
        return Message(
            parsed.time, index, parsed.frame, flow.id, key, key.server, key.client,
            "in" if h.device_is_client else "out", proto, readability, content,
            host_hint, h.app, extra, tunnel,
        )  # fmt: skip

    # Counted in locals and added once: these lines run for every frame.
    frames = packets = size = 0
    ready = table.ready  # messages of packets the flow table processed inside the reader
    try:
        for frame in cap.frames(ctx, lambda linktype: table.done_filter(linktype, index)):
            if ready:
                for flow, parsed in ready:
                    yield to_message(flow, parsed)
                ready.clear()
            frames += 1
            size += frame.caplen
            pkt = decoder.decode(frame)
            if pkt is None:
                if decoder.eapol:  # link-layer EAP, beside IP
                    yield from _eapol_messages(decoder.eapol, index, ctx)
                if decoder.more:  # the MSDUs of an 802.11 A-MSDU
                    for pkt in decoder.more:
                        packets += 1
                        for flow, parsed in table.process(pkt):
                            yield to_message(flow, parsed)
                    decoder.more.clear()
                continue
            packets += 1
            out = table.process(pkt)
            if out:
                for flow, parsed in out:
                    yield to_message(flow, parsed)
        for flow, parsed in ready:
            yield to_message(flow, parsed)
        ready.clear()
        for flow, parsed in table.flush():
            yield to_message(flow, parsed)
        decoder.flush(index)  # IP fragments never completed, Wi-Fi keys never matched
    finally:
        # Frames the flow table's done filter consumed inside the reader are packets too.
        stats.frames += frames + table.filtered_frames
        stats.packets += packets + table.filtered_frames
        stats.bytes += size + table.filtered_bytes


def _eapol_messages(frames: list[LinkFrame], index: int, ctx: Context) -> Iterator[Message]:
    from phonehome.protocols.eapol import message

    for frame, payload, src_mac, dst_mac in frames:
        msg = message(payload, frame.ts, index, frame.number, src_mac, dst_mac, ctx.anomalies)
        if msg is not None:
            ctx.stats.messages += 1
            yield msg
    frames.clear()


def _layers(
    made: dict[tuple[TunnelHop, ...], tuple[TunnelLayer, ...]],
    hops: tuple[TunnelHop, ...],
    convert: Callable[[tuple[TunnelHop, ...]], tuple[TunnelLayer, ...]],
) -> tuple[TunnelLayer, ...]:
    """A tunnel stack's message records, made once per stack (a capture has few)."""
    layers = made.get(hops)
    if layers is None:
        if len(made) >= 4096:
            made.clear()
        layers = made[hops] = convert(hops)
    return layers


def _learn_dns(ctx: Context, msg: DnsMessage, t: float) -> None:
    """Passive DNS: map each answered address to the name the device asked for."""
    if not msg.questions:
        return
    asked = msg.questions[0][0]
    for ans in msg.answers:
        if ans.rtype in ("A", "AAAA"):
            # The asked name is added last so that lookups prefer it to a CNAME target.
            if ans.name != asked:
                ctx.dns.add(ans.value, ans.name, t)
            ctx.dns.add(ans.value, asked, t)
