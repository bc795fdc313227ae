"""The session of one TCP connection: recognise the protocol by content, then parse.

Apps and IoT firmware run HTTP on 8100 and MQTT on 9999, so the port is no guide: the
first bytes of the client direction decide (HTTP request, TLS ClientHello, MQTT CONNECT,
DNS over TCP, else raw), and the server direction follows the client's verdict. A server
that speaks first (banners) or a capture with only the server side decides on its own.

Raw payloads are coalesced per "turn" (what one side sends until the other side speaks),
the unit a reader of Wireshark's Follow TCP Stream would expect, and bounded per direction.
"""

from __future__ import annotations

from typing import Final

from phonehome.context import Context
from phonehome.model.message import HttpRequest, RawPayload
from phonehome.protocols.base import Parsed
from phonehome.protocols.http import (
    HttpStreamParser,
    looks_like_http_request,
    looks_like_http_response,
)
from phonehome.protocols.http import (
    Output as HttpOutput,
)
from phonehome.protocols.mqtt import MqttStreamParser, looks_like_mqtt_connect

RAW_LIMIT: Final = 64 << 10
"""Raw bytes kept per direction of a flow; the payload that crosses it is truncated."""
TLS_HELLO_LIMIT: Final = 64 << 10
"""Client bytes buffered while waiting for a complete ClientHello."""
PENDING_LIMIT: Final = 64 << 10
"""Server bytes held while the client direction has not decided the protocol."""
DECIDE_BYTES: Final = 16
"""Bytes needed before giving up on every recogniser and calling a stream raw."""

# Direction modes
_PENDING: Final = "pending"
_HTTP: Final = "http"
_TLS: Final = "tls"
_MQTT: Final = "mqtt"
_DNS: Final = "dns"
_RAW: Final = "tcp"
_SKIP: Final = "skip"  # encrypted server side of TLS: nothing to parse


class _Side:
    """The state of one direction."""

    __slots__ = (
        "buf",
        "buf_start",
        "from_client",
        "http",
        "http_failed",
        "mode",
        "mqtt",
        "pending",
        "pending_size",
        "raw_over",
        "raw_parts",
        "raw_start",
        "raw_total",
    )

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.mode = _PENDING
        self.pending: list[tuple[bytes, float, int]] = []
        self.pending_size = 0
        self.http: HttpStreamParser | None = None
        self.http_failed = False
        self.mqtt: MqttStreamParser | None = None
        self.buf = bytearray()  # DNS framing / TLS hello accumulation
        self.buf_start = (0.0, 0)
        self.raw_parts: list[bytes] = []
        self.raw_start = (0.0, 0)
        self.raw_total = 0
        self.raw_over = False


