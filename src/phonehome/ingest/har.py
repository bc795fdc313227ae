"""HAR 1.2 archives (browser dev tools, Charles, mitmproxy exports) as decrypted HTTP messages.

Each entry becomes an outgoing :class:`HttpRequest` message and, when the archive recorded
one, an incoming :class:`HttpResponse`. HAR carries no client address and no app, so the
client is ``0.0.0.0:0`` (``[::]:0`` when the server's address is IPv6: one connection has
one address family) and ``app`` stays None; the server is ``serverIPAddress`` when the
writer recorded an IP address there (Chrome writes IPv6 ones in brackets); anything else
is counted (``har.bad_server_address``) and the server's address is unknown,
``0.0.0.0``. Entries that share a connection (``connection`` + server address) share a
flow id; flow ids are numbered 1.. within the file.

The file is read as a stream, one entry at a time (:class:`_JsonStream`): a long
browser session exports hundreds of MB, and parsing it whole took 1.2 GB for a 168 MB
file. Memory is one entry plus a read window, whatever the number of entries; an entry
larger than :data:`MAX_ENTRY` characters is skipped without being built
(``har.entry_too_large``). Each entry is parsed by the standard library's C decoder;
``ijson`` was measured and not taken (benchmarks/README.md: half the speed on a 1e6-entry
HAR, and its C backend spends memory with the square of the nesting depth, so a 100k-deep
array exhausted 24 GB).

A broken entry is counted (``har.bad_entry``) and skipped. A file that is not JSON, not
UTF-8 or not a HAR object is an :class:`InputError` when nothing was read from it yet;
damage after the first entry stops reading with ``har.truncated`` and keeps what was
read, as a cut-off capture does.

Per entry the reader is Python that builds objects (a million-entry HAR is a million
calls of everything below), so the module is compiled with mypyc like the packet path
(:mod:`phonehome.native`; benchmarks/README.md, "Hostile inputs"): the limits are
``read``'s options rather than module attributes a test could patch, and the common URL
shape is split here (:func:`split_url`), with ``urllib.parse.urlsplit`` for the rest.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import json.scanner
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, Final
from urllib.parse import quote_plus, urlsplit

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest.flowids import FlowIds
from phonehome.model import Endpoint, FlowKey, HttpRequest, HttpResponse, Message
from phonehome.net.addr import parse_ip
from phonehome.protocols.bodies import split_codings

MAX_ENTRY: Final = 16 << 20
"""Characters of one JSON value (an entry, or another member of the log) that are parsed;
a larger one is skipped unparsed. 16 Mi characters hold a 12 MB body in Base64; the
window and the parsed entry then take ~50 MB."""
MAX_BODY: Final = 8 << 20
"""Bodies are cut here (flagged ``body_truncated``), as for bodies read from captures."""
MAX_CONNECTIONS: Final = 1 << 16
"""Connection keys remembered for flow ids (the oldest is forgotten first)."""
CHUNK: Final = 1 << 20
"""Bytes read at a time (the window grows past it for a larger value)."""

_SNIFF: Final = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"log"\s*:\s*\{')
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_UNKNOWN: Final = "0.0.0.0"
_UNKNOWN6: Final = "::"
_HTTP3: Final = frozenset({"h3", "http/3", "http/3.0"})


class _BadEntry(Exception):
    """An entry lacks a required part or has one of the wrong type."""


class _Unreadable(Exception):
    """The file stops being a readable HAR here (the reason is the message)."""


def sniff(head: bytes) -> bool:
    """A JSON object whose first key is ``log`` holding an object (every known writer)."""
    return _SNIFF.match(head) is not None


def read(
    stream: BinaryIO,
    input: int,
    ctx: Context,
    path: str,
    *,
    chunk: int = CHUNK,
    max_entry: int = MAX_ENTRY,
    max_body: int = MAX_BODY,
    max_connections: int = MAX_CONNECTIONS,
) -> Iterator[Message]:
    """The messages of the HAR on ``stream``; the keyword options are the limits above
    (tests make them small)."""
    reader = _HarReader(_JsonStream(stream, chunk, max_entry), input, ctx, max_body)
    reader.flows = FlowIds(max_connections)
    try:
        yield from reader.messages()
    except _Unreadable as e:
        if reader.entries == 0:
            raise InputError(path, str(e)) from None
        ctx.anomalies.add("har.truncated", input, reader.entries + 1, f"{e}; stopped reading")


class _HarReader:
    """Walks ``{"log": {..., "entries": [...], ...}, ...}`` member by member."""

    def __init__(self, js: _JsonStream, input: int, ctx: Context, max_body: int) -> None:
        self.js = js
        self.input = input
        self.ctx = ctx
        self.max_body = max_body
        self.entries = 0
        self.flows = FlowIds(MAX_CONNECTIONS)
        self.client = Endpoint(_UNKNOWN, 0)
        self.client6 = Endpoint(_UNKNOWN6, 0)
        # Entries of a session mostly go to a few servers: the last address checked.
        self._server_text = ""
        self._server_ip = _UNKNOWN
        # Entries of a burst share their startedDateTime to the second or millisecond.
        self._time_text = ""
        self._time = 0.0

    def messages(self) -> Iterator[Message]:
        js = self.js
        if js.peek() != "{":
            raise _Unreadable("not a HAR file (no top-level log object)")
        found = False
        for key in js.members():
            if key == "log" and not found:
                found = True
                if js.peek() != "{":
                    raise _Unreadable("not a HAR file (no top-level log object)")
                yield from self._log()
            else:
                js.skip_value()
        if not found:
            raise _Unreadable("not a HAR file (no top-level log object)")
        js.end()

    def _log(self) -> Iterator[Message]:
        js = self.js
        seen = False
        for key in js.members():
            if key != "entries" or seen:
                js.skip_value()
                continue
            seen = True
            if js.peek() != "[":
                raise _Unreadable("not a HAR file (log.entries is not a list)")
            js.expect("[")
            if js.peek() == "]":
                js.pos += 1
                continue
            while True:  # the items of the array, one entry each
                index = self.entries + 1
                entry = js.value()
                self.entries = index
                if entry is _TOO_LARGE:
                    self.ctx.anomalies.add(
                        "har.entry_too_large",
                        self.input,
                        index,
                        f"entry of more than {js.max_entry >> 20} Mi characters skipped",
                    )
                else:
                    pair: tuple[Message, Message | None] | None = None
                    try:
                        pair = self._entry_messages(entry, index)
                    except (_BadEntry, ValueError) as e:
                        self.ctx.anomalies.add("har.bad_entry", self.input, index, str(e))
                    if pair is not None:
                        yield pair[0]
                        if pair[1] is not None:
                            yield pair[1]
                if js.closed("]"):
                    break
        if not seen:
            raise _Unreadable("not a HAR file (log.entries is not a list)")

    def _entry_messages(self, entry: object, index: int) -> tuple[Message, Message | None]:
        """The entry's request message and its response's (None when it got none)."""
        if not isinstance(entry, dict):
            raise _BadEntry("entry is not an object")
        req = _obj(entry, "request")
        url = _str(req, "url")
        host, port, has_query = split_url(url)
        server_ip = self._server_address(entry.get("serverIPAddress"), index)
        client = self.client6 if ":" in server_ip else self.client
        server = Endpoint(server_ip, port)
        version = _opt_str(req, "httpVersion")
        # HTTP/3 runs over QUIC: keep the flow's transport truthful for the destinations view.
        flow = FlowKey("udp" if version.lower() in _HTTP3 else "tcp", client, server)
        conn = entry.get("connection")
        flows = self.flows
        flow_id = flows.get((server_ip, str(conn))) if conn not in (None, "") else flows.new()
        time = self._timestamp(entry.get("startedDateTime"), index)
        extra: tuple[tuple[str, str], ...] = ()
        pageref = entry.get("pageref")
        if isinstance(pageref, str) and pageref:
            extra = (("har.page", pageref),)

        headers = _headers(req, "headers")
        if not any(k.lower() == "cookie" for k, _ in headers):
            cookie = "; ".join([f"{n}={v}" for n, v in _pairs(req, "cookies")])
            if cookie:
                headers += (("Cookie", cookie),)
        body, truncated = _request_body(req, self.max_body)
        request = HttpRequest(
            method=_str(req, "method"),
            target=_target(url, has_query, req),
            version=version,
            headers=headers,
            body=body,
            body_truncated=truncated,
        )
        # Response first checked, so a broken response drops the whole entry consistently.
        response = _response(entry.get("response"), self.max_body, self.ctx.received_bodies)
        out = Message(
            time, self.input, index, flow_id, flow, client, server, "out", "http", "decrypted",
            request, host=host, extra=extra,
        )  # fmt: skip
        if response is None:
            return out, None
        back = Message(
            time, self.input, index, flow_id, flow, server, client, "in", "http", "decrypted",
            response, host=host, extra=extra,
        )  # fmt: skip
        return out, back

    def _server_address(self, value: object, index: int) -> str:
        """``serverIPAddress`` without brackets when it is an IP address, else unknown."""
        if not isinstance(value, str) or not value:
            return _UNKNOWN
        if value == self._server_text:
            return self._server_ip
        ip = value.strip("[]")
        try:
            parse_ip(ip)
        except ValueError:
            self.ctx.anomalies.add(
                "har.bad_server_address", self.input, index, f"serverIPAddress {value[:60]!r}"
            )
            return _UNKNOWN
        self._server_text, self._server_ip = value, ip
        return ip

    def _timestamp(self, value: object, index: int) -> float:
        if isinstance(value, str):
            if value == self._time_text:
                return self._time
            try:
                t = datetime.fromisoformat(value).timestamp()
            except ValueError:
                pass
            else:
                self._time_text, self._time = value, t
                return t
        self.ctx.anomalies.add(
            "har.bad_time", self.input, index, f"startedDateTime {str(value)[:40]!r}"
        )
        return 0.0


_SIMPLE_URL: Final = re.compile(
    r"([A-Za-z][A-Za-z0-9+.\-]*)://([A-Za-z0-9\-._~!$&'()*+,;=]+)(?::([0-9]{0,5}))?"
    r"(?:/[^?#\t\r\n]*)?(?:\?([^#\t\r\n]*))?(?:#[^\t\r\n]*)?"
)
"""A whole URL ``scheme://host[:port]``, then a path, query and fragment, in which the
host is ASCII without userinfo, brackets (IPv6), percent signs (zones, escapes) or other
characters ``urlsplit`` treats specially, and no tab or newline (which it removes), so
that both splits agree exactly. The query is what ``urlsplit`` calls one: after the
first ``?`` that comes before any ``#``."""


