"""mitmproxy HTTP flows read from their saved state without ``Flow.from_state``.

``Flow.from_state`` checks every field of both connection states through ``typing``
introspection and type-checks each request and response it builds: ~230 us a flow, three
quarters of reading a file of small flows (a million flows took five minutes;
benchmarks/README.md, "mitmproxy flows"). Yet the two connections of a file are few and
repeat flow after flow, and a request needs only a handful of type tests.

So, for a flow state of the format version this was checked against, :class:`FastFlows`
does what ``from_state`` would, in its order of concerns, and conservatively:

* the flow's own keys, and the request's and response's, must be exactly the keys
  ``from_state`` consumes; the request and response fields must have the types
  mitmproxy's type check accepts (and no type its constructors would convert first);
  the flow must carry no error, WebSocket data or trailers;
* a connection state is checked by mitmproxy itself (``set_state`` on a new connection,
  as ``from_state`` does), once per distinct state: states are remembered by value (types
  included: ``1``, ``1.0`` and ``True`` are different states), a bounded number of them;
* the request and response are mitmproxy's own ``Request``/``Response`` objects, built
  around their data without the type check just mirrored, so every property phonehome
  reads (``pretty_url``, ``pretty_host``, ``authority`` ...) is mitmproxy's code.

Anything else (another format version, an unknown key, an unexpected type, a
connection state mitmproxy refuses) returns None: the caller then uses
``Flow.from_state``, so a flow, or the exception, is always the one mitmproxy gives.
``tests/test_ingest_mitm_fast.py`` holds the two readings equal on every flow the tests
and the fuzzing corpus have, and on mutations of every field of a flow state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from phonehome.ingest import tnetstring

if TYPE_CHECKING:
    from mitmproxy import http

FORMAT_VERSIONS: Final = frozenset({21})
"""Flow format versions this reading was checked against (mitmproxy 11.0). Other
mitmproxy versions write and read other versions: their flows go to ``from_state``."""

FLOW_KEYS: Final = frozenset(
    {
        "version", "type", "id", "error", "client_conn", "server_conn", "intercepted",
        "is_replay", "marked", "metadata", "comment", "timestamp_created", "request",
        "response", "websocket",
    }
)  # fmt: skip
"""What ``HTTPFlow.set_state`` and ``Flow.set_state`` pop (``backup`` may be missing too:
it is popped with a default); any other key fails its final ``assert state == {}``."""
FLOW_KEYS_WITH_BACKUP: Final = FLOW_KEYS | {"backup"}
CONNECTIONS: Final = frozenset({"client_conn", "server_conn"})
REQUEST_KEYS: Final = frozenset(
    {
        "host", "port", "method", "scheme", "authority", "path", "http_version", "headers",
        "content", "trailers", "timestamp_start", "timestamp_end",
    }
)  # fmt: skip
RESPONSE_KEYS: Final = frozenset(
    {
        "http_version", "status_code", "reason", "headers", "content", "trailers",
        "timestamp_start", "timestamp_end",
    }
)  # fmt: skip
REQUEST_BYTES: Final = ("method", "scheme", "authority", "path", "http_version")
MAX_CONNECTIONS: Final = 4096
"""Connection states remembered; past it the memory starts again (a file of more distinct
connections reads at ``from_state`` speed, nothing worse)."""


class ConnectionView:
    """The parts of a mitmproxy connection phonehome reads, taken from the connection
    mitmproxy built and checked."""

    __slots__ = ("id", "peername", "transport_protocol")

    def __init__(self, id: str, peername: Any, transport_protocol: str) -> None:
        self.id = id
        self.peername = peername
        self.transport_protocol = transport_protocol


class FlowView:
    """An HTTP flow as :mod:`phonehome.ingest.mitm` reads one: the request and response
    are mitmproxy's objects, the connections :class:`ConnectionView`."""

    __slots__ = ("client_conn", "request", "response", "server_conn")
    type: Final = "http"
    websocket: Final = None

    def __init__(
        self,
        request: http.Request,
        response: http.Response | None,
        client_conn: ConnectionView,
        server_conn: ConnectionView,
    ) -> None:
        self.request = request
        self.response = response
        self.client_conn = client_conn
        self.server_conn = server_conn


