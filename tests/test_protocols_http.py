"""HttpStreamParser on hand-built streams: splits, framing, codings, damage, resync."""

from __future__ import annotations

import gzip
import random
import zlib
from itertools import pairwise

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.context import Context
from phonehome.model.message import HttpRequest, HttpResponse
from phonehome.protocols.http import (
    HttpStreamParser,
    looks_like_http_request,
    looks_like_http_response,
    may_become_http_request,
)

Msg = HttpRequest | HttpResponse


def request(
    method: str = "GET",
    target: str = "/",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> bytes:
    hs = headers if headers is not None else [("Host", "example.com")]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hs):
        hs = [*hs, ("Content-Length", str(len(body)))]
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs)
    return head.encode("latin-1") + b"\r\n" + body


def response(
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    reason: str = "OK",
) -> bytes:
    hs = headers if headers is not None else [("Content-Length", str(len(body)))]
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs)
    return head.encode("latin-1") + b"\r\n" + body


def chunked(*chunks: bytes, ext: str = "", trailers: str = "") -> bytes:
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(c), ext.encode(), c) for c in chunks)
    return out + b"0\r\n" + trailers.encode() + b"\r\n"


def feed_pieces(
    parser: HttpStreamParser, pieces: list[bytes], first_frame: int = 1
) -> list[tuple[float, int, Msg]]:
    out: list[tuple[float, int, Msg]] = []
    for i, piece in enumerate(pieces):
        frame = first_frame + i
        out += parser.feed(piece, float(frame), frame)
    return out + parser.finish()


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [data[a:b] for a, b in pairwise(points)]


def messages(out: list[tuple[float, int, Msg]]) -> list[Msg]:
    return [m for _, _, m in out]


def parse_requests(data: bytes, pieces: list[bytes] | None = None) -> list[Msg]:
    p = HttpStreamParser(True, Context(), 0)
    return messages(feed_pieces(p, pieces if pieces is not None else [data]))


PIPELINE = (
    request("GET", "/a?imei=350672920106648", [("Host", "x.test"), ("X-Dev", "a")])
    + request("POST", "/b", [("Host", "x.test")], body=b'{"k":"v"}')
    + request(
        "PUT",
        "/c",
        [("Host", "x.test"), ("Transfer-Encoding", "chunked")],
        body=chunked(b"abc", b"defgh", ext=";name=value", trailers="X-Sum: 9\r\n"),
    )
)


def test_pipelined_requests() -> None:
    got = parse_requests(PIPELINE)
    assert [(m.method, m.target) for m in got if isinstance(m, HttpRequest)] == [
        ("GET", "/a?imei=350672920106648"),
        ("POST", "/b"),
        ("PUT", "/c"),
    ]
    assert got[0].headers == (("Host", "x.test"), ("X-Dev", "a"))
    assert got[1].body == b'{"k":"v"}'
    assert got[2].body == b"abcdefgh"
    assert ("X-Sum", "9") in got[2].headers  # trailers are kept with the headers
    assert all(not m.body_truncated for m in got)


def test_every_split_offset_gives_the_same_messages() -> None:
    whole = parse_requests(PIPELINE)
    for cut in range(1, len(PIPELINE)):
        assert parse_requests(PIPELINE, split_at(PIPELINE, [cut])) == whole, cut


def test_one_byte_at_a_time() -> None:
    pieces = [PIPELINE[i : i + 1] for i in range(len(PIPELINE))]
    assert parse_requests(PIPELINE, pieces) == parse_requests(PIPELINE)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(PIPELINE) - 1), max_size=30))
def test_random_slices(cuts: list[int]) -> None:
    assert parse_requests(PIPELINE, split_at(PIPELINE, cuts)) == parse_requests(PIPELINE)


