"""HTTP/2 (RFC 9113) over the plaintext bytes of one connection, one message per stream.

Fed like a session: each direction's bytes in order (decrypted TLS, or h2c in the clear),
cut at any byte. Frames are read as RFC 9113 section 4-6 has them; header blocks (HEADERS or
PUSH_PROMISE plus CONTINUATION, padding and priority removed) are decompressed with one
HPACK decoder per direction, whose dynamic table is bounded by
the peer's SETTINGS_HEADER_TABLE_SIZE and by :data:`TABLE_CAP`. Each stream gives one
:class:`HttpRequest` (client side) and one :class:`HttpResponse` (server side, plus any 1xx)
with ``version="HTTP/2"``, the pseudo-header fields kept in ``headers`` as sent, trailers
appended as for HTTP/1, and ``content-encoding`` undone with ``protocols.bodies``. A
message is emitted when its side ends the stream, at RST_STREAM, or (truncated) at the end.

Damage is counted (``http2.*`` anomalies), never raised. A direction whose header
compression state is lost (HPACK error, capture gap) stops: later header blocks could not
be decoded correctly, and nothing decoded wrongly is worth more than nothing. (HPACK is
decoded by :mod:`phonehome.protocols.hpack_decoder`, not the ``hpack`` package: see there
for the measurement.)

h2c: :func:`is_h2_preface` recognises prior knowledge; after an ``Upgrade: h2c`` request
and its ``101``, :meth:`Http2Connection.upgraded` continues the connection, with the request
already read by the HTTP/1 parser as stream 1.

Registered as the TCP protocol ``http2`` (:data:`HTTP2`): a client stream that starts with
the preface, whether in the clear (h2c with prior knowledge) or the plaintext of a
decrypted TLS connection (ALPN ``h2``); the HTTP/1 app hands an upgraded connection over
(:func:`upgraded_app`). Its messages are the HTTP protocol's records, named ``http2``.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from typing import Final

from phonehome.context import Context
from phonehome.model.message import Headers, HttpRequest, HttpResponse, header
from phonehome.protocols.base import Parsed, Protocol, TcpApp, TcpHost
from phonehome.protocols.bodies import SUPPORTED_ENCODINGS, decode_body, split_codings
from phonehome.protocols.hpack_decoder import HpackDecoder, HpackError

PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface (RFC 9113 3.4)."""
VERSION: Final = "HTTP/2"

DATA: Final = 0x0
HEADERS: Final = 0x1
PRIORITY: Final = 0x2
RST_STREAM: Final = 0x3
SETTINGS: Final = 0x4
PUSH_PROMISE: Final = 0x5
PING: Final = 0x6
GOAWAY: Final = 0x7
WINDOW_UPDATE: Final = 0x8
CONTINUATION: Final = 0x9

FLAG_END_STREAM: Final = 0x1
FLAG_ACK: Final = 0x1
FLAG_END_HEADERS: Final = 0x4
FLAG_PADDED: Final = 0x8
FLAG_PRIORITY: Final = 0x20

SETTINGS_HEADER_TABLE_SIZE: Final = 0x1
DEFAULT_TABLE_SIZE: Final = 4096

MAX_BODY: Final = 8 << 20
"""Body bytes kept per message (as for HTTP/1); the rest is counted past."""
MAX_BODIES: Final = 32 << 20
"""Body bytes held across all open streams of a connection."""
MAX_FRAME: Final = 1 << 20
"""Largest frame held whole. Peers allow 16 KiB frames unless told otherwise and few go
beyond; a larger frame is skipped without being held (a DATA frame's stream is then
truncated; a header block's loss stops the direction)."""
MAX_HEADER_BLOCK: Final = 256 << 10
"""Compressed header block bytes (HEADERS + CONTINUATION) held for one block."""
MAX_HEADER_LIST: Final = 256 << 10
"""Decompressed header list size (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE accounting)."""
TABLE_CAP: Final = 64 << 10
"""Our own bound on each HPACK dynamic table, whatever SETTINGS allow (RFC 7541 4.2)."""
MAX_STREAMS: Final = 512
"""Streams tracked at once; the oldest is emitted (truncated) to make room."""

_STATUS: Final = re.compile(r"[0-9]{3}")
_NAMES: Final = {
    DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION",
}  # fmt: skip


