"""Application messages: the first typed, frozen level of the pipeline.

A :class:`Message` is one event with a common header (time, input, frame, flow,
direction, protocol, readability, app, host), in the spirit of Zeek/Suricata records,
and a protocol-specific ``content``. Parsers produce the content; the pipeline adds the
header, so parsers stay pure functions over bytes and are testable on their own.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

Direction = Literal["out", "in"]
"""``out`` = sent by the device under study, ``in`` = received by it."""

Readability = Literal["cleartext", "encrypted", "decrypted"]
"""``cleartext``: anyone on the path could read it (HTTP, DNS, MQTT without TLS, raw).
``encrypted``: only metadata was visible (TLS/QUIC). ``decrypted``: sent encrypted, read
here because the user supplied decrypted traffic (HAR, mitmproxy flows) or the session
keys (key logs: then ``Message.extra`` says how, see :class:`Decryption`)."""

Transport = Literal["tcp", "udp", "eapol"]
"""A flow's transport; ``eapol`` for EAPOL frames (link layer, ends named by MAC address)."""


class Record:
    """Base of the per-packet value objects below: immutable by contract, equal by value.

    They were frozen dataclasses. Compiled with mypyc (see :mod:`phonehome.native`) a
    dataclass keeps its generated, interpreted ``__init__``, which for a frozen one sets
    every field through ``object.__setattr__``: about 11 % of ``phonehome flows`` on a
    phone's capture, for a message, its DNS content and answers. Written out, ``__init__``
    compiles to slot stores. The attributes are ``Final``, so mypy rejects any assignment
    after ``__init__``; equality, hash and repr follow ``FIELDS`` as a dataclass's do.
    """

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def values(self) -> tuple[object, ...]:
        """The fields' values in ``FIELDS`` order (what equality and hash compare)."""
        return tuple([getattr(self, name) for name in self.FIELDS])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Record):
            return NotImplemented
        return self.values() == other.values()

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(self.FIELDS, self.values(), strict=True))
        return f"{self.__class__.__name__}({inner})"


class Endpoint(Record):
    FIELDS = ("ip", "port")
    __slots__ = FIELDS

    ip: Final[str]
    port: Final[int]

    def __init__(self, ip: str, port: int) -> None:
        self.ip = ip
        self.port = port


class FlowKey(Record):
    """A flow in the orientation of the side that opened it (client -> server)."""

    FIELDS = ("transport", "client", "server")
    __slots__ = FIELDS

    transport: Final[Transport]
    client: Final[Endpoint]
    server: Final[Endpoint]

    def __init__(self, transport: Transport, client: Endpoint, server: Endpoint) -> None:
        self.transport = transport
        self.client = client
        self.server = server


class AppLabel(Record):
    """Which app sent a message, and who says so (``pcapdroid``, ``har``, ``mitmproxy``,
    ``user-agent``, ``apk``). A shared uid maps to several packages."""

    FIELDS = ("uid", "packages", "source", "name")
    __slots__ = FIELDS

    uid: Final[int | None]
    packages: Final[tuple[str, ...]]
    source: Final[str]
    name: Final[str | None]

    def __init__(
        self, uid: int | None, packages: tuple[str, ...], source: str, name: str | None = None
    ) -> None:
        self.uid = uid
        self.packages = packages
        self.source = source
        self.name = name


class TunnelLayer(Record):
    """One tunnel a message was carried in (``Message.tunnel``, outermost first).

    ``kind`` names the encapsulation (``gtpu vxlan geneve gre pptp erspan ipip 6in4 4in6
    6in6 teredo capwap mpls pppoe``); ``src``/``dst`` are the tunnel's own endpoints in
    this message's direction (IP addresses, or MAC addresses for MPLS and PPPoE over
    Ethernet; empty when the layer has none of its own, as MPLS inside GRE); ``ids`` the
    tunnel's identifiers in that direction (see ``TUNNEL_ID_NAMES``).
    """

    FIELDS = ("kind", "src", "dst", "ids")
    __slots__ = FIELDS

    kind: Final[str]
    src: Final[str]
    dst: Final[str]
    ids: Final[tuple[int, ...]]

    def __init__(self, kind: str, src: str, dst: str, ids: tuple[int, ...] = ()) -> None:
        self.kind = kind
        self.src = src
        self.dst = dst
        self.ids = ids

    def to_json(self) -> dict[str, object]:
        """``{"type", "src", "dst"}`` plus the identifier under its protocol's own name
        (``teid``, ``vni``, ``key``, ``labels`` ...), absent when the tunnel has none."""
        d: dict[str, object] = {
            "type": self.kind,
            "src": self.src or None,
            "dst": self.dst or None,
        }
        name = TUNNEL_ID_NAMES.get(self.kind)
        if name is not None and self.ids:
            d[name] = list(self.ids) if name == "labels" else self.ids[0]
        return d

    def brief(self) -> str:
        """``gtpu teid=0x0000a1b2``, ``mpls labels=16/3001``, ``ipip``: for text lines."""
        name = TUNNEL_ID_NAMES.get(self.kind)
        if name is None or not self.ids:
            return self.kind
        if name == "labels":
            return f"{self.kind} labels={'/'.join(str(i) for i in self.ids)}"
        value = self.ids[0]
        if self.kind == "gtpu":
            return f"{self.kind} teid=0x{value:08x}"
        if self.kind == "pppoe":
            return f"{self.kind} session=0x{value:04x}"
        return f"{self.kind} {name}={value}"