def test_message_time_is_where_it_started() -> None:
    a = request("GET", "/a")
    b = request("GET", "/b")
    # frame 1: all of a + first 3 bytes of b; frame 2: middle of b; frame 3: rest
    data = a + b
    pieces = [data[: len(a) + 3], data[len(a) + 3 : len(a) + 10], data[len(a) + 10 :]]
    out = feed_pieces(HttpStreamParser(True, Context(), 0), pieces)
    assert [(t, f) for t, f, _ in out] == [(1.0, 1), (1.0, 1)]
    pieces = [data[: len(a)], data[len(a) : len(a) + 2], data[len(a) + 2 :]]
    out = feed_pieces(HttpStreamParser(True, Context(), 0), pieces)
    assert [f for _, f, _ in out] == [1, 2]


def test_header_values_latin1_and_folding() -> None:
    data = b"GET / HTTP/1.1\r\nX-Name: caf\xe9\r\nX-Long: one\r\n two\r\nhost:  h  \r\n\r\n"
    (m,) = parse_requests(data)
    assert m.headers == (("X-Name", "café"), ("X-Long", "one two"), ("host", "h"))


def test_lf_only_line_endings_and_leading_blank_lines() -> None:
    data = b"\r\n\r\nPOST /x HTTP/1.0\nContent-Length: 2\n\nok"
    (m,) = parse_requests(data)
    assert isinstance(m, HttpRequest)
    assert (m.method, m.version, m.body) == ("POST", "HTTP/1.0", b"ok")


def resp_parser(*methods: str, max_body: int = 8 << 20) -> tuple[HttpStreamParser, Context]:
    ctx = Context()
    p = HttpStreamParser(False, ctx, 0, max_body=max_body)
    for m in methods:
        p.expect(m)
    return p, ctx


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
    ],
)
def test_encoded_response_bodies(coding: str, encode: object) -> None:
    plain = b'{"resultCode":"0","imsi":"460001234567890"}'
    body = encode(plain)  # type: ignore[operator]
    data = response(headers=[("Content-Encoding", coding), ("Content-Length", str(len(body)))])
    p, ctx = resp_parser("GET")
    (m,) = messages(feed_pieces(p, [data + body]))
    assert isinstance(m, HttpResponse)
    assert (m.body, m.encodings, m.body_truncated) == (plain, (coding,), False)
    assert not ctx.anomalies.counts


def test_gzip_chunked_response() -> None:
    plain = b"hello " * 100
    packed = gzip.compress(plain)
    body = chunked(packed[:10], packed[10:])
    data = response(
        headers=[("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")], body=b""
    )
    p, _ = resp_parser("GET")
    (m,) = messages(feed_pieces(p, [data + body]))
    assert m.body == plain and m.encodings == ("gzip",)


def test_wrong_content_encoding_kept_as_is() -> None:
    body = b'{"sdk_version":11026,"device_id":"350672920106648"}'
    data = request("POST", "/api/sdk/init2", [("Content-Encoding", "gzip")], body=body)
    ctx = Context()
    (m,) = messages(feed_pieces(HttpStreamParser(True, ctx, 0), [data]))
    assert (m.body, m.encodings) == (body, ())
    assert ctx.anomalies.counts["http.bad_content_encoding"] == 1


def test_gzip_bomb_body_is_bounded() -> None:
    packed = gzip.compress(b"\0" * (32 << 20))
    data = response(headers=[("Content-Encoding", "gzip"), ("Content-Length", str(len(packed)))])
    p, _ = resp_parser("GET", max_body=1 << 20)
    (m,) = messages(feed_pieces(p, [data + packed]))
    assert m.body_truncated and len(m.body) == 1 << 20 and m.encodings == ("gzip",)


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", 200), ("GET", 204), ("GET", 304), ("HEAD", 404)],
)
def test_bodiless_responses(method: str, status: int) -> None:
    # A Content-Length on these describes a body that is not sent.
    first = response(status, [("Content-Length", "1234")])
    second = response(200, body=b"second")
    p, _ = resp_parser(method, "GET")
    got = messages(feed_pieces(p, [first + second]))
    assert [(m.status, m.body) for m in got if isinstance(m, HttpResponse)] == [
        (status, b""),
        (200, b"second"),
    ]


