"""HTTP/3 (RFC 9114) over the decrypted streams of one QUIC connection.

Fed each stream's bytes in offset order (:mod:`phonehome.decrypt.quic` reassembles them),
with ``from_client`` meaning "sent by the QUIC client". Client-initiated bidirectional
streams are requests: their HEADERS and DATA frames give one :class:`HttpRequest` and one
:class:`HttpResponse` (plus any 1xx) with ``version="HTTP/3"``, pseudo-header fields kept
in ``headers`` as sent, trailers appended, ``content-encoding`` undone. Unidirectional
streams say their type first: the control stream's SETTINGS give each side's QPACK table
capacity; each side's QPACK encoder stream feeds the decoder of the field sections that
side sends (``pylsqpack``, the QPACK library aioquic uses); push streams carry responses
the server pushed. A field section that refers to table entries not received yet waits
for them (a blocked stream, RFC 9204 2.1.2).

Damage is counted (``http3.*`` anomalies), never raised. State is bounded: streams
tracked, field section and body sizes, the QPACK tables (:data:`TABLE_CAP`).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

import pylsqpack

from phonehome.context import Context
from phonehome.model.message import HttpRequest, HttpResponse
from phonehome.protocols.base import Parsed
from phonehome.protocols.bodies import SUPPORTED_ENCODINGS, decode_body, split_codings

VERSION: Final = "HTTP/3"

FRAME_DATA: Final = 0x00
FRAME_HEADERS: Final = 0x01
FRAME_SETTINGS: Final = 0x04
FRAME_PUSH_PROMISE: Final = 0x05

STREAM_CONTROL: Final = 0x00
STREAM_PUSH: Final = 0x01
STREAM_ENCODER: Final = 0x02
STREAM_DECODER: Final = 0x03

SETTINGS_QPACK_MAX_TABLE_CAPACITY: Final = 0x01
SETTINGS_QPACK_BLOCKED_STREAMS: Final = 0x07

MAX_BODY: Final = 8 << 20
MAX_BODIES: Final = 32 << 20
"""Body bytes held across all open request streams."""
MAX_FIELD_SECTION: Final = 256 << 10
"""Largest HEADERS frame kept; bigger ones are skipped (and their stream is not read)."""
MAX_CONTROL_FRAME: Final = 16 << 10
TABLE_CAP: Final = 1 << 20
"""Largest QPACK dynamic table decoded. The decoder must use the capacity the receiver
announced (it is part of how Required Insert Count is encoded, RFC 9204 4.5.1.1), so a
larger one is refused rather than capped."""
DEFAULT_CAPACITY: Final = 4096
"""Capacity assumed when the receiver's SETTINGS were not captured (what aioquic, nghttp3
and most stacks announce)."""
BLOCKED_STREAMS: Final = 64
"""Streams allowed to wait for table entries at once (more than a real receiver allows:
capture order can hold back the encoder stream)."""
MAX_STREAMS: Final = 1024
MAX_BUFFER: Final = MAX_FIELD_SECTION + 64
"""Bytes held per stream for an unfinished frame (or while blocked)."""


class _Buffer:
    """Unparsed bytes of one stream direction, with (offset, time, frame) marks."""

    __slots__ = ("base", "buf", "marks")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.base = 0
        self.marks: list[tuple[int, float, int]] = []

    def add(self, data: bytes, time: float, frame: int) -> None:
        self.marks.append((self.base + len(self.buf), time, frame))
        self.buf += data

    def where(self, pos: int) -> tuple[float, int]:
        marks = self.marks
        i = bisect_right(marks, self.base + pos, key=_offset) - 1
        _, time, frame = marks[max(i, 0)]
        return time, frame

    def consume(self, n: int) -> None:
        del self.buf[:n]
        self.base += n
        marks = self.marks
        i = bisect_right(marks, self.base, key=_offset) - 1
        if i > 0:
            del marks[:i]


class _Message:
    __slots__ = (
        "blocked",
        "body",
        "data_left",
        "emitted",
        "ended",
        "frame",
        "headers",
        "input",
        "skip",
        "stopped",
        "time",
        "truncated",
    )

    def __init__(self) -> None:
        self.input = _Buffer()
        self.headers: list[tuple[str, str]] | None = None
        self.body = bytearray()
        self.truncated = False
        self.ended = False
        self.emitted = False
        self.blocked = False
        """Waiting for QPACK encoder stream data before its field section decodes."""
        self.data_left = 0
        """Bytes of the current DATA frame still to come (DATA is read as it arrives)."""
        self.skip = 0
        """Bytes of a frame being skipped (unknown type, or too large)."""
        self.stopped = False
        self.time = 0.0
        self.frame = 0


class _Uni:
    """A unidirectional stream: its type, then what the type says."""

    __slots__ = ("input", "kind", "message", "push_id_read")

    def __init__(self) -> None:
        self.input = _Buffer()
        self.kind = -1
        self.push_id_read = False
        self.message: _Message | None = None
        """Push streams: the pushed response."""


class _Peer:
    """What one side sent that matters to reading the other side: its settings, and the
    QPACK decoder of the field sections it sends."""

    __slots__ = ("blocked", "capacity", "decoder", "decoder_fed", "decoder_guessed", "failed",
                 "settings_seen")  # fmt: skip

    def __init__(self) -> None:
        self.capacity = 0
        """QPACK_MAX_TABLE_CAPACITY this side announced (for the *other* side's encoder)."""
        self.blocked = 0
        self.settings_seen = False
        self.decoder: pylsqpack.Decoder | None = None
        """Decodes field sections this side sends."""
        self.decoder_fed = False
        self.decoder_guessed = False
        self.failed = False


class Http3Connection:
    """One HTTP/3 connection; :meth:`stream_data` for each piece of stream data."""

    def __init__(self, ctx: Context, input: int, *, max_body: int = MAX_BODY) -> None:
        self._ctx = ctx
        self._input = input
        self._max_body = max_body
        self._client = _Peer()
        self._server = _Peer()
        self._requests: dict[int, tuple[_Message, _Message]] = {}
        self._uni: dict[tuple[bool, int], _Uni] = {}
        self._held = 0
        self._out: list[Parsed] = []
        self._frame: int | None = None
        self.requests_seen = 0

    # -- input -----------------------------------------------------------------------

    def stream_data(
        self, from_client: bool, stream_id: int, data: bytes, fin: bool, time: float,
        frame: int, reset: bool = False,
    ) -> list[Parsed]:  # fmt: skip
        """Bytes of one stream in order; ``from_client``: sent by the QUIC client."""
        self._frame = frame
        if stream_id & 0x2:
            self._uni_data(from_client, stream_id, data, fin, time, frame)
        elif stream_id & 0x1 == 0:
            self._request_data(from_client, stream_id, data, fin, reset, time, frame)
        # Server-initiated bidirectional streams have no meaning in HTTP/3 (RFC 9114 6.1).
        return self._drain()

    def close(self) -> list[Parsed]:
        for stream_id, (request, response) in list(self._requests.items()):
            for from_client, msg in ((True, request), (False, response)):
                if msg.headers is not None and not msg.emitted:
                    msg.truncated = True
                    self._anomaly("http3.incomplete_message", f"stream {stream_id}: "
                                  "open at the end of the connection")  # fmt: skip
                    self._emit(from_client, msg)
                elif msg.blocked:
                    self._anomaly("http3.qpack_blocked", f"stream {stream_id}: the table "
                                  "entries its field section needs never came")  # fmt: skip
        self._requests.clear()
        for uni in self._uni.values():
            pushed = uni.message
            if pushed is not None and pushed.headers is not None and not pushed.emitted:
                pushed.truncated = True
                self._emit(False, pushed)
        self._uni.clear()
        return self._drain()

    # -- request streams ---------------------------------------------------------------

    def _request_data(
        self, from_client: bool, stream_id: int, data: bytes, fin: bool, reset: bool,
        time: float, frame: int,
    ) -> None:  # fmt: skip
        pair = self._requests.get(stream_id)
        if pair is None:
            if len(self._requests) >= MAX_STREAMS:
                self._anomaly("http3.too_many_streams", f"stream {stream_id} not read")
                return
            pair = self._requests[stream_id] = (_Message(), _Message())
            self.requests_seen += 1
        msg = pair[0] if from_client else pair[1]
        if msg.stopped or msg.emitted:
            return
        if data:
            msg.input.add(data, time, frame)
        if fin:
            msg.ended = True
        if reset:
            msg.truncated = True
            msg.ended = True
        self._frames(from_client, stream_id, msg)
        self._maybe_done(stream_id)

    def _frames(self, from_client: bool, stream_id: int, msg: _Message) -> None:
        buf = msg.input.buf
        pos = 0
        while not msg.blocked and not msg.stopped:
            if msg.skip:
                step = min(msg.skip, len(buf) - pos)
                msg.skip -= step
                pos += step
                if msg.skip:
                    break
            if msg.data_left:
                step = min(msg.data_left, len(buf) - pos)
                if not step:
                    break
                self._body(msg, bytes(buf[pos : pos + step]))
                msg.data_left -= step
                pos += step
                continue
            parsed = _frame_header(buf, pos)
            if parsed is None:
                break
            ftype, length, start = parsed
            if ftype == FRAME_DATA:
                if msg.headers is None:
                    self._anomaly("http3.bad_frame", f"DATA before HEADERS on stream {stream_id}")
                msg.data_left = length
                pos = start
                continue
            limit = MAX_FIELD_SECTION if ftype in (FRAME_HEADERS, FRAME_PUSH_PROMISE) else (
                MAX_CONTROL_FRAME
            )  # fmt: skip
            if length > limit:
                if ftype == FRAME_HEADERS:
                    self._anomaly("http3.header_too_large", f"stream {stream_id}: field "
                                  f"section of {length} bytes")  # fmt: skip
                    msg.stopped = True
                    break
                msg.skip = length
                pos = start
                continue
            if len(buf) - start < length:
                break
            payload = bytes(buf[start : start + length])
            if ftype == FRAME_HEADERS:
                if msg.headers is None or (not from_client and _informational(msg.headers)):
                    msg.time, msg.frame = msg.input.where(pos)
                pos = start + length
                self._field_section(from_client, stream_id, msg, payload)
            else:
                # PUSH_PROMISE: the server's made-up request; its table references change
                # nothing (only the encoder stream does). Other and reserved types: skipped.
                pos = start + length
        msg.input.consume(pos)
        if len(msg.input.buf) > MAX_BUFFER:
            self._anomaly("http3.buffer_limit", f"stream {stream_id}: over {MAX_BUFFER} "
                          "bytes waiting")  # fmt: skip
            msg.stopped = True
            msg.input.consume(len(msg.input.buf))
        if msg.ended and not msg.blocked and not msg.input.buf and not msg.data_left:
            self._end(from_client, msg, stream_id)

    def _field_section(
        self, from_client: bool, stream_id: int, msg: _Message, payload: bytes
    ) -> None:
        peer = self._client if from_client else self._server
        decoder = self._decoder(from_client)
        if decoder is None:
            msg.stopped = True
            return
        try:
            _, fields = decoder.feed_header(stream_id, payload)
        except pylsqpack.StreamBlocked:
            msg.blocked = True
            return
        except (pylsqpack.DecompressionFailed, ValueError) as e:
            peer.failed = peer.failed or peer.decoder_guessed
            self._anomaly("http3.qpack_error", f"stream {stream_id}: {type(e).__name__}")
            msg.stopped = True
            return
        self._headers(from_client, msg, fields)

    def _headers(self, from_client: bool, msg: _Message, raw: list[tuple[bytes, bytes]]) -> None:
        fields = [(_text(k), _text(v)) for k, v in raw]
        if msg.headers is None or (not from_client and _informational(msg.headers)):
            if not from_client and _informational(fields):
                self._out.append(Parsed(False, msg.time, msg.frame, _response(fields, b"")))
                msg.headers = fields
                return
            msg.headers = fields
        else:
            msg.headers.extend(fields)  # trailers

    def _body(self, msg: _Message, data: bytes) -> None:
        room = min(self._max_body - len(msg.body), MAX_BODIES - self._held)
        if room > 0:
            kept = data[:room]
            msg.body += kept
            self._held += len(kept)
        if len(data) > room:
            msg.truncated = True

    def _end(self, from_client: bool, msg: _Message, stream_id: int) -> None:
        if msg.headers is None or (not from_client and _informational(msg.headers)):
            if msg.input.base or msg.body:
                self._anomaly("http3.bad_frame", f"stream {stream_id} ended without a "
                              "field section")  # fmt: skip
            msg.emitted = True
            return
        self._emit(from_client, msg)

    def _maybe_done(self, stream_id: int) -> None:
        pair = self._requests.get(stream_id)
        if pair is not None and pair[0].emitted and pair[1].emitted:
            del self._requests[stream_id]

    def _emit(self, from_client: bool, msg: _Message) -> None:
        msg.emitted = True
        fields = msg.headers or []
        body = bytes(msg.body)
        self._held -= len(msg.body)
        msg.body = bytearray()
        truncated = msg.truncated
        codings = split_codings([v for k, v in fields if k == "content-encoding"])
        expected = [c for c in reversed(codings) if c != "identity"]
        removed: tuple[str, ...] = ()
        if body and expected:
            body, removed, cut = decode_body(body, codings, max_size=self._max_body,
                                             partial=truncated)  # fmt: skip
            if len(removed) < len(expected) and not truncated:
                failed = expected[len(removed)]
                kind = ("http3.bad_content_encoding" if failed in SUPPORTED_ENCODINGS
                        else "http3.unsupported_content_encoding")  # fmt: skip
                self._anomaly(kind, failed)
            truncated = truncated or cut
        content: HttpRequest | HttpResponse
        if from_client:
            content = _request(fields, body, truncated, removed)
        else:
            content = _response(fields, body, truncated, removed)
        self._out.append(Parsed(from_client, msg.time, msg.frame, content))

    # -- unidirectional streams ------------------------------------------------------

    def _uni_data(
        self, from_client: bool, stream_id: int, data: bytes, fin: bool, time: float, frame: int
    ) -> None:
        key = (from_client, stream_id)
        uni = self._uni.get(key)
        if uni is None:
            if len(self._uni) >= MAX_STREAMS:
                return
            uni = self._uni[key] = _Uni()
        if uni.kind == -1:
            uni.input.add(data, time, frame)
            parsed = _varint(uni.input.buf, 0)
            if parsed is None:
                return
            uni.kind, pos = parsed
            rest = bytes(uni.input.buf[pos:])
            rest_time, rest_frame = uni.input.where(pos)
            uni.input = _Buffer()
            if uni.kind == STREAM_PUSH:
                uni.message = _Message()
            data, time, frame = rest, rest_time, rest_frame
        kind = uni.kind
        if kind == STREAM_ENCODER:
            self._encoder(from_client, data)
        elif kind == STREAM_CONTROL:
            if data:
                uni.input.add(data, time, frame)
            self._control(from_client, uni)
        elif kind == STREAM_PUSH and not from_client and uni.message is not None:
            self._push(stream_id, uni, data, fin, time, frame)
        # Decoder streams (acknowledgements) and reserved types carry nothing to read.

    def _push(
        self, stream_id: int, uni: _Uni, data: bytes, fin: bool, time: float, frame: int
    ) -> None:
        msg = uni.message
        assert msg is not None
        if msg.emitted or msg.stopped:
            return
        if not uni.push_id_read:
            # The push id comes first.
            uni.input.add(data, time, frame)
            parsed = _varint(uni.input.buf, 0)
            if parsed is None:
                return
            uni.push_id_read = True
            data = bytes(uni.input.buf[parsed[1] :])
            time, frame = uni.input.where(parsed[1])
            uni.input = _Buffer()
        if data:
            msg.input.add(data, time, frame)
        msg.ended = msg.ended or fin
        self._frames(False, stream_id, msg)

    def _control(self, from_client: bool, uni: _Uni) -> None:
        buf = uni.input.buf
        pos = 0
        while True:
            parsed = _frame_header(buf, pos)
            if parsed is None:
                break
            ftype, length, start = parsed
            if length > MAX_CONTROL_FRAME:
                self._anomaly("http3.bad_frame", f"control frame of {length} bytes")
                uni.kind = -2  # stop reading this stream
                buf.clear()
                return
            if len(buf) - start < length:
                break
            if ftype == FRAME_SETTINGS:
                self._settings(from_client, bytes(buf[start : start + length]))
            pos = start + length
        uni.input.consume(pos)

    def _settings(self, from_client: bool, payload: bytes) -> None:
        peer = self._client if from_client else self._server
        pos = 0
        while pos < len(payload):
            ident = _varint(payload, pos)
            if ident is None:
                break
            value = _varint(payload, ident[1])
            if value is None:
                break
            pos = value[1]
            if ident[0] == SETTINGS_QPACK_MAX_TABLE_CAPACITY:
                peer.capacity = value[0]
            elif ident[0] == SETTINGS_QPACK_BLOCKED_STREAMS:
                peer.blocked = value[0]
        peer.settings_seen = True
        # The decoder of the other side's field sections depends on this capacity: one made
        # with a guess before anything dynamic was decoded is made again.
        other = self._server if from_client else self._client
        if other.decoder is not None and other.decoder_guessed and not other.decoder_fed:
            other.decoder = None

    def _decoder(self, sender_is_client: bool) -> pylsqpack.Decoder | None:
        """The decoder for field sections ``sender`` sends, configured by what the receiver
        announced; None when it cannot be had."""
        sender = self._client if sender_is_client else self._server
        if sender.failed:
            return None
        if sender.decoder is None:
            receiver = self._server if sender_is_client else self._client
            capacity = receiver.capacity if receiver.settings_seen else DEFAULT_CAPACITY
            if capacity > TABLE_CAP:
                self._anomaly("http3.qpack_table_too_large", f"capacity {capacity}")
                sender.failed = True
                return None
            sender.decoder = pylsqpack.Decoder(capacity, BLOCKED_STREAMS)
            sender.decoder_guessed = not receiver.settings_seen
        return sender.decoder

    def _encoder(self, from_client: bool, data: bytes) -> None:
        if not data:
            return
        decoder = self._decoder(from_client)
        if decoder is None:
            return
        sender = self._client if from_client else self._server
        sender.decoder_fed = True
        try:
            unblocked = decoder.feed_encoder(data)
        except (pylsqpack.EncoderStreamError, ValueError) as e:
            self._anomaly("http3.qpack_error", f"encoder stream: {type(e).__name__}")
            sender.failed = True
            return
        for stream_id in unblocked:
            self._resume(from_client, stream_id, decoder)

    def _resume(self, from_client: bool, stream_id: int, decoder: pylsqpack.Decoder) -> None:
        pair = self._requests.get(stream_id)
        msg: _Message | None = None
        if pair is not None:
            msg = pair[0] if from_client else pair[1]
        else:
            uni = self._uni.get((from_client, stream_id))
            msg = uni.message if uni is not None else None
        if msg is None or not msg.blocked:
            return
        msg.blocked = False
        try:
            _, fields = decoder.resume_header(stream_id)
        except (pylsqpack.DecompressionFailed, ValueError) as e:
            self._anomaly("http3.qpack_error", f"stream {stream_id}: {type(e).__name__}")
            msg.stopped = True
            return
        self._headers(from_client, msg, fields)
        self._frames(from_client, stream_id, msg)
        if pair is not None:
            self._maybe_done(stream_id)

    # -- plumbing --------------------------------------------------------------------

    def _drain(self) -> list[Parsed]:
        out = self._out
        self._out = []
        return out

    def _anomaly(self, kind: str, detail: str) -> None:
        self._ctx.anomalies.add(kind, self._input, self._frame, detail)


def _offset(mark: tuple[int, float, int]) -> int:
    return mark[0]


def _varint(data: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    if pos >= len(data):
        return None
    first = data[pos]
    size = 1 << (first >> 6)
    end = pos + size
    if end > len(data):
        return None
    value = first & 0x3F
    for i in range(pos + 1, end):
        value = (value << 8) | data[i]
    return value, end


def _frame_header(buf: bytes | bytearray, pos: int) -> tuple[int, int, int] | None:
    """(type, length, payload start) of the frame at ``pos``, or None when incomplete."""
    ftype = _varint(buf, pos)
    if ftype is None:
        return None
    length = _varint(buf, ftype[1])
    if length is None:
        return None
    return ftype[0], length[0], length[1]


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
    fields: list[tuple[str, str]], body: bytes, truncated: bool, removed: tuple[str, ...]
) -> HttpRequest:
    method = _pseudo(fields, ":method") or ""
    target = _pseudo(fields, ":path")
    if target is None:
        target = _pseudo(fields, ":authority") or ""
    return HttpRequest(method, target, VERSION, tuple(fields), body, truncated, removed)


def _response(
    fields: list[tuple[str, str]], body: bytes, truncated: bool = False,
    removed: tuple[str, ...] = (),
) -> HttpResponse:  # fmt: skip
    text = _pseudo(fields, ":status") or ""
    status = int(text) if len(text) == 3 and text.isascii() and text.isdigit() else 0
    return HttpResponse(status, "", VERSION, tuple(fields), body, truncated, removed)
