"""Application messages: the first typed, frozen level of the pipeline.

A :class:`Message` is one event with a common header (time, input, frame, flow,
direction, protocol, readability, app, host), in the spirit of Zeek/Suricata records,
and a protocol-specific ``content``. Parsers produce the content; the pipeline adds the
header, so parsers stay pure functions over bytes and are testable on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["out", "in"]
"""``out`` = sent by the device under study, ``in`` = received by it."""

Readability = Literal["cleartext", "encrypted", "decrypted"]
"""``cleartext``: anyone on the path could read it (HTTP, DNS, MQTT without TLS, raw).
``encrypted``: only metadata was visible (TLS/QUIC). ``decrypted``: the user supplied
decrypted traffic (HAR, mitmproxy flows, key logs)."""

Transport = Literal["tcp", "udp"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int


@dataclass(frozen=True, slots=True)
class FlowKey:
    """A flow in the orientation of the side that opened it (client -> server)."""

    transport: Transport
    client: Endpoint
    server: Endpoint


@dataclass(frozen=True, slots=True)
class AppLabel:
    """Which app sent a message, and who says so (``pcapdroid``, ``har``, ``mitmproxy``,
    ``user-agent``, ``apk``). A shared uid maps to several packages."""

    uid: int | None
    packages: tuple[str, ...]
    source: str
    name: str | None = None


Headers = tuple[tuple[str, str], ...]


def header(headers: Headers, name: str) -> str | None:
    """First value of a header, case-insensitively (HTTP field names are case-insensitive)."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str
    """The request-target as sent (origin-form ``/path?q``, absolute-form, or authority)."""
    version: str
    headers: Headers
    body: bytes
    """Body after de-chunking and Content-Encoding decoding (bounded in size and ratio)."""
    body_truncated: bool = False
    encodings: tuple[str, ...] = ()
    """Content-Encodings that were removed to give ``body`` (e.g. ``("gzip",)``)."""

    @property
    def host(self) -> str | None:
        h = header(self.headers, "host")
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
        return f"http://{host}{self.target}"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    reason: str
    version: str
    headers: Headers
    body: bytes
    body_truncated: bool = False
    encodings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    name: str
    rtype: str
    """``A``, ``AAAA``, ``CNAME`` (others kept by number as ``TYPE65`` etc.)."""
    value: str
    ttl: int


@dataclass(frozen=True, slots=True)
class DnsMessage:
    id: int
    response: bool
    rcode: int
    questions: tuple[tuple[str, str], ...]
    """(name, type) pairs, names without the trailing dot."""
    answers: tuple[DnsAnswer, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsClientHello:
    sni: str | None
    alpn: tuple[str, ...] = ()
    version: str = ""
    """Highest offered version, e.g. ``TLS 1.3`` (from supported_versions when present)."""
    ech: bool = False
    """True when an encrypted_client_hello extension was sent; ``sni`` is then the outer name."""


@dataclass(frozen=True, slots=True)
class QuicInitial:
    version: str
    """``v1`` or ``v2`` (RFC 9000 / RFC 9369)."""
    dcid: str
    """Original destination connection id, hex."""
    hello: TlsClientHello | None


@dataclass(frozen=True, slots=True)
class MqttMessage:
    packet_type: str
    """``CONNECT`` or ``PUBLISH``."""
    protocol_level: int = 0
    """4 = MQTT 3.1.1, 5 = MQTT 5; 0 when unknown (PUBLISH on a stream whose CONNECT was missed)."""
    client_id: str | None = None
    username: str | None = None
    password: bytes | None = None
    will_topic: str | None = None
    will_payload: bytes | None = None
    topic: str | None = None
    payload: bytes = b""
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class RawPayload:
    """Bytes of a TCP stream or UDP datagram no parser claimed (bounded per flow)."""

    data: bytes
    truncated: bool = False


Content = (
    HttpRequest
    | HttpResponse
    | DnsMessage
    | TlsClientHello
    | QuicInitial
    | MqttMessage
    | RawPayload
)


@dataclass(frozen=True, slots=True)
class Message:
    """One application-level event with its common header.

    ``protocol`` is one of ``http dns tls quic mqtt tcp udp`` (``tcp``/``udp`` for raw
    payloads). ``frame`` is the capture frame where the message starts (for HAR and
    mitmproxy input: the 1-based entry/flow index). ``src``/``dst`` are this message's
    own direction; ``flow`` is the flow in client->server orientation.
    """

    time: float
    input: int
    frame: int
    flow_id: int
    flow: FlowKey
    src: Endpoint
    dst: Endpoint
    direction: Direction
    protocol: str
    readability: Readability
    content: Content
    host: str | None = None
    """Best name known for the remote side: HTTP Host, SNI, passive DNS, else None."""
    app: AppLabel | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())
    """Free-form annotations (e.g. ``("har.page", "...")``); never personal data by design."""
