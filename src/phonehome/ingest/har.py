"""HAR 1.2 archives (browser dev tools, Charles, mitmproxy exports) as decrypted HTTP messages.

Each entry becomes an outgoing :class:`HttpRequest` message and, when the archive recorded
one, an incoming :class:`HttpResponse`. HAR carries no client address and no app, so the
client is ``0.0.0.0:0`` and ``app`` stays None; the server is ``serverIPAddress`` when the
writer recorded it. Entries that share a connection (``connection`` + server address)
share a flow id; flow ids are numbered 1.. within the file.

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
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import quote_plus, urlsplit

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest.flowids import FlowIds
from phonehome.model import Endpoint, FlowKey, HttpRequest, HttpResponse, Message
from phonehome.protocols.bodies import split_codings

MAX_ENTRY = 16 << 20
"""Characters of one JSON value (an entry, or another member of the log) that are parsed;
a larger one is skipped unparsed. 16 Mi characters hold a 12 MB body in Base64; the
window and the parsed entry then take ~50 MB."""
MAX_BODY = 8 << 20
"""Bodies are cut here (flagged ``body_truncated``), as for bodies read from captures."""
MAX_CONNECTIONS = 1 << 16
"""Connection keys remembered for flow ids (the oldest is forgotten first)."""
CHUNK = 1 << 20

_SNIFF = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"log"\s*:\s*\{')
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_UNKNOWN = "0.0.0.0"
_HTTP3 = frozenset({"h3", "http/3", "http/3.0"})


class _BadEntry(Exception):
    """An entry lacks a required part or has one of the wrong type."""


class _Unreadable(Exception):
    """The file stops being a readable HAR here (the reason is the message)."""


def sniff(head: bytes) -> bool:
    """A JSON object whose first key is ``log`` holding an object (every known writer)."""
    return _SNIFF.match(head) is not None


def read(stream: BinaryIO, input: int, ctx: Context, path: str) -> Iterator[Message]:
    reader = _HarReader(_JsonStream(stream), input, ctx)
    try:
        yield from reader.messages()
    except _Unreadable as e:
        if reader.entries == 0:
            raise InputError(path, str(e)) from None
        ctx.anomalies.add("har.truncated", input, reader.entries + 1, f"{e}; stopped reading")


class _HarReader:
    """Walks ``{"log": {..., "entries": [...], ...}, ...}`` member by member."""

    def __init__(self, js: _JsonStream, input: int, ctx: Context) -> None:
        self.js = js
        self.input = input
        self.ctx = ctx
        self.entries = 0
        self.flows = FlowIds(MAX_CONNECTIONS)

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
            for _ in js.items():
                index = self.entries + 1
                entry = js.value()
                self.entries = index
                if entry is _TOO_LARGE:
                    self.ctx.anomalies.add(
                        "har.entry_too_large",
                        self.input,
                        index,
                        f"entry of more than {MAX_ENTRY >> 20} Mi characters skipped",
                    )
                    continue
                try:
                    yield from _entry_messages(entry, index, self.input, self.ctx, self.flows)
                except (_BadEntry, ValueError) as e:
                    self.ctx.anomalies.add("har.bad_entry", self.input, index, str(e))
        if not seen:
            raise _Unreadable("not a HAR file (log.entries is not a list)")


_TOO_LARGE = object()
"""What :meth:`_JsonStream.value` returns for a value it skipped as too large."""
_WS = re.compile(r"[ \t\n\r]*")
_PLAIN = re.compile(r'[^"\[\]{}]*')
"""Outside strings, up to the next character that matters for nesting."""
_STRING_BODY = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)
"""Inside a string, up to its closing quote (or a lone backslash at the window's end)."""


class _JsonStream:
    """A UTF-8 JSON byte stream read through a text window.

    Structure (objects and arrays the reader walks into) is followed here character by
    character; each value the caller asks for is decoded whole by the standard
    library's C scanner on the window, which grows (doubling) until the value fits or
    passes :data:`MAX_ENTRY`. Text before the current position is dropped at each read.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pending = b""
        self._bad_utf8 = False
        self._first = True
        self._scan = json.JSONDecoder().raw_decode
        self.text = ""
        self.pos = 0
        self.eof = False

    def _more(self, size: int = CHUNK) -> bool:
        """Read on (about ``size`` bytes); False at end of file."""
        if self._bad_utf8:
            # the text before the bad bytes was used; the reader needs what follows
            raise _Unreadable("HAR file is not valid UTF-8")
        if self.eof:
            return False
        raw = self._stream.read(size)
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
            self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def _expect(self, ch: str) -> None:
        got = self.peek()
        if got != ch:
            found = repr(got) if got else "end of file"
            raise _Unreadable(f"invalid JSON in HAR file (expected {ch!r}, found {found})")
        self.pos += 1

    def members(self) -> Iterator[str]:
        """Keys of the object at the position; after each key, the position is at its
        value, which the caller must consume."""
        self._expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                raise _Unreadable("invalid JSON in HAR file (expected a key)")
            key = self.value()
            if not isinstance(key, str):
                raise _Unreadable("invalid JSON in HAR file (key too long)")
            self._expect(":")
            yield key
            ch = self.peek()
            self.pos += 1
            if ch == "}":
                return
            if ch != ",":
                raise _Unreadable("invalid JSON in HAR file (expected ',' or '}')")

    def items(self) -> Iterator[None]:
        """One step per item of the array at the position (the caller consumes it)."""
        self._expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield None
            ch = self.peek()
            self.pos += 1
            if ch == "]":
                return
            if ch != ",":
                raise _Unreadable("invalid JSON in HAR file (expected ',' or ']')")

    def value(self) -> Any:
        """The JSON value at the position, or :data:`_TOO_LARGE` (then skipped)."""
        self.peek()
        while True:
            try:
                value, end = self._scan(self.text, self.pos)
            except json.JSONDecodeError as e:
                # Cut by the window's end (read on), or wrong where it stands (stop).
                if e.pos < len(self.text) - 8 and not e.msg.startswith("Unterminated string"):
                    raise _Unreadable(f"invalid JSON in HAR file ({e.msg})") from None
                end, value = -1, e
            except RecursionError:
                raise _Unreadable("HAR file nests JSON too deeply") from None
            # A value that ends at the window's edge may go on (a number): read on.
            if 0 <= end < len(self.text) or (end >= 0 and self.eof):
                start, self.pos = self.pos, end
                # the same bound whether or not the value happened to fit the window
                return value if end - start <= MAX_ENTRY else _TOO_LARGE
            if len(self.text) - self.pos > MAX_ENTRY:
                self.skip_value()
                return _TOO_LARGE
            if not self._more(max(CHUNK, len(self.text) - self.pos)):
                if isinstance(value, json.JSONDecodeError):
                    raise _Unreadable(f"invalid JSON in HAR file ({value.msg})")
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


def _entry_messages(
    entry: object, index: int, input: int, ctx: Context, flows: FlowIds
) -> Iterator[Message]:
    if not isinstance(entry, dict):
        raise _BadEntry("entry is not an object")
    req = _obj(entry, "request")
    url = _str(req, "url")
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise _BadEntry(f"request url without a host: {url[:100]!r}")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    server_ip = entry.get("serverIPAddress")
    server_ip = server_ip.strip("[]") if isinstance(server_ip, str) and server_ip else _UNKNOWN
    client = Endpoint(_UNKNOWN, 0)
    server = Endpoint(server_ip, port)
    version = _opt_str(req, "httpVersion")
    # HTTP/3 runs over QUIC: keep the flow's transport truthful for the destinations view.
    flow = FlowKey("udp" if version.lower() in _HTTP3 else "tcp", client, server)
    conn = entry.get("connection")
    flow_id = flows.get((server_ip, str(conn))) if conn not in (None, "") else flows.new()
    time = _time(entry.get("startedDateTime"), index, input, ctx)
    extra: tuple[tuple[str, str], ...] = ()
    pageref = entry.get("pageref")
    if isinstance(pageref, str) and pageref:
        extra = (("har.page", pageref),)

    headers = _headers(req, "headers")
    if not any(k.lower() == "cookie" for k, _ in headers):
        cookie = "; ".join(f"{n}={v}" for n, v in _pairs(req, "cookies"))
        if cookie:
            headers += (("Cookie", cookie),)
    body, truncated = _request_body(req)
    request = HttpRequest(
        method=_str(req, "method"),
        target=_target(url, parts.query, req),
        version=version,
        headers=headers,
        body=body,
        body_truncated=truncated,
    )
    # Response first checked, so a broken response drops the whole entry consistently.
    response = _response(entry.get("response"))
    yield Message(
        time, input, index, flow_id, flow, client, server, "out", "http", "decrypted",
        request, host=host, extra=extra,
    )  # fmt: skip
    if response is not None:
        yield Message(
            time, input, index, flow_id, flow, server, client, "in", "http", "decrypted",
            response, host=host, extra=extra,
        )  # fmt: skip


def _target(url: str, query: str, req: dict[str, Any]) -> str:
    """The absolute URL without fragment, keeping the scheme (https) the HAR recorded.

    A writer that put the query only in ``queryString`` gets it appended to the URL.
    """
    target = url.split("#", 1)[0]
    if not query:
        pairs = _pairs(req, "queryString")
        if pairs:
            target += "?" + "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in pairs)
    return target


def _response(resp: object) -> HttpResponse | None:
    """The recorded response, or None when the request got none (Chrome: status 0)."""
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
    codings = split_codings(v for k, v in headers if k.lower() == "content-encoding")
    content = resp.get("content")
    body, truncated = b"", False
    if isinstance(content, dict):
        text = content.get("text")
        if isinstance(text, str):
            if content.get("encoding") == "base64":
                try:
                    body = base64.b64decode(text[: (MAX_BODY // 3 + 1) * 4], validate=False)
                except (binascii.Error, ValueError) as e:
                    raise _BadEntry(f"response content is not valid base64 ({e})") from None
                truncated = len(text) > (MAX_BODY // 3 + 1) * 4
            else:
                body = text.encode("utf-8", "surrogatepass")
            if len(body) > MAX_BODY:
                body, truncated = body[:MAX_BODY], True
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


def _request_body(req: dict[str, Any]) -> tuple[bytes, bool]:
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
    if len(body) > MAX_BODY:
        return body[:MAX_BODY], True
    return body, False


def _time(value: object, index: int, input: int, ctx: Context) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    ctx.anomalies.add("har.bad_time", input, index, f"startedDateTime {str(value)[:40]!r}")
    return 0.0


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
    if v is None:
        return []
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
