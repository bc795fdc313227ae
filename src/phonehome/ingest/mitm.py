"""mitmproxy flow files (``mitmdump -w``, ``.mitm``) as decrypted HTTP messages.

The file format is mitmproxy's own (tnetstring-serialised flow state, migrated between
versions by mitmproxy), so flows are made by mitmproxy (``compat.migrate_flow``,
``Flow.from_state``) rather than re-implemented. Two shortcuts give the same flows
faster: the tnetstring parse is ours (:mod:`phonehome.ingest.tnetstring`, compiled,
handing anything unusual to mitmproxy's parser: pure Python in mitmproxy, it was a third
of reading a file of small flows), and an HTTP flow of the current format that is
plainly what ``from_state`` accepts is read without it (:mod:`phonehome.ingest.mitmstate`:
``from_state`` was three quarters of the rest). :func:`_flows` is ``FlowReader.stream``
with both. mitmproxy is an optional
dependency, imported only when such a file is actually read; sniffing works without it.

Tested with mitmproxy 11.0.2 (pyproject allows >=10.1,<12).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import tnetstring
from phonehome.ingest.flowids import FlowIds
from phonehome.ingest.mitmstate import FastFlows, FlowView
from phonehome.model import Endpoint, FlowKey, HttpRequest, HttpResponse, Message
from phonehome.protocols.bodies import decode_body, split_codings

if TYPE_CHECKING:
    from mitmproxy import flow as mflow
    from mitmproxy import http

MAX_BODY = 8 << 20
"""Decoded bodies are cut here (flagged ``body_truncated``), as for captured HTTP."""

NEEDS_MITMPROXY = (
    "reading mitmproxy flows needs the optional dependency: pip install 'phonehome[mitm]'"
)

# A flow file is a sequence of tnetstring dicts: "<length>:" then the dict's items, each
# key a tnetstring string "<n>:<key>;" (";" marks text, "," bytes). mitmproxy writes the
# state dict's keys in reverse, so "version" and "type" come last, possibly past the sniff
# window after a large body; the first key is one of the flow-state keys below.
_SNIFF = re.compile(rb"\A(\d{1,12}):(\d{1,2}):([a-z_]{1,32})[;,]")
_FLOW_KEYS = frozenset(
    {
        b"backup", b"client_conn", b"comment", b"error", b"id", b"intercepted", b"is_replay",
        b"marked", b"messages", b"metadata", b"request", b"response", b"server_conn",
        b"timestamp_created", b"type", b"version", b"websocket",
    }
)  # fmt: skip
_UNKNOWN = "0.0.0.0"
_HTTP3 = frozenset({"http/3", "http/3.0", "h3"})


def sniff(head: bytes) -> bool:
    """True for the start of a mitmproxy flow dump (no mitmproxy import needed)."""
    m = _SNIFF.match(head)
    if m is None or int(m.group(2)) != len(m.group(3)) or m.group(3) not in _FLOW_KEYS:
        return False
    # When the whole first flow is in view, its dict must close where its length says.
    end = m.end(1) + 1 + int(m.group(1))
    return end >= len(head) or head[end : end + 1] == b"}"


def read(stream: BinaryIO, input: int, ctx: Context, path: str) -> Iterator[Message]:
    try:
        from mitmproxy import http
        from mitmproxy.exceptions import FlowReadException
    except ImportError:
        raise InputError(path, NEEDS_MITMPROXY) from None

    flows = FlowIds()
    index = 0
    good = 0
    reason = ""
    while True:
        # mitmproxy turns most damage into FlowReadException, but a flow dict missing keys
        # raises KeyError from Flow.from_state and a deeply nested one RecursionError from
        # the tnetstring parser. Both come after the whole flow was read from the stream, so
        # a fresh reader continues with the next flow; the generator that raised is dead.
        try:
            for flow in _flows(stream):
                index += 1
                good += 1
                if not isinstance(flow, http.HTTPFlow | FlowView):
                    ctx.anomalies.add("mitm.unsupported_flow", input, index, str(flow.type))
                    continue
                try:
                    yield from _flow_messages(flow, index, input, ctx, flows)
                except _FLOW_ERRORS as e:
                    ctx.anomalies.add("mitm.bad_flow", input, index, _why(e))
            break
        except FlowReadException as e:
            if good == 0:
                raise InputError(path, f"not a readable mitmproxy flow file ({e})") from None
            # A damaged or cut-off dump cannot be resynchronised: keep what was read.
            ctx.anomalies.add("mitm.truncated", input, index + 1, str(e))
            break
        except _FLOW_ERRORS as e:
            index += 1
            reason = reason or _why(e)
            ctx.anomalies.add("mitm.bad_flow", input, index, _why(e))
    if index and not good:
        raise InputError(path, f"no readable flow in {index} mitmproxy flow(s) ({reason})")


def _flows(stream: BinaryIO) -> Iterator[mflow.Flow | FlowView]:
    """The flows on ``stream`` as ``mitmproxy.io.FlowReader(stream).stream()`` yields them
    (the same reads, flows and exceptions: its code in mitmproxy 11.0.2), with the
    tnetstring parse compiled and HTTP flows of the current format read without
    ``Flow.from_state`` where that gives the same (:mod:`phonehome.ingest.mitmstate`). A
    file that starts as JSON is mitmproxy's HAR import: left to FlowReader itself."""
    from mitmproxy import flow
    from mitmproxy.exceptions import FlowReadException
    from mitmproxy.io import FlowReader, compat
    from mitmproxy.io import tnetstring as mitm_tnetstring

    reader = FlowReader(stream)
    if reader.peek(4).startswith(b"\xef\xbb\xbf{") or reader.peek(1).startswith(b"{"):
        yield from reader.stream()
        return
    fast = FastFlows()
    try:
        while True:
            tag, data = tnetstring.load_raw(stream)
            view = fast.view(tag, data)
            if view is not None:
                yield view
                continue
            loaded = tnetstring.parse(tag, data, mitm_tnetstring.parse)
            try:
                yield flow.Flow.from_state(compat.migrate_flow(loaded))
            except ValueError as e:
                raise FlowReadException(e) from e  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, IndexError) as e:
        if str(e) == "not a tnetstring: empty file":
            return  # the end of the file
        raise FlowReadException("Invalid data format.") from e  # type: ignore[no-untyped-call]


