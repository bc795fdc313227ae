"""The session of one TCP connection: recognise the protocol by content, then hand over.

Apps and IoT firmware run HTTP on 8100 and MQTT on 9999, so the port is no guide: the
first bytes of the client direction decide, asking each protocol of the registry in turn
(:data:`phonehome.protocols.registry.TCP`), else the stream is raw; the server direction
follows the client's verdict. A server that speaks first (banners) or a capture with only
the server side decides on its own. Everything after recognition is the protocol's
:class:`~phonehome.protocols.base.TcpApp`; this module keeps only what every protocol
shares: the bytes held while undecided, and raw payloads.

Raw payloads are coalesced per "turn" (what one side sends until the other side speaks),
the unit a reader of Wireshark's Follow TCP Stream would expect, and bounded per direction.
"""

from __future__ import annotations

from typing import Final

from phonehome.context import Context
from phonehome.model.message import RawPayload
from phonehome.protocols.base import Parsed, Protocol, Rest, Session, TcpApp, TcpHost
from phonehome.protocols.registry import TCP

RAW_LIMIT: Final = 64 << 10
"""Raw bytes kept per direction of a flow; the payload that crosses it is truncated."""
PENDING_LIMIT: Final = 64 << 10
"""Server bytes held while the client direction has not decided the protocol."""
DECIDE_BYTES: Final = 16
"""Bytes needed before giving up on every recogniser and calling a stream raw."""
RAW_NAME: Final = "tcp"
"""The session's verdict (and the message protocol) for a raw stream."""

# Direction modes
_PENDING: Final = 0  # undecided: bytes held
_APP: Final = 1  # a protocol's app parses it
_RAW: Final = 2
_SKIP: Final = 3  # nothing to parse (encrypted): bytes dropped


class _Side:
    """The state of one direction."""

    __slots__ = (
        "app",
        "from_client",
        "mode",
        "pending",
        "pending_size",
        "raw_over",
        "raw_parts",
        "raw_start",
        "raw_total",
        "resumable",
    )

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.mode = _PENDING
        self.app: TcpApp | None = None
        self.pending: list[tuple[bytes, float, int]] = []
        self.pending_size = 0
        self.resumable = True
        """A raw client side may still turn out to be a protocol that starts mid-stream."""
        self.raw_parts: list[bytes] = []
        self.raw_start = (0.0, 0)
        self.raw_total = 0
        self.raw_over = False