class TcpSession:
    """:class:`~phonehome.protocols.base.Session` for TCP flows.

    ``protocol`` is the verdict (``http tls mqtt dns tcp``; ``tcp`` = raw), None until the
    first bytes decided it.
    """

    def __init__(self, ctx: Context, input: int, server_port: int) -> None:
        self._ctx = ctx
        self._input = input
        self.server_port = server_port
        self.done = False
        self.protocol: str | None = None
        self._client = _Side(True)
        self._server = _Side(False)
        self._req: HttpStreamParser | None = None
        self._resp: HttpStreamParser | None = None
        self._held: list[Parsed] = []  # produced during gap(), handed out next call
        self._closed = False

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
            self._flush_raw(other, out)
        self._feed(me, data, time, frame, out)
        return out

    def gap(self, from_client: bool, size: int) -> None:
        if self._closed or self.done:
            return
        side, _ = self._sides(from_client)
        out = self._held
        if side.mode == _PENDING:
            if not side.pending:
                return
            self._decide(side, True, out)
        mode = side.mode
        if mode == _HTTP:
            assert side.http is not None
            side.http.gap(size)
        elif mode == _RAW:
            self._flush_raw(side, out)
        elif mode in (_MQTT, _DNS):
            # No marker to find the next message at: what is left and what follows is raw.
            rest = self._take_buffered(side)
            self._to_raw(side, rest, out)
            self._flush_raw(side, out)
        elif mode == _TLS:
            self._ctx.anomalies.add("tls.incomplete_client_hello", self._input, None, "gap")
            self.done = True

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
        return out

    # -- dispatch -------------------------------------------------------------------------

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
        if mode == _PENDING:
            side.pending.append((data, time, frame))
            side.pending_size += len(data)
            self._decide(side, False, out)
        elif mode == _HTTP:
            assert side.http is not None
            self._http_out(side, side.http.feed(data, time, frame), out)
        elif mode == _RAW:
            self._raw(side, data, time, frame, out)
        elif mode == _MQTT:
            self._mqtt(side, data, time, frame, out)
        elif mode == _DNS:
            self._dns(side, data, time, frame, out)
        elif mode == _TLS:
            self._tls(side, data, time, frame, out)

    def _decide(self, side: _Side, force: bool, out: list[Parsed]) -> None:
        """Pick the protocol of a pending direction, then replay its held bytes."""
        head = b"".join(d for d, _, _ in side.pending)[:64]
        if side.from_client:
            mode = self._classify_client(head, force)
        elif self._client.mode not in (_PENDING, _SKIP):
            mode = self._follow(self._client.mode)
        elif force or side.pending_size > PENDING_LIMIT:
            mode = self._classify_server(head)
        else:
            mode = None
        if mode is None:
            return
        chunks = side.pending
        side.pending = []
        side.pending_size = 0
        self._decide_as(side, mode, chunks, out)

    def _decide_as(
        self, side: _Side, mode: str, chunks: list[tuple[bytes, float, int]], out: list[Parsed]
    ) -> None:
        self._set_mode(side, mode, out)
        for data, time, frame in chunks:
            self._feed(side, data, time, frame, out)
        if side.from_client and self._server.pending:
            self._decide(self._server, False, out)

    def _classify_client(self, head: bytes, force: bool) -> str | None:
        if looks_like_http_request(head):
            return _HTTP
        if len(head) >= 6 and head[0] == 0x16 and head[1] == 3 and head[5] == 1:
            return _TLS
        if looks_like_mqtt_connect(head):
            return _MQTT
        if _looks_like_dns_tcp(head, query=True):
            return _DNS
        if not force and len(head) < DECIDE_BYTES:
            return None
        return _RAW

    def _classify_server(self, head: bytes) -> str:
        if looks_like_http_response(head):
            return _HTTP
        if len(head) >= 3 and head[0] in (0x15, 0x16) and head[1] == 3:
            return _SKIP
        if _looks_like_dns_tcp(head, query=False):
            return _DNS
        return _RAW

    @staticmethod
    def _follow(client_mode: str) -> str:
        return _SKIP if client_mode == _TLS else client_mode

    def _set_mode(self, side: _Side, mode: str, out: list[Parsed]) -> None:
        side.mode = mode
        if side.from_client or self.protocol is None:
            self.protocol = _RAW if mode == _SKIP else mode
        if mode == _HTTP:
            side.http = self._http_parser(side.from_client)
            server = self._server
            if side.from_client and server.mode == _RAW and self._resp is None:
                # The server side was called raw on its own (capture started mid-response):
                # now that requests are seen, look for the next status line there.
                self._flush_raw(server, out)
                server.mode = _HTTP
                server.http = self._http_parser(False)
                server.http.gap()
        elif mode == _MQTT:
            side.mqtt = MqttStreamParser(self._ctx, self._input)
        elif mode in (_DNS, _TLS):
            side.buf.clear()

    def _http_parser(self, is_request: bool) -> HttpStreamParser:
        if is_request:
            if self._req is None:
                self._req = HttpStreamParser(True, self._ctx, self._input)
            return self._req
        if self._resp is None:
            self._resp = HttpStreamParser(False, self._ctx, self._input)
        return self._resp

    # -- HTTP -----------------------------------------------------------------------------

    def _http_out(self, side: _Side, messages: HttpOutput, out: list[Parsed]) -> None:
        resp = self._http_parser(False)
        for time, frame, msg in messages:
            out.append(Parsed(side.from_client, time, frame, msg))
            if isinstance(msg, HttpRequest):
                resp.expect(msg.method)
        parser = side.http
        if parser is None or side.mode != _HTTP:
            return
        if parser.stopped:
            side.http_failed = True
            self._to_raw(side, parser.take_rest(), out)
            return
        if side.from_client:
            if parser.paused and not resp.holding and not resp.paused:
                resp.hold_after(len(resp.methods))
            return
        if parser.tunnel:
            self._open_tunnel(out)
        elif parser.paused:
            # The CONNECT/Upgrade was refused: HTTP goes on in both directions, requests
            # first so that the responses after this one know their methods.
            req = self._req
            if req is not None and req.paused:
                self._http_out(self._client, req.resume(False), out)
            self._http_out(side, parser.resume(False), out)

    def _open_tunnel(self, out: list[Parsed]) -> None:
        """CONNECT accepted or protocol switched: both directions start over, usually
        with a TLS ClientHello."""
        rests = []
        for side in (self._client, self._server):
            parser = side.http
            if side.mode == _HTTP and parser is not None:
                for time, frame, msg in parser.resume(True):
                    out.append(Parsed(side.from_client, time, frame, msg))
                rests.append((side, parser.take_rest()))
                side.http = None
                side.mode = _PENDING
        self._req = self._resp = None
        for side, rest in rests:
            if rest is not None:
                self._feed(side, rest[0], rest[1], rest[2], out)

    @staticmethod
    def _take_buffered(side: _Side) -> tuple[bytes, float, int] | None:
        """Bytes an MQTT parser or the DNS framing holds, for the raw fallback."""
        if side.mqtt is not None:
            return side.mqtt.take_rest()
        if not side.buf:
            return None
        rest = (bytes(side.buf), side.buf_start[0], side.buf_start[1])
        side.buf.clear()
        return rest

    def _to_raw(
        self, side: _Side, rest: tuple[bytes, float, int] | None, out: list[Parsed]
    ) -> None:
        side.mode = _RAW
        side.http = None
        side.mqtt = None
        if rest is not None:
            self._raw(side, rest[0], rest[1], rest[2], out)

    # -- MQTT, DNS, TLS -------------------------------------------------------------------

    def _mqtt(self, side: _Side, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        parser = side.mqtt
        assert parser is not None
        client = self._client.mqtt
        if not side.from_client and client is not None and client.level:
            parser.level = client.level
        for t, f, msg in parser.feed(data, time, frame):
            out.append(Parsed(side.from_client, t, f, msg))
        if parser.stopped:
            self._to_raw(side, parser.take_rest(), out)

    def _dns(self, side: _Side, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        from phonehome.protocols import dns  # lazily: written in parallel

        buf = side.buf
        if not buf:
            side.buf_start = (time, frame)
        buf += data
        while len(buf) >= 2:
            size = int.from_bytes(buf[:2], "big")
            if len(buf) < 2 + size:
                break
            wire = bytes(buf[2 : 2 + size])
            try:
                msg = dns.parse(wire)
            except dns.DnsError as e:
                self._ctx.anomalies.add("dns.malformed", self._input, frame, f"over TCP: {e}")
                rest = bytes(buf)
                buf.clear()
                self._to_raw(side, (rest, side.buf_start[0], side.buf_start[1]), out)
                return
            out.append(Parsed(side.from_client, side.buf_start[0], side.buf_start[1], msg))
            del buf[: 2 + size]
            side.buf_start = (time, frame)

    def _tls(self, side: _Side, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        from phonehome.protocols import tls  # lazily: written in parallel

        buf = side.buf
        if not buf:
            side.buf_start = (time, frame)
        buf += data[: max(0, TLS_HELLO_LIMIT - len(buf))]
        try:
            hello = tls.parse_client_hello_records(bytes(buf))
        except tls.TlsError as e:
            self._ctx.anomalies.add("tls.bad_client_hello", self._input, frame, str(e))
            self._end_tls(side)
            return
        if hello is not None:
            out.append(Parsed(True, side.buf_start[0], side.buf_start[1], hello))
            self._end_tls(side)
        elif len(buf) >= TLS_HELLO_LIMIT:
            self._ctx.anomalies.add(
                "tls.incomplete_client_hello", self._input, frame, f"over {TLS_HELLO_LIMIT} bytes"
            )
            self._end_tls(side)

    def _end_tls(self, side: _Side) -> None:
        """Past the ClientHello everything is encrypted: stop the flow's delivery."""
        side.buf.clear()
        side.mode = _SKIP
        self.done = True

    # -- raw ------------------------------------------------------------------------------

    def _raw(self, side: _Side, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        if side.raw_over:
            return
        if side.from_client and not side.http_failed and looks_like_http_request(data):
            # A segment that starts an HTTP request: the capture began mid-stream (or
            # after a gap) and what came first was the tail of something.
            self._flush_raw(side, out)
            side.mode = _PENDING
            self._decide_as(side, _HTTP, [(data, time, frame)], out)
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
            self._flush_raw(side, out)
            other = self._server if side.from_client else self._client
            if other.raw_over or other.mode == _SKIP:
                self.done = True

    def _flush_raw(self, side: _Side, out: list[Parsed]) -> None:
        if not side.raw_parts:
            return
        data = b"".join(side.raw_parts)
        side.raw_parts = []
        time, frame = side.raw_start
        out.append(Parsed(side.from_client, time, frame, RawPayload(data, side.raw_over)))

    # -- end --------------------------------------------------------------------------------

    def _finish_side(self, side: _Side, out: list[Parsed]) -> None:
        for _ in range(4):  # a tunnel's bytes are classified again, once or twice at most
            mode = side.mode
            if mode == _HTTP and side.http is not None:
                parser = side.http
                self._http_out(side, parser.finish(), out)
                if side.mode != _HTTP or side.http is None:
                    continue
                rest = parser.take_rest()
                if rest is not None and parser.paused:
                    # A CONNECT whose answer was never captured: look at what followed.
                    side.mode = _PENDING
                    side.http = None
                    self._feed(side, rest[0], rest[1], rest[2], out)
                    if side.pending:
                        self._decide(side, True, out)
                    continue
                self._to_raw(side, rest, out)
            elif mode == _MQTT and side.mqtt is not None:
                side.mqtt.finish()
                self._to_raw(side, self._take_buffered(side), out)
            elif mode == _DNS and side.buf:
                self._ctx.anomalies.add(
                    "dns.truncated_tcp", self._input, None, f"{len(side.buf)} bytes left at close"
                )
                self._to_raw(side, self._take_buffered(side), out)
            elif mode == _TLS and side.buf:
                self._ctx.anomalies.add(
                    "tls.incomplete_client_hello", self._input, None, "flow ended"
                )
                side.buf.clear()
            elif mode == _PENDING and side.pending:
                self._decide(side, True, out)
                continue
            if side.mode == _RAW:
                self._flush_raw(side, out)
            return


def _looks_like_dns_tcp(head: bytes, *, query: bool) -> bool:
    """A 2-byte length prefix and a DNS header a real resolver or stub would send."""
    if len(head) < 14:
        return False
    size = int.from_bytes(head[:2], "big")
    if size < 12:
        return False
    flags = int.from_bytes(head[4:6], "big")
    qr = flags >> 15
    opcode = (flags >> 11) & 0xF
    if opcode not in (0, 1, 2, 4, 5) or flags & 0x0040:  # Z bit must be zero
        return False
    qd = int.from_bytes(head[6:8], "big")
    an = int.from_bytes(head[8:10], "big")
    ns = int.from_bytes(head[10:12], "big")
    ar = int.from_bytes(head[12:14], "big")
    if query:
        return qr == 0 and 1 <= qd <= 4 and an == 0 and ns <= 16 and ar <= 4 and not flags & 0xF
    return qr == 1 and qd <= 4 and an + ns + ar <= 512
