"""HTTP request parts: path, query, headers, cookies and structured bodies."""

from __future__ import annotations

import gzip
import zlib

import pytest

from phonehome.model import HttpResponse
from tests.builders_extract import (
    IMEI,
    IMSI,
    all_fields,
    b64,
    find,
    http,
    jsonb,
    message,
    triples,
)

MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="meta"\r\n\r\n'
    b'{"imei":"' + IMEI.encode() + b'"}\r\n'
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="imsi"\r\n\r\n' + IMSI.encode() + b"\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="log"; filename="log.gz"\r\n'
    b"Content-Type: application/gzip\r\n\r\n" + gzip.compress(b"serial=R58M12345") + b"\r\n"
    b"--XyZ--\r\n"
)

XML = (
    b'<?xml version="1.0"?><reg xmlns="urn:x"><dev imei="' + IMEI.encode() + b'">'
    b"<imsi>" + IMSI.encode() + b"</imsi><cell>1</cell><cell>2</cell></dev></reg>"
)

HITS = [
    pytest.param(http(f"/v1/{IMEI}/ping"), "http.path:segment[1]", (), IMEI, id="path-segment"),
    pytest.param(http(f"/v1/{IMEI}/ping"), "http.path", (), f"/v1/{IMEI}/ping", id="path-whole"),
    pytest.param(
        http(f"http://example.com/a?imei={IMEI}"), "http.query:imei", (), IMEI, id="absolute-form"
    ),
    pytest.param(http(f"/?imei={IMEI}&x=1"), "http.query", (), f"imei={IMEI}&x=1", id="raw-query"),
    pytest.param(http("/?q=a+b%26c"), "http.query:q", (), "a b&c", id="query-plus-and-percent"),
    pytest.param(
        http("/?imei=35209900%25201761481"),
        "http.query:imei",
        ("url",),
        "35209900 1761481",
        id="double-url-encoding",
    ),
    pytest.param(
        http(headers=(("Host", f"{IMEI}.t.example.com"),)),
        "http.header:Host",
        (),
        f"{IMEI}.t.example.com",
        id="host-header",
    ),
    pytest.param(
        http(headers=(("X-Device-Id", IMEI),)), "http.header:X-Device-Id", (), IMEI, id="header"
    ),
    pytest.param(
        http(headers=(("Authorization", "Basic " + b64(f"{IMEI}:secret")),)),
        "http.header:Authorization",
        ("base64",),
        f"{IMEI}:secret",
        id="basic-auth",
    ),
    pytest.param(
        http(headers=(("Cookie", f"a=1; did={IMEI}"),)), "http.cookie:did", (), IMEI, id="cookie"
    ),
    pytest.param(
        http(headers=(("Cookie", "u=" + b64(jsonb({"imsi": IMSI}))),)),
        "http.cookie:u>$.imsi",
        ("base64", "json"),
        IMSI,
        id="cookie-base64-json",
    ),
    pytest.param(
        http(body=f"imei={IMEI}".encode()), "http.body", (), f"imei={IMEI}", id="raw-body"
    ),
    pytest.param(
        http(body=f"imei={IMEI}&a=b".encode(), content_type="application/x-www-form-urlencoded"),
        "http.body:imei",
        ("form",),
        IMEI,
        id="form",
    ),
    pytest.param(
        http(body=f"a=b&imei={IMEI}".encode()), "http.body:imei", ("form",), IMEI, id="form-sniffed"
    ),
    pytest.param(
        http(body=jsonb({"d": [{"IMEI1": IMEI}]})),
        "http.body:$.d[0].IMEI1",
        ("json",),
        IMEI,
        id="json-path",
    ),
    pytest.param(
        http(body=jsonb({"a b": IMEI})), "http.body:$['a b']", ("json",), IMEI, id="json-quoted-key"
    ),
    pytest.param(
        http(body=b'{"n": 352099001761481}'), "http.body:$.n", ("json",), IMEI, id="json-number"
    ),
    pytest.param(
        http(body=b'{"lat": 59.91273000}'), "http.body:$.lat", ("json",), "59.91273000", id="float"
    ),
    pytest.param(
        http(body=jsonb({"data": jsonb({"IMEI1": IMEI}).decode()})),
        "http.body:$.data>$.IMEI1",
        ("json", "json"),
        IMEI,
        id="json-in-json-string",
    ),
    pytest.param(
        http(body=jsonb({"data": b64(jsonb({"IMEI1": IMEI}))})),
        "http.body:$.data>$.IMEI1",
        ("json", "base64", "json"),
        IMEI,
        id="base64-in-json",
    ),
    pytest.param(
        http(body=b64(jsonb({"IMEI1": IMEI, "MEID": IMEI[:14]}) * 3, wrap=True).encode()),
        "http.body",
        ("base64",),
        (jsonb({"IMEI1": IMEI, "MEID": IMEI[:14]}) * 3).decode(),
        id="wrapped-base64-not-json",
    ),
    pytest.param(
        http(body=gzip.compress(jsonb({"imei": IMEI}))),
        "http.body:$.imei",
        ("gzip", "json"),
        IMEI,
        id="gzip-body",
    ),
    pytest.param(
        http(body=zlib.compress(f"imei={IMEI}".encode())),
        "http.body:imei",
        ("zlib", "form"),
        IMEI,
        id="zlib-body",
    ),
    pytest.param(
        http(body=MULTIPART, content_type="multipart/form-data; boundary=XyZ"),
        "http.body:meta>$.imei",
        ("multipart", "json"),
        IMEI,
        id="multipart-json",
    ),
    pytest.param(
        http(body=MULTIPART, content_type='multipart/form-data; boundary="XyZ"'),
        "http.body:imsi",
        ("multipart",),
        IMSI,
        id="multipart-plain",
    ),
    pytest.param(
        http(body=MULTIPART, content_type="multipart/form-data; boundary=XyZ"),
        "http.body:log>serial",
        ("multipart", "gzip", "form"),
        "R58M12345",
        id="multipart-gzip-file",
    ),
    pytest.param(http(body=XML), "http.body:/reg/dev/@imei", ("xml",), IMEI, id="xml-attr"),
    pytest.param(http(body=XML), "http.body:/reg/dev/imsi", ("xml",), IMSI, id="xml-text"),
    pytest.param(http(body=XML), "http.body:/reg/dev/cell[2]", ("xml",), "2", id="xml-repeated"),
]


