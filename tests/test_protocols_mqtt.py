"""MqttStreamParser on hand-built MQTT 3.1, 3.1.1 and 5 packets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.context import Context
from phonehome.model.message import MqttMessage
from phonehome.protocols.mqtt import (
    MqttStreamParser,
    looks_like_mqtt_connect,
    may_become_mqtt_connect,
)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


# Some MQTT 5 properties: session expiry (u32), receive maximum (u16), user property (pair).
PROPS_V5 = b"\x11\x00\x00\x0e\x10" + b"\x21\x00\x14" + b"\x26" + s("imei") + s("350672920106648")


def connect(
    level: int = 4,
    client_id: str = "dev-350672920106648",
    username: str | None = None,
    password: bytes | None = None,
    will: tuple[str, bytes] | None = None,
    name: str = "MQTT",
    props: bytes = PROPS_V5,
    will_props: bytes = b"\x18\x00\x00\x00\x05",  # will delay interval
) -> bytes:
    flags = 0x02
    if will:
        flags |= 0x04 | 0x08 | 0x20  # will, will QoS 1, will retain
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = s(name) + bytes([level, flags]) + b"\x00\x3c"
    if level == 5:
        body += varint(len(props)) + props
    body += s(client_id)
    if will:
        if level == 5:
            body += varint(len(will_props)) + will_props
        body += s(will[0]) + s(will[1])
    if username is not None:
        body += s(username)
    if password is not None:
        body += s(password)
    return packet(0x10, body)


def publish(
    topic: str,
    payload: bytes,
    qos: int = 0,
    retain: bool = False,
    level: int = 4,
    props: bytes = b"",
    packet_id: int = 7,
) -> bytes:
    body = s(topic)
    if qos:
        body += packet_id.to_bytes(2, "big")
    if level == 5:
        body += varint(len(props)) + props
    return packet(0x30 | (qos << 1) | int(retain), body + payload)


def run(data: bytes | list[bytes], level: int = 0) -> tuple[list[MqttMessage], Context]:
    ctx = Context()
    p = MqttStreamParser(ctx, 0, level=level)
    pieces = [data] if isinstance(data, bytes) else data
    out = []
    for i, piece in enumerate(pieces):
        out += p.feed(piece, float(i), i)
    p.finish()
    return [m for _, _, m in out], ctx


def test_connect_311_all_fields() -> None:
    data = connect(4, username="user", password=b"pw\x00\xff", will=("lwt/dev", b"gone"))
    (m,), ctx = run(data)
    assert m == MqttMessage(
        "CONNECT",
        protocol_level=4,
        client_id="dev-350672920106648",
        username="user",
        password=b"pw\x00\xff",
        will_topic="lwt/dev",
        will_payload=b"gone",
    )
    assert not ctx.anomalies.counts


def test_connect_v31_mqisdp() -> None:
    (m,), _ = run(connect(3, name="MQIsdp", client_id="c1"))
    assert (m.protocol_level, m.client_id, m.username) == (3, "c1", None)


def test_connect_v5_with_properties_and_will_properties() -> None:
    data = connect(5, username="u", password=b"p", will=("w/t", b"bye"))
    (m,), _ = run(data)
    assert (m.protocol_level, m.client_id, m.will_topic, m.will_payload, m.username) == (
        5,
        "dev-350672920106648",
        "w/t",
        b"bye",
        "u",
    )
    assert m.password == b"p"


@pytest.mark.parametrize(("qos", "retain"), [(0, False), (1, True), (2, False)])
def test_publish_311(qos: int, retain: bool) -> None:
    data = connect(4) + publish("dev/350672920106648/up", b'{"iccid":"89"}', qos, retain)
    (_, m), _ = run(data)
    assert (m.packet_type, m.protocol_level, m.topic, m.payload, m.qos, m.retain) == (
        "PUBLISH",
        4,
        "dev/350672920106648/up",
        b'{"iccid":"89"}',
        qos,
        retain,
    )


@pytest.mark.parametrize("qos", [0, 1])
def test_publish_v5_properties_are_not_payload(qos: int) -> None:
    props = b"\x01\x01" + b"\x03" + s("application/json") + b"\x26" + s("k") + s("v")
    data = connect(5) + publish("t/1", b"PAYLOAD", qos, level=5, props=props)
    (_, m), _ = run(data)
    assert (m.topic, m.payload, m.qos, m.protocol_level) == ("t/1", b"PAYLOAD", qos, 5)


def test_publish_v5_needs_the_level() -> None:
    # The control: read as 3.1.1 the property block ends up in the payload.
    props = b"\x01\x01"
    (m,), _ = run(publish("t", b"P", level=5, props=props))
    assert m.payload == b"\x02\x01\x01P"
    (m,), _ = run(publish("t", b"P", level=5, props=props), level=5)
    assert m.payload == b"P"


def test_topic_alias() -> None:
    data = (
        connect(5)
        + publish("devices/350672920106648", b"1", level=5, props=b"\x23\x00\x02")
        + publish("", b"2", level=5, props=b"\x23\x00\x02")
    )
    (_, a, b), _ = run(data)
    assert (a.topic, b.topic, b.payload) == (
        "devices/350672920106648",
        "devices/350672920106648",
        b"2",
    )


def test_other_packet_types_are_skipped() -> None:
    data = (
        packet(0x20, b"\x00\x00")  # CONNACK
        + packet(0xC0, b"")  # PINGREQ
        + packet(0x82, b"\x00\x01" + s("a/#") + b"\x00")  # SUBSCRIBE
        + publish("a/b", b"x")
    )
    got, ctx = run(data)
    assert [m.packet_type for m in got] == ["PUBLISH"]
    assert not ctx.anomalies.counts


STREAM = connect(5, username="u") + publish("t", b"p" * 300, 1, level=5, props=PROPS_V5)


def test_split_at_every_offset() -> None:
    whole, _ = run(STREAM)
    assert len(whole) == 2
    for cut in range(1, len(STREAM)):
        assert run([STREAM[:cut], STREAM[cut:]])[0] == whole, cut
    assert run([STREAM[i : i + 1] for i in range(len(STREAM))])[0] == whole


def test_start_frame() -> None:
    a = connect(4)
    b = publish("t", b"x")
    p = MqttStreamParser(Context(), 0)
    out = p.feed(a + b[:2], 1.0, 1)
    out += p.feed(b[2:4], 2.0, 2)
    out += p.feed(b[4:], 3.0, 3)
    assert [(t, f) for t, f, _ in out] == [(1.0, 1), (1.0, 1)]


def test_remaining_length_too_long_stops() -> None:
    p = MqttStreamParser(ctx := Context(), 0)
    p.feed(b"\x30\xff\xff\xff\xff\x01rest", 1.0, 1)
    assert p.stopped and ctx.anomalies.counts["mqtt.bad_length"] == 1
    assert p.take_rest() == (b"\x30\xff\xff\xff\xff\x01rest", 1.0, 1)


def test_oversized_packet_is_skipped_and_next_parsed() -> None:
    ctx = Context()
    p = MqttStreamParser(ctx, 0, max_packet=100)
    big = publish("t", b"x" * 1000)
    data = big + publish("after", b"ok")
    out = []
    for i in range(0, len(data), 64):
        out += p.feed(data[i : i + 64], float(i), i)
    assert [m.topic for _, _, m in out] == ["after"]
    assert ctx.anomalies.counts["mqtt.packet_too_large"] == 1


def test_malformed_packet_counted_and_stream_goes_on() -> None:
    bad = packet(0x10, s("MQTT") + b"\x04")  # cut inside the variable header
    got, ctx = run(bad + packet(0x10, s("XMPP") + b"\x04\x02\x00\x00") + publish("t", b"x"))
    assert [m.packet_type for m in got] == ["PUBLISH"]
    assert ctx.anomalies.counts["mqtt.malformed"] == 2


def test_packet_type_zero_stops() -> None:
    got, ctx = run(b"\x00\x02ab" + publish("t", b"x"))
    assert got == [] and ctx.anomalies.counts["mqtt.bad_packet_type"] == 1


def test_truncated_at_close() -> None:
    got, ctx = run(publish("t", b"x" * 50)[:20])
    assert got == [] and ctx.anomalies.counts["mqtt.truncated_packet"] == 1


@pytest.mark.parametrize(
    ("head", "hit"),
    [
        (connect(4)[:12], True),
        (connect(5, client_id="x" * 200)[:13], True),  # two-byte remaining length
        (connect(3, name="MQIsdp")[:12], True),
        (b"\x10\x0c\x00\x04MQTX", False),
        (b"\x20\x02\x00\x00", False),
        (b"\x10\x0c\x00\x04MQ", False),
        (b"\x10\xff\xff\xff\xff\x00\x04MQTT", False),
        (b"GET / HTTP/1.1\r\n", False),
    ],
)
def test_looks_like_mqtt_connect(head: bytes, hit: bool) -> None:
    assert looks_like_mqtt_connect(head) is hit


def test_may_become() -> None:
    assert may_become_mqtt_connect(b"\x10\x0c")
    assert not may_become_mqtt_connect(b"\x11\x0c")
    assert not may_become_mqtt_connect(b"")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=10), st.sampled_from([0, 4, 5]))
def test_fuzz_never_raises(pieces: list[bytes], level: int) -> None:
    p = MqttStreamParser(Context(), 0, level=level, max_packet=200)
    for i, piece in enumerate(pieces):
        for _, _, m in p.feed(piece, float(i), i):
            assert m.packet_type in ("CONNECT", "PUBLISH")
    p.finish()
    p.take_rest()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 3), st.sampled_from([4, 5]))
def test_fuzz_mutated_packets(noise: bytes, where: int, level: int) -> None:
    base = connect(level, username="u", will=("w", b"x")) + publish("t", b"p", 1, level=level)
    cut = len(base) * where // 4
    got, _ = run(base[:cut] + noise + base[cut:])
    assert all(isinstance(m, MqttMessage) for m in got)