TUNNEL_ID_NAMES: Final[dict[str, str]] = {
    "gtpu": "teid",
    "vxlan": "vni",
    "geneve": "vni",
    "gre": "key",
    "pptp": "call_id",
    "erspan": "session",
    "capwap": "radio",
    "mpls": "labels",
    "pppoe": "session",
}
"""What each kind's ``ids`` are called in JSON (kinds not listed have no identifier)."""


Headers = tuple[tuple[str, str], ...]


def header(headers: Headers, name: str) -> str | None:
    """First value of a header, case-insensitively (HTTP field names are case-insensitive)."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


class HttpRequest(Record):
    FIELDS = ("method", "target", "version", "headers", "body", "body_truncated", "encodings")
    __slots__ = FIELDS

    method: Final[str]
    target: Final[str]
    """The request-target as sent (origin-form ``/path?q``, absolute-form, or authority);
    for HTTP/2 and HTTP/3 the ``:path`` (``:authority`` for CONNECT)."""
    version: Final[str]
    headers: Final[Headers]
    body: Final[bytes]
    """Body after de-chunking and Content-Encoding decoding (bounded in size and ratio)."""
    body_truncated: Final[bool]
    encodings: Final[tuple[str, ...]]
    """Content-Encodings that were removed to give ``body`` (e.g. ``("gzip",)``)."""

    def __init__(
        self,
        method: str,
        target: str,
        version: str,
        headers: Headers,
        body: bytes,
        body_truncated: bool = False,
        encodings: tuple[str, ...] = (),
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.body_truncated = body_truncated
        self.encodings = encodings

    @property
    def host(self) -> str | None:
        """Host header, else HTTP/2 and HTTP/3's ``:authority`` (RFC 9113 8.3.1), else
        the authority of an absolute-form target."""
        h = header(self.headers, "host") or header(self.headers, ":authority")
        if h:
            return h.strip()
        if "://" in self.target:
            return self.target.split("://", 1)[1].split("/", 1)[0]
        return None

    @property
    def url(self) -> str:
        if "://" in self.target:
            return self.target
        host = self.host or ""
        if self.method == "CONNECT":
            return self.target
        scheme = header(self.headers, ":scheme") or "http"
        return f"{scheme}://{host}{self.target}"


class HttpResponse(Record):
    FIELDS = ("status", "reason", "version", "headers", "body", "body_truncated", "encodings")
    __slots__ = FIELDS

    status: Final[int]
    reason: Final[str]
    version: Final[str]
    headers: Final[Headers]
    body: Final[bytes]
    body_truncated: Final[bool]
    encodings: Final[tuple[str, ...]]

    def __init__(
        self,
        status: int,
        reason: str,
        version: str,
        headers: Headers,
        body: bytes,
        body_truncated: bool = False,
        encodings: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.body = body
        self.body_truncated = body_truncated
        self.encodings = encodings


class DnsAnswer(Record):
    FIELDS = ("name", "rtype", "value", "ttl")
    __slots__ = FIELDS

    name: Final[str]
    rtype: Final[str]
    """``A``, ``AAAA``, ``CNAME`` (others kept by number as ``TYPE65`` etc.)."""
    value: Final[str]
    ttl: Final[int]

    def __init__(self, name: str, rtype: str, value: str, ttl: int) -> None:
        self.name = name
        self.rtype = rtype
        self.value = value
        self.ttl = ttl


class DnsMessage(Record):
    FIELDS = ("id", "response", "rcode", "questions", "answers")
    __slots__ = FIELDS

    id: Final[int]
    response: Final[bool]
    rcode: Final[int]
    questions: Final[tuple[tuple[str, str], ...]]
    """(name, type) pairs, names without the trailing dot."""
    answers: Final[tuple[DnsAnswer, ...]]

    def __init__(
        self,
        id: int,
        response: bool,
        rcode: int,
        questions: tuple[tuple[str, str], ...],
        answers: tuple[DnsAnswer, ...] = (),
    ) -> None:
        self.id = id
        self.response = response
        self.rcode = rcode
        self.questions = questions
        self.answers = answers


class TlsClientHello(Record):
    FIELDS = ("sni", "alpn", "version", "ech")
    __slots__ = FIELDS

    sni: Final[str | None]
    alpn: Final[tuple[str, ...]]
    version: Final[str]
    """Highest offered version, e.g. ``TLS 1.3`` (from supported_versions when present)."""
    ech: Final[bool]
    """True when an encrypted_client_hello extension was sent; ``sni`` is then the outer name."""

    def __init__(
        self, sni: str | None, alpn: tuple[str, ...] = (), version: str = "", ech: bool = False
    ) -> None:
        self.sni = sni
        self.alpn = alpn
        self.version = version
        self.ech = ech


class QuicInitial(Record):
    FIELDS = ("version", "dcid", "hello")
    __slots__ = FIELDS

    version: Final[str]
    """``v1`` or ``v2`` (RFC 9000 / RFC 9369)."""
    dcid: Final[str]
    """Original destination connection id, hex."""
    hello: Final[TlsClientHello | None]

    def __init__(self, version: str, dcid: str, hello: TlsClientHello | None) -> None:
        self.version = version
        self.dcid = dcid
        self.hello = hello


class MqttMessage(Record):
    FIELDS = (
        "packet_type",
        "protocol_level",
        "client_id",
        "username",
        "password",
        "will_topic",
        "will_payload",
        "topic",
        "payload",
        "qos",
        "retain",
    )
    __slots__ = FIELDS

    packet_type: Final[str]
    """``CONNECT`` or ``PUBLISH``."""
    protocol_level: Final[int]
    """4 = MQTT 3.1.1, 5 = MQTT 5; 0 when unknown (PUBLISH on a stream whose CONNECT was missed)."""
    client_id: Final[str | None]
    username: Final[str | None]
    password: Final[bytes | None]
    will_topic: Final[str | None]
    will_payload: Final[bytes | None]
    topic: Final[str | None]
    payload: Final[bytes]
    qos: Final[int]
    retain: Final[bool]

    def __init__(
        self,
        packet_type: str,
        protocol_level: int = 0,
        client_id: str | None = None,
        username: str | None = None,
        password: bytes | None = None,
        will_topic: str | None = None,
        will_payload: bytes | None = None,
        topic: str | None = None,
        payload: bytes = b"",
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        self.packet_type = packet_type
        self.protocol_level = protocol_level
        self.client_id = client_id
        self.username = username
        self.password = password
        self.will_topic = will_topic
        self.will_payload = will_payload
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain


class RawPayload(Record):
    """Bytes of a TCP stream or UDP datagram no parser claimed (bounded per flow)."""

    FIELDS = ("data", "truncated")
    __slots__ = FIELDS

    data: Final[bytes]
    truncated: Final[bool]

    def __init__(self, data: bytes, truncated: bool = False) -> None:
        self.data = data
        self.truncated = truncated


class Decryption(Record):
    """How the content of a decrypted connection was read: the secure layer it travelled
    in and where its keys came from. One per connection, shared by its messages (the
    pipeline turns it into ``readability="decrypted"`` and :attr:`Message.extra`)."""

    FIELDS = ("layer", "version", "suite", "keys", "alpn")
    __slots__ = FIELDS

    layer: Final[str]
    """``tls`` or ``quic``."""
    version: Final[str]
    """``TLS 1.2``, ``TLS 1.3``, or the QUIC version (``QUIC v1``, ``QUIC v2``)."""
    suite: Final[str]
    """The cipher suite's IANA name."""
    keys: Final[str]
    """``file`` (``--keylog``) or ``dsb`` (a pcapng Decryption Secrets Block)."""
    alpn: Final[str | None]
    """The application protocol the server chose, if it said."""

    def __init__(self, layer: str, version: str, suite: str, keys: str, alpn: str | None) -> None:
        self.layer = layer
        self.version = version
        self.suite = suite
        self.keys = keys
        self.alpn = alpn

    def extra(self) -> tuple[tuple[str, str], ...]:
        """The ``Message.extra`` pairs of a message read through this layer (keys named in
        :data:`DECRYPTED_KEYS`; never key material, only what kind of key log)."""
        pairs = [
            (DECRYPTED_VIA, self.version),
            (DECRYPTED_SUITE, self.suite),
            (DECRYPTED_KEYS, self.keys),
        ]
        if self.alpn:
            pairs.append((DECRYPTED_ALPN, self.alpn))
        return tuple(pairs)


