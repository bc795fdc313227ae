"""HAR reader: real archives from Chrome, Firefox and Charles, and hand-built edge cases."""

from __future__ import annotations

import base64
import gzip
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import har
from phonehome.model import HttpRequest, HttpResponse, Message
from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures" / "har"


def fixture(name: str) -> Path:
    return FIXTURES / name


def entry(url: str = "http://example.com/", **over: Any) -> dict[str, Any]:
    """A minimal valid HAR 1.2 entry; keyword arguments replace or add keys."""
    e: dict[str, Any] = {
        "startedDateTime": "2023-03-29T17:37:42.482-07:00",
        "time": 12,
        "request": {
            "method": "GET",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "User-Agent", "value": "test/1.0"}],
            "cookies": [],
            "queryString": [],
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": [],
            "cookies": [],
            "content": {"size": 2, "mimeType": "text/plain", "text": "ok"},
        },
    }
    e.update(over)
    return e


def har_bytes(*entries: Any) -> bytes:
    doc = {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}}}
    doc["log"]["entries"] = list(entries)
    return json.dumps(doc).encode()


def read(data: bytes, ctx: Context | None = None, **limits: int) -> list[Message]:
    """All messages; ``limits`` are ``har.read``'s options (chunk, max_entry, ...)."""
    return list(har.read(io.BytesIO(data), 0, ctx or Context(), "test.har", **limits))


def requests(msgs: list[Message]) -> list[HttpRequest]:
    return [m.content for m in msgs if isinstance(m.content, HttpRequest)]


def responses(msgs: list[Message]) -> list[HttpResponse]:
    return [m.content for m in msgs if isinstance(m.content, HttpResponse)]


@pytest.mark.parametrize(
    "head",
    [
        b'{"log": {"version": "1.2"',
        b'\xef\xbb\xbf{\n  "log": {\n',
        b'  \r\n\t{\n\t"log"\t:\n{}}',
        har_bytes(entry())[:100],
    ],
)
def test_sniff_hit(head: bytes) -> None:
    assert har.sniff(head)


@pytest.mark.parametrize(
    "head",
    [
        b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00",  # pcap
        b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00",  # pcapng
        b'{"logs": {}}',
        b'{"version": 1, "log": {}}',
        b'{"log": 1}',
        b'[{"log": {}}]',
        b"123:4:type;4:http;}",  # tnetstring
        b"",
    ],
)
def test_sniff_miss(head: bytes) -> None:
    assert not har.sniff(head)


@pytest.mark.parametrize(
    ("name", "n_requests", "n_responses"),
    [
        ("charles.har", 1, 1),
        ("chrome.har", 3, 2),  # one request failed offline: status 0, no response
        ("firefox.har", 14, 14),
        ("postdata.har", 1, 1),
        ("with-bom.har", 1, 1),
    ],
)
def test_real_fixtures_read(name: str, n_requests: int, n_responses: int) -> None:
    path = fixture(name)
    ctx = Context()
    data = path.read_bytes()
    assert har.sniff(data[:4096])
    msgs = read(data, ctx)
    assert len(requests(msgs)) == n_requests
    assert len(responses(msgs)) == n_responses
    assert not ctx.anomalies.counts
    for m in msgs:
        assert m.readability == "decrypted" and m.protocol == "http" and m.app is None
        assert m.host and m.time > 1.6e9
        assert (m.direction == "out") == isinstance(m.content, HttpRequest)
    first = msgs[0]
    assert first.frame == 1 and first.direction == "out"
    assert first.flow.client.ip == "0.0.0.0" and first.flow.server.port == 443


def test_postdata_body_and_bom_file_agree() -> None:
    plain = read(fixture("postdata.har").read_bytes())
    bom = read(fixture("with-bom.har").read_bytes())
    req = requests(plain)[0]
    assert req.method == "POST"
    body = json.loads(req.body)
    assert body["metadata"]["domain"] == "reqbin.com"
    assert requests(bom)[0].body == req.body
    assert plain[0].flow.server.ip == "99.83.181.31"


def test_base64_response_bodies_are_decoded() -> None:
    chrome = read(fixture("chrome.har").read_bytes())
    png = [r for r in responses(chrome) if r.body.startswith(b"\x89PNG\r\n\x1a\n")]
    assert len(png) == 1
    firefox = read(fixture("firefox.har").read_bytes())
    icons = [r for r in responses(firefox) if r.body.startswith(b"\x00\x00\x01\x00")]
    assert len(icons) == 1  # favicon.ico, stored base64


