"""HAR 1.2 archives (browser dev tools, Charles, mitmproxy exports) as decrypted HTTP messages.

Each entry becomes an outgoing :class:`HttpRequest` message and, when the archive recorded
one, an incoming :class:`HttpResponse`. HAR carries no client address and no app, so the
client is ``0.0.0.0:0`` and ``app`` stays None; the server is ``serverIPAddress`` when the
writer recorded it. Entries that share a connection (``connection`` + server address)
share a flow id; flow ids are numbered 1.. within the file.

The standard library has no streaming JSON parser, so the whole file is read and parsed
at once; files over :data:`MAX_FILE` are refused rather than risking memory exhaustion.
A broken entry is counted (``har.bad_entry``) and skipped; a file that is not JSON, or not
a HAR object, is an :class:`InputError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import quote_plus, urlsplit

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.model import Endpoint, FlowKey, HttpRequest, HttpResponse, Message
from phonehome.protocols.bodies import split_codings

MAX_FILE = 1 << 30
"""Largest HAR accepted (1 GiB): parsed JSON takes several times its size in memory."""
MAX_BODY = 8 << 20
"""Bodies are cut here (flagged ``body_truncated``), as for bodies read from captures."""

_SNIFF = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"log"\s*:\s*\{')
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_UNKNOWN = "0.0.0.0"
_HTTP3 = frozenset({"h3", "http/3", "http/3.0"})


class _BadEntry(Exception):
    """An entry lacks a required part or has one of the wrong type."""


def sniff(head: bytes) -> bool:
    """A JSON object whose first key is ``log`` holding an object (every known writer)."""
    return _SNIFF.match(head) is not None


def read(stream: BinaryIO, input: int, ctx: Context, path: str) -> Iterator[Message]:
    log = _load(stream, path)
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise InputError(path, "not a HAR file (log.entries is not a list)")
    flows: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries, start=1):
        try:
            yield from _entry_messages(entry, index, input, ctx, flows)
        except (_BadEntry, ValueError) as e:
            ctx.anomalies.add("har.bad_entry", input, index, str(e))


def _load(stream: BinaryIO, path: str) -> dict[str, Any]:
    data = stream.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise InputError(path, f"HAR file larger than {MAX_FILE >> 30} GiB is not supported")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError(path, "HAR file is not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"invalid JSON in HAR file ({e})") from None
    except RecursionError:
        raise InputError(path, "HAR file nests JSON too deeply") from None
    log = doc.get("log") if isinstance(doc, dict) else None
    if not isinstance(log, dict):
        raise InputError(path, "not a HAR file (no top-level log object)")
    return log


def _entry_messages(
    entry: object, index: int, input: int, ctx: Context, flows: dict[tuple[str, str], int]
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
    conn_key = (server_ip, str(conn)) if conn not in (None, "") else ("#entry", str(index))
    flow_id = flows.setdefault(conn_key, len(flows) + 1)
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
