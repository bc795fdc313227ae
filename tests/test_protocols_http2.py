"""HTTP/2: the curl/nghttpd, nghttp and h2c captures, conversations made by the ``h2``
library (padding, priority, CONTINUATION, trailers, 1xx, RST_STREAM, server push, table
size changes, content-encoding), hand-built damage, and bounds."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.settings import SettingCodes
from hpack import Encoder

from phonehome.context import Context
from phonehome.model.message import HttpRequest, HttpResponse, header
from phonehome.protocols.base import Parsed
from phonehome.protocols.http2 import (
    MAX_FRAME,
    PREFACE,
    TABLE_CAP,
    Http2Connection,
    is_h2_preface,
    is_h2c_switch,
    is_h2c_upgrade,
    may_become_h2_preface,
)
from tests.builders_tls import DATA, decrypt_capture, flow_chunks
from tests.test_decrypt_tls import AD_ID, BODY

REQUEST = [
    (":method", "POST"),
    (":scheme", "https"),
    (":authority", "api.example"),
    (":path", "/v1/checkin?x=1"),
    ("x-ad-id", AD_ID),
    ("content-type", "application/json"),
]
RESPONSE = [(":status", "200"), ("content-type", "application/json")]


class Talk:
    """A client and a server on the ``h2`` library talking in memory; ``chunks`` is what
    went over the wire, in order, as (from_client, bytes)."""

    def __init__(self) -> None:
        self.client = H2Connection(H2Configuration(client_side=True))
        self.server = H2Connection(H2Configuration(client_side=False))
        self.chunks: list[tuple[bool, bytes]] = []
        self.client.initiate_connection()
        self.flush()
        self.server.initiate_connection()
        self.flush()

    def flush(self) -> None:
        for from_client, conn, peer in ((True, self.client, self.server),
                                        (False, self.server, self.client)):  # fmt: skip
            data = conn.data_to_send()
            if data:
                self.chunks.append((from_client, data))
                peer.receive_data(data)

    def c(self, act: Callable[[H2Connection], object]) -> Talk:
        act(self.client)
        self.flush()
        return self

    def s(self, act: Callable[[H2Connection], object]) -> Talk:
        act(self.server)
        self.flush()
        return self


def parse(
    chunks: list[tuple[bool, bytes]], ctx: Context | None = None, step: int = 0, **kw: int
) -> tuple[list[Parsed], Context]:
    ctx = ctx or Context()
    conn = Http2Connection(ctx, 0, **kw)
    out: list[Parsed] = []
    for frame, (from_client, data) in enumerate(chunks, 1):
        pieces = [data[i : i + step] for i in range(0, len(data), step)] if step else [data]
        for piece in pieces:
            out += conn.data(from_client, piece, float(frame), frame)
    out += conn.close()
    return out, ctx


def messages(out: list[Parsed]) -> list[HttpRequest | HttpResponse]:
    return [p.content for p in out if isinstance(p.content, HttpRequest | HttpResponse)]


def frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack("!I", len(payload))[1:]
        + bytes((ftype, flags))
        + struct.pack("!I", stream)
        + payload
    )


def frame_types(data: bytes) -> list[tuple[int, int]]:
    """(type, flags) of each frame in ``data``."""
    out, pos = [], 0
    while pos + 9 <= len(data):
        out.append((data[pos + 3], data[pos + 4]))
        pos += 9 + int.from_bytes(data[pos : pos + 3], "big")
    return out


def frame_sizes(data: bytes) -> list[tuple[int, int]]:
    """(type, length) of each frame in ``data`` (a client chunk may start with the preface)."""
    if data.startswith(PREFACE):
        data = data[len(PREFACE) :]
    out, pos = [], 0
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        out.append((data[pos + 3], length))
        pos += 9 + length
    return out


def test_a_simple_exchange() -> None:
    talk = Talk()
    talk.c(lambda c: c.send_headers(1, REQUEST))
    talk.c(lambda c: c.send_data(1, BODY, end_stream=True))
    talk.s(lambda s: s.send_headers(1, RESPONSE))
    talk.s(lambda s: s.send_data(1, b'{"ok":1}', end_stream=True))
    out, ctx = parse(talk.chunks)
    assert ctx.anomalies.total() == 0
    request, response = messages(out)
    assert isinstance(request, HttpRequest) and isinstance(response, HttpResponse)
    assert (request.method, request.target, request.version) == (
        "POST",
        "/v1/checkin?x=1",
        "HTTP/2",
    )
    assert request.headers == tuple(REQUEST) and request.body == BODY
    assert request.host == "api.example" and request.url == "https://api.example/v1/checkin?x=1"
    assert (response.status, response.reason, response.body) == (200, "", b'{"ok":1}')
    assert [p.from_client for p in out] == [True, False]
    # Stamped with the frame (here: the chunk) where the HEADERS frame started.
    with_headers = [
        i for i, (c, d) in enumerate(talk.chunks, 1) if any(t == 1 for t, _ in frame_sizes(d))
    ]
    assert [p.frame for p in out] == with_headers and len(with_headers) == 2


def test_every_byte_boundary_gives_the_same_messages() -> None:
    talk = Talk()
    for stream in (1, 3, 5):
        talk.c(lambda c, s=stream: c.send_headers(s, REQUEST))
        talk.c(lambda c, s=stream: c.send_data(s, BODY * 3, end_stream=True))
        talk.s(lambda sv, s=stream: sv.send_headers(s, RESPONSE, end_stream=True))
    whole, _ = parse(talk.chunks)
    single, ctx = parse(talk.chunks, step=1)
    assert ctx.anomalies.total() == 0
    assert messages(single) == messages(whole) and len(whole) == 6
    assert [p.frame for p in single] == [p.frame for p in whole]


def test_padding_priority_and_continuation() -> None:
    talk = Talk()
    big = [*REQUEST, ("x-big", "v" * 40000)]  # over 16 KiB: HEADERS + CONTINUATION
    talk.c(lambda c: c.send_headers(1, big))
    talk.c(lambda c: c.send_data(1, BODY, pad_length=33))
    talk.c(lambda c: c.send_data(1, b"", end_stream=True, pad_length=7))
    talk.c(lambda c: c.send_headers(3, REQUEST, end_stream=True, priority_weight=200,
                                    priority_depends_on=1))  # fmt: skip
    sent = frame_types(b"".join(data for c, data in talk.chunks if c)[len(PREFACE) :])
    assert (1, 0x25) in sent and (9, 0x4) in sent and (0, 0x8) in sent and (0, 0x9) in sent
    out, ctx = parse(talk.chunks)
    first, second = messages(out)
    assert ctx.anomalies.total() == 0
    assert header(first.headers, "x-big") == "v" * 40000 and first.body == BODY
    assert second.headers == tuple(REQUEST)


def test_padded_headers_frame_by_hand() -> None:
    block = Encoder().encode(REQUEST)
    padded = bytes((5,)) + block + bytes(5)
    data = PREFACE + frame(1, 0x8 | 0x4 | 0x1, 1, padded)
    out, ctx = parse([(True, data)])
    (request,) = messages(out)
    assert ctx.anomalies.total() == 0 and request.headers == tuple(REQUEST)
    bad = PREFACE + frame(1, 0x8 | 0x4 | 0x1, 1, bytes((200,)) + block)
    out, ctx = parse([(True, bad)])
    assert messages(out) == [] and ctx.anomalies.counts["http2.bad_padding"] == 1


def test_trailers_informational_responses_and_gzip() -> None:
    talk = Talk()
    talk.c(lambda c: c.send_headers(1, [*REQUEST, ("content-encoding", "gzip")]))
    talk.c(lambda c: c.send_data(1, gzip.compress(BODY)))
    talk.c(lambda c: c.send_headers(1, [("x-trailer", "t1")], end_stream=True))
    talk.s(lambda s: s.send_headers(1, [(":status", "103"), ("link", "</a>")]))
    talk.s(lambda s: s.send_headers(1, RESPONSE, end_stream=True))
    out, ctx = parse(talk.chunks)
    assert ctx.anomalies.total() == 0
    request, early, final = messages(out)
    assert isinstance(request, HttpRequest)
    assert request.body == BODY and request.encodings == ("gzip",)
    assert header(request.headers, "x-trailer") == "t1"
    assert isinstance(early, HttpResponse) and early.status == 103
    assert isinstance(final, HttpResponse) and final.status == 200


def test_rst_stream_emits_what_there_was() -> None:
    talk = Talk()
    talk.c(lambda c: c.send_headers(1, REQUEST))
    talk.c(lambda c: c.send_data(1, BODY[:20]))
    talk.c(lambda c: c.reset_stream(1))
    out, ctx = parse(talk.chunks)
    (request,) = messages(out)
    assert isinstance(request, HttpRequest)
    assert request.body == BODY[:20] and request.body_truncated
    assert ctx.anomalies.total() == 0  # a reset is the peer's own choice, not damage


def test_server_push_response_is_read_and_its_request_not_emitted() -> None:
    talk = Talk()
    talk.c(lambda c: c.send_headers(1, [(":method", "GET"), (":scheme", "https"),
                                        (":authority", "a.example"), (":path", "/")],
                                    end_stream=True))  # fmt: skip
    pushed = [(":method", "GET"), (":scheme", "https"), (":authority", "a.example"),
              (":path", "/style.css")]  # fmt: skip
    talk.s(lambda s: s.push_stream(1, 2, pushed))
    talk.s(lambda s: s.send_headers(2, RESPONSE))
    talk.s(lambda s: s.send_data(2, b"body{}", end_stream=True))
    talk.s(lambda s: s.send_headers(1, RESPONSE, end_stream=True))
    conn = Http2Connection(Context(), 0)
    out: list[Parsed] = []
    for i, (c, data) in enumerate(talk.chunks):
        out += conn.data(c, data, 0.0, i)
    out += conn.close()
    kinds = [(type(m).__name__, getattr(m, "body", b"")) for m in messages(out)]
    assert kinds == [("HttpRequest", b""), ("HttpResponse", b"body{}"), ("HttpResponse", b"")]
    assert conn.pushed == 1


def test_header_table_size_settings_bound_the_decoder() -> None:
    talk = Talk()
    talk.s(lambda s: s.update_settings({SettingCodes.HEADER_TABLE_SIZE: 16384}))
    talk.c(lambda c: c.send_headers(1, [*REQUEST, *[(f"x-{i}", "y" * 200) for i in range(60)]],
                                    end_stream=True))  # fmt: skip
    talk.c(lambda c: c.send_headers(3, [*REQUEST, *[(f"x-{i}", "y" * 200) for i in range(60)]],
                                    end_stream=True))  # fmt: skip
    out, ctx = parse(talk.chunks)
    assert ctx.anomalies.total() == 0
    first, second = messages(out)
    assert first.headers == second.headers
    # The second block refers to the dynamic table the first filled: far smaller.
    sizes = [size for c, data in talk.chunks if c for t, size in frame_sizes(data) if t == 1]
    assert len(sizes) == 2 and sizes[1] * 5 < sizes[0]


def test_an_encoder_past_our_table_cap_stops_that_direction() -> None:
    encoder = Encoder()
    encoder.header_table_size = TABLE_CAP * 2  # emits a table size update past the cap
    block = encoder.encode(REQUEST)
    data = PREFACE + frame(4, 0, 0, struct.pack("!HI", 1, TABLE_CAP * 4))
    data += frame(1, 0x5, 1, block)
    out, ctx = parse([(True, data)])
    assert messages(out) == []
    assert ctx.anomalies.counts["http2.hpack_error"] == 1


def test_hpack_garbage_stops_the_direction_but_not_the_other() -> None:
    talk = Talk()
    talk.c(lambda c: c.send_headers(1, REQUEST, end_stream=True))
    talk.s(lambda s: s.send_headers(1, RESPONSE, end_stream=True))
    chunks = [*talk.chunks, (True, frame(1, 0x5, 3, b"\xff\xff\xff\xff\xff\xff"))]
    chunks.append((True, frame(1, 0x5, 5, Encoder().encode(REQUEST))))
    # The server side goes on: a response on stream 3 (static table only) after the garbage.
    chunks.append((False, frame(1, 0x5, 3, Encoder().encode([(":status", "204")]))))
    out, ctx = parse(chunks)
    assert ctx.anomalies.counts == {"http2.hpack_error": 1}
    statuses = [getattr(m, "status", "req") for m in messages(out)]
    assert statuses == ["req", 200, 204]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"PRI * HTTP/1.1\r\n\r\nXX\r\n\r\n", "http2.bad_preface"),
        (PREFACE + frame(9, 0x4, 1, b"\x82"), "http2.bad_continuation"),
        (PREFACE + frame(1, 0x1, 1, Encoder().encode(REQUEST)) + frame(0, 0, 1, b"x"),
         "http2.bad_continuation"),
        (PREFACE + frame(4, 0, 0, b"\x00\x01\x00"), "http2.bad_settings"),
        (PREFACE + frame(4, 1, 0, b"\x00\x01\x00\x00\x00\x00"), "http2.bad_settings"),
        (PREFACE + frame(0, 1, 0, b"x"), "http2.bad_frame"),
        (PREFACE + frame(1, 0x25, 1, b"\x00\x00"), "http2.bad_frame"),
        (PREFACE + frame(0, 1, 1, b"x"), None),  # DATA on a stream never opened: ignored
    ],
)  # fmt: skip
def test_damage_is_counted_never_raised(data: bytes, kind: str | None) -> None:
    out, ctx = parse([(True, data)])
    assert messages(out) == []
    assert dict(ctx.anomalies.counts) == ({kind: 1} if kind else {})


def test_an_oversized_data_frame_is_skipped_not_held() -> None:
    block = Encoder().encode(REQUEST)
    head = PREFACE + frame(1, 0x4, 1, block)
    huge = struct.pack("!I", MAX_FRAME + 10)[1:] + b"\x00\x01" + struct.pack("!I", 1)
    rest = frame(0, 1, 1, b"tail")
    conn = Http2Connection(ctx := Context(), 0)
    out = conn.data(True, head + huge, 0.0, 1)
    for _ in range((MAX_FRAME + 10) // 65536 + 1):
        out += conn.data(True, bytes(min(65536, MAX_FRAME + 10)), 0.0, 2)
    out += conn.data(True, rest, 0.0, 3) + conn.close()
    assert ctx.anomalies.counts["http2.frame_too_large"] == 1
    assert conn._client.buf.__len__() < 65536 + 64


def test_bodies_are_bounded() -> None:
    talk = Talk()
    talk.c(lambda c: c.send_headers(1, REQUEST))
    for _ in range(4):
        talk.c(lambda c: c.send_data(1, b"z" * 10000))
    talk.c(lambda c: c.end_stream(1))
    out, _ = parse(talk.chunks, max_body=15000)
    (request,) = messages(out)
    assert len(request.body) == 15000 and request.body_truncated


def test_a_gap_stops_the_direction_and_truncates_open_messages() -> None:
    talk = Talk()
    talk.c(lambda c: c.send_headers(1, REQUEST))
    talk.c(lambda c: c.send_data(1, b"first part"))
    ctx = Context()
    conn = Http2Connection(ctx, 0)
    out: list[Parsed] = []
    for c, data in talk.chunks:
        out += conn.data(c, data, 0.0, 1)
    conn.gap(True, 100)
    out += conn.data(True, frame(0, 1, 1, b"after"), 0.0, 2) + conn.close()
    (request,) = messages(out)
    assert request.body == b"first part" and request.body_truncated
    assert ctx.anomalies.counts["http2.gap"] == 1


def test_preface_and_h2c_recognisers() -> None:
    assert is_h2_preface(PREFACE + b"\x00") and not is_h2_preface(PREFACE[:10])
    assert may_become_h2_preface(b"PRI * HT") and not may_become_h2_preface(b"POST ")
    fields = (("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA"))
    up = HttpRequest("GET", "/", "HTTP/1.1", fields, b"")
    assert is_h2c_upgrade(up)
    assert not is_h2c_upgrade(HttpRequest("GET", "/", "HTTP/1.1", (("Upgrade", "websocket"),), b""))
    assert is_h2c_switch(
        HttpResponse(101, "Switching Protocols", "HTTP/1.1", (("Upgrade", "h2c"),), b"")
    )


# -- real captures -------------------------------------------------------------------


def test_curl_h2_over_tls13_huffman_and_dynamic_table_references() -> None:
    name = "tls13-aes128gcm-h2"
    result = decrypt_capture(DATA / f"{name}.pcap", [DATA / f"{name}.keys"])
    first, second = result.requests()
    assert first.headers[4:] == second.headers[4:]  # the same custom fields both times
    assert header(second.headers, "x-ad-id") == AD_ID and second.body == BODY
    # What nghttp2 (inside curl) sent: the ad id Huffman-coded (never in the clear), and
    # the second HEADERS block made of references to what the first put in the table.
    from phonehome.decrypt.tls import TlsDecryptor
    from tests.builders_tls import keylog_of

    dec = TlsDecryptor(keylog_of(DATA / f"{name}.keys"))
    plain = b""
    for c, data, t, f in flow_chunks(DATA / f"{name}.pcap")[0]:
        plain += b"".join(p.data for p in dec.data(c, data, t, f) if p.from_client)
    assert AD_ID.encode() not in plain and b"okhttp" not in plain
    blocks, pos = [], len(PREFACE)
    while pos < len(plain):
        length = int.from_bytes(plain[pos : pos + 3], "big")
        if plain[pos + 3] == 1:
            blocks.append(plain[pos + 9 : pos + 9 + length])
        pos += 9 + length
    assert len(blocks) == 2 and len(blocks[1]) * 4 < len(blocks[0])
    assert sum(1 for b in blocks[1] if b & 0x80 and (b & 0x7F) >= 62) >= 3


def test_nghttp_prior_knowledge_capture() -> None:
    result = decrypt_capture(DATA / "h2c-prior-knowledge.pcap")
    assert result.tls == [] and result.ctx.anomalies.total() == 0
    assert [(r.method, r.target, r.body) for r in result.requests()] == [
        ("POST", "/v1/checkin", BODY), ("POST", "/v1/register", BODY)]  # fmt: skip
    assert all(header(r.headers, "x-ad-id") == AD_ID for r in result.requests())
    assert [(r.status, r.encodings) for r in result.responses()] == [(200, ("gzip",))] * 2
    assert result.responses()[0].body == b'{"ok": true, "received": 61}'


def test_curl_upgrade_h2c_capture() -> None:
    result = decrypt_capture(DATA / "h2c-upgrade.pcap")
    assert result.ctx.anomalies.total() == 0
    kinds = [(type(m).__name__, m.version) for _, m in result.http()]
    assert kinds == [
        ("HttpRequest", "HTTP/1.1"),
        ("HttpResponse", "HTTP/1.1"),
        ("HttpResponse", "HTTP/2"),
        ("HttpRequest", "HTTP/2"),
        ("HttpResponse", "HTTP/2"),
    ]
    upgrade, second = result.requests()
    assert upgrade.body == BODY and header(upgrade.headers, "Upgrade") == "h2c"
    assert second.body == BODY and header(second.headers, "x-ad-id") == AD_ID
    assert all(r.body == b'{"ok": true, "received": 61}' for r in result.responses()[1:])
