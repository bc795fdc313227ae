"""Incremental HTTP/1.x parsing of one direction of a reassembled TCP stream.

The flow table hands over whatever bytes the segments carried, so a request line can be
split at any byte and several pipelined messages can share one segment. The parser keeps
an unconsumed buffer and a list of (stream offset, time, frame) marks, one per feed, so
each message is stamped with the packet where it *started*, like Wireshark's "request in".

Message framing follows RFC 9112 section 6: chunked beats Content-Length; responses to
HEAD, 1xx, 204 and 304 have no body; a response without length runs to the close. The
response side cannot frame without the request methods, so the TCP session pushes them
with :meth:`HttpStreamParser.expect`. After a CONNECT or an Upgrade request, the request
side pauses until the response says whether the stream became a tunnel.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from typing import Any, Final

from phonehome.context import Context
from phonehome.extract.engine import Budget
from phonehome.extract.http import request_fields, response_fields
from phonehome.model.field import Field
from phonehome.model.message import Content, Headers, HttpRequest, HttpResponse, Message, header
from phonehome.protocols.base import Parsed, Protocol, Rest, TcpApp, TcpHost
from phonehome.protocols.bodies import SUPPORTED_ENCODINGS, decode_body, split_codings
from phonehome.protocols.http2 import is_h2c_switch, is_h2c_upgrade, upgraded_app

HttpMessage = HttpRequest | HttpResponse
Output = list[tuple[float, int, HttpMessage]]

MAX_HEADER = 64 << 10
"""Largest header block (and trailer block) accepted; real servers stop at 8-64 KiB."""
MAX_BODY = 8 << 20
"""Body bytes kept per message; the rest is skipped without buffering."""
MAX_HELD = 64 << 10
"""Bytes held while paused (CONNECT/Upgrade pending) or after the parser stopped."""
MAX_CHUNK_LINE = 4096
MAX_METHOD_QUEUE = 1024

METHODS: tuple[bytes, ...] = (
    b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
    b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"REPORT",
    b"SEARCH", b"MKCALENDAR", b"PURGE", b"LINK", b"UNLINK",
)  # fmt: skip
"""Methods the recognisers accept (RFC 9110 plus the WebDAV/CalDAV ones seen on phones)."""

_METHOD_SP = tuple(m + b" " for m in METHODS)
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_REQUEST_LINE = re.compile(rb"(" + _TCHAR + rb"+) +(\S+) +(HTTP/\d\.\d) *")
_STATUS_LINE = re.compile(rb"(HTTP/\d\.\d) +(\d{3})(?: (.*))?")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
_RESYNC_REQUEST = re.compile(rb"(?m)^(?:" + b"|".join(METHODS) + rb") \S{1,8192} HTTP/\d\.\d\r?\n")
_RESYNC_RESPONSE = re.compile(rb"(?m)^HTTP/1\.[01] \d{3}[^\r\n]{0,1024}\r?\n")
_RESYNC_KEEP = 8192

# Parser states
_START = 0  # waiting for a start line + header block
_LENGTH = 1  # Content-Length body
_CHUNK_SIZE_LINE = 2
_CHUNK_DATA = 3
_CHUNK_END = 4  # CRLF after chunk data
_TRAILERS = 5
_CLOSE = 6  # body runs to the end of the stream
_RESYNC = 7  # after a gap: looking for the next start line
_PAUSED = 8  # request side after CONNECT/Upgrade, waiting for the response
_TUNNEL = 9  # no longer HTTP
_STOPPED = 10  # malformed: the remainder is not parsed as HTTP
_BODY_STATES = (_LENGTH, _CHUNK_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _CLOSE)


def looks_like_http_request(head: bytes) -> bool:
    """The stream starts with a known method and a space."""
    return head.startswith(_METHOD_SP)


def looks_like_http_response(head: bytes) -> bool:
    return head.startswith(b"HTTP/1.")


def may_become_http_request(head: bytes) -> bool:
    """``head`` is too short to decide but is the beginning of a known method + space."""
    return any(m.startswith(head) for m in _METHOD_SP if len(head) < len(m))


class HttpStreamParser:
    """One direction of an HTTP/1.x connection (``is_request`` = the client side).

    ``feed`` returns the messages completed by the new bytes as ``(time, frame, message)``.
    ``stopped`` (malformed stream) and ``tunnel`` (CONNECT accepted, 101) tell the session
    to take the unparsed remainder with :meth:`take_rest` and handle it otherwise.
    """

    def __init__(
        self, is_request: bool, ctx: Context, input: int, *, max_body: int = MAX_BODY
    ) -> None:
        self.is_request = is_request
        self._ctx = ctx
        self._input = input
        self._max_body = max_body
        self.methods: deque[str] = deque(maxlen=MAX_METHOD_QUEUE)
        """Response side: methods of the requests not answered yet, oldest first."""
        self.stopped = False
        self.tunnel = False
        self.paused = False
        self._state = _START
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._marks: list[tuple[int, float, int]] = []  # (stream offset, time, frame)
        self._scan = 0  # header-end search resumes here
        self._out: Output = []
        self._last_frame: int | None = None
        self._after_gap = False
        self._hold_after = 0  # response side: final responses until the pause
        self._hold_now = False
        self._pause_after = False  # request side: pause once this Upgrade request ends
        self._reset_message()

    def _reset_message(self) -> None:
        self._time = 0.0
        self._frame = 0
        self._start: tuple[str, str, str] = ("", "", "")
        self._headers: list[tuple[str, str]] = []
        self._codings: list[str] = []
        self._method = ""
        self._body = bytearray()
        self._truncated = False
        self._remaining = 0
        self._trailer_bytes = 0

    # -- public -------------------------------------------------------------------------

    def expect(self, method: str) -> None:
        """Response side: a request with ``method`` was sent (framing depends on it)."""
        self.methods.append(method)

    def hold_after(self, responses: int) -> None:
        """Response side: pause after ``responses`` more final responses (the last one
        answers a CONNECT/Upgrade request), so the session can let the request side go on
        before later responses are framed with the methods they answer."""
        self._hold_after = responses

    @property
    def holding(self) -> bool:
        return self._hold_after > 0

    def feed(self, data: bytes, time: float, frame: int) -> Output:
        if not data:
            return self._drain()
        self._last_frame = frame
        self._marks.append((self._base + len(self._buf), time, frame))
        self._buf += data
        if self._state in (_PAUSED, _TUNNEL, _STOPPED):
            self._hold()
        else:
            self._run()
        return self._drain()

    def gap(self, size: int | None = None) -> None:
        """Bytes of this direction were lost. Inside a body of known length the parser
        stays in step (the body is marked truncated); elsewhere it emits what it has and
        resynchronises at the next plausible start line (``http.resync``)."""
        st = self._state
        if st in (_LENGTH, _CHUNK_DATA) and size is not None and size <= self._remaining:
            self._truncated = True
            self._remaining -= size
            if self._remaining == 0:
                if st == _LENGTH:
                    self._emit()
                    self._state = _START
                else:
                    self._state = _CHUNK_END
            return
        if st == _CLOSE:
            self._truncated = True
            return
        if st in (_TUNNEL, _STOPPED):
            self._discard(len(self._buf))
            return
        if st == _PAUSED:
            self._discard(len(self._buf))
            self._after_gap = True
            return
        self._flush_partial()
        self._discard(len(self._buf))
        self._state = _RESYNC

    def finish(self) -> Output:
        """End of stream: a close-delimited body ends here; anything else half-done is
        emitted as far as it got (``http.incomplete_message``)."""
        st = self._state
        if st == _CLOSE:
            self._emit()
            self._state = _START
        elif (st == _START or st in _BODY_STATES) and self._flush_partial():
            self._anomaly("http.incomplete_message", "stream ended inside a message")
        return self._drain()

    def resume(self, tunnel: bool) -> Output:
        """After the response to a CONNECT/Upgrade request: either the stream is now a
        tunnel (:meth:`take_rest` gives the bytes sent so far) or HTTP goes on."""
        if self._state != _PAUSED:
            return self._drain()
        self.paused = False
        if tunnel:
            self._state = _TUNNEL
            self.tunnel = True
            return self._drain()
        self._state = _RESYNC if self._after_gap else _START
        self._after_gap = False
        self._run()
        return self._drain()

    def take_rest(self) -> tuple[bytes, float, int] | None:
        """The unparsed bytes (after a stop, a tunnel switch or the end) and where they
        started; the buffer is emptied."""
        if not self._buf:
            return None
        time, frame = self._where(self._base)
        rest = bytes(self._buf)
        self._discard(len(self._buf))
        return rest, time, frame

    # -- machinery ----------------------------------------------------------------------

    def _drain(self) -> Output:
        out = self._out
        self._out = []
        return out

    def _anomaly(self, kind: str, detail: str) -> None:
        self._ctx.anomalies.add(kind, self._input, self._last_frame, detail)

    def _hold(self) -> None:
        if len(self._buf) > MAX_HELD:
            del self._buf[MAX_HELD:]

    def _where(self, offset: int) -> tuple[float, int]:
        marks = self._marks
        i = bisect_right(marks, offset, key=lambda m: m[0]) - 1
        _, time, frame = marks[max(i, 0)]
        return time, frame

    def _discard(self, n: int) -> None:
        del self._buf[:n]
        self._base += n
        self._scan = 0
        marks = self._marks
        i = bisect_right(marks, self._base, key=lambda m: m[0]) - 1
        if i > 0:
            del marks[:i]

    def _stop(self, kind: str, detail: str) -> None:
        self._anomaly(kind, detail)
        self._state = _STOPPED
        self.stopped = True
        self._hold()

    def _run(self) -> None:
        while self._step():
            if self._hold_now:
                self._hold_now = False
                if self._state == _START:
                    self._state = _PAUSED
                    self.paused = True
                    self._hold()
                    return

    def _step(self) -> bool:
        """Advance one state; False when more bytes are needed or parsing cannot go on."""
        st = self._state
        if st == _START:
            return self._parse_head()
        if st == _LENGTH:
            return self._read_fixed(_START)
        if st == _CHUNK_DATA:
            return self._read_fixed(_CHUNK_END)
        if st == _CHUNK_SIZE_LINE:
            return self._parse_chunk_size()
        if st == _CHUNK_END:
            return self._parse_chunk_end()
        if st == _TRAILERS:
            return self._parse_trailer()
        if st == _CLOSE:
            if self._buf:
                self._take_body(len(self._buf))
            return False
        if st == _RESYNC:
            return self._resync()
        return False

    # -- head -------------------------------------------------------------------------

    def _parse_head(self) -> bool:
        buf = self._buf
        skip = 0
        while skip < len(buf) and buf[skip] in b"\r\n":
            skip += 1
        if skip:
            self._discard(skip)
        if not buf:
            return False
        end = self._find_head_end()
        if end < 0:
            if not self._plausible_prefix():
                self._stop("http.bad_start_line", _excerpt(buf))
            elif len(buf) > MAX_HEADER:
                self._stop("http.header_too_large", f"over {MAX_HEADER} bytes without end")
            return False
        if end > MAX_HEADER:
            self._stop("http.header_too_large", f"{end} bytes")
            return False
        lines = bytes(buf[:end]).split(b"\n")
        start = _parse_start_line(lines[0].rstrip(b"\r"), self.is_request)
        if start is None:
            self._stop("http.bad_start_line", _excerpt(lines[0]))
            return False
        self._time, self._frame = self._where(self._base)
        self._start = start
        self._headers = []
        for line in lines[1:]:
            self._add_header_line(line.rstrip(b"\r"))
        self._discard(end)
        self._frame_body()
        return True

    def _find_head_end(self) -> int:
        buf = self._buf
        start = max(0, self._scan - 3)
        a = buf.find(b"\n\r\n", start)
        b = buf.find(b"\n\n", start)
        if a < 0 and b < 0:
            self._scan = len(buf)
            return -1
        if b < 0 or 0 <= a < b:
            return a + 3
        return b + 2

    def _plausible_prefix(self) -> bool:
        """Reject early a first line that cannot become a start line, instead of holding
        up to 64 KiB of something that is not HTTP."""
        buf = self._buf
        nl = buf.find(b"\n")
        line = bytes(buf[: nl if nl >= 0 else 64]).rstrip(b"\r")
        if nl >= 0:
            return _parse_start_line(line, self.is_request) is not None
        if self.is_request:
            sp = line.find(b" ")
            token = line if sp < 0 else line[:sp]
            return re.fullmatch(_TCHAR + rb"*", token) is not None and (sp >= 0 or len(line) < 32)
        return b"HTTP/1."[: len(line)] == line[:7]

    def _add_header_line(self, line: bytes) -> None:
        if not line:
            return
        if line[0] in b" \t" and self._headers:
            # obs-fold (RFC 9112 section 5.2): continuation of the previous value
            name, value = self._headers[-1]
            self._headers[-1] = (name, value + " " + line.strip(b" \t").decode("latin-1"))
            return
        colon = line.find(b":")
        if colon <= 0:
            self._anomaly("http.bad_header_line", _excerpt(line))
            return
        name = line[:colon].strip().decode("latin-1")
        value = line[colon + 1 :].strip(b" \t").decode("latin-1")
        self._headers.append((name, value))

    def _values(self, name: str) -> list[str]:
        return [v for k, v in self._headers if k.lower() == name]

    def _frame_body(self) -> None:
        """Decide how the body is delimited (RFC 9112 section 6.3) and emit bodiless
        messages at once."""
        te = split_codings(self._values("transfer-encoding"))
        chunked = bool(te) and te[-1] == "chunked"
        self._codings = split_codings(self._values("content-encoding"))
        self._codings += [c for c in te if c != "chunked"]
        if self.is_request:
            self._frame_request_body(te, chunked)
        else:
            self._frame_response_body(te, chunked)

    def _frame_request_body(self, te: list[str], chunked: bool) -> None:
        method = self._start[0]
        if method == "CONNECT":
            self._emit()
            self._state = _PAUSED
            self.paused = True
            self._hold()
            return
        if self._is_upgrade():
            # The request's own body comes first (RFC 9110 7.8; an h2c upgrade POST sends
            # it as HTTP/1.1, RFC 7540 3.2), then the side waits for the response.
            self._pause_after = True
        if chunked:
            self._state = _CHUNK_SIZE_LINE
            return
        if te:
            self._emit()
            self._stop("http.bad_transfer_encoding", ",".join(te))
            return
        length = self._content_length()
        if length is None:
            self._emit()
            self._stop("http.bad_content_length", ",".join(self._values("content-length")))
            return
        self._start_fixed(length)

    def _frame_response_body(self, te: list[str], chunked: bool) -> None:
        status = int(self._start[1])
        if 100 <= status < 200:
            if status == 101:
                self._pop_method()
                self._emit()
                self._become_tunnel()
            else:
                self._emit()
            return
        method = self._pop_method()
        if method == "CONNECT" and 200 <= status < 300:
            self._emit()
            self._become_tunnel()
            return
        if method == "HEAD" or status in (204, 304):
            self._emit()
            return
        if chunked:
            self._state = _CHUNK_SIZE_LINE
            return
        declared = self._values("content-length")
        length = None if te or not declared else self._content_length()
        if length is None and declared and not te:
            self._anomaly("http.bad_content_length", ",".join(declared))
        if length is None:
            self._state = _CLOSE  # delimited by the end of the connection
            return
        self._start_fixed(length)

    def _pop_method(self) -> str:
        self._method = self.methods.popleft() if self.methods else "GET"
        return self._method

    def _become_tunnel(self) -> None:
        self._state = _TUNNEL
        self.tunnel = True
        self._hold()

    def _is_upgrade(self) -> bool:
        if not self._values("upgrade"):
            return False
        return "upgrade" in split_codings(self._values("connection"))

    def _content_length(self) -> int | None:
        """0 when absent; None when unusable (non-numeric or conflicting values)."""
        values = {v.strip(" \t") for raw in self._values("content-length") for v in raw.split(",")}
        if not values:
            return 0
        if len(values) != 1:
            return None
        (value,) = values
        # Header values are latin-1 text, where str.isdigit() also accepts '²', '³', '¹' that
        # int() refuses; only ASCII digits are a length.
        if not _ASCII_DIGITS.fullmatch(value):
            return None
        return int(value)

    def _start_fixed(self, length: int) -> None:
        if length == 0:
            self._emit()
            self._state = _START
            return
        self._remaining = length
        self._state = _LENGTH

    # -- body -------------------------------------------------------------------------

    def _take_body(self, n: int) -> None:
        room = self._max_body - len(self._body)
        if room > 0:
            self._body += self._buf[: min(n, room)]
        if n > room:
            self._truncated = True
        self._discard(n)

    def _read_fixed(self, next_state: int) -> bool:
        n = min(len(self._buf), self._remaining)
        if n == 0:
            return False
        self._take_body(n)
        self._remaining -= n
        if self._remaining:
            return False
        if next_state == _START:
            self._emit()
        self._state = next_state
        return True

    def _parse_chunk_size(self) -> bool:
        buf = self._buf
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > MAX_CHUNK_LINE:
                self._bad_chunk("chunk size line too long")
            return False
        line = bytes(buf[:nl]).strip()
        size_text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
        if not _CHUNK_SIZE.fullmatch(size_text):
            self._bad_chunk(_excerpt(line))
            return False
        self._discard(nl + 1)
        size = int(size_text, 16)
        if size == 0:
            self._state = _TRAILERS
        else:
            self._remaining = size
            self._state = _CHUNK_DATA
        return True

    def _parse_chunk_end(self) -> bool:
        buf = self._buf
        if buf.startswith(b"\r\n"):
            self._discard(2)
        elif buf.startswith(b"\n"):
            self._discard(1)
        elif buf == b"\r" or not buf:
            return False
        else:
            self._anomaly("http.bad_chunk", "no CRLF after chunk data")
        self._state = _CHUNK_SIZE_LINE
        return True

    def _parse_trailer(self) -> bool:
        buf = self._buf
        nl = buf.find(b"\n")
        if nl < 0:
            if self._trailer_bytes + len(buf) > MAX_HEADER:
                self._emit()
                self._stop("http.header_too_large", "trailers")
            return False
        line = bytes(buf[:nl]).rstrip(b"\r")
        self._discard(nl + 1)
        self._trailer_bytes += nl + 1
        if not line:
            self._emit()
            self._state = _START
            return True
        if self._trailer_bytes > MAX_HEADER:
            self._emit()
            self._stop("http.header_too_large", "trailers")
            return False
        self._add_header_line(line)  # trailer fields are kept with the headers
        return True

    def _bad_chunk(self, detail: str) -> None:
        self._truncated = True
        self._emit()
        self._stop("http.bad_chunk", detail)

    # -- resync, partial messages, emission ---------------------------------------------

    def _resync(self) -> bool:
        buf = self._buf
        pattern = _RESYNC_REQUEST if self.is_request else _RESYNC_RESPONSE
        m = pattern.search(buf)
        if m is not None:
            self._anomaly("http.resync", f"skipped {m.start()} bytes")
            self._discard(m.start())
            self._state = _START
            return True
        # Only the last, unfinished line can still become a start line.
        keep = len(buf) - (buf.rfind(b"\n") + 1)
        if keep > _RESYNC_KEEP:
            keep = 0
        self._discard(len(buf) - keep)
        return False

    def _flush_partial(self) -> bool:
        """Emit the message in progress (truncated) if its start line was seen."""
        if self._state == _START:
            buf = self._buf
            if not buf:
                return False
            lines = bytes(buf[:MAX_HEADER]).split(b"\n")
            if len(lines) < 2:
                return False
            start = _parse_start_line(lines[0].rstrip(b"\r"), self.is_request)
            if start is None:
                return False
            self._time, self._frame = self._where(self._base)
            self._start = start
            self._headers = []
            for line in lines[1:-1]:
                self._add_header_line(line.rstrip(b"\r"))
            self._discard(len(buf))
            if not self.is_request:
                self._pop_method()
        elif self._state not in _BODY_STATES:
            return False
        self._truncated = True
        self._emit()
        self._state = _START
        return True

    def _emit(self) -> None:
        body = bytes(self._body)
        removed: tuple[str, ...] = ()
        truncated = self._truncated
        expected = [c for c in reversed(self._codings) if c != "identity"]
        if body and expected:
            body, removed, cut = decode_body(
                body, self._codings, max_size=self._max_body, partial=truncated
            )
            truncated = truncated or cut
            if len(removed) < len(expected) and not self._truncated:
                failed = expected[len(removed)]
                kind = (
                    "http.bad_content_encoding"
                    if failed in SUPPORTED_ENCODINGS
                    else "http.unsupported_content_encoding"
                )
                self._anomaly(kind, failed)
        headers: Headers = tuple(self._headers)
        a, b, c = self._start
        if not self.is_request and self._hold_after and not b.startswith("1"):
            self._hold_after -= 1
            self._hold_now = self._hold_after == 0
        if self._pause_after:
            self._pause_after = False
            self._hold_now = True
        msg: HttpMessage
        if self.is_request:
            msg = HttpRequest(a, b, c, headers, body, truncated, removed)
        else:
            msg = HttpResponse(int(b), c, a, headers, body, truncated, removed)
        self._out.append((self._time, self._frame, msg))
        self._reset_message()


def _parse_start_line(line: bytes, is_request: bool) -> tuple[str, str, str] | None:
    """(method, target, version) or (version, status, reason), or None if malformed."""
    if is_request:
        m = _REQUEST_LINE.fullmatch(line)
        if m is None:
            return None
        return (m[1].decode("ascii"), m[2].decode("latin-1"), m[3].decode("ascii"))
    m = _STATUS_LINE.fullmatch(line)
    if m is None:
        return None
    reason = (m[3] or b"").strip().decode("latin-1")
    return (m[1].decode("ascii"), m[2].decode("ascii"), reason)


def _excerpt(data: bytes | bytearray) -> str:
    return bytes(data[:60]).decode("latin-1").encode("unicode_escape").decode("ascii")


# -- the connection and the registry entry ------------------------------------------------


class HttpApp(TcpApp):
    """Both directions of an HTTP/1.x connection: the response side frames with the
    request methods; a CONNECT or Upgrade pauses both until its answer says whether the
    connection became a tunnel (then every direction is recognised afresh)."""

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._req: HttpStreamParser | None = None
        self._resp: HttpStreamParser | None = None
        self._h2c: tuple[HttpRequest, float, int] | None = None
        """The request that asked to upgrade to h2c, while its answer is awaited."""

    def _parser(self, is_request: bool) -> HttpStreamParser:
        host = self.host
        if is_request:
            if self._req is None:
                self._req = HttpStreamParser(True, host.ctx, host.input, max_body=self._limit(True))
            return self._req
        if self._resp is None:
            self._resp = HttpStreamParser(False, host.ctx, host.input, max_body=self._limit(False))
        return self._resp

    def _limit(self, is_request: bool) -> int:
        """Body bytes kept on this side: none of what the device receives when the run
        does not want them (``Context.received_bodies``)."""
        host = self.host
        if host.ctx.received_bodies or is_request == host.device_is_client:
            return MAX_BODY
        return 0

    def start(self, from_client: bool, out: list[Parsed]) -> None:
        host = self.host
        had_resp = self._resp is not None
        self._parser(from_client)
        if from_client and not had_resp and host.is_raw(False):
            # The server side was called raw on its own (capture started mid-response):
            # now that requests are seen, look for the next status line there.
            host.flush_raw(False, out)
            host.attach(False, self, out)
            self._parser(False).gap()

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        self._out(from_client, self._parser(from_client).feed(data, time, frame), out)

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        self._parser(from_client).gap(size)

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        host = self.host
        parser = self._parser(from_client)
        self._out(from_client, parser.finish(), out)
        if host.app_of(from_client) is not self:
            return
        rest = parser.take_rest()
        if rest is not None and parser.paused:
            # A CONNECT whose answer was never captured: look at what followed.
            host.reopen([(from_client, rest)], out)
            return
        host.to_raw(from_client, rest, out)

    def _out(self, from_client: bool, messages: Output, out: list[Parsed]) -> None:
        host = self.host
        resp = self._parser(False)
        for time, frame, msg in messages:
            out.append(Parsed(from_client, time, frame, msg))
            if isinstance(msg, HttpRequest):
                resp.expect(msg.method)
        if host.app_of(from_client) is not self:
            return
        parser = self._parser(from_client)
        if parser.stopped:
            host.to_raw(from_client, parser.take_rest(), out, False)
            return
        if from_client:
            if parser.paused and not resp.holding and not resp.paused:
                resp.hold_after(len(resp.methods))
                # The request that paused the side is the last one it gave.
                last = messages[-1][2] if messages else None
                if isinstance(last, HttpRequest) and is_h2c_upgrade(last):
                    self._h2c = (last, messages[-1][0], messages[-1][1])
            return
        if parser.tunnel:
            switch = messages[-1][2] if messages else None
            if self._h2c is not None and isinstance(switch, HttpResponse) and is_h2c_switch(switch):
                self._open_h2c(self._h2c, out)
                return
            self._open_tunnel(out)
        elif parser.paused:
            # The CONNECT/Upgrade was refused: HTTP goes on in both directions, requests
            # first so that the responses after this one know their methods.
            req = self._req
            if req is not None and req.paused:
                self._out(True, req.resume(False), out)
            self._out(from_client, parser.resume(False), out)

    def _open_tunnel(self, out: list[Parsed]) -> None:
        """CONNECT accepted or protocol switched: both directions start over, usually
        with a TLS ClientHello."""
        self.host.reopen(self._rests(out), out)

    def _open_h2c(self, request: tuple[HttpRequest, float, int], out: list[Parsed]) -> None:
        """``Upgrade: h2c`` answered with 101: the connection goes on as HTTP/2, the
        upgrade request being its stream 1 (RFC 7540 3.2)."""
        host = self.host
        rests = self._rests(out)
        app = upgraded_app(host, request[0], request[1], request[2])
        for from_client, _ in rests:
            host.attach(from_client, app, out)
        for from_client, rest in rests:
            if rest is not None:
                app.data(from_client, rest[0], rest[1], rest[2], out)

    def _rests(self, out: list[Parsed]) -> list[tuple[bool, Rest | None]]:
        """Both directions leave HTTP/1: what each had parsed, and its unparsed bytes."""
        host = self.host
        rests: list[tuple[bool, Rest | None]] = []
        for from_client in (True, False):
            parser = self._req if from_client else self._resp
            if host.app_of(from_client) is self and parser is not None:
                for time, frame, msg in parser.resume(True):
                    out.append(Parsed(from_client, time, frame, msg))
                rests.append((from_client, parser.take_rest()))
        self._req = self._resp = None
        self._h2c = None
        return rests


class HttpProtocol(Protocol):
    """HTTP/1.x on TCP, and the HTTP messages of every other source (HAR, mitmproxy)."""

    def __init__(self) -> None:
        super().__init__("http", (HttpRequest, HttpResponse), alpn=("http/1.1", "http/1.0"))

    def tcp_client(self, head: bytes) -> bool:
        return looks_like_http_request(head)

    def tcp_server(self, head: bytes) -> bool:
        return looks_like_http_response(head)

    def tcp_resume(self, data: bytes) -> bool:
        return looks_like_http_request(data)

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return HttpApp(self, host)

    def message_name(self, content: Content, transport: str) -> str:
        """``http``; ``http2``/``http3`` for what the HTTP/2 and HTTP/3 parsers made."""
        if isinstance(content, HttpRequest | HttpResponse):
            version = content.version
            if version == "HTTP/2":
                return "http2"
            if version == "HTTP/3":
                return "http3"
        return self.name

    def host(self, content: Content) -> str | None:
        if isinstance(content, HttpRequest):
            host = content.host
            if host:
                return strip_port(host)
        return None

    def columns(self, content: Content) -> dict[str, Any]:
        if isinstance(content, HttpRequest):
            return {
                "method": content.method,
                "uri": content.target,
                "http_host": content.host,
                "content_type": header(content.headers, "content-type"),
                "user_agent": header(content.headers, "user-agent"),
                "body_len": len(content.body),
            }
        assert isinstance(content, HttpResponse)
        return {
            "status": content.status,
            "content_type": header(content.headers, "content-type"),
            "body_len": len(content.body),
        }

    def summary(self, content: Content) -> str:
        if isinstance(content, HttpRequest):
            return f"{content.method} {content.url}  ({len(content.body)} bytes)"
        assert isinstance(content, HttpResponse)
        return f"{content.status} {content.reason}  ({len(content.body)} bytes)"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        # The layer names the part: http2.header:x-ad-id, http3.body:$.imei.
        part = message.protocol if message.protocol in _VERSIONED_PARTS else self.name
        if isinstance(content, HttpRequest):
            return request_fields(content, budget, part)
        if isinstance(content, HttpResponse):
            # (asked for only where the device sent it: a device that serves HTTP)
            return response_fields(content, budget, part)
        return iter(())


_VERSIONED_PARTS: Final = frozenset(("http2", "http3"))


def strip_port(host: str) -> str:
    """A Host header's name without its port (``[v6]:port`` and ``name:port``)."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


HTTP: Final = HttpProtocol()