def test_head_response_without_method_queue_would_swallow_the_next() -> None:
    # The control for test_bodiless_responses: the method queue is what makes it work.
    first = response(200, [("Content-Length", "10")])
    p, _ = resp_parser()
    got = messages(feed_pieces(p, [first + b"HTTP/1.1 2"]))
    assert [m.body for m in got] == [b"HTTP/1.1 2"]


def test_expect_100_continue() -> None:
    req = request("POST", "/up", [("Expect", "100-continue")], body=b"data")
    (m,) = parse_requests(req)
    assert m.body == b"data"
    p, _ = resp_parser("POST")
    got = messages(feed_pieces(p, [response(100, [], reason="Continue"), response(201, body=b"x")]))
    assert [(m.status, m.body) for m in got if isinstance(m, HttpResponse)] == [
        (100, b""),
        (201, b"x"),
    ]


def test_close_delimited_response() -> None:
    p, _ = resp_parser("GET")
    out = p.feed(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\npart one, ", 1.0, 1)
    assert out == []
    out = p.feed(b"part two", 2.0, 2)
    assert out == []
    ((t, f, m),) = p.finish()
    assert (t, f, m.body, m.body_truncated) == (1.0, 1, b"part one, part two", False)


def test_connect_pauses_request_side_until_told() -> None:
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0)
    hello = b"\x16\x03\x01\x00\x05hello"
    out = p.feed(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n" + hello, 1.0, 1)
    assert [m.method for _, _, m in out if isinstance(m, HttpRequest)] == ["CONNECT"]
    assert p.paused
    assert p.resume(True) == []
    assert p.tunnel
    assert p.take_rest() == (hello, 1.0, 1)


@pytest.mark.parametrize("split", [0, 5, 40])
def test_an_upgrade_request_body_is_read_before_the_pause(split: int) -> None:
    """An h2c upgrade POST sends its body as HTTP/1.1 (RFC 7540 3.2): it belongs to the
    request, and only what follows it waits for the 101."""
    p = HttpStreamParser(True, Context(), 0)
    head = (
        b"POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 9\r\n\r\n"
    )
    data = head + b"imei=3520" + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    cut = len(head) + split
    out = p.feed(data[:cut], 1.0, 1) + p.feed(data[cut:], 2.0, 2)
    (m,) = messages(out)
    assert isinstance(m, HttpRequest) and m.body == b"imei=3520"
    assert p.paused and p.resume(True) == [] and p.tunnel
    rest = p.take_rest()
    assert rest is not None and rest[0] == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def test_connect_refused_resumes_http() -> None:
    p = HttpStreamParser(True, Context(), 0)
    p.feed(b"CONNECT a:443 HTTP/1.1\r\n\r\n" + request("GET", "/next"), 1.0, 1)
    (m,) = messages(p.resume(False))
    assert isinstance(m, HttpRequest) and m.target == "/next"


def test_connect_2xx_response_is_a_tunnel() -> None:
    p, _ = resp_parser("CONNECT")
    out = p.feed(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03", 1.0, 1)
    assert [m.status for _, _, m in out if isinstance(m, HttpResponse)] == [200]
    assert p.tunnel
    assert p.take_rest() == (b"\x16\x03\x03", 1.0, 1)


def test_switching_protocols_is_a_tunnel() -> None:
    p, _ = resp_parser("GET")
    p.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 1, 1)
    assert p.tunnel and p.take_rest() == (b"\x81\x05hello", 1.0, 1)


@pytest.mark.parametrize(
    "data",
    [
        b"GET /path HTTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40),
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"G\x00T / HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_start_line_stops_and_keeps_rest(data: bytes) -> None:
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0)
    assert p.feed(data, 3.0, 7) == []
    assert p.stopped
    assert ctx.anomalies.counts["http.bad_start_line"] == 1
    assert p.take_rest() == (data, 3.0, 7)


def test_bad_status_line() -> None:
    p, ctx = resp_parser("GET")
    p.feed(b"HTTP/1.1 2000 Nope\r\n\r\n", 1.0, 1)
    assert p.stopped and ctx.anomalies.counts["http.bad_start_line"] == 1


def test_header_too_large() -> None:
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0)
    p.feed(b"GET / HTTP/1.1\r\n", 1.0, 1)
    for i in range(70):
        p.feed(b"X-Filler: " + b"a" * 1000 + b"\r\n", 1.0, 2 + i)
    assert p.stopped
    assert ctx.anomalies.counts["http.header_too_large"] == 1


def test_bad_chunk_size() -> None:
    ctx = Context()
    data = request("POST", "/", [("Transfer-Encoding", "chunked")]) + b"3\r\nabc\r\nzz\r\n"
    got = messages(feed_pieces(HttpStreamParser(True, ctx, 0), [data]))
    assert [(m.body, m.body_truncated) for m in got] == [(b"abc", True)]
    assert ctx.anomalies.counts["http.bad_chunk"] == 1


def test_body_beyond_bound_is_skipped_not_buffered() -> None:
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0, max_body=100)
    data = request("POST", "/big", body=b"x" * 10_000) + request("GET", "/after")
    got = messages(feed_pieces(p, [data[i : i + 500] for i in range(0, len(data), 500)]))
    assert [
        (m.target, len(m.body), m.body_truncated) for m in got if isinstance(m, HttpRequest)
    ] == [
        ("/big", 100, True),
        ("/after", 0, False),
    ]


