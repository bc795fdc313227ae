"""MQTT 3.1, 3.1.1 and 5 over TCP: framing, CONNECT and PUBLISH.

IoT devices put identifiers in the CONNECT client id, user name and password, and in
PUBLISH topics (``devices/<imei>/telemetry``) and payloads, in clear text on 1883. Only
those two packet types carry data of interest; the others are framed and skipped.

A stream parser is kept per direction because MQTT 5 inserts a property block in PUBLISH
that 3.1.1 does not have: the level announced in CONNECT decides how PUBLISH is read, and
the session copies it to the server direction's parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from phonehome.context import Context
from phonehome.extract.engine import Budget, expand
from phonehome.extract.names import labels
from phonehome.extract.text import to_text
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, MqttMessage
from phonehome.protocols.base import Parsed, Protocol, TcpApp, TcpHost

MAX_PACKET = 8 << 20
"""Largest packet parsed (the protocol allows 256 MiB); larger ones are skipped unbuffered."""
MAX_HELD = 64 << 10

CONNECT = 1
PUBLISH = 3

Output = list[tuple[float, int, MqttMessage]]

# MQTT 5 property identifiers by value type (MQTT 5.0 section 2.2.2.2).
_PROP_BYTE = frozenset({0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A})
_PROP_U16 = frozenset({0x13, 0x21, 0x22, 0x23})
_PROP_U32 = frozenset({0x02, 0x11, 0x18, 0x27})
_PROP_VARINT = frozenset({0x0B})
_PROP_LEN_PREFIXED = frozenset({0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F})
_PROP_PAIR = 0x26
_TOPIC_ALIAS = 0x23


class _Malformed(Exception):
    pass


def looks_like_mqtt_connect(head: bytes) -> bool:
    """CONNECT fixed header, a valid remaining length, then the protocol name."""
    if len(head) < 2 or head[0] != 0x10:
        return False
    i = 1
    while True:
        if i >= len(head) or i > 4:
            return False
        more = head[i] & 0x80
        i += 1
        if not more:
            break
    rest = head[i:]
    return rest.startswith((b"\x00\x04MQTT", b"\x00\x06MQIsdp"))


def may_become_mqtt_connect(head: bytes) -> bool:
    """Too short to decide, but could still turn out to be a CONNECT."""
    return bool(head) and head[0] == 0x10 and len(head) < 13


class MqttStreamParser:
    """One direction of an MQTT connection. ``level`` is the protocol level in force
    (4 = 3.1.1, 5 = 5.0, 0 = unknown); a CONNECT sets it."""

    def __init__(
        self, ctx: Context, input: int, *, level: int = 0, max_packet: int = MAX_PACKET
    ) -> None:
        self._ctx = ctx
        self._input = input
        self.level = level
        self._max_packet = max_packet
        self.stopped = False
        self._buf = bytearray()
        self._skip = 0
        self._start = (0.0, 0)
        self._frame = 0
        self._aliases: dict[int, str] = {}

    def feed(self, data: bytes, time: float, frame: int) -> Output:
        self._frame = frame
        if self.stopped:
            self._buf += data[: max(0, MAX_HELD - len(self._buf))]
            return []
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            data = data[n:]
        if not data:
            return []
        # Parsing is eager, so buffered bytes always belong to the packet in progress and
        # whatever is left after a complete packet came with this feed.
        if not self._buf:
            self._start = (time, frame)
        self._buf += data
        out: Output = []
        while not self.stopped and self._next_packet(out):
            self._start = (time, frame)
        return out

    def gap(self) -> None:
        """Framing is lost for good: MQTT has no marker to resynchronise on."""
        self._buf.clear()
        self._skip = 0
        self.stopped = True

    def finish(self) -> Output:
        if self._buf and not self.stopped:
            self._anomaly("mqtt.truncated_packet", f"{len(self._buf)} bytes left at close")
        return []

    def take_rest(self) -> tuple[bytes, float, int] | None:
        if not self._buf:
            return None
        rest = bytes(self._buf)
        self._buf.clear()
        return rest, self._start[0], self._start[1]

    def _anomaly(self, kind: str, detail: str) -> None:
        self._ctx.anomalies.add(kind, self._input, self._frame, detail)

    def _stop(self, kind: str, detail: str) -> None:
        self._anomaly(kind, detail)
        self.stopped = True
        del self._buf[MAX_HELD:]

    def _next_packet(self, out: Output) -> bool:
        """Consume one packet if complete; False when more bytes are needed."""
        buf = self._buf
        if len(buf) < 2:
            return False
        first = buf[0]
        if first >> 4 == 0:
            self._stop("mqtt.bad_packet_type", f"first byte {first:#04x}")
            return False
        length = 0
        shift = 0
        i = 1
        while True:
            if i >= len(buf):
                return False
            b = buf[i]
            i += 1
            length |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if i == 5:
                self._stop("mqtt.bad_length", "remaining length longer than 4 bytes")
                return False
        total = i + length
        if length > self._max_packet:
            self._anomaly("mqtt.packet_too_large", f"{length} bytes, type {first >> 4}")
            n = min(total, len(buf))
            del buf[:n]
            self._skip = total - n
            return bool(buf)
        if len(buf) < total:
            return False
        packet = bytes(buf[i:total])
        del buf[:total]
        try:
            msg = self._parse(first, packet)
        except _Malformed as e:
            self._anomaly("mqtt.malformed", f"type {first >> 4}: {e}")
            msg = None
        if msg is not None:
            out.append((self._start[0], self._start[1], msg))
        return True

    def _parse(self, first: int, packet: bytes) -> MqttMessage | None:
        ptype = first >> 4
        if ptype == CONNECT:
            return self._parse_connect(packet)
        if ptype == PUBLISH:
            return self._parse_publish(first & 0x0F, packet)
        return None

    def _parse_connect(self, p: bytes) -> MqttMessage:
        name, i = _string(p, 0)
        if name not in ("MQTT", "MQIsdp"):
            raise _Malformed(f"protocol name {name!r}")
        if i + 4 > len(p):
            raise _Malformed("short variable header")
        level = p[i]
        flags = p[i + 1]
        i += 4  # level, flags, keep alive
        if level == 5:
            _, i = _properties(p, i)
        client_id, i = _string(p, i)
        will_topic = will_payload = username = password = None
        if flags & 0x04:
            if level == 5:
                _, i = _properties(p, i)
            will_topic, i = _string(p, i)
            will_payload, i = _binary(p, i)
        if flags & 0x80:
            username, i = _string(p, i)
        if flags & 0x40:
            password, i = _binary(p, i)
        self.level = level
        return MqttMessage(
            "CONNECT",
            protocol_level=level,
            client_id=client_id,
            username=username,
            password=password,
            will_topic=will_topic,
            will_payload=will_payload,
        )

    def _parse_publish(self, flags: int, p: bytes) -> MqttMessage:
        qos = (flags >> 1) & 3
        if qos == 3:
            raise _Malformed("QoS 3")
        topic, i = _string(p, 0)
        if qos:
            i += 2  # packet identifier
            if i > len(p):
                raise _Malformed("no packet identifier")
        if self.level == 5:
            alias, i = _properties(p, i)
            if alias is not None:
                # A topic alias stands for the topic sent with it the first time.
                if topic:
                    self._aliases[alias] = topic
                else:
                    topic = self._aliases.get(alias, "")
        return MqttMessage(
            "PUBLISH",
            protocol_level=self.level,
            topic=topic,
            payload=p[i:],
            qos=qos,
            retain=bool(flags & 1),
        )


def _u16(p: bytes, i: int) -> int:
    if i + 2 > len(p):
        raise _Malformed("short field")
    return (p[i] << 8) | p[i + 1]


def _binary(p: bytes, i: int) -> tuple[bytes, int]:
    n = _u16(p, i)
    end = i + 2 + n
    if end > len(p):
        raise _Malformed("field runs past the packet")
    return p[i + 2 : end], end


def _string(p: bytes, i: int) -> tuple[str, int]:
    raw, i = _binary(p, i)
    try:
        return raw.decode("utf-8"), i
    except UnicodeDecodeError:
        return raw.decode("latin-1"), i


def _varint(p: bytes, i: int) -> tuple[int, int]:
    value = 0
    for shift in (0, 7, 14, 21):
        if i >= len(p):
            raise _Malformed("short variable byte integer")
        b = p[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
    raise _Malformed("variable byte integer longer than 4 bytes")


def _properties(p: bytes, i: int) -> tuple[int | None, int]:
    """Skip an MQTT 5 property block by its length; return the topic alias if any."""
    n, i = _varint(p, i)
    end = i + n
    if end > len(p):
        raise _Malformed("properties run past the packet")
    return _topic_alias(p[i:end]), end


def _topic_alias(props: bytes) -> int | None:
    i = 0
    alias = None
    try:
        while i < len(props):
            pid, i = _varint(props, i)
            if pid == _TOPIC_ALIAS:
                alias = _u16(props, i)
            if pid in _PROP_BYTE:
                i += 1
            elif pid in _PROP_U16:
                i += 2
            elif pid in _PROP_U32:
                i += 4
            elif pid in _PROP_VARINT:
                _, i = _varint(props, i)
            elif pid in _PROP_LEN_PREFIXED:
                _, i = _binary(props, i)
            elif pid == _PROP_PAIR:
                _, i = _binary(props, i)
                _, i = _binary(props, i)
            else:
                return alias  # unknown property: the block length already bounds it
    except _Malformed:
        pass
    return alias


# -- the connection and the registry entry ------------------------------------------------


class MqttApp(TcpApp):
    """Both directions of an MQTT connection; the server side parses with the protocol
    level the client's CONNECT set."""

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._parsers: list[MqttStreamParser | None] = [None, None]  # [server, client]

    def start(self, from_client: bool, out: list[Parsed]) -> None:
        self._parsers[from_client] = MqttStreamParser(self.host.ctx, self.host.input)

    def _parser(self, from_client: bool) -> MqttStreamParser:
        parser = self._parsers[from_client]
        assert parser is not None
        return parser

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        parser = self._parser(from_client)
        client = self._parsers[True]
        if not from_client and client is not None and client.level:
            parser.level = client.level
        for t, f, msg in parser.feed(data, time, frame):
            out.append(Parsed(from_client, t, f, msg))
        if parser.stopped:
            self.host.to_raw(from_client, parser.take_rest(), out)

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        # No marker to find the next packet at: what is left and what follows is raw.
        self.host.to_raw(from_client, self._parser(from_client).take_rest(), out)
        self.host.flush_raw(from_client, out)

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        parser = self._parser(from_client)
        parser.finish()
        self.host.to_raw(from_client, parser.take_rest(), out)


