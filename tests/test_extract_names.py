"""Names (DNS, SNI, MQTT topics): a remembered expansion gives what expanding again gives.

The reference is the same extraction with the memo switched off (``MAX_NAME_MEMO = -1``):
the fields, their order, and the anomalies each message records must be identical,
also when a message's budget is nearly spent by earlier names.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import phonehome.extract.names as extract
from phonehome.model import DnsMessage, Field, MqttMessage, QuicInitial, TlsClientHello
from phonehome.model.anomaly import Anomalies
from phonehome.model.message import Message
from phonehome.protocols.registry import message_fields as fields
from tests.builders_extract import IMEI, dns, message


def _nested_base64(text: str, layers: int) -> str:
    data = text.encode()
    for _ in range(layers):
        data = base64.b64encode(data)
    return data.decode()


def _run(msg: Message) -> tuple[list[Field], dict[str, int], list[object]]:
    anomalies = Anomalies()
    found = list(fields(msg, anomalies))
    return found, dict(anomalies.counts), list(anomalies.samples)


def _reference(msg: Message, monkeypatch: pytest.MonkeyPatch) -> tuple[object, ...]:
    with monkeypatch.context() as m:
        m.setattr(extract, "MAX_NAME_MEMO", -1)
        return _run(msg)


def _inflating_name() -> str:
    """84 characters of Base64 of gzip of gzip of a JSON array of 25,000 numbers."""
    doc = json.dumps([1] * 25_000, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(gzip.compress(doc, 9, mtime=0), 9, mtime=0)).decode()


def _questions(*names: str) -> Message:
    return message(DnsMessage(1, False, 0, tuple((n, "A") for n in names)), "udp", "dns")


NAMES = [
    "www.example.com",
    "www.example.com.",
    "a..b",
    f"{IMEI}.imei.example.net",
    "3335323037313032363838343238.hex.example.net",
    "kari%40example.no.example.net",
    _nested_base64("kari.nordmann", 8),  # beyond the chain bound: a depth_limit note
    "x" * 300 + ".long.example",  # longer than any remembered name
]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_seen_again_gives_the_same_fields_and_anomalies(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _reference(dns(name), monkeypatch)
    assert expected[0], "every name gives fields"
    for _ in range(3):
        assert _run(dns(name)) == expected


def test_the_chain_bound_is_noted_for_every_message_that_hits_it() -> None:
    deep = _nested_base64("kari.nordmann", 8)
    for _ in range(2):
        _, counts, _ = _run(dns(deep))
        assert counts == {"extract.depth_limit": 1}


def test_a_nearly_spent_budget_expands_the_name_live(monkeypatch: pytest.MonkeyPatch) -> None:
    # 5,000 names of 4 fields each reach the 20,000-field bound in the middle of one name
    names = [f"h{i}.example.com" for i in range(4_999)] + ["www.example.com"] * 3
    msg = _questions(*names)
    got = _run(msg)
    assert got == _reference(msg, monkeypatch)
    assert len(got[0]) == extract.MAX_FIELDS
    assert got[1] == {"extract.field_limit": 1}


def test_a_name_that_inflates_is_bounded_and_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = _inflating_name()
    assert extract._expanded_name("dns.qname", bomb, "label", ".") is None
    assert extract._expanded_name("dns.qname", "www.example.com", "label", ".") is not None
    for msg in (dns(bomb), _questions("www.example.com", bomb, bomb)):
        got = _run(msg)
        assert got == _reference(msg, monkeypatch)
        assert len(got[0]) == extract.MAX_FIELDS
        assert got[1] == {"extract.field_limit": 1}


def test_names_that_inflate_to_blanks_reach_the_decoded_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each name gives six short fields (remembered) but 128 KiB of decoded spaces."""
    blanks = gzip.compress(gzip.compress(b" " * 200_000, 9, mtime=0), 9, mtime=0)
    name = base64.b64encode(blanks).decode()
    msg = _questions(*[name] * 140)
    got = _run(msg)
    assert got == _reference(msg, monkeypatch)
    assert got[1]["extract.decoded_limit"] == 1


@pytest.mark.parametrize(
    "content",
    [
        TlsClientHello("www.example.com"),
        QuicInitial("v1", "00", TlsClientHello("api.example.net")),
        MqttMessage("PUBLISH", 4, topic=f"devices/{IMEI}/status"),  # type: ignore[arg-type]
    ],
)
def test_sni_and_topics_too(content: object, monkeypatch: pytest.MonkeyPatch) -> None:
    msg = message(content, "tcp", "tls")  # type: ignore[arg-type]
    expected = _reference(msg, monkeypatch)
    assert expected[0]
    assert _run(msg) == expected
    assert _run(msg) == expected


labels = st.text("abcxyz0123456789%-_=+/", min_size=0, max_size=20)
names = st.lists(labels, min_size=1, max_size=4).map(".".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(names, st.sampled_from(NAMES[:6])), min_size=1, max_size=3))
def test_random_names_match_the_reference(qnames: list[str]) -> None:
    msg = _questions(*qnames)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(extract, "MAX_NAME_MEMO", -1)
        expected = _run(msg)
    assert _run(msg) == expected
    assert _run(msg) == expected