def test_gap_then_resync() -> None:
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0)
    out = p.feed(request("GET", "/a") + b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Le", 1.0, 1)
    p.gap()
    out += p.feed(b"ngth tail of a lost body\r\n" + request("GET", "/c"), 2.0, 2)
    out += p.finish()
    got = messages(out)
    assert [(m.target, m.body_truncated) for m in got if isinstance(m, HttpRequest)] == [
        ("/a", False),
        ("/b", True),  # what was seen of the interrupted request
        ("/c", False),
    ]
    assert out[-1][1] == 2
    assert ctx.anomalies.counts["http.resync"] == 1


def test_resync_across_feeds() -> None:
    p, ctx = resp_parser("GET", "GET")
    p.gap()
    out = p.feed(b"lost\r\nbody bytes\r\nHTTP/1.", 5.0, 5)
    out += p.feed(b"1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 6.0, 6)
    assert [(f, m.body) for _, f, m in out] == [(5, b"hi")]
    assert ctx.anomalies.counts["http.resync"] == 1


def test_gap_inside_known_length_body_stays_in_step() -> None:
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0)
    data = request("POST", "/x", body=b"0123456789")
    out = p.feed(data[:-8], 1.0, 1)
    p.gap(5)
    out += p.feed(data[-3:] + request("GET", "/y"), 2.0, 2)
    got = messages(out + p.finish())
    assert [(m.target, m.body, m.body_truncated) for m in got if isinstance(m, HttpRequest)] == [
        ("/x", b"01789", True),
        ("/y", b"", False),
    ]
    assert not ctx.anomalies.counts["http.resync"]


def test_finish_inside_body_emits_partial() -> None:
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0)
    p.feed(request("POST", "/x", [("Content-Length", "100")]) + b"imei=3506", 1.0, 1)
    (m,) = messages(p.finish())
    assert (m.body, m.body_truncated) == (b"imei=3506", True)
    assert ctx.anomalies.counts["http.incomplete_message"] == 1


def test_finish_inside_headers_emits_what_was_seen() -> None:
    p = HttpStreamParser(True, Context(), 0)
    p.feed(b"GET /x?id=1 HTTP/1.1\r\nHost: a\r\nX-Imei: 3506729201066", 1.0, 1)
    (m,) = messages(p.finish())
    assert isinstance(m, HttpRequest)
    assert (m.target, m.headers, m.body_truncated) == ("/x?id=1", (("Host", "a"),), True)