class MqttProtocol(Protocol):
    """MQTT 3.1.1/5 on TCP: CONNECT (client id, credentials, will) and PUBLISH."""

    def __init__(self) -> None:
        super().__init__("mqtt", (MqttMessage,))

    def tcp_client(self, head: bytes) -> bool:
        return looks_like_mqtt_connect(head)

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return MqttApp(self, host)

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, MqttMessage)
        return {
            "mqtt_type": content.packet_type,
            "client_id": content.client_id,
            "topic": content.topic,
            "payload_len": len(content.payload),
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, MqttMessage)
        if content.packet_type == "CONNECT":
            return f"CONNECT client_id={content.client_id}"
        return f"PUBLISH {content.topic} ({len(content.payload)} bytes)"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        msg = message.content
        assert isinstance(msg, MqttMessage)
        for part, value in (
            ("mqtt.client_id", msg.client_id),
            ("mqtt.username", msg.username),
        ):
            if value:
                yield from expand(budget, part, "", (), None, (), value)
        if msg.password:
            yield from expand(
                budget, "mqtt.password", "", (), None, (), to_text(msg.password), msg.password
            )
        if msg.topic:
            yield from labels(budget, "mqtt.topic", msg.topic, "level", "/")
        if msg.payload:
            yield from expand(
                budget, "mqtt.payload", "", (), None, (), to_text(msg.payload), msg.payload
            )
        if msg.will_topic:
            yield from expand(budget, "mqtt.will_topic", "", (), None, (), msg.will_topic)
        if msg.will_payload:
            yield from expand(
                budget,
                "mqtt.will_payload",
                "",
                (),
                None,
                (),
                to_text(msg.will_payload),
                msg.will_payload,
            )


MQTT: Final = MqttProtocol()