class FastFlows:
    """Flow states -> :class:`FlowView`, or None where ``Flow.from_state`` must decide.
    One per file read: it remembers the file's connection states."""

    def __init__(self) -> None:
        from mitmproxy import connection, http, version

        self._enabled = version.FLOW_FORMAT_VERSION in FORMAT_VERSIONS
        self._version = version.FLOW_FORMAT_VERSION
        self._http = http
        self._client = connection.Client
        self._server = connection.Server
        self._connections: dict[tuple[type, bytes], ConnectionView] = {}

    def view(self, tag: int, data: bytes) -> FlowView | None:
        """The flow whose tnetstring payload is ``data`` (``tnetstring.load_raw``), when
        it is plainly what ``from_state`` accepts; None: parse it and ask mitmproxy."""
        if not self._enabled:
            return None
        spans = tnetstring.dict_spans(tag, data)
        if spans is None:
            return None
        if spans.keys() not in (FLOW_KEYS, FLOW_KEYS_WITH_BACKUP):
            return None
        state: dict[str, Any] = {}
        for key, span in spans.items():
            if key in CONNECTIONS:
                continue
            ok, value = tnetstring.parse_span(data, span)
            if not ok:
                return None  # (mitmproxy's parser decides the whole flow)
            state[key] = value
        version = state["version"]
        if type(version) is not int or version != self._version:
            return None  # (migrate_flow cannot read a float 21.0: from_state raises)
        if state["type"] != "http" or state["error"] or state["websocket"]:
            return None  # Error.from_state, WebSocketData.from_state: left to mitmproxy
        request = self._request(state["request"])
        if request is None:
            return None
        response = None
        if state["response"]:  # (HTTPFlow.set_state: a falsy response is no response)
            response = self._response(state["response"])
            if response is None:
                return None
        client = self._connection(self._client, data, spans["client_conn"])
        if client is None:
            return None
        server = self._connection(self._server, data, spans["server_conn"])
        if server is None:
            return None
        return FlowView(request, response, client, server)

    def _request(self, s: Any) -> http.Request | None:
        if type(s) is not dict or s.keys() != REQUEST_KEYS:
            return None
        if type(s["host"]) is not str or not isinstance(s["port"], int):
            return None
        for key in REQUEST_BYTES:
            if type(s[key]) is not bytes:
                return None
        headers = self._message_parts(s)
        if headers is None:
            return None
        request: http.Request = _built(self._http.Request, self._http.RequestData, s, headers)
        return request

    def _response(self, s: Any) -> http.Response | None:
        if type(s) is not dict or s.keys() != RESPONSE_KEYS:
            return None
        if type(s["http_version"]) is not bytes or type(s["reason"]) is not bytes:
            return None
        if not isinstance(s["status_code"], int):
            return None
        headers = self._message_parts(s)
        if headers is None:
            return None
        response: http.Response = _built(self._http.Response, self._http.ResponseData, s, headers)
        return response

    def _message_parts(self, s: dict[str, Any]) -> http.Headers | None:
        """The checks common to requests and responses (``MessageData``'s fields), and
        the headers as ``Headers.from_state`` makes them."""
        if s["trailers"] is not None:
            return None
        content = s["content"]
        if content is not None and type(content) is not bytes:
            return None
        start, end = s["timestamp_start"], s["timestamp_end"]
        if not isinstance(start, int | float) or not (end is None or isinstance(end, int | float)):
            return None
        fields = s["headers"]
        if type(fields) is not list:
            return None
        for f in fields:
            if type(f) is not list or len(f) != 2 or type(f[0]) is not bytes:
                return None
            if type(f[1]) is not bytes:
                return None
        headers: http.Headers = self._http.Headers.from_state(fields)  # type: ignore[no-untyped-call]
        return headers

    def _connection(self, cls: type, data: bytes, span: tnetstring.Span) -> ConnectionView | None:
        """The connection state at ``span``, checked by mitmproxy the first time its
        bytes are seen (equal bytes parse to equal states)."""
        _, start, end = span
        raw = data[start : end + 1]
        known = self._connections.get((cls, raw))
        if known is not None:
            return known
        ok, state = tnetstring.parse_span(data, span)
        if not ok or type(state) is not dict:
            return None
        # made as Flow.from_state makes them
        client = cls is self._client
        conn = cls(peername=("", 0), sockname=("", 0)) if client else cls(address=None)
        try:
            conn.set_state(state)
        except Exception:  # mitmproxy refuses it: from_state will say how
            return None
        view = ConnectionView(conn.id, conn.peername, conn.transport_protocol)
        if len(self._connections) >= MAX_CONNECTIONS:
            self._connections.clear()
        self._connections[(cls, raw)] = view
        return view


def _built(cls: type, data_cls: type, state: dict[str, Any], headers: http.Headers) -> Any:
    """A mitmproxy ``Request``/``Response`` around its data, made without the
    constructors' type check (the caller did the same checks)."""
    data: Any = object.__new__(data_cls)
    data.__dict__.update(state)
    data.headers = headers
    message: Any = object.__new__(cls)
    message.data = data
    return message