def test_a_scan_does_not_decode_the_responses_the_browser_received() -> None:
    """``Context.received_bodies`` False (a scan): response content stays undecoded, the
    body empty and marked cut where there was one; the requests are the same."""
    data = fixture("chrome.har").read_bytes()
    kept = read(data)
    ctx = Context()
    ctx.received_bodies = False
    skipped = read(data, ctx)
    assert requests(skipped) == requests(kept)
    assert [(r.status, r.headers) for r in responses(skipped)] == [
        (r.status, r.headers) for r in responses(kept)
    ]
    assert all(r.body == b"" for r in responses(skipped))
    assert [r.body_truncated for r in responses(skipped)] == [bool(r.body) for r in responses(kept)]


def test_charles_time_and_server() -> None:
    msgs = read(fixture("charles.har").read_bytes())
    # 2023-03-29T17:37:42.482-07:00
    assert msgs[0].time == pytest.approx(1680136662.482)
    assert msgs[0].flow.server.ip == "13.35.121.50"
    assert msgs[1].src == msgs[0].dst and msgs[1].direction == "in"


def test_firefox_http3_is_udp() -> None:
    msgs = read(fixture("firefox.har").read_bytes())
    assert msgs[0].content.version == "HTTP/3"  # type: ignore[union-attr]
    assert msgs[0].flow.transport == "udp"


def test_form_params_rebuilt_and_query_appended() -> None:
    e = entry("http://h.example:8080/p")
    e["request"]["method"] = "POST"
    e["request"]["postData"] = {
        "mimeType": "application/x-www-form-urlencoded",
        "params": [{"name": "imei", "value": "356759041234567"}, {"name": "a b", "value": "&"}],
    }
    e["request"]["queryString"] = [{"name": "q", "value": "1 2"}]
    msgs = read(har_bytes(e))
    req = requests(msgs)[0]
    assert req.body == b"imei=356759041234567&a+b=%26"
    assert req.target == "http://h.example:8080/p?q=1+2"
    assert msgs[0].flow.server.port == 8080 and msgs[0].flow.server.ip == "0.0.0.0"
    assert msgs[0].host == "h.example"


def test_query_in_url_is_not_duplicated() -> None:
    e = entry("https://h.example/p?imei=1#frag")
    e["request"]["queryString"] = [{"name": "imei", "value": "1"}]
    assert requests(read(har_bytes(e)))[0].target == "https://h.example/p?imei=1"


def test_cookies_become_a_header_only_when_missing() -> None:
    e = entry()
    e["request"]["cookies"] = [{"name": "sid", "value": "x1"}, {"name": "u", "value": "2"}]
    assert ("Cookie", "sid=x1; u=2") in requests(read(har_bytes(e)))[0].headers
    e["request"]["headers"].append({"name": "cookie", "value": "sid=x1"})
    headers = requests(read(har_bytes(e)))[0].headers
    assert [h for h in headers if h[0].lower() == "cookie"] == [("cookie", "sid=x1")]


def test_connections_share_flow_ids() -> None:
    a = entry(serverIPAddress="[2001:db8::1]", connection="77")
    b = entry(serverIPAddress="[2001:db8::1]", connection="77")
    c = entry(serverIPAddress="192.0.2.1")
    d = entry(serverIPAddress="192.0.2.1")
    msgs = read(har_bytes(a, b, c, d))
    outs = [m for m in msgs if m.direction == "out"]
    assert [m.flow_id for m in outs] == [1, 1, 2, 3]
    assert [m.frame for m in outs] == [1, 2, 3, 4]
    assert outs[0].flow.server.ip == "2001:db8::1"