def is_h2_preface(head: bytes) -> bool:
    """The client stream starts with the HTTP/2 connection preface (h2c prior knowledge,
    or any decrypted stream). Needs the 24 bytes."""
    return head.startswith(PREFACE)


def may_become_h2_preface(head: bytes) -> bool:
    """``head`` is shorter than the preface and is its beginning."""
    return len(head) < len(PREFACE) and PREFACE.startswith(head)


def is_h2c_upgrade(request: HttpRequest) -> bool:
    """An HTTP/1.1 request asking to switch to cleartext HTTP/2 (RFC 7540 3.2)."""
    upgrade = header(request.headers, "upgrade") or ""
    return "h2c" in split_codings([upgrade])


def is_h2c_switch(response: HttpResponse) -> bool:
    """The server's ``101 Switching Protocols`` to h2c."""
    upgrade = header(response.headers, "upgrade") or ""
    return response.status == 101 and "h2c" in split_codings([upgrade])


class _Message:
    """One side of one stream while it is being received."""

    __slots__ = ("body", "ended", "frame", "headers", "time", "truncated")

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] | None = None
        self.body = bytearray()
        self.truncated = False
        self.ended = False
        self.time = 0.0
        self.frame = 0


class _Stream:
    __slots__ = ("id", "pushed", "request", "request_emitted", "response")

    def __init__(self, stream_id: int) -> None:
        self.id = stream_id
        self.request = _Message()
        self.response = _Message()
        self.request_emitted = False
        self.pushed = False
        """Opened by the server's PUSH_PROMISE: the request part was never sent."""


class _Side:
    """One direction: its frame reader and the decoder for the header blocks it sends."""

    __slots__ = (
        "base",
        "block",
        "block_flags",
        "block_frame",
        "block_promised",
        "block_stream",
        "block_time",
        "buf",
        "decoder",
        "from_client",
        "marks",
        "preface",
        "skip",
        "skip_stream",
        "stopped",
    )

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.buf = bytearray()
        self.base = 0
        self.marks: list[tuple[int, float, int]] = []
        self.preface = from_client
        """The client's 24-byte preface is still to come."""
        self.decoder = HpackDecoder(DEFAULT_TABLE_SIZE, MAX_HEADER_LIST)
        self.block = bytearray()
        self.block_stream = 0
        """Stream whose header block is being assembled (0: none)."""
        self.block_flags = 0
        self.block_promised = 0
        self.block_time = 0.0
        self.block_frame = 0
        self.skip = 0
        """Payload bytes of an oversized frame still to be skipped."""
        self.skip_stream = 0
        self.stopped = False