DECRYPTED_VIA: Final = "decrypted.via"
"""``Message.extra`` key of a decrypted message: the layer it was read through
(``TLS 1.3``, ``QUIC v1``)."""
DECRYPTED_SUITE: Final = "decrypted.suite"
DECRYPTED_KEYS: Final = "decrypted.keys"
"""``file`` (``--keylog``) or ``dsb`` (pcapng Decryption Secrets Block)."""
DECRYPTED_ALPN: Final = "decrypted.alpn"
DECRYPTED_KEYS_NAMES: Final = (DECRYPTED_VIA, DECRYPTED_SUITE, DECRYPTED_KEYS, DECRYPTED_ALPN)


def decryption_of(extra: tuple[tuple[str, str], ...]) -> dict[str, str] | None:
    """``{"via", "suite", "keys", "alpn"}`` of a message read with a key log, else None."""
    found = {k.split(".", 1)[1]: v for k, v in extra if k in DECRYPTED_KEYS_NAMES}
    return found or None


Content = Record
"""What a parser made of a message: any :class:`Record`. The records above are the
built-in protocols'; a protocol added later may define its own in its module (e.g.
``protocols.ssh.SshHello``), and its registry entry is how the rest finds its way to it."""


class Message(Record):
    """One application-level event with its common header.

    ``protocol`` is one of ``http dns tls quic mqtt tcp udp`` (``tcp``/``udp`` for raw
    payloads). ``frame`` is the capture frame where the message starts (for HAR and
    mitmproxy input: the 1-based entry/flow index). ``src``/``dst`` are this message's
    own direction; ``flow`` is the flow in client->server orientation.
    """

    FIELDS = (
        "time",
        "input",
        "frame",
        "flow_id",
        "flow",
        "src",
        "dst",
        "direction",
        "protocol",
        "readability",
        "content",
        "host",
        "app",
        "extra",
        "tunnel",
    )
    __slots__ = FIELDS

    time: Final[float]
    input: Final[int]
    frame: Final[int]
    flow_id: Final[int]
    flow: Final[FlowKey]
    src: Final[Endpoint]
    dst: Final[Endpoint]
    direction: Final[Direction]
    protocol: Final[str]
    readability: Final[Readability]
    content: Final[Content]
    host: Final[str | None]
    """Best name known for the remote side: HTTP Host, SNI, passive DNS, else None."""
    app: Final[AppLabel | None]
    extra: Final[tuple[tuple[str, str], ...]]
    """Free-form annotations (e.g. ``("har.page", "...")``); never personal data by design."""
    tunnel: Final[tuple[TunnelLayer, ...]]
    """The tunnels the message was carried in, outermost first; empty when it was not
    tunnelled (then ``src``/``dst`` are the packet's own addresses as usual; when it was,
    they are the innermost packet's: the phone's, not the tunnel endpoints')."""

    def __init__(
        self,
        time: float,
        input: int,
        frame: int,
        flow_id: int,
        flow: FlowKey,
        src: Endpoint,
        dst: Endpoint,
        direction: Direction,
        protocol: str,
        readability: Readability,
        content: Content,
        host: str | None = None,
        app: AppLabel | None = None,
        extra: tuple[tuple[str, str], ...] = (),
        tunnel: tuple[TunnelLayer, ...] = (),
    ) -> None:
        self.time = time
        self.input = input
        self.frame = frame
        self.flow_id = flow_id
        self.flow = flow
        self.src = src
        self.dst = dst
        self.direction = direction
        self.protocol = protocol
        self.readability = readability
        self.content = content
        self.host = host
        self.app = app
        self.extra = extra
        self.tunnel = tunnel

    def with_app(self, app: AppLabel | None) -> Message:
        """The same message attributed to ``app``."""
        return Message(
            self.time,
            self.input,
            self.frame,
            self.flow_id,
            self.flow,
            self.src,
            self.dst,
            self.direction,
            self.protocol,
            self.readability,
            self.content,
            self.host,
            app,
            self.extra,
            self.tunnel,
        )
