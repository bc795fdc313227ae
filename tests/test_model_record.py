"""Message model records: equal and hashed by value like the frozen dataclasses they replace."""

from __future__ import annotations

import inspect

import pytest

from phonehome.model import message as m

RECORDS = [
    cls
    for cls in vars(m).values()
    if inspect.isclass(cls) and issubclass(cls, m.Record) and cls is not m.Record
]


def test_every_content_type_is_a_record() -> None:
    assert {c.__name__ for c in RECORDS} >= {
        "Endpoint", "FlowKey", "AppLabel", "HttpRequest", "HttpResponse", "DnsAnswer",
        "DnsMessage", "TlsClientHello", "QuicInitial", "MqttMessage", "RawPayload", "Message",
    }  # fmt: skip


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_fields_are_the_constructor_parameters_in_order(cls: type[m.Record]) -> None:
    assert tuple(inspect.signature(cls).parameters) == cls.FIELDS


def test_equality_hash_and_repr_follow_the_fields() -> None:
    a = m.DnsAnswer("x.example", "A", "192.0.2.1", 60)
    b = m.DnsAnswer("x.example", "A", "192.0.2.1", 60)
    c = m.DnsAnswer("x.example", "A", "192.0.2.2", 60)
    assert a == b and hash(a) == hash(b) and a != c
    assert len({a, b, c}) == 2
    assert repr(a) == "DnsAnswer(name='x.example', rtype='A', value='192.0.2.1', ttl=60)"
    # Same values, other type: not equal (as with dataclasses).
    assert m.Endpoint("192.0.2.1", 53) != m.RawPayload(b"", False)
    assert (m.Endpoint("192.0.2.1", 53) == ("192.0.2.1", 53)) is False


def test_with_app_changes_only_the_app() -> None:
    ep = m.Endpoint("192.0.2.1", 80)
    tunnel = (m.TunnelLayer("gtpu", "10.0.0.1", "10.0.0.2", (7,)),)
    msg = m.Message(1.5, 0, 7, 3, m.FlowKey("tcp", ep, ep), ep, ep, "out", "tcp",
                    "cleartext", m.RawPayload(b"x"), None, None, (("k", "v"),),
                    tunnel)  # fmt: skip
    app = m.AppLabel(None, ("com.example",), "user-agent")
    moved = msg.with_app(app)
    assert moved.app == app
    others = [n for n in m.Message.FIELDS if n != "app"]
    assert [getattr(moved, n) for n in others] == [getattr(msg, n) for n in others]
    assert moved.tunnel == tunnel