def split_url(url: str) -> tuple[str, int, bool]:
    """Host (lower case), port (the scheme's default when absent or 0; 0 when unknown)
    and whether there is a query, as ``urllib.parse.urlsplit`` gives them.

    ``urlsplit`` builds a result object and re-parses the netloc for each property: a
    sixth of reading a HAR of small entries. The common shape is split here in one
    match; any other (IPv6 literals, userinfo, odd characters, tabs and newlines, bad
    ports) goes to ``urlsplit``, which also raises its own ``ValueError`` for a bad port
    or bracket. ``_BadEntry`` when there is no host."""
    m = _SIMPLE_URL.fullmatch(url)
    if m is not None:
        scheme, host, digits, query = m.groups()
        port = int(digits) if digits else 0
        if port <= 65535:
            if not port:
                port = _DEFAULT_PORTS.get(scheme.lower(), 0)
            return host.lower(), port, bool(query)
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise _BadEntry(f"request url without a host: {url[:100]!r}")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    return host, port, bool(parts.query)


_TOO_LARGE: Final = object()
"""What :meth:`_JsonStream.value` returns for a value it skipped as too large."""
_WS: Final = re.compile(r"[ \t\n\r]*")
_WS_CHARS: Final = " \t\n\r"
_PLAIN: Final = re.compile(r'[^"\[\]{}]*')
"""Outside strings, up to the next character that matters for nesting."""
_STRING_BODY: Final = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)
"""Inside a string, up to its closing quote (or a lone backslash at the window's end)."""