class Http2Connection:
    """One HTTP/2 connection, both directions. ``data``/``gap``/``close`` as in
    :class:`~phonehome.protocols.base.Session`; returns :class:`Parsed` messages."""

    def __init__(self, ctx: Context, input: int, *, max_body: int = MAX_BODY) -> None:
        self._ctx = ctx
        self._input = input
        self._max_body = max_body
        self._client = _Side(True)
        self._server = _Side(False)
        self._streams: dict[int, _Stream] = {}
        self._held = 0  # body bytes held across streams
        self._out: list[Parsed] = []
        self._frame: int | None = None
        self.streams_seen = 0
        self.pushed = 0
        self.goaway = False

    @classmethod
    def upgraded(
        cls, ctx: Context, input: int, request: HttpRequest, time: float, frame: int,
        *, max_body: int = MAX_BODY,
    ) -> Http2Connection:  # fmt: skip
        """The HTTP/2 connection after ``Upgrade: h2c`` and ``101``: ``request`` (already
        emitted by the HTTP/1 parser) is stream 1, whose response comes as HTTP/2; its
        ``HTTP2-Settings`` header is the client's first SETTINGS (RFC 7540 3.2.1)."""
        conn = cls(ctx, input, max_body=max_body)
        stream = conn._open(1)
        if stream is not None:
            stream.request.ended = True
            stream.request_emitted = True
            stream.request.time, stream.request.frame = time, frame
        settings = header(request.headers, "http2-settings")
        if settings is not None:
            try:
                payload = base64.urlsafe_b64decode(settings.strip() + "=" * (-len(settings) % 4))
            except (binascii.Error, ValueError):
                conn._anomaly("http2.bad_settings", "HTTP2-Settings is not base64url")
            else:
                conn._settings(conn._client, payload, 0)
        return conn

    # -- Session-like API -----------------------------------------------------------

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        side = self._client if from_client else self._server
        if side.stopped or not data:
            return self._drain()
        self._frame = frame
        side.marks.append((side.base + len(side.buf), time, frame))
        side.buf += data
        self._frames(side)
        return self._drain()

    def gap(self, from_client: bool, size: int) -> None:
        """Lost bytes: frame boundaries and the HPACK state of this direction are gone."""
        side = self._client if from_client else self._server
        if side.stopped:
            return
        self._anomaly("http2.gap", f"{size} bytes lost; the rest of the "
                      f"{'client' if from_client else 'server'} side is not parsed")  # fmt: skip
        self._stop(side)
        for stream in self._streams.values():
            msg = stream.request if from_client else stream.response
            if msg.headers is not None and not msg.ended:
                msg.truncated = True

    def close(self) -> list[Parsed]:
        """End of the connection: streams still open are emitted as far as they got."""
        for stream in list(self._streams.values()):
            self._finish(stream, "stream open at the end of the connection")
        self._streams.clear()
        return self._drain()

    # -- frames ------------------------------------------------------------------------

    def _frames(self, side: _Side) -> None:
        buf = side.buf
        pos = 0
        if side.preface:
            have = min(len(buf), len(PREFACE))
            if buf[:have] != PREFACE[:have]:
                self._anomaly("http2.bad_preface", "the client did not send the preface")
                self._stop(side)
                return
            if have < len(PREFACE):
                return
            side.preface = False
            pos = len(PREFACE)
        n = len(buf)
        while not side.stopped:
            if side.skip:
                step = min(side.skip, n - pos)
                side.skip -= step
                pos += step
                if side.skip:
                    break
            if n - pos < 9:
                break
            length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
            ftype = buf[pos + 3]
            flags = buf[pos + 4]
            stream_id = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
            if length > MAX_FRAME:
                self._oversized(side, ftype, stream_id, length)
                pos += 9
                continue
            if n - pos - 9 < length:
                break
            time, frame = self._where(side, side.base + pos)
            self._frame = frame
            payload = bytes(buf[pos + 9 : pos + 9 + length])
            pos += 9 + length
            self._frame_in(side, ftype, flags, stream_id, payload, time, frame)
        if side.stopped:
            pos = n
        if pos:
            del buf[:pos]
            side.base += pos
            marks = side.marks
            i = bisect_right(marks, side.base, key=_offset) - 1
            if i > 0:
                del marks[:i]

    def _oversized(self, side: _Side, ftype: int, stream_id: int, length: int) -> None:
        name = _NAMES.get(ftype, f"type 0x{ftype:02x}")
        self._anomaly("http2.frame_too_large", f"{name} frame of {length} bytes skipped")
        side.skip = length
        side.skip_stream = stream_id
        if ftype == DATA:
            stream = self._streams.get(stream_id)
            if stream is not None:
                (stream.request if side.from_client else stream.response).truncated = True
        elif ftype in (HEADERS, PUSH_PROMISE, CONTINUATION):
            self._anomaly("http2.hpack_lost", "a header block was skipped; the "
                          f"{'client' if side.from_client else 'server'} side stops")  # fmt: skip
            self._stop(side)

    def _frame_in(
        self, side: _Side, ftype: int, flags: int, stream_id: int, payload: bytes,
        time: float, frame: int,
    ) -> None:  # fmt: skip
        if side.block_stream and ftype != CONTINUATION:
            self._anomaly("http2.bad_continuation", f"{_NAMES.get(ftype, ftype)} frame inside "
                          "a header block")  # fmt: skip
            self._stop(side)
            return
        if ftype == DATA:
            self._data(side, flags, stream_id, payload)
        elif ftype == HEADERS:
            self._headers(side, flags, stream_id, payload, time, frame)
        elif ftype == CONTINUATION:
            self._continuation(side, flags, stream_id, payload)
        elif ftype == SETTINGS:
            if stream_id != 0 or (flags & FLAG_ACK and payload):
                self._anomaly("http2.bad_settings", "SETTINGS on a stream or ACK with payload")
            elif not flags & FLAG_ACK:
                self._settings(side, payload, frame)
        elif ftype == RST_STREAM:
            stream = self._streams.pop(stream_id, None)
            if stream is not None:
                self._finish(stream, "")
        elif ftype == PUSH_PROMISE:
            self._push_promise(side, flags, stream_id, payload, time, frame)
        elif ftype == GOAWAY:
            self.goaway = True
        # PRIORITY, PING, WINDOW_UPDATE and extension frames carry nothing of interest.

    def _unpad(self, flags: int, payload: bytes, what: str) -> bytes | None:
        if not flags & FLAG_PADDED:
            return payload
        if not payload or payload[0] >= len(payload):
            self._anomaly("http2.bad_padding", f"{what}: padding longer than the frame")
            return None
        return payload[1 : len(payload) - payload[0]]

    def _data(self, side: _Side, flags: int, stream_id: int, payload: bytes) -> None:
        body = self._unpad(flags, payload, "DATA")
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id == 0:
                self._anomaly("http2.bad_frame", "DATA on stream 0")
            return  # a stream we never saw open (capture started late) or already reset
        msg = stream.request if side.from_client else stream.response
        if msg.headers is None:
            self._anomaly("http2.bad_frame", f"DATA before HEADERS on stream {stream_id}")
            return
        if body:
            room = min(self._max_body - len(msg.body), MAX_BODIES - self._held)
            if room > 0:
                kept = body[:room]
                msg.body += kept
                self._held += len(kept)
            if len(body) > room:
                msg.truncated = True
        if flags & FLAG_END_STREAM:
            msg.ended = True
            self._emit(stream, side.from_client)

    def _headers(
        self, side: _Side, flags: int, stream_id: int, payload: bytes, time: float, frame: int
    ) -> None:
        if stream_id == 0:
            self._anomaly("http2.bad_frame", "HEADERS on stream 0")
            return
        fragment = self._unpad(flags, payload, "HEADERS")
        if fragment is None:
            self._stop(side)  # the block is lost, and the HPACK state with it
            return
        if flags & FLAG_PRIORITY:
            if len(fragment) < 5:
                self._anomaly("http2.bad_frame", "HEADERS priority fields cut short")
                self._stop(side)
                return
            fragment = fragment[5:]
        side.block_stream = stream_id
        side.block_flags = flags
        side.block_promised = 0
        side.block_time, side.block_frame = time, frame
        side.block[:] = fragment
        if flags & FLAG_END_HEADERS:
            self._block_done(side)

    def _push_promise(
        self, side: _Side, flags: int, stream_id: int, payload: bytes, time: float, frame: int
    ) -> None:
        fragment = self._unpad(flags, payload, "PUSH_PROMISE")
        if fragment is None or len(fragment) < 4 or side.from_client:
            self._anomaly("http2.bad_frame", "malformed PUSH_PROMISE")
            self._stop(side)
            return
        side.block_stream = stream_id
        side.block_flags = flags & ~FLAG_END_STREAM
        side.block_promised = int.from_bytes(fragment[:4], "big") & 0x7FFFFFFF
        side.block_time, side.block_frame = time, frame
        side.block[:] = fragment[4:]
        if flags & FLAG_END_HEADERS:
            self._block_done(side)

    def _continuation(self, side: _Side, flags: int, stream_id: int, payload: bytes) -> None:
        if not side.block_stream or stream_id != side.block_stream:
            self._anomaly("http2.bad_continuation", f"CONTINUATION on stream {stream_id} "
                          "without a header block in progress")  # fmt: skip
            self._stop(side)
            return
        if len(side.block) + len(payload) > MAX_HEADER_BLOCK:
            self._anomaly("http2.header_too_large", f"header block over {MAX_HEADER_BLOCK} bytes")
            self._stop(side)
            return
        side.block += payload
        if flags & FLAG_END_HEADERS:
            self._block_done(side)

    def _block_done(self, side: _Side) -> None:
        stream_id, flags, promised = side.block_stream, side.block_flags, side.block_promised
        block = bytes(side.block)
        side.block_stream = 0
        side.block.clear()
        try:
            decoded = side.decoder.decode(block)
        except HpackError as e:
            self._anomaly("http2.hpack_error", f"stream {stream_id}: {e}")
            self._stop(side)
            return
        fields = [(_text(name), _text(value)) for name, value in decoded]
        if promised:
            self._promised(promised, fields, side.block_time, side.block_frame)
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = self._open(stream_id)
            if stream is None:
                return
        msg = stream.request if side.from_client else stream.response
        if msg.headers is None or (not side.from_client and _informational(msg.headers)):
            if not side.from_client and msg.headers is not None:
                msg.body.clear()  # after a 1xx: this is the next (final) response
            msg.headers = fields
            msg.time, msg.frame = side.block_time, side.block_frame
            if not side.from_client and _informational(fields):
                self._out.append(Parsed(False, msg.time, msg.frame, _response(fields, b"")))
                if flags & FLAG_END_STREAM:
                    self._anomaly("http2.bad_frame", "a 1xx response ended its stream")
                return
        else:
            # Trailers (RFC 9113 8.1): kept with the headers, as for HTTP/1 chunked trailers.
            msg.headers.extend(fields)
            if not flags & FLAG_END_STREAM:
                self._anomaly("http2.bad_frame", f"second header block on stream {stream_id} "
                              "without END_STREAM")  # fmt: skip
        if flags & FLAG_END_STREAM:
            msg.ended = True
            self._emit(stream, side.from_client)

    def _promised(
        self, promised: int, fields: list[tuple[str, str]], time: float, frame: int
    ) -> None:
        """A server push: its request was made up by the server, so it is not a message the
        client sent; the pushed response is still read, on its own stream."""
        self.pushed += 1
        stream = self._open(promised)
        if stream is not None:
            stream.pushed = True
            stream.request.headers = fields
            stream.request.time, stream.request.frame = time, frame
            stream.request.ended = True
            stream.request_emitted = True

    def _settings(self, side: _Side, payload: bytes, frame: int) -> None:
        if len(payload) % 6:
            self._anomaly("http2.bad_settings", f"SETTINGS of {len(payload)} bytes")
            return
        other = self._server if side.from_client else self._client
        for pos in range(0, len(payload), 6):
            ident = int.from_bytes(payload[pos : pos + 2], "big")
            value = int.from_bytes(payload[pos + 2 : pos + 6], "big")
            if ident == SETTINGS_HEADER_TABLE_SIZE:
                # What this side's decoder allows bounds the other side's encoder. A passive
                # reader cannot tell when the peer saw it, so it never goes below the default.
                other.decoder.max_allowed = min(TABLE_CAP, max(value, DEFAULT_TABLE_SIZE))

    # -- streams and messages ------------------------------------------------------------

    def _open(self, stream_id: int) -> _Stream | None:
        streams = self._streams
        if len(streams) >= MAX_STREAMS:
            oldest = next(iter(streams))
            self._anomaly("http2.too_many_streams", f"over {MAX_STREAMS} open streams; "
                          f"stream {oldest} emitted as it is")  # fmt: skip
            self._finish(streams.pop(oldest), "")
        stream = _Stream(stream_id)
        streams[stream_id] = stream
        self.streams_seen += 1
        return stream

    def _emit(self, stream: _Stream, from_client: bool) -> None:
        msg = stream.request if from_client else stream.response
        if from_client:
            if stream.request_emitted:
                return
            stream.request_emitted = True
        self._out.append(Parsed(from_client, msg.time, msg.frame, self._message(msg, from_client)))
        self._held -= len(msg.body)
        msg.body = bytearray()
        if stream.request_emitted and stream.response.ended:
            self._streams.pop(stream.id, None)

    def _finish(self, stream: _Stream, why: str) -> None:
        """Emit whatever a stream that will never end normally has."""
        for from_client in (True, False):
            msg = stream.request if from_client else stream.response
            if msg.headers is None or msg.ended or (from_client and stream.request_emitted):
                continue
            msg.truncated = True
            if why:
                self._anomaly("http2.incomplete_message", f"stream {stream.id}: {why}")
            self._emit(stream, from_client)

    def _message(self, msg: _Message, from_client: bool) -> HttpRequest | HttpResponse:
        fields = msg.headers or []
        body = bytes(msg.body)
        truncated = msg.truncated
        codings = split_codings([v for k, v in fields if k == "content-encoding"])
        expected = [c for c in reversed(codings) if c != "identity"]
        removed: tuple[str, ...] = ()
        if body and expected:
            body, removed, cut = decode_body(body, codings, max_size=self._max_body,
                                             partial=truncated)  # fmt: skip
            if len(removed) < len(expected) and not truncated:
                failed = expected[len(removed)]
                kind = ("http2.bad_content_encoding" if failed in SUPPORTED_ENCODINGS
                        else "http2.unsupported_content_encoding")  # fmt: skip
                self._anomaly(kind, failed)
            truncated = truncated or cut
        if from_client:
            return _request(fields, body, truncated, removed)
        return _response(fields, body, truncated, removed)

    # -- plumbing --------------------------------------------------------------------

    def _stop(self, side: _Side) -> None:
        side.stopped = True
        side.buf.clear()
        side.block.clear()
        side.block_stream = 0
        side.marks = []

    def _drain(self) -> list[Parsed]:
        out = self._out
        self._out = []
        return out

    def _where(self, side: _Side, offset: int) -> tuple[float, int]:
        marks = side.marks
        i = bisect_right(marks, offset, key=_offset) - 1
        _, time, frame = marks[max(i, 0)]
        return time, frame

    def _anomaly(self, kind: str, detail: str) -> None:
        self._ctx.anomalies.add(kind, self._input, self._frame, detail)