@pytest.mark.parametrize(
    ("head", "req", "resp", "maybe"),
    [
        (b"GET / HTTP/1.1", True, False, False),
        (b"POST /x", True, False, False),
        (b"PROPFIND /dav", True, False, False),
        (b"OPTIONS * HTTP/1.1", True, False, False),
        (b"HTTP/1.1 200 OK", False, True, False),
        (b"GE", False, False, True),
        (b"CONNEC", False, False, True),
        (b"GETX / HTTP/1.1", False, False, False),
        (b"get / HTTP/1.1", False, False, False),
        (b"\x16\x03\x01", False, False, False),
        (b"HTTP/2 200", False, False, False),
        (b"", False, False, True),
    ],
)
def test_recognisers(head: bytes, req: bool, resp: bool, maybe: bool) -> None:
    assert looks_like_http_request(head) is req
    assert looks_like_http_response(head) is resp
    assert may_become_http_request(head) is maybe


chunks = st.lists(st.binary(max_size=64), max_size=12)
http_ish = st.lists(
    st.sampled_from(
        [
            b"GET / HTTP/1.1\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"Content-Length: 5\r\n",
            b"Content-Length: x\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Content-Encoding: gzip\r\n",
            b"\r\n",
            b"5\r\nhello\r\n",
            b"0\r\n\r\n",
            b"fffffff\r\n",
            b"\x1f\x8b\x08\x00",
            b"CONNECT a:1 HTTP/1.1\r\n",
        ]
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.one_of(chunks, http_ish.map(lambda xs: [b"".join(xs)])), st.data())
def test_fuzz_never_raises(is_request: bool, pieces: list[bytes], data: st.DataObject) -> None:
    p = HttpStreamParser(is_request, Context(), 0)
    p.expect(data.draw(st.sampled_from(["GET", "HEAD", "CONNECT"])))
    for i, piece in enumerate(pieces):
        if data.draw(st.integers(0, 9)) == 0:
            p.gap(data.draw(st.none() | st.integers(0, 100)))
        for _, _, m in p.feed(piece, float(i), i):
            assert isinstance(m, HttpRequest if is_request else HttpResponse)
    p.resume(data.draw(st.booleans()))
    p.finish()
    p.take_rest()


def test_random_segmentation_of_a_long_stream() -> None:
    rng = random.Random(7)
    data = b"".join(
        request("POST", f"/{i}", body=bytes(rng.randrange(256) for _ in range(rng.randrange(50))))
        for i in range(40)
    )
    whole = parse_requests(data)
    assert len(whole) == 40
    for _ in range(20):
        cuts = [rng.randrange(1, len(data)) for _ in range(rng.randrange(1, 200))]
        assert parse_requests(data, split_at(data, cuts)) == whole


@pytest.mark.parametrize(
    ("length", "body"),
    [
        (b"2", b"ok"),
        (b" 2 , 2", b"ok"),
        (b"\xb2", None),  # latin-1 '²': str.isdigit() says yes, int() says no
        (b"\xb3\xb9", None),
        (b"1\xb2", None),
        (b"2\xa0", None),  # NBSP is not optional whitespace
        (b"-2", None),
        (b"0x2", None),
        (b"1" * 19, None),
    ],
)
def test_content_length_accepts_only_ascii_digits(length: bytes, body: bytes | None) -> None:
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: " + length + b"\r\n\r\n"
    ctx = Context()
    p = HttpStreamParser(True, ctx, 0)
    got = messages(feed_pieces(p, [head + b"ok"]))
    if body is None:
        assert ctx.anomalies.counts["http.bad_content_length"] == 1
        assert p.stopped
    else:
        assert [m.body for m in got] == [body] and not ctx.anomalies.counts


@pytest.mark.parametrize("length", [b"\xb2", b"\xb9\xb2\xb3", b"4"])
def test_response_content_length_in_unicode_digits_reads_to_close(length: bytes) -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\nbody"
    p, ctx = resp_parser()
    (m,) = messages(feed_pieces(p, [data]))
    assert m.body == b"body"
    assert ctx.anomalies.counts["http.bad_content_length"] == (length != b"4")