_FLOW_ERRORS = (
    KeyError,
    RecursionError,
    AttributeError,
    TypeError,
    ValueError,
    OverflowError,
    AssertionError,  # Flow.set_state asserts that no unknown key is left (fuzzing found it)
)
"""What a malformed flow state raises from mitmproxy or from our reading of it."""


def _why(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= 200 else text[:199] + "…"


def _flow_messages(
    flow: http.HTTPFlow | FlowView,
    index: int,
    input: int,
    ctx: Context,
    flows: FlowIds,
) -> Iterator[Message]:
    key = _flow_key(flow, flows)  # (once: pretty_host asks the headers)
    yield request_message(flow, index, input, flows, key)
    response = response_message(flow, index, input, flows, ctx.received_bodies, key)
    if response is not None:
        yield response
    if flow.websocket is not None and flow.websocket.messages:
        ctx.anomalies.add(
            "mitm.websocket_skipped", input, index, f"{len(flow.websocket.messages)} messages"
        )


FlowParts = tuple[FlowKey, int, str | None]
"""A flow's key, flow id and host (:func:`_flow_key`)."""


def _flow_key(flow: http.HTTPFlow | FlowView, flows: FlowIds) -> FlowParts:
    req = flow.request
    client = _endpoint(flow.client_conn.peername, 0)
    server = _endpoint(flow.server_conn.peername, req.port)
    transport = getattr(flow.client_conn, "transport_protocol", "tcp")
    if req.http_version.lower() in _HTTP3:
        transport = "udp"
    key = FlowKey("udp" if transport == "udp" else "tcp", client, server)
    flow_id = flows.get((flow.client_conn.id, flow.server_conn.id))
    return key, flow_id, req.pretty_host or None


def request_message(
    flow: http.HTTPFlow | FlowView,
    index: int,
    input: int,
    flows: FlowIds,
    parts: FlowParts | None = None,
) -> Message:
    """The flow's request as a decrypted HTTP message (also what ``phonehome watch
    --proxy`` feeds its scan the moment mitmproxy has read a request). ``flows`` numbers
    (client, server) connection pairs, bounded; ``parts``: :func:`_flow_key`'s, if known."""
    key, flow_id, host = parts or _flow_key(flow, flows)
    req = flow.request
    headers = _headers(req.headers.fields)
    body, encodings, truncated = _body(req.raw_content, headers)
    request = HttpRequest(
        method=req.method,
        target=req.authority if req.method == "CONNECT" else req.pretty_url,
        version=req.http_version,
        headers=headers,
        body=body,
        body_truncated=truncated,
        encodings=encodings,
    )
    return Message(
        req.timestamp_start, input, index, flow_id, key, key.client, key.server, "out", "http",
        "decrypted", request, host=host,
    )  # fmt: skip


def response_message(
    flow: http.HTTPFlow | FlowView,
    index: int,
    input: int,
    flows: FlowIds,
    keep_body: bool = True,
    parts: FlowParts | None = None,
) -> Message | None:
    """The flow's response as a message (None before it has one). Without ``keep_body``
    (a scan: the device received it, ``Context.received_bodies``) its content is not
    decoded: ``body=b""``, ``body_truncated`` when it had any."""
    resp = flow.response
    if resp is None:
        return None
    key, flow_id, host = parts or _flow_key(flow, flows)
    headers = _headers(resp.headers.fields)
    if keep_body:
        body, encodings, truncated = _body(resp.raw_content, headers)
    else:
        body, encodings, truncated = b"", (), bool(resp.raw_content)
    response = HttpResponse(
        status=resp.status_code,
        reason=resp.reason,
        version=resp.http_version,
        headers=headers,
        body=body,
        body_truncated=truncated,
        encodings=encodings,
    )
    return Message(
        resp.timestamp_start, input, index, flow_id, key, key.server, key.client, "in", "http",
        "decrypted", response, host=host,
    )  # fmt: skip


def _endpoint(peer: Any, default_port: int) -> Endpoint:
    if isinstance(peer, tuple) and len(peer) >= 2 and isinstance(peer[0], str):
        return Endpoint(peer[0], int(peer[1]))
    return Endpoint(_UNKNOWN, default_port)


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _headers(fields: tuple[tuple[bytes, bytes], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((_text(k), _text(v)) for k, v in fields)


def _body(
    raw: bytes | None, headers: tuple[tuple[str, str], ...]
) -> tuple[bytes, tuple[str, ...], bool]:
    """Undo Content-Encoding within bounds (mitmproxy's own decoding is unbounded)."""
    if not raw:
        return b"", (), False
    codings = split_codings(v for k, v in headers if k.lower() == "content-encoding")
    body, removed, truncated = decode_body(raw, codings, max_size=MAX_BODY)
    if len(body) > MAX_BODY:
        body, truncated = body[:MAX_BODY], True
    return body, removed, truncated