def _offset(mark: tuple[int, float, int]) -> int:
    return mark[0]


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _pseudo(fields: list[tuple[str, str]], name: str) -> str | None:
    for k, v in fields:
        if k == name:
            return v
    return None


def _informational(fields: list[tuple[str, str]]) -> bool:
    status = _pseudo(fields, ":status") or ""
    return len(status) == 3 and status.startswith("1")


def _request(
    fields: list[tuple[str, str]], body: bytes, truncated: bool = False,
    removed: tuple[str, ...] = (),
) -> HttpRequest:  # fmt: skip
    method = _pseudo(fields, ":method") or ""
    target = _pseudo(fields, ":path")
    if target is None:
        target = _pseudo(fields, ":authority") or ""  # CONNECT (RFC 9113 8.5)
    headers: Headers = tuple(fields)
    return HttpRequest(method, target, VERSION, headers, body, truncated, removed)


def _response(
    fields: list[tuple[str, str]], body: bytes, truncated: bool = False,
    removed: tuple[str, ...] = (),
) -> HttpResponse:  # fmt: skip
    status_text = _pseudo(fields, ":status") or ""
    status = int(status_text) if _STATUS.fullmatch(status_text) else 0
    return HttpResponse(status, "", VERSION, tuple(fields), body, truncated, removed)


