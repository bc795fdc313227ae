"""mitmproxy flow files: written with mitmproxy's own API, read back through the registry.

Tested with mitmproxy 11.0.2. Tests that need mitmproxy say so (tests/needs.py: a skip
without ``phonehome[mitm]`` locally, a failure in CI); the sniffer and the
missing-dependency error are tested without it.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import mitm, open_capture
from phonehome.model import HttpRequest, HttpResponse, Message
from tests.needs import need_module

IMEI = "356759041234567"


def _mitmproxy() -> Any:
    return need_module("mitmproxy.test.tflow")


def http_flow(
    url: str = "http://zzhc.vnet.cn/",
    body: bytes = b"",
    encoding: str | None = None,
    response: bool = True,
    version: str = "HTTP/1.1",
) -> Any:
    tflow = _mitmproxy()
    from mitmproxy import http

    f = tflow.tflow(resp=response)
    f.request = http.Request.make("POST" if body else "GET", url, b"", {"User-Agent": "t/1"})
    f.request.http_version = version
    f.request.timestamp_start = 1_700_000_000.5
    if encoding:
        f.request.headers["content-encoding"] = encoding
    f.request.content = body  # encoded per the header: raw_content is what was sent
    f.client_conn.peername = ("10.0.0.7", 40000)
    f.server_conn.peername = ("203.0.113.9", 80)
    return f


def dump(*flows: Any) -> bytes:
    from mitmproxy.io import FlowWriter

    buf = io.BytesIO()
    writer = FlowWriter(buf)
    for f in flows:
        writer.add(f)
    return buf.getvalue()


def read(data: bytes, ctx: Context | None = None) -> list[Message]:
    return list(mitm.read(io.BufferedReader(io.BytesIO(data)), 3, ctx or Context(), "t.mitm"))


def test_round_trip_request_and_response() -> None:
    body = json.dumps({"IMEI1": IMEI}).encode()
    f = http_flow("http://zzhc.vnet.cn:9999/reg?x=1", body, encoding="gzip")
    assert f.request.raw_content != body  # really gzip on the wire
    msgs = read(dump(f))
    assert [m.direction for m in msgs] == ["out", "in"]
    out, inn = msgs
    req = out.content
    assert isinstance(req, HttpRequest)
    assert req.method == "POST" and req.target == "http://zzhc.vnet.cn:9999/reg?x=1"
    assert req.body == body and req.encodings == ("gzip",)
    assert ("User-Agent", "t/1") in req.headers
    assert out.host == "zzhc.vnet.cn"
    assert out.readability == "decrypted" and out.protocol == "http"
    assert out.input == 3 and out.frame == 1 and out.time == 1_700_000_000.5
    assert out.src.ip == "10.0.0.7" and out.dst.ip == "203.0.113.9" and out.dst.port == 80
    assert out.flow.transport == "tcp" and out.flow.client == out.src
    resp = inn.content
    assert isinstance(resp, HttpResponse) and resp.status == 200 and resp.body == b"message"
    assert inn.src == out.dst and inn.flow == out.flow and inn.flow_id == out.flow_id


def test_a_scan_does_not_decode_the_responses_the_device_received() -> None:
    f = http_flow("http://zzhc.vnet.cn/reg", json.dumps({"IMEI1": IMEI}).encode())
    ctx = Context()
    ctx.received_bodies = False
    kept, skipped = read(dump(f)), read(dump(f), ctx)
    assert skipped[0] == kept[0]
    resp = skipped[1].content
    assert isinstance(resp, HttpResponse) and resp.status == 200
    assert resp.body == b"" and resp.body_truncated and resp.encodings == ()


def test_registry_sniffs_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "capture.mitm"
    path.write_bytes(dump(http_flow(), http_flow(response=False)))
    cap = open_capture(str(path))
    try:
        assert cap.format.name == "mitm"
        msgs = list(cap.messages(Context()))
    finally:
        cap.close()
    assert [(m.frame, m.direction) for m in msgs] == [(1, "out"), (1, "in"), (2, "out")]


def test_non_http_flows_are_counted_and_skipped() -> None:
    tflow = _mitmproxy()
    ctx = Context()
    data = dump(tflow.ttcpflow(), http_flow(), tflow.tdnsflow(), tflow.tudpflow())
    msgs = read(data, ctx)
    assert {m.frame for m in msgs} == {2}
    assert ctx.anomalies.counts["mitm.unsupported_flow"] == 3
    assert [a.frame for a in ctx.anomalies.samples] == [1, 3, 4]


def test_unknown_server_address_falls_back() -> None:
    f = http_flow("https://api.example.com/x", response=False, version="HTTP/3")
    f.server_conn.peername = None  # e.g. the upstream connection never opened
    (msg,) = read(dump(f))
    assert msg.dst.ip == "0.0.0.0" and msg.dst.port == 443
    assert msg.flow.transport == "udp"


def test_bodies_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mitm, "MAX_BODY", 100)
    (msg, _) = read(dump(http_flow(body=b"A" * 5000, encoding="gzip")))
    assert isinstance(msg.content, HttpRequest)
    assert msg.content.body == b"A" * 100 and msg.content.body_truncated


def test_mislabelled_encoding_keeps_raw_body() -> None:
    f = http_flow(body=b"plain")
    f.request.headers["content-encoding"] = "gzip"  # header lies, body stays plain
    (msg, _) = read(dump(f))
    assert isinstance(msg.content, HttpRequest)
    assert msg.content.body == b"plain" and msg.content.encodings == ()


def test_websocket_messages_are_counted() -> None:
    tflow = _mitmproxy()
    ctx = Context()
    msgs = read(dump(tflow.twebsocketflow()), ctx)
    assert [m.direction for m in msgs] == ["out", "in"]
    assert ctx.anomalies.counts["mitm.websocket_skipped"] == 1


def test_truncated_dump_keeps_flows_before_the_damage() -> None:
    one = dump(http_flow())
    data = one + dump(http_flow())[:-40]
    ctx = Context()
    msgs = read(data, ctx)
    assert {m.frame for m in msgs} == {1}
    assert ctx.anomalies.counts["mitm.truncated"] == 1


def test_damaged_first_flow_is_input_error() -> None:
    _mitmproxy()
    data = dump(http_flow())[:-40]
    with pytest.raises(InputError, match="not a readable mitmproxy flow file"):
        read(data)


def test_missing_mitmproxy_is_a_clear_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mitmproxy", None)
    with pytest.raises(InputError, match=r"pip install 'phonehome\[mitm\]'"):
        read(b"14:4:type;4:http;}")


def test_sniff_real_dumps_from_the_first_bytes() -> None:
    tflow = _mitmproxy()
    big = http_flow(body=b"x" * 20000)
    for f in (http_flow(), big, tflow.ttcpflow(), tflow.tdnsflow(), tflow.twebsocketflow()):
        assert mitm.sniff(dump(f)[:4096])


@pytest.mark.parametrize(
    "head",
    [
        b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00",  # pcap
        b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a",  # pcapng
        b'{"log": {"version": "1.2"}}',  # HAR
        b"12:hello world!,",  # tnetstring string, not a flow dict
        b"20:5:hello,5:world,}",  # dict, but not mitmproxy's keys
        b"10:4:type;4:http;}",  # declared length does not match: not a tnetstring dict
        b"14:5:type;4:http;}",  # key length prefix wrong
        b"14:4:type:4:http;}",  # key not terminated as a string
        b"123: abc",
        b"",
    ],
)
def test_sniff_miss(head: bytes) -> None:
    assert not mitm.sniff(head)


@pytest.mark.parametrize(
    "head", [b"14:4:type;4:http;}", b"14:4:type,4:http,}", b"99999:8:response;3:123"]
)
def test_sniff_hit(head: bytes) -> None:
    assert mitm.sniff(head)


def tnet(value: Any) -> bytes:
    """A hand-built tnetstring, so malformed flow states need no mitmproxy to write them."""
    if isinstance(value, dict):
        payload, tag = b"".join(tnet(k) + tnet(v) for k, v in value.items()), b"}"
    elif isinstance(value, list):
        payload, tag = b"".join(tnet(v) for v in value), b"]"
    elif isinstance(value, int):
        payload, tag = str(value).encode(), b"#"
    else:
        payload, tag = value.encode(), b";"
    return b"%d:%s%s" % (len(payload), payload, tag)


def nested_list(depth: int) -> bytes:
    out = b"0:]"
    for _ in range(depth):
        out = b"%d:%s]" % (len(out), out)
    return out


MISSING_KEYS = tnet({"request": {}, "type": "http", "version": 20})
TOO_DEEP = b"%d:%s}" % (
    len(tnet("request") + nested_list(5000) + tnet("type") + tnet("http")),
    tnet("request") + nested_list(5000) + tnet("type") + tnet("http"),
)


@pytest.mark.parametrize(
    ("bad", "error"), [(MISSING_KEYS, "KeyError"), (TOO_DEEP, "RecursionError")]
)
def test_a_malformed_flow_is_counted_and_reading_goes_on(bad: bytes, error: str) -> None:
    ctx = Context()
    msgs = read(dump(http_flow()) + bad + dump(http_flow(response=False)), ctx)
    assert [(m.frame, m.direction) for m in msgs] == [(1, "out"), (1, "in"), (3, "out")]
    assert ctx.anomalies.counts["mitm.bad_flow"] == 1
    (sample,) = ctx.anomalies.samples
    assert sample.frame == 2 and error in sample.detail


@pytest.mark.parametrize("bad", [MISSING_KEYS, TOO_DEEP, MISSING_KEYS + TOO_DEEP])
def test_a_file_of_only_malformed_flows_is_input_error(bad: bytes) -> None:
    _mitmproxy()
    assert mitm.sniff(bad)
    with pytest.raises(InputError, match="no readable flow in"):
        read(bad)


def test_a_proxy_flow_across_address_families_is_scanned() -> None:
    """An IPv4 client, an IPv6 server (normal for a proxy): the scan reports the leak with
    no Community ID (none names such a flow) instead of stopping with a traceback."""
    from phonehome.detect.profile import DeviceProfile
    from phonehome.scan_pass import ScanPass

    f = http_flow("http://zzhc.vnet.cn/?imei=352071026884283")
    f.server_conn.peername = ("2001:db8::9", 80)
    scan = ScanPass(DeviceProfile(values={"imei": ("352071026884283",)}), Context())
    found = [m for m in read(dump(f)) if scan.add(m)]
    assert found
    (finding,) = [x for x in scan.agg.results() if x.where == "http.query:imei"]
    assert finding.ips == ["2001:db8::9"]
    assert [e.community_id for e in finding.evidence] == [""]
