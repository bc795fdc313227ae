"""Hand-built outgoing messages for the extract tests, and small encoders they need."""

from __future__ import annotations

import base64
import json

from phonehome.model import (
    Content,
    DnsMessage,
    Endpoint,
    Field,
    FlowKey,
    HttpRequest,
    Message,
    MqttMessage,
    RawPayload,
)
from phonehome.protocols.registry import message_fields as fields

IMEI = "352099001761481"
IMSI = "242016000012345"
ICCID = "8947080037110000006"

DEVICE = Endpoint("192.168.1.20", 40000)
SERVER = Endpoint("203.0.113.7", 80)


def message(content: Content, transport: str = "tcp", protocol: str = "http") -> Message:
    flow = FlowKey(transport, DEVICE, SERVER)  # type: ignore[arg-type]
    return Message(0.0, 0, 7, 1, flow, DEVICE, SERVER, "out", protocol, "cleartext", content)


def http(
    target: str = "/",
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (("Host", "example.com"),),
    content_type: str | None = None,
    method: str = "POST",
) -> Message:
    if content_type is not None:
        headers = (*headers, ("Content-Type", content_type))
    return message(HttpRequest(method, target, "HTTP/1.1", headers, body))


def dns(name: str) -> Message:
    return message(DnsMessage(1, False, 0, ((name, "A"),)), "udp", "dns")


def mqtt(**kwargs: object) -> Message:
    return message(MqttMessage("PUBLISH", 4, **kwargs), protocol="mqtt")  # type: ignore[arg-type]


def raw(data: bytes, transport: str = "tcp") -> Message:
    return message(RawPayload(data), transport, transport)


def b64(data: bytes | str, wrap: bool = False) -> str:
    raw_bytes = data.encode() if isinstance(data, str) else data
    if wrap:
        return base64.encodebytes(raw_bytes).decode()  # 76-character lines, like Base64.DEFAULT
    return base64.b64encode(raw_bytes).decode()


def jsonb(obj: object) -> bytes:
    return json.dumps(obj).encode()


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(number: int, value: int | bytes) -> bytes:
    """One protobuf field: varint for ints, length-delimited for bytes."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def all_fields(msg: Message) -> list[Field]:
    return list(fields(msg))


def triples(msg: Message) -> set[tuple[str, tuple[str, ...], str]]:
    return {(f.where, f.encoding, f.text) for f in fields(msg)}


def find(msg: Message, where: str, encoding: tuple[str, ...] = ()) -> list[Field]:
    return [f for f in fields(msg) if f.where == where and f.encoding == encoding]
