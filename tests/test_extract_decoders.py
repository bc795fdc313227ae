"""Decoders: what they must decode, what they must leave alone, and where they stop."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.extract import decoders
from phonehome.extract.engine import MAX_CHAIN
from phonehome.model import Anomalies
from phonehome.protocols.registry import message_fields as fields
from tests.builders_extract import (
    ICCID,
    IMEI,
    IMSI,
    all_fields,
    b64,
    http,
    jsonb,
    pb_field,
    raw,
    triples,
)


def _jwt(header: dict[str, str], payload: dict[str, str]) -> str:
    def part(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(payload)}.c2lnbmF0dXJl"


PROTOBUF = pb_field(1, IMEI.encode()) + pb_field(2, pb_field(3, IMSI.encode()) + pb_field(4, 7))
URLSAFE = base64.urlsafe_b64encode(b"??>" + IMEI.encode()).decode()
assert "_" in URLSAFE or "-" in URLSAFE
JWT = _jwt({"alg": "HS256", "typ": "JWT"}, {"sub": IMEI, "iat": "1"})

HITS = [
    pytest.param(
        http(headers=(("X-D", b64(IMEI)),)), "http.header:X-D", ("base64",), IMEI, id="b64"
    ),
    pytest.param(
        http(headers=(("X-D", b64(IMEI).rstrip("=")),)),
        "http.header:X-D",
        ("base64",),
        IMEI,
        id="b64-unpadded",
    ),
    pytest.param(
        http(headers=(("X-D", URLSAFE),)),
        "http.header:X-D",
        ("base64",),
        "??>" + IMEI,
        id="b64-urlsafe",
    ),
    pytest.param(
        http(body=b64(jsonb({"IMEI1": IMEI, "pad": "x" * 80}), wrap=True).encode()),
        "http.body:$.IMEI1",
        ("base64", "json"),
        IMEI,
        id="b64-wrapped-76",
    ),
    pytest.param(
        http(f"/?d={IMEI.encode().hex()}"), "http.query:d", ("hex",), IMEI, id="hex-to-text"
    ),
    pytest.param(
        http(body=b64(gzip.compress(jsonb({"imsi": IMSI}))).encode()),
        "http.body:$.imsi",
        ("base64", "gzip", "json"),
        IMSI,
        id="b64-gzip",
    ),
    pytest.param(
        http(body=b64(zlib.compress(b"iccid=" + ICCID.encode())[2:-4]).encode()),
        "http.body:iccid",
        ("base64", "deflate", "form"),
        ICCID,
        id="b64-raw-deflate",
    ),
    pytest.param(
        http("/?q=" + "imei%253D" + IMEI),
        "http.query:q>imei",
        ("url", "form"),
        IMEI,
        id="double-url-form",
    ),
    pytest.param(
        http(body=PROTOBUF, content_type="application/x-protobuf"),
        "http.body:#1",
        ("protobuf",),
        IMEI,
        id="protobuf-string",
    ),
    pytest.param(http(body=PROTOBUF), "http.body:#2.3", ("protobuf",), IMSI, id="protobuf-nested"),
    pytest.param(http(body=PROTOBUF), "http.body:#2.4", ("protobuf",), "7", id="protobuf-varint"),
    pytest.param(
        http(body=pb_field(5, int(IMEI))), "http.body:#5", ("protobuf",), IMEI, id="pb-imei-varint"
    ),
    pytest.param(
        http(body=b64(PROTOBUF).encode()),
        "http.body:#2.3",
        ("base64", "protobuf"),
        IMSI,
        id="b64-protobuf",
    ),
    pytest.param(
        http(headers=(("Authorization", "Bearer " + JWT),)),
        "http.header:Authorization>payload>$.sub",
        ("jwt", "json"),
        IMEI,
        id="jwt-bearer",
    ),
    pytest.param(
        http(f"/?token={JWT}"),
        "http.query:token>header>$.alg",
        ("jwt", "json"),
        "HS256",
        id="jwt-header",
    ),
]


@pytest.mark.parametrize(("msg", "where", "encoding", "text"), HITS)
def test_decoder_hit(msg, where, encoding, text):
    assert (where, encoding, text) in triples(msg)


DECOYS = [
    pytest.param(hashlib.md5(b"x").hexdigest(), id="md5-hex"),
    pytest.param(hashlib.sha256(b"x").hexdigest().upper(), id="sha256-hex-upper"),
    pytest.param(hashlib.sha1(IMEI.encode()).hexdigest(), id="sha1-of-imei"),
    pytest.param("Authorization", id="word-13"),
    pytest.param("password", id="word-8"),
    pytest.param("Settings", id="word-8-capital"),
    pytest.param("autoregistration", id="word-16"),
    pytest.param("aabbccddeeff", id="mac-hex"),
    pytest.param("9774d56d682e549c", id="android-id"),
    pytest.param(IMEI, id="imei-digits"),
    pytest.param("38400000-8cf0-11bd-b23e-10b96e40000d", id="uuid"),
    pytest.param("a.b.c", id="not-a-jwt"),
]


@pytest.mark.parametrize("value", DECOYS)
def test_decoy_is_not_decoded(value):
    fs = [f for f in all_fields(http(headers=(("X-V", value),))) if f.where == "http.header:X-V"]
    assert [f.encoding for f in fs] == [()]


def test_hash_decoy_rate_is_low():
    """Hex digests are valid Base64 and hex by alphabet; almost none may decode."""
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(2000)]
    decoded = [d for d in digests if decoders.base64(d) or decoders.hex_text(d)]
    assert len(decoded) <= 2


def test_url_decoder_needs_an_escape():
    assert decoders.url("a+b") is None
    assert decoders.url("100%") is None
    assert decoders.url("a%2Bb") == b"a+b"


def test_jwt_needs_alg_in_header():
    no_alg = _jwt({"typ": "JWT"}, {"sub": IMEI})
    assert decoders.jwt(no_alg) is None
    assert decoders.jwt(JWT) is not None


def test_zip_bomb_is_cut_with_anomaly():
    bomb = gzip.compress(b"0" * (50 << 20))
    anomalies = Anomalies()
    fs = list(fields(http(body=bomb), anomalies))
    inner = [f for f in fs if f.encoding == ("gzip",)]
    assert len(inner) == 1
    assert len(inner[0].text) <= decoders.MAX_OUTPUT
    assert anomalies.counts["extract.decompress_limit"] == 1


def test_deeply_nested_json_is_cut():
    deep = b"[" * 100_000 + b"]" * 100_000
    anomalies = Anomalies()
    fs = list(fields(http(body=deep), anomalies))
    assert [f.where for f in fs if f.where.startswith("http.body")] == ["http.body"]
    assert anomalies.counts["extract.nesting_limit"] == 1


def test_nested_json_beyond_walker_bound_is_cut():
    doc: object = IMEI
    for _ in range(100):
        doc = {"a": doc}
    anomalies = Anomalies()
    fs = list(fields(http(body=jsonb(doc)), anomalies))
    assert not any(f.text == IMEI and f.where != "http.body" for f in fs)
    assert anomalies.counts["extract.nesting_limit"] == 1


def test_ten_layers_of_base64_stop_at_the_chain_bound():
    value = jsonb({"imei": IMEI})
    for _ in range(10):
        value = base64.b64encode(value)
    anomalies = Anomalies()
    fs = list(fields(raw(value), anomalies))
    assert max(len(f.encoding) for f in fs) == MAX_CHAIN
    assert all(f.encoding == ("base64",) * len(f.encoding) for f in fs)
    assert anomalies.counts["extract.depth_limit"] == 1


def test_decoding_loop_is_not_followed():
    # "%2525" decodes to "%25" decodes to "%": each layer differs, then stops
    fs = [f for f in all_fields(http("/?a=%252525")) if f.where == "http.query:a"]
    assert [f.text for f in fs] == ["%2525", "%25", "%"]


def test_many_fields_are_bounded():
    body = jsonb([str(i) for i in range(30_000)])
    anomalies = Anomalies()
    fs = list(fields(http(body=body), anomalies))
    assert len(fs) == 20_000
    assert anomalies.counts["extract.field_limit"] == 1


def test_xml_with_doctype_is_not_parsed():
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">]><l>&a;&a;</l>'
    assert [f.encoding for f in all_fields(http(body=bomb)) if f.where.startswith("http.body")] == [
        ()
    ]


@settings(max_examples=2000, deadline=None)
@given(st.text("0123456789abcdefABCDEFgx \n", max_size=40))
def test_hex_is_taken_exactly_where_six_or_more_pairs_of_hex_digits_are(text: str) -> None:
    """The even-length character class accepts what the pairs pattern it replaced did."""
    import re

    pairs = re.fullmatch(r"(?:[0-9a-fA-F]{2}){6,}", text) is not None
    out = decoders.hex_text(text)
    if not pairs:
        assert out is None
    else:
        assert out is None or out == bytes.fromhex(text)
        assert (out is not None) == (
            decoders.printable(bytes.fromhex(text))
            or (
                decoders.compressed(bytes.fromhex(text)) is not None
                and decoders.known_binary(bytes.fromhex(text))
            )
        )


def test_decodings_of_a_repeated_text_are_remembered_and_bounded():
    from phonehome.extract import engine

    text = base64.b64encode(b'{"imei": "352071026884283"}').decode()
    first = engine._decodings(text)
    assert [(name, decoded) for name, _, decoded in first] == [
        ("base64", '{"imei": "352071026884283"}')
    ]
    assert engine._decodings(text) is first  # from the memo
    for i in range(engine.DECODINGS_MEMO + 10):
        assert engine._decodings(f"plainword{i}") == ()
        assert len(engine._decodings_memo) <= engine.DECODINGS_MEMO
    long = "a" * engine.DECODINGS_MEMO_TEXT + "%41"
    assert [name for name, _, _ in engine._decodings(long)] == ["url"]
    assert long not in engine._decodings_memo


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefABCDEF0123456789+/=%-_ ", min_size=8, max_size=40))
def test_decodings_are_what_each_decoder_gives(text):
    from phonehome.extract import engine
    from phonehome.extract.text import to_text

    expected = []
    for name, data in (
        ("url", decoders.url(text)),
        ("base64", decoders.base64(text)),
        ("hex", decoders.hex_text(text)),
    ):
        if data is not None and to_text(data) != text:
            expected.append((name, data, to_text(data)))
    assert list(engine._decodings(text)) == expected
    assert list(engine._decodings(text)) == expected  # and again, from the memo