# -- the connection and the registry entry ------------------------------------------------


class Http2App(TcpApp):
    """Both directions of an HTTP/2 connection, one :class:`Http2Connection`."""

    def __init__(
        self, protocol: Protocol, host: TcpHost, conn: Http2Connection | None = None
    ) -> None:
        super().__init__(protocol, host)
        self._conn = conn if conn is not None else Http2Connection(host.ctx, host.input)
        self._closed = False

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        got = self._conn.data(from_client, data, time, frame)
        if got:
            out.extend(got)

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        self._conn.gap(from_client, size)

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        if not self._closed:
            self._closed = True
            out.extend(self._conn.close())


class Http2Protocol(Protocol):
    """HTTP/2 on a TCP stream (h2c, or decrypted TLS). Its content records belong to the
    HTTP protocol (``protocols/http.py``), which names them ``http2`` by their version."""

    def __init__(self) -> None:
        super().__init__("http2", alpn=("h2",))

    def tcp_client(self, head: bytes) -> bool:
        # 16 bytes ("PRI * HTTP/2.0\r\n") are enough to tell; the connection checks the rest.
        return head.startswith(PREFACE) or (len(head) >= 16 and PREFACE.startswith(head))

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return Http2App(self, host)


HTTP2: Final = Http2Protocol()


def upgraded_app(host: TcpHost, request: HttpRequest, time: float, frame: int) -> Http2App:
    """The app that continues an HTTP/1.1 connection after ``Upgrade: h2c`` and its 101:
    ``request`` (already emitted) is stream 1, its ``HTTP2-Settings`` the client's."""
    conn = Http2Connection.upgraded(host.ctx, host.input, request, time, frame)
    return Http2App(HTTP2, host, conn)