@pytest.mark.parametrize(
    ("address", "server", "client"),
    [
        ("192.0.2.1", "192.0.2.1", "0.0.0.0"),
        ("[2a00:1450:4001:80b::200e]", "2a00:1450:4001:80b::200e", "::"),  # Chrome
        ("2001:db8::1", "2001:db8::1", "::"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1", "::"),
        ("fe80::1%eth0", "fe80::1%eth0", "::"),
        ("", "0.0.0.0", "0.0.0.0"),
        (None, "0.0.0.0", "0.0.0.0"),
    ],
)
def test_the_unknown_client_has_the_server_address_family(
    address: str | None, server: str, client: str
) -> None:
    e = entry() if address is None else entry(serverIPAddress=address)
    ctx = Context()
    out, back = read(har_bytes(e), ctx)
    assert (out.src.ip, out.dst.ip) == (client, server) == (back.dst.ip, back.src.ip)
    assert out.flow.client.ip == client and out.flow.server.ip == server
    assert not ctx.anomalies.counts


@pytest.mark.parametrize("address", ["foo", "1.2.3.4:443", "[]", "999.1.1.1", 42])
def test_a_server_address_that_is_no_ip_address_is_counted(address: object) -> None:
    ctx = Context()
    msgs = read(har_bytes(entry(serverIPAddress=address), entry(serverIPAddress=address)), ctx)
    assert {(m.flow.client.ip, m.flow.server.ip) for m in msgs} == {("0.0.0.0", "0.0.0.0")}
    expected = 2 if isinstance(address, str) else 0  # not a string: no address recorded
    assert ctx.anomalies.counts.get("har.bad_server_address", 0) == expected


def test_scan_of_entries_with_ipv6_and_broken_server_addresses(tmp_path: Path) -> None:
    """The scan's evidence (Community ID) needs two addresses of one family."""
    from tests.conftest import scan_doc

    url = "https://t.example.com/c?imei=359123456789012"
    addresses = ["[2a00:1450:4001:80b::200e]", "2001:db8::1", "foo", "192.0.2.1"]
    path = tmp_path / "v6.har"
    path.write_bytes(har_bytes(*[entry(url, serverIPAddress=a) for a in addresses]))
    path.with_name("v6.device.toml").write_text('imei = "359123456789012"\n')
    doc = scan_doc(path)
    [finding] = doc["findings"]
    assert finding["identifier"] == "imei" and finding["profile_match"]
    assert sorted(finding["ips"]) == [
        "0.0.0.0",
        "192.0.2.1",
        "2001:db8::1",
        "2a00:1450:4001:80b::200e",
    ]


def test_response_codings_recorded_and_body_kept() -> None:
    e = entry()
    e["response"]["headers"] = [{"name": "Content-Encoding", "value": "gzip"}]
    resp = responses(read(har_bytes(e)))[0]
    assert resp.body == b"ok" and resp.encodings == ("gzip",)


def test_bodies_are_bounded() -> None:
    e = entry()
    e["request"]["postData"] = {"mimeType": "text/plain", "text": "x" * 50}
    e["response"]["content"] = {
        "mimeType": "application/octet-stream",
        "encoding": "base64",
        "text": base64.b64encode(b"y" * 300).decode(),
    }
    msgs = read(har_bytes(e), max_body=10)
    req, resp = requests(msgs)[0], responses(msgs)[0]
    assert req.body == b"x" * 10 and req.body_truncated
    assert resp.body == b"y" * 10 and resp.body_truncated


def _urlsplit_reference(url: str) -> tuple[str, int, bool]:
    """What the reader took from ``urllib.parse.urlsplit`` before it split URLs itself."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise ValueError("no host")
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme.lower(), 0)
    return host, parts.port or default, bool(parts.query)


@pytest.mark.parametrize(
    "url",
    [
        "http://t.example.com/c?imei=359123456789012&n=7",
        "HTTPS://Example.COM:8443/p?q#f",
        "https://h.example:443",
        "https://h.example",
        "http://h.example:/x",
        "http://h.example:0/x",
        "http://h.example:00080/x",
        "http://h.example:65535",
        "http://1.2.3.4:8080/x",
        "http://h_x.example/",
        "http://h.example?q=1",
        "http://h.example#frag?notquery",
        "http://h.example/p?#f",
        "http://h.example/p?",
        "http://h.example/p?x#",
        "https://h.example/a/b;c?d=e&f#g",
        "http://h.example/p#f?x",
        "http://h.example?a?b#c",
        "http://h.example/p?q=\x00 x",
        "http://h.example/ü?x=é",
        "http://h.example@x/",
        "http://h.example:80@x/",
        "http://h.example/p\n",
        "ws://h.example/s",
        "wss://h.example:9443/s",
        "ftp://h.example/f",
        "git+ssh://h.example:22/r",
        "foo.bar-1://H.example/x",
        # urlsplit's own cases: IPv6 literals, userinfo, zones, escapes, removed characters
        "http://[2001:db8::1]:8080/p?x=1",
        "http://[2001:DB8::1]/",
        "http://[fe80::1%25En0]:80/",
        "http://user:pw@H.example:81/p",
        "http://user@h.example/",
        "http://a@b@c.example/",
        "http://user:12@h.example/",
        "http://%41.example/",
        "http://h.example/p\t?q=1",
        "http://h.exa\nmple:8\r0/",
        "http://h.example/?\t",
        " http://h.example:81/",
        "\x00http://h.example/",
        "http://bücher.example/",
        "http://xn--bcher-kva.example/",
    ],
)
def test_split_url_agrees_with_urlsplit(url: str) -> None:
    assert har.split_url(url) == _urlsplit_reference(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://h.example:65536/",
        "http://h.example:123456/",
        "http://h.example:8a/",
        "http://h.example:80:81/",
        "http://h.example:\uff18\uff10/",
        "http://[::1/",
        "http://::1]/",
        "/relative",
        "http:///p",
        "h.example:80/p",
        "data:text/plain,hi",
        "",
    ],
)
def test_split_url_refuses_what_urlsplit_refuses(url: str) -> None:
    with pytest.raises(ValueError) as expected:
        _urlsplit_reference(url)
    # the same message for a bad port or bracket; our own for a missing host
    with pytest.raises((ValueError, har._BadEntry)) as got:
        har.split_url(url)
    if str(expected.value) == "no host":
        assert "without a host" in str(got.value)
    else:
        assert type(got.value) is type(expected.value)
        assert str(got.value) == str(expected.value)


def test_entries_sharing_a_start_time_and_a_bad_one_between() -> None:
    ctx = Context()
    t1, t2 = "2023-11-14T22:13:20.000Z", "2023-11-14T22:13:21.500+01:00"
    times = [t1, t1, "never", t1, t2, t2]
    msgs = read(har_bytes(*[entry(startedDateTime=t) for t in times]), ctx)
    outs = [m.time for m in msgs if m.direction == "out"]
    a, b = 1700000000.0, 1699996401.5
    assert outs == [a, a, 0.0, a, b, b]
    assert ctx.anomalies.counts == {"har.bad_time": 1}


def test_bad_time_is_counted_and_entry_kept() -> None:
    ctx = Context()
    msgs = read(har_bytes(entry(startedDateTime="yesterday")), ctx)
    assert len(msgs) == 2 and msgs[0].time == 0.0
    assert ctx.anomalies.counts["har.bad_time"] == 1


def _broken(kind: str) -> Any:
    e = entry()
    if kind == "not-object":
        return ["GET", "/"]
    if kind == "no-request":
        del e["request"]
    elif kind == "no-host":
        e["request"]["url"] = "/relative"
    elif kind == "headers-not-list":
        e["request"]["headers"] = "User-Agent: x"
    elif kind == "header-without-name":
        e["request"]["headers"] = [{"value": "x"}]
    elif kind == "bad-base64":
        e["response"]["content"] = {"encoding": "base64", "text": "abcde"}
    elif kind == "status-string":
        e["response"]["status"] = "200"
    elif kind == "bad-port":
        e["request"]["url"] = "http://h.example:99999/"
    return e


@pytest.mark.parametrize(
    "kind",
    [
        "not-object",
        "no-request",
        "no-host",
        "headers-not-list",
        "header-without-name",
        "bad-base64",
        "status-string",
        "bad-port",
    ],
)
def test_malformed_entry_is_counted_and_skipped(kind: str) -> None:
    ctx = Context()
    msgs = read(har_bytes(_broken(kind), entry("http://good.example/")), ctx)
    assert ctx.anomalies.counts["har.bad_entry"] == 1
    assert [m.host for m in msgs] == ["good.example", "good.example"]
    assert ctx.anomalies.samples[0].frame == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"log": {"entries": [', "invalid JSON"),
        (b'{"log": {"entries": []}}\xff', "UTF-8"),
        (b'{"log": {"version": "1.2"}}', "log.entries"),
        (b'{"log": []}', "no top-level log"),
        (b"[1, 2]", "no top-level log"),
        (b'{"log": {"entries": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "deeply"),
    ],
)
def test_unreadable_file_is_input_error(data: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        read(data)


# --- streaming (issue 18) ----------------------------------------------------------------


def _messages_summary(msgs: list[Message]) -> list[tuple[object, ...]]:
    return [(m.frame, m.flow_id, m.direction, m.host, m.content) for m in msgs]


@pytest.mark.parametrize("name", ["chrome.har", "firefox.har", "charles.har", "with-bom.har"])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_reading_in_small_chunks_gives_the_same_messages(name: str, chunk: int) -> None:
    data = fixture(name).read_bytes()
    whole = read(data)
    assert _messages_summary(read(data, chunk=chunk)) == _messages_summary(whole)


def test_members_around_entries_in_any_order_are_skipped() -> None:
    doc = (
        b'{"x": [1, {"a": "]}"}], "log": {"pages": [{"title": "\\"]"}], "entries": ['
        + json.dumps(entry()).encode()
        + b'], "comment": "}", "n": 12345}, "y": null}'
    )
    assert len(read(doc)) == 2


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_an_entry_too_large_is_skipped_and_the_rest_read(chunk: int) -> None:
    big = entry("http://big.example/")
    # a long string with escaped quotes and backslashes, and nesting, to step over
    big["request"]["postData"] = {"text": '\\"{[' * 2000, "params": [[[{"a": "]"}]]]}
    ctx = Context()
    data = har_bytes(entry("http://a.example/"), big, entry("http://b.example/"))
    msgs = read(data, ctx, max_entry=2000, chunk=chunk)
    assert [m.host for m in msgs] == ["a.example"] * 2 + ["b.example"] * 2
    assert [m.frame for m in msgs] == [1, 1, 3, 3]
    assert ctx.anomalies.counts == {"har.entry_too_large": 1}
    assert ctx.anomalies.samples[0].frame == 2


def test_damage_after_entries_keeps_them_and_stops() -> None:
    ctx = Context()
    data = har_bytes(entry("http://a.example/"), entry("http://b.example/"))
    msgs = read(data[: data.rindex(b"http://b.example/")], ctx)
    assert [m.host for m in msgs] == ["a.example"] * 2
    assert ctx.anomalies.counts == {"har.truncated": 1}
    assert ctx.anomalies.samples[0].frame == 2


@pytest.mark.parametrize(
    "tail", [b" garbage", b"\xff", b"]", b'{"log": {}}'], ids=["text", "utf8", "bracket", "doc"]
)
def test_data_after_the_document_is_counted(tail: bytes) -> None:
    ctx = Context()
    msgs = read(har_bytes(entry()) + tail, ctx)
    assert len(msgs) == 2
    assert ctx.anomalies.counts == {"har.truncated": 1}


def test_a_syntax_error_inside_an_entry_stops_at_once() -> None:
    ctx = Context()
    data = har_bytes(entry("http://a.example/"), entry("http://b.example/"))
    bad = data.replace(b'"http://b.example/"', b'"http://b.example/" tru', 1)
    msgs = read(bad, ctx)
    assert [m.host for m in msgs] == ["a.example"] * 2
    [sample] = ctx.anomalies.samples
    assert sample.kind == "har.truncated" and "invalid JSON" in sample.detail


def test_flow_ids_forget_old_connections() -> None:
    entries = [entry(connection=str(c)) for c in (1, 2, 1, 3, 4, 1)]
    msgs = read(har_bytes(*entries), max_connections=2)
    ids = [m.flow_id for m in msgs if m.direction == "out"]
    # 1 and 2 remembered; 3 pushes out 1's key, 4 pushes out 2's; 1 comes back as new
    assert ids == [1, 2, 1, 3, 4, 5]


def test_registry_opens_gzipped_har(tmp_path: Path) -> None:
    from phonehome.ingest import open_capture

    path = tmp_path / "x.har.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + har_bytes(entry())))
    cap = open_capture(str(path))
    try:
        assert cap.format.name == "har" and cap.compressed
        assert len(list(cap.messages(Context()))) == 2
    finally:
        cap.close()


def test_compiled_and_interpreted_read_the_same(tmp_path: Path) -> None:
    """The reader is compiled (phonehome.native): both builds give the same flows, for the
    real archives and for entries of every odd shape the tests above use."""
    from tests.test_native import flows, need_compiled_install

    need_compiled_install()
    odd = [_broken(kind) for kind in ("not-object", "no-host", "bad-base64", "bad-port")]
    odd += [
        entry(url, serverIPAddress=address, connection=str(i % 3), startedDateTime=time)
        for i, (url, address, time) in enumerate(
            [
                ("http://t.example.com/c?imei=359123456789012", "192.0.2.1", "never"),
                ("https://[2001:db8::1]:8443/p#f", "[2001:db8::1]", "2023-11-14T22:13:20Z"),
                ("http://u:p@H.example:81/?q", "foo", "2023-03-29T17:37:42.482-07:00"),
                ("HTTP://h.example/p\t?x", "", "2023-03-29T17:37:42.482-07:00"),
            ]
        )
    ]
    data = har_bytes(*odd)
    (tmp_path / "odd.har").write_bytes(data)
    (tmp_path / "cut.har").write_bytes(data[: len(data) * 2 // 3])
    inputs = [*sorted(FIXTURES.glob("*.har")), tmp_path / "odd.har", tmp_path / "cut.har"]
    for path in inputs:
        compiled = flows(path, pure=False, home=tmp_path / "home")
        assert compiled == flows(path, pure=True, home=tmp_path / "home"), path.name
        assert compiled[2] == 0 and compiled[0], (path.name, compiled[1])
