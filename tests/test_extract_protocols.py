"""DNS, MQTT, TLS/QUIC hello and raw payload parts; arbitrary bytes never raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.model import DnsMessage, QuicInitial, TlsClientHello
from phonehome.protocols.registry import message_fields as fields
from tests.builders_extract import (
    IMEI,
    IMSI,
    all_fields,
    b64,
    dns,
    http,
    jsonb,
    message,
    mqtt,
    raw,
    triples,
)

HITS = [
    pytest.param(
        dns(f"{IMEI}.t.example.com."), "dns.qname", (), f"{IMEI}.t.example.com", id="qname"
    ),
    pytest.param(dns(f"{IMEI}.t.example.com"), "dns.qname:label[0]", (), IMEI, id="label0"),
    pytest.param(
        dns(f"x.{IMEI.encode().hex()}.example.com"),
        "dns.qname:label[1]",
        ("hex",),
        IMEI,
        id="hex-label",
    ),
    pytest.param(
        mqtt(client_id=f"dev-{IMEI}"), "mqtt.client_id", (), f"dev-{IMEI}", id="client-id"
    ),
    pytest.param(mqtt(username=IMSI), "mqtt.username", (), IMSI, id="username"),
    pytest.param(
        mqtt(password=b64(IMEI).encode()), "mqtt.password", ("base64",), IMEI, id="password"
    ),
    pytest.param(
        mqtt(topic=f"devices/{IMEI}/up"), "mqtt.topic:level[1]", (), IMEI, id="topic-level"
    ),
    pytest.param(
        mqtt(topic=f"devices/{IMEI}/up"), "mqtt.topic", (), f"devices/{IMEI}/up", id="topic"
    ),
    pytest.param(
        mqtt(topic="t", payload=jsonb({"imsi": IMSI})),
        "mqtt.payload:$.imsi",
        ("json",),
        IMSI,
        id="payload-json",
    ),
    pytest.param(
        mqtt(will_topic=f"lwt/{IMEI}"), "mqtt.will_topic", (), f"lwt/{IMEI}", id="will-topic"
    ),
    pytest.param(
        mqtt(will_payload=f"imei={IMEI}".encode()),
        "mqtt.will_payload:imei",
        ("form",),
        IMEI,
        id="will-payload",
    ),
    pytest.param(
        message(TlsClientHello(f"{IMEI}.example.com")), "tls.sni:label[0]", (), IMEI, id="sni-label"
    ),
    pytest.param(
        message(TlsClientHello("a.example.com")), "tls.sni", (), "a.example.com", id="sni"
    ),
    pytest.param(
        message(QuicInitial("v1", "00", TlsClientHello(f"{IMEI}.example.com")), "udp"),
        "quic.sni",
        (),
        f"{IMEI}.example.com",
        id="quic-sni",
    ),
    pytest.param(
        raw(f"HELLO {IMEI}\n".encode()), "tcp.payload", (), f"HELLO {IMEI}\n", id="tcp-raw"
    ),
    pytest.param(
        raw(jsonb({"imei": IMEI}), "udp"), "udp.payload:$.imei", ("json",), IMEI, id="udp-json"
    ),
    pytest.param(
        raw(f"a=1&imei={IMEI}".encode(), "udp"), "udp.payload:imei", ("form",), IMEI, id="udp-form"
    ),
]


@pytest.mark.parametrize(("msg", "where", "encoding", "text"), HITS)
def test_protocol_part_is_extracted(msg, where, encoding, text):
    assert (where, encoding, text) in triples(msg)


def test_dns_response_gives_no_fields():
    resp = DnsMessage(1, True, 0, ((f"{IMEI}.example.com", "A"),))
    assert all_fields(message(resp, "udp")) == []


def test_tls_without_sni_gives_no_fields():
    assert all_fields(message(TlsClientHello(None))) == []
    assert all_fields(message(QuicInitial("v1", "00", None), "udp")) == []


def test_fields_carry_no_state_between_messages():
    msg = http(f"/?imei={IMEI}")
    assert all_fields(msg) == all_fields(msg)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_http_body_never_raises(body):
    for f in fields(http(body=body)):
        assert f.text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(["tcp", "udp"]))
def test_arbitrary_raw_payload_never_raises(data, transport):
    for f in fields(raw(data, transport)):
        assert f.where.startswith(f"{transport}.payload")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_arbitrary_query_and_header_never_raise(query, value):
    msg = http("/p?" + query, headers=(("Cookie", value), ("Authorization", value)))
    list(fields(msg))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=1024), st.text(max_size=40))
def test_arbitrary_multipart_never_raises(body, boundary):
    list(fields(http(body=body, content_type=f"multipart/form-data; boundary={boundary}")))