class TcpSession(TcpHost):
    """:class:`~phonehome.protocols.base.Session` for TCP flows.

    ``protocol`` is the verdict (a registered protocol's name, or ``tcp`` = raw), None
    until the first bytes decided it.
    """

    def __init__(
        self, ctx: Context, input: int, server_port: int, server: str = "",
        protocol: Protocol | None = None, device_is_client: bool = True,
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.input = input
        self.server_port = server_port
        self.server = server
        """The server's address (text), for what a protocol reports about the connection."""
        self.device_is_client = device_is_client
        """Which end is the device (``TcpHost.device_is_client``)."""
        self._forced = protocol
        """The protocol both directions are, whatever they start with (ALPN said so)."""
        self.done = False
        self.protocol: str | None = None
        self._client = _Side(True)
        self._server = _Side(False)
        self._held: list[Parsed] = []  # produced during gap(), handed out next call
        self._closed = False
        self._apps: dict[str, TcpApp] = {}
        """One app per protocol for the whole connection: both directions share it, and
        a direction that comes back to the protocol (after raw) finds its state."""

    # -- Session protocol -----------------------------------------------------------------

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        out = self._take_held()
        if self._closed or self.done or not data:
            return out
        me, other = self._sides(from_client)
        # The other side's turn is over: if it was still undecided it must decide with
        # what it has (a server that spoke first decides on its own content), and its raw
        # bytes form one payload.
        if other.mode == _PENDING and other.pending:
            self._decide(other, True, out)
        if other.mode == _RAW:
            self._flush(other, out)
        self._feed(me, data, time, frame, out)
        return out

    def gap(self, from_client: bool, size: int) -> None:
        if self._closed or self.done:
            return
        side = self._side(from_client)
        out = self._held
        if side.mode == _PENDING:
            if not side.pending:
                return
            self._decide(side, True, out)
        mode = side.mode
        if mode == _APP:
            app = side.app
            assert app is not None
            app.gap(from_client, size, out)
        elif mode == _RAW:
            self._flush(side, out)

    def close(self) -> list[Parsed]:
        out = self._take_held()
        if self._closed:
            return out
        self._closed = True
        for side in (self._client, self._server):
            if side.mode == _PENDING and side.pending:
                self._decide(side, True, out)
        for side in (self._client, self._server):
            self._finish_side(side, out)
        self.done = True
        # Each app holds this session as its host: let go of them, so that the connection
        # is freed as soon as the flow table forgets it rather than by the cyclic garbage
        # collector, whose passes then walked every young object (~7 % of a scan of
        # leak-dense traffic, most connections being short).
        self._apps.clear()
        self._client.app = None
        self._server.app = None
        return out

    # -- TcpHost: what the protocols' apps may ask ------------------------------------------

    def to_raw(
        self, from_client: bool, rest: Rest | None, out: list[Parsed], resumable: bool = True
    ) -> None:
        side = self._side(from_client)
        side.mode = _RAW
        side.app = None
        if not resumable:
            side.resumable = False
        if rest is not None:
            self._raw(side, rest[0], rest[1], rest[2], out)

    def flush_raw(self, from_client: bool, out: list[Parsed]) -> None:
        self._flush(self._side(from_client), out)

    def is_raw(self, from_client: bool) -> bool:
        return self._side(from_client).mode == _RAW

    def app_of(self, from_client: bool) -> TcpApp | None:
        side = self._side(from_client)
        return side.app if side.mode == _APP else None

    def skip(self, from_client: bool) -> None:
        self._side(from_client).mode = _SKIP

    def attach(self, from_client: bool, app: TcpApp, out: list[Parsed]) -> None:
        side = self._side(from_client)
        side.mode = _APP
        side.app = app

    def reopen(self, rests: list[tuple[bool, Rest | None]], out: list[Parsed]) -> None:
        for from_client, _ in rests:
            side = self._side(from_client)
            side.app = None
            side.mode = _PENDING
        for from_client, rest in rests:
            if rest is not None:
                self._feed(self._side(from_client), rest[0], rest[1], rest[2], out)

    def nested(self, alpn: str | None = None) -> Session:
        forced = None
        if alpn:
            for proto in TCP:
                if alpn in proto.alpn:
                    forced = proto
                    break
        return TcpSession(
            self.ctx, self.input, self.server_port, self.server, forced, self.device_is_client
        )

    # -- dispatch -------------------------------------------------------------------------

    def _side(self, from_client: bool) -> _Side:
        return self._client if from_client else self._server

    def _sides(self, from_client: bool) -> tuple[_Side, _Side]:
        if from_client:
            return self._client, self._server
        return self._server, self._client

    def _take_held(self) -> list[Parsed]:
        out = self._held
        self._held = []
        return out

    def _feed(self, side: _Side, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        mode = side.mode
        if mode == _APP:
            app = side.app
            assert app is not None
            app.data(side.from_client, data, time, frame, out)
        elif mode == _RAW:
            self._raw(side, data, time, frame, out)
        elif mode == _PENDING:
            side.pending.append((data, time, frame))
            side.pending_size += len(data)
            self._decide(side, False, out)

    def _decide(self, side: _Side, force: bool, out: list[Parsed]) -> None:
        """Pick the protocol of a pending direction, then replay its held bytes."""
        forced = self._forced
        if forced is not None:
            self._settle(side, forced, None, out)
            return
        head = b"".join([d for d, _, _ in side.pending])[:64]
        client = self._client
        if side.from_client:
            proto = _recognise_client(head)
            if proto is None and not force and len(head) < DECIDE_BYTES:
                return
            self._settle(side, proto, None, out)
        elif client.mode == _APP:
            self._settle(side, None, client.app, out)
        elif client.mode == _RAW:
            self._settle(side, None, None, out)
        elif force or side.pending_size > PENDING_LIMIT:
            self._settle(side, _recognise_server(head), None, out)

    def _settle(
        self, side: _Side, proto: Protocol | None, follow: TcpApp | None, out: list[Parsed]
    ) -> None:
        """Give a pending direction to ``proto``'s app (shared with the other direction
        when it has the same protocol), to the app it ``follow``s, or (neither) to raw;
        then replay the held bytes."""
        chunks = side.pending
        side.pending = []
        side.pending_size = 0
        if follow is not None:
            if follow.follows(side.from_client):
                self._enter(side, follow, out)
            else:
                side.mode = _SKIP
        elif proto is not None:
            app = self._apps.get(proto.name)
            if app is None:
                app = self._apps[proto.name] = proto.tcp_app(self)
            self._enter(side, app, out)
        else:
            side.mode = _RAW
            self._verdict(side, RAW_NAME)
        for data, time, frame in chunks:
            self._feed(side, data, time, frame, out)
        if side.from_client and self._server.pending:
            self._decide(self._server, False, out)

    def _enter(self, side: _Side, app: TcpApp, out: list[Parsed]) -> None:
        side.mode = _APP
        side.app = app
        app.start(side.from_client, out)
        self._verdict(side, RAW_NAME if side.mode == _SKIP else app.protocol.name)

    def _verdict(self, side: _Side, name: str) -> None:
        if side.from_client or self.protocol is None:
            self.protocol = name

    # -- raw ------------------------------------------------------------------------------

    def _raw(self, side: _Side, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        if side.raw_over:
            return
        if side.from_client and side.resumable:
            for proto in TCP:
                if proto.tcp_resume(data):
                    # A segment that starts a message: the capture began mid-stream (or
                    # after a gap) and what came first was the tail of something.
                    self._flush(side, out)
                    side.mode = _PENDING
                    side.pending = [(data, time, frame)]
                    side.pending_size = len(data)
                    self._settle(side, proto, None, out)
                    return
        if not side.raw_parts:
            side.raw_start = (time, frame)
        room = RAW_LIMIT - side.raw_total
        if len(data) > room:
            data = data[:room]
            side.raw_over = True
        if data:
            side.raw_parts.append(data)
            side.raw_total += len(data)
        if side.raw_over:
            self._flush(side, out)
            other = self._server if side.from_client else self._client
            if other.raw_over or other.mode == _SKIP:
                self.done = True

    def _flush(self, side: _Side, out: list[Parsed]) -> None:
        if not side.raw_parts:
            return
        data = b"".join(side.raw_parts)
        side.raw_parts = []
        time, frame = side.raw_start
        out.append(Parsed(side.from_client, time, frame, RawPayload(data, side.raw_over)))

    # -- end --------------------------------------------------------------------------------

    def _finish_side(self, side: _Side, out: list[Parsed]) -> None:
        for _ in range(4):  # a tunnel's bytes are recognised again, once or twice at most
            mode = side.mode
            if mode == _APP:
                app = side.app
                assert app is not None
                app.finish(side.from_client, out)
                if side.mode == _APP and side.app is app:
                    break
            elif mode == _PENDING and side.pending:
                self._decide(side, True, out)
            else:
                break
        if side.mode == _RAW:
            self._flush(side, out)


def _recognise_client(head: bytes) -> Protocol | None:
    for proto in TCP:
        if proto.tcp_client(head):
            return proto
    return None


def _recognise_server(head: bytes) -> Protocol | None:
    for proto in TCP:
        if proto.tcp_server(head):
            return proto
    return None