class _JsonStream:
    """A UTF-8 JSON byte stream read through a text window.

    Structure (objects and arrays the reader walks into) is followed here character by
    character; each value the caller asks for is decoded whole by the standard
    library's C scanner on the window, which grows (doubling) until the value fits or
    passes ``max_entry``. Text before the current position is dropped at each read.
    """

    def __init__(self, stream: BinaryIO, chunk: int = CHUNK, max_entry: int = MAX_ENTRY) -> None:
        self._stream = stream
        self.chunk = chunk
        self.max_entry = max_entry
        self._pending = b""
        self._bad_utf8 = False
        self._first = True
        # The C scanner itself, made as JSONDecoder makes its own (its raw_decode is this
        # call in a Python frame): (value, end), StopIteration when no value starts there.
        self._scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
            json.JSONDecoder()  # type: ignore[arg-type]  # the stub wants a scanner as context
        )
        self.text = ""
        self.pos = 0
        self.eof = False

    def _more(self, size: int = 0) -> bool:
        """Read on (about ``size`` bytes, one chunk by default); False at end of file."""
        if self._bad_utf8:
            # the text before the bad bytes was used; the reader needs what follows
            raise _Unreadable("HAR file is not valid UTF-8")
        if self.eof:
            return False
        raw = self._stream.read(size or self.chunk)
        data = self._pending + raw
        if self._first:
            if raw and len(data) < 3 and codecs.BOM_UTF8.startswith(data):
                self._pending = data  # maybe a byte-order mark: wait for the rest
                return True
            self._first = False
            if data.startswith(codecs.BOM_UTF8):
                data = data[3:]
        try:
            text, used = codecs.utf_8_decode(data, "strict", not raw)
        except UnicodeDecodeError as e:
            text, used = data[: e.start].decode("utf-8"), len(data)
            self._bad_utf8 = True
        self._pending = data[used:]
        self.eof = not raw
        self.text = self.text[self.pos :] + text
        self.pos = 0
        return bool(raw) or bool(text)

    def peek(self) -> str:
        """The next character that is not whitespace ("" at end of file)."""
        while True:
            text, pos = self.text, self.pos
            if pos < len(text):
                ch = text[pos]
                if ch not in _WS_CHARS:
                    return ch
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                self.pos = pos
                if pos < len(text):
                    return text[pos]
            if not self._more():
                return ""

    def expect(self, ch: str) -> None:
        got = self.peek()
        if got != ch:
            found = repr(got) if got else "end of file"
            raise _Unreadable(f"invalid JSON in HAR file (expected {ch!r}, found {found})")
        self.pos += 1

    def closed(self, close: str) -> bool:
        """Past what follows an array item or object member: True after ``close`` (the
        array or object ended), False after the ``,`` before the next one."""
        ch = self.peek()
        self.pos += 1
        if ch == close:
            return True
        if ch != ",":
            raise _Unreadable(f"invalid JSON in HAR file (expected ',' or '{close}')")
        return False

    def members(self) -> Iterator[str]:
        """Keys of the object at the position; after each key, the position is at its
        value, which the caller must consume."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                raise _Unreadable("invalid JSON in HAR file (expected a key)")
            key = self.value()
            if not isinstance(key, str):
                raise _Unreadable("invalid JSON in HAR file (key too long)")
            self.expect(":")
            yield key
            if self.closed("}"):
                return

    def _decode(self) -> tuple[Any, int]:
        """The value at the position and where it ends, or the error's message and -1
        when the value may be cut by the window's end.

        Only the message and position of an error are kept: interpreted, a kept exception
        would hold this frame through its traceback, and the frame the exception, a cycle
        that keeps the window (the error's ``doc``) alive until a full collection (1 MiB
        a window; 17 MiB more after 100,000 entries, measured)."""
        try:
            return self._scan(self.text, self.pos)
        except StopIteration as e:
            msg, pos = "Expecting value", e.value  # what raw_decode makes of it
        except json.JSONDecodeError as e:
            msg, pos = e.msg, e.pos
        except RecursionError:
            raise _Unreadable("HAR file nests JSON too deeply") from None
        # Cut by the window's end (read on), or wrong where it stands (stop).
        if pos < len(self.text) - 8 and not msg.startswith("Unterminated string"):
            raise _Unreadable(f"invalid JSON in HAR file ({msg})")
        return msg, -1

    def value(self) -> Any:
        """The JSON value at the position, or :data:`_TOO_LARGE` (then skipped)."""
        self.peek()
        while True:
            value, end = self._decode()
            # A value that ends at the window's edge may go on (a number): read on.
            if 0 <= end < len(self.text) or (end >= 0 and self.eof):
                start, self.pos = self.pos, end
                # the same bound whether or not the value happened to fit the window
                return value if end - start <= self.max_entry else _TOO_LARGE
            if len(self.text) - self.pos > self.max_entry:
                self.skip_value()
                return _TOO_LARGE
            if not self._more(max(self.chunk, len(self.text) - self.pos)):
                if end < 0:
                    raise _Unreadable(f"invalid JSON in HAR file ({value})")
                raise _Unreadable("invalid JSON in HAR file (it ends too early)")

    def skip_value(self) -> None:
        """Step over the value at the position without building it, in a bounded window
        (strings and nesting followed; a malformed value fails later, at the next
        structural character)."""
        if self.peek() not in '[{"':
            self.value()
            return
        depth = 0
        in_string = False
        while True:
            text, p, n = self.text, self.pos, len(self.text)
            while p < n:
                if in_string:
                    p = _STRING_BODY.match(text, p).end()  # type: ignore[union-attr]
                    if p < n and text[p] == '"':
                        in_string = False
                        p += 1
                        if depth == 0:
                            self.pos = p
                            return
                    elif p < n:
                        break  # a backslash at the window's end: keep it, read on
                    continue
                p = _PLAIN.match(text, p).end()  # type: ignore[union-attr]
                if p == n:
                    break
                ch = text[p]
                p += 1
                if ch == '"':
                    in_string = True
                elif ch in "[{":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        self.pos = p
                        return
            self.pos = p
            if not self._more():
                raise _Unreadable("invalid JSON in HAR file (it ends inside a value)")

    def end(self) -> None:
        """Only whitespace may follow the document."""
        if self.peek() != "":
            raise _Unreadable("invalid JSON in HAR file (data after the document)")


def _target(url: str, has_query: bool, req: dict[str, Any]) -> str:
    """The absolute URL without fragment, keeping the scheme (https) the HAR recorded.

    A writer that put the query only in ``queryString`` gets it appended to the URL.
    """
    hash_at = url.find("#")
    target = url if hash_at < 0 else url[:hash_at]
    if not has_query:
        pairs = _pairs(req, "queryString")
        if pairs:
            target += "?" + "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in pairs)
    return target


def _response(resp: object, max_body: int, keep_body: bool = True) -> HttpResponse | None:
    """The recorded response, or None when the request got none (Chrome: status 0).

    Without ``keep_body`` (a scan: the browser received it, ``Context.received_bodies``)
    the content is not decoded (``body=b""``, ``body_truncated`` when it had any): the
    responses are most of a HAR, often Base64 images."""
    if resp is None:
        return None
    if not isinstance(resp, dict):
        raise _BadEntry("response is not an object")
    status = resp.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or status < 0:
        raise _BadEntry("response status is not a number")
    if status == 0:
        return None
    headers = _headers(resp, "headers")
    # HAR content is what the browser had after decoding: record the codings it removed.
    codings = split_codings([v for k, v in headers if k.lower() == "content-encoding"])
    content = resp.get("content")
    body, truncated = b"", False
    if isinstance(content, dict):
        text = content.get("text")
        if isinstance(text, str) and not keep_body:
            truncated = bool(text)
        elif isinstance(text, str):
            if content.get("encoding") == "base64":
                try:
                    body = base64.b64decode(text[: (max_body // 3 + 1) * 4], validate=False)
                except (binascii.Error, ValueError) as e:
                    raise _BadEntry(f"response content is not valid base64 ({e})") from None
                truncated = len(text) > (max_body // 3 + 1) * 4
            else:
                body = text.encode("utf-8", "surrogatepass")
            if len(body) > max_body:
                body, truncated = body[:max_body], True
    elif content is not None:
        raise _BadEntry("response content is not an object")
    return HttpResponse(
        status=status,
        reason=_opt_str(resp, "statusText"),
        version=_opt_str(resp, "httpVersion"),
        headers=headers,
        body=body,
        body_truncated=truncated,
        encodings=tuple(c for c in reversed(codings) if c != "identity"),
    )


def _request_body(req: dict[str, Any], max_body: int) -> tuple[bytes, bool]:
    post = req.get("postData")
    if post is None:
        return b"", False
    if not isinstance(post, dict):
        raise _BadEntry("postData is not an object")
    text = post.get("text")
    if isinstance(text, str) and text:
        if post.get("encoding") == "base64":  # not in HAR 1.2, but some writers add it
            try:
                body = base64.b64decode(text, validate=False)
            except (binascii.Error, ValueError) as e:
                raise _BadEntry(f"postData is not valid base64 ({e})") from None
        else:
            body = text.encode("utf-8", "surrogatepass")
    else:
        # Writers that parsed a form body keep only the parameters: re-encode them.
        params = _pairs(post, "params")
        body = "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in params).encode()
    if len(body) > max_body:
        return body[:max_body], True
    return body, False


def _obj(d: dict[str, Any], key: str) -> dict[str, Any]:
    v = d.get(key)
    if not isinstance(v, dict):
        raise _BadEntry(f"{key} is missing or not an object")
    return v


def _str(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise _BadEntry(f"{key} is missing or not a string")
    return v


def _opt_str(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


def _pairs(d: dict[str, Any], key: str) -> list[tuple[str, str]]:
    """``[{"name": .., "value": ..}, ..]`` lists (headers, cookies, queryString, params)."""
    v = d.get(key)
    if not v:
        if v is None or isinstance(v, list):
            return []
        raise _BadEntry(f"{key} is not a list")
    if not isinstance(v, list):
        raise _BadEntry(f"{key} is not a list")
    out = []
    for item in v:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _BadEntry(f"{key} has an item without a name")
        value = item.get("value")
        out.append((item["name"], value if isinstance(value, str) else ""))
    return out


def _headers(d: dict[str, Any], key: str) -> tuple[tuple[str, str], ...]:
    return tuple(_pairs(d, key))