@pytest.mark.parametrize(("msg", "where", "encoding", "text"), HITS)
def test_http_part_is_extracted(msg, where, encoding, text):
    assert (where, encoding, text) in triples(msg)


def test_zzhc_body_wrapped_base64_json():
    """The China Telecom self-registration body: Base64.DEFAULT (76-column lines) of JSON."""
    payload = {
        "REGVER": "5",
        "MEID": IMEI[:14],
        "MODEL": "TA-1046",
        "SIM1ICCID": "89860318720211234567",
        "SIM1LTEIMSI": "460110123456789",
        "SIM1CELLID": "0x1a2b3c",
        "MACID": "aa:bb:cc:dd:ee:ff",
        "IMEI1": IMEI,
        "REGDATE": "2019-01-12,08:00:01",
    }
    body = b64(jsonb(payload), wrap=True).encode()
    assert b"\n" in body.rstrip(b"\n")  # really wrapped
    msg = http(
        body=body,
        headers=(("Host", "zzhc.vnet.cn"),),
        content_type="application/encrypted-json",
    )
    [imei] = find(msg, "http.body:$.IMEI1", ("base64", "json"))
    assert imei.text == IMEI
    assert imei.key == "IMEI1"
    sib = dict(imei.siblings)
    assert sib["sim1cellid"] == "0x1a2b3c"
    assert "imei1" not in sib


def test_query_siblings_and_key():
    [f] = find(http("/c?cid=4711&lac=120&mcc=242&mnc=1"), "http.query:cid")
    assert f.key == "cid"
    assert dict(f.siblings) == {"lac": "120", "mcc": "242", "mnc": "1"}


def test_siblings_are_bounded():
    body = jsonb({f"k{i}": str(i) for i in range(100)})
    fs = find(http(body=body), "http.body:$.k50", ("json",))
    assert len(fs[0].siblings) == 32


def test_noise_headers_are_skipped():
    msg = http(headers=(("Host", "h"), ("Content-Length", "12345678901234"), ("Connection", "x")))
    wheres = {f.where for f in all_fields(msg)}
    assert "http.header:Host" in wheres
    assert "http.header:Content-Length" not in wheres
    assert "http.header:Connection" not in wheres


def test_raw_query_is_not_parsed_twice():
    fs = [f for f in all_fields(http("/?a=1&b=2")) if f.text == "1"]
    assert [(f.where, f.encoding) for f in fs] == [("http.query:a", ())]


def test_empty_values_are_skipped():
    msg = http("/?a=&b=2", body=b"  \r\n", headers=(("Host", "h"), ("X-Empty", "")))
    assert all(f.text.strip() for f in all_fields(msg))
    assert not [f for f in all_fields(msg) if f.where in ("http.body", "http.header:X-Empty")]


def test_a_response_gives_its_headers_and_body():
    """Asked for only where the device sent the response (it serves HTTP): the scan
    never extracts what the phone received."""
    headers = (("X-Imei", IMEI), ("Content-Length", "20"), ("Content-Type", "application/json"))
    resp = HttpResponse(200, "OK", "HTTP/1.1", headers, jsonb({"imei": IMEI}))
    found = {(f.where, f.text) for f in all_fields(message(resp)) if IMEI in f.text}
    assert found == {
        ("http.response.header:X-Imei", IMEI),
        ("http.response.body", '{"imei": "' + IMEI + '"}'),
        ("http.response.body:$.imei", IMEI),
    }
    assert not [f for f in all_fields(message(resp)) if "Content-Length" in f.where]


def test_latin1_body_keeps_one_char_per_byte():
    body = b"id=" + IMEI.encode() + b"\xff\xfe"
    [f] = find(http(body=body), "http.body")
    assert f.text == body.decode("latin-1")
