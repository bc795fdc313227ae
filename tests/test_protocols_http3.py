"""HTTP/3 over reassembled QUIC streams: field sections from pylsqpack's encoder (static and
dynamic table, a stream blocked until the encoder stream catches up, SETTINGS giving the
table capacity), trailers, 1xx, server push, resets, content-encoding, damage and bounds."""

from __future__ import annotations

import gzip

import pylsqpack
import pytest

from phonehome.context import Context
from phonehome.model.message import HttpRequest, HttpResponse, header
from phonehome.protocols.base import Parsed
from phonehome.protocols.http3 import MAX_FIELD_SECTION, Http3Connection
from phonehome.protocols.quic import encode_varint as v
from tests.test_decrypt_tls import AD_ID, BODY

REQUEST = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"api.example"),
           (b":path", b"/v1/checkin"), (b"x-ad-id", AD_ID.encode())]  # fmt: skip
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/json")]


def frame(ftype: int, payload: bytes) -> bytes:
    return v(ftype) + v(len(payload)) + payload


def settings(capacity: int, blocked: int = 16) -> bytes:
    return b"\x00" + frame(0x04, v(0x01) + v(capacity) + v(0x07) + v(blocked))


def static_section(fields: list[tuple[bytes, bytes]]) -> bytes:
    """A field section with no dynamic table (a fresh encoder with capacity 0)."""
    _, block = pylsqpack.Encoder().encode(0, fields)
    return block


class Peer:
    """One side's QPACK encoder, configured by what the other side announced."""

    def __init__(self, capacity: int) -> None:
        self.encoder = pylsqpack.Encoder()
        self.setup = self.encoder.apply_settings(max_table_capacity=capacity, blocked_streams=16)

    def section(self, stream_id: int, fields: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        """(encoder stream bytes, field section)."""
        return self.encoder.encode(stream_id, fields)


def feed(conn: Http3Connection, steps: list[tuple[bool, int, bytes, bool]]) -> list[Parsed]:
    out: list[Parsed] = []
    for frame_no, (from_client, stream, data, fin) in enumerate(steps, 1):
        out += conn.stream_data(from_client, stream, data, fin, float(frame_no), frame_no)
    return out + conn.close()


def messages(out: list[Parsed]) -> list[HttpRequest | HttpResponse]:
    return [p.content for p in out if isinstance(p.content, HttpRequest | HttpResponse)]


def test_static_request_and_response() -> None:
    ctx = Context()
    conn = Http3Connection(ctx, 0)
    out = feed(conn, [
        (True, 0, frame(1, static_section(REQUEST)) + frame(0, BODY[:10]), False),
        (True, 0, frame(0, BODY[10:]), True),
        (False, 0, frame(1, static_section(RESPONSE)) + frame(0, b"{}"), True),
    ])  # fmt: skip
    assert ctx.anomalies.total() == 0
    request, response = messages(out)
    assert isinstance(request, HttpRequest) and isinstance(response, HttpResponse)
    assert (request.method, request.target, request.version) == ("POST", "/v1/checkin", "HTTP/3")
    assert request.body == BODY and header(request.headers, "x-ad-id") == AD_ID
    assert request.url == "https://api.example/v1/checkin"
    assert (response.status, response.body) == (200, b"{}")
    assert [(p.from_client, p.frame) for p in out] == [(True, 1), (False, 3)]


def test_dynamic_table_through_the_encoder_stream() -> None:
    ctx = Context()
    conn = Http3Connection(ctx, 0)
    client = Peer(4096)
    steps = [(False, 3, settings(4096), False), (True, 6, b"\x02" + client.setup, False)]
    blocks = []
    for stream in (0, 4, 8):
        enc, block = client.section(stream, REQUEST)
        blocks.append(block)
        if enc:
            steps.append((True, 6, enc, False))
        steps.append((True, stream, frame(1, block), True))
    out = feed(conn, steps)
    assert ctx.anomalies.total() == 0
    requests = messages(out)
    assert len(requests) == 3 and all(r.headers == requests[0].headers for r in requests)
    # The later sections refer to the dynamic table (Required Insert Count > 0).
    assert blocks[0][0] == 0 and blocks[2][0] != 0


def test_a_blocked_section_waits_for_the_encoder_stream() -> None:
    ctx = Context()
    conn = Http3Connection(ctx, 0)
    client = Peer(4096)
    client.section(0, REQUEST)  # history: the next use of these fields inserts them
    enc, block = client.section(4, REQUEST)
    assert enc and block[0] != 0
    out = conn.stream_data(False, 3, settings(4096), False, 1.0, 1)
    out += conn.stream_data(True, 6, b"\x02" + client.setup, False, 1.0, 2)
    out += conn.stream_data(True, 4, frame(1, block) + frame(0, BODY), True, 2.0, 3)
    assert out == []  # blocked: the entries it refers to are not there yet
    out = conn.stream_data(True, 6, enc, False, 3.0, 4)
    (request,) = messages(out)
    assert request.body == BODY and header(request.headers, "x-ad-id") == AD_ID
    assert out[0].frame == 3  # where its HEADERS frame was, not where it was unblocked
    assert ctx.anomalies.total() == 0


def test_settings_arriving_late_replace_a_guessed_decoder() -> None:
    ctx = Context()
    conn = Http3Connection(ctx, 0)
    client = Peer(65536)
    client.section(0, REQUEST)
    out = feed(conn, [
        (True, 0, frame(1, static_section(REQUEST)), True),  # decoder made with a guess
        (False, 3, settings(65536), False),  # the real capacity (not the guessed 4096)
        (True, 6, b"\x02" + client.setup, False),
        *[(True, 6, enc, False) for enc, _ in [client.section(4, REQUEST)] if enc],
    ])  # fmt: skip
    enc, block = client.section(8, REQUEST)
    out += conn.stream_data(True, 6, enc, False, 9.0, 9) if enc else []
    out += conn.stream_data(True, 8, frame(1, block), True, 9.0, 10)
    assert ctx.anomalies.total() == 0
    assert len([m for m in messages(out) if isinstance(m, HttpRequest)]) == 2


def test_trailers_informational_and_gzip() -> None:
    ctx = Context()
    conn = Http3Connection(ctx, 0)
    request = [*REQUEST, (b"content-encoding", b"gzip")]
    out = feed(conn, [
        (True, 0, frame(1, static_section(request)) + frame(0, gzip.compress(BODY))
         + frame(1, static_section([(b"x-trailer", b"t")])), True),
        (False, 0, frame(1, static_section([(b":status", b"100")])), False),
        (False, 0, frame(1, static_section(RESPONSE)), True),
    ])  # fmt: skip
    assert ctx.anomalies.total() == 0
    req, cont, final = messages(out)
    assert isinstance(req, HttpRequest) and req.body == BODY and req.encodings == ("gzip",)
    assert header(req.headers, "x-trailer") == "t"
    assert isinstance(cont, HttpResponse) and cont.status == 100
    assert isinstance(final, HttpResponse) and final.status == 200


def test_server_push_stream() -> None:
    conn = Http3Connection(Context(), 0)
    push = b"\x01" + v(0) + frame(1, static_section(RESPONSE)) + frame(0, b"pushed")
    out = feed(conn, [(False, 15, push[:3], False), (False, 15, push[3:], True)])
    (response,) = messages(out)
    assert isinstance(response, HttpResponse) and response.body == b"pushed"


def test_reset_and_unknown_frames_and_streams() -> None:
    ctx = Context()
    conn = Http3Connection(ctx, 0)
    out = conn.stream_data(True, 0, frame(0x21, b"grease") + frame(1, static_section(REQUEST))
                           + frame(0, b"part"), False, 1.0, 1)  # fmt: skip
    out += conn.stream_data(True, 0, b"", True, 2.0, 2, reset=True)
    out += conn.stream_data(True, 2, v(0x21) + b"unknown stream type", False, 3.0, 3)
    out += conn.stream_data(False, 1, b"server bidi: meaningless", False, 3.0, 4)
    out += conn.close()
    (request,) = messages(out)
    assert request.body == b"part" and request.body_truncated
    assert ctx.anomalies.total() == 0


@pytest.mark.parametrize(
    ("steps", "kind"),
    [
        ([(True, 0, frame(0, b"x") + frame(1, static_section(REQUEST)), True)], "http3.bad_frame"),
        ([(True, 0, frame(1, b"\xff\xff\xff"), True)], "http3.qpack_error"),
        ([(True, 2, b"\x02\x00", False)], "http3.qpack_error"),  # Duplicate of nothing
        ([(True, 0, v(1) + v(MAX_FIELD_SECTION + 1), False)], "http3.header_too_large"),
        ([(True, 0, frame(1, static_section(REQUEST)), False)], "http3.incomplete_message"),
        ([(False, 3, b"\x00" + v(4) + v(1 << 20), False)], "http3.bad_frame"),
        ([(False, 3, settings(1 << 30), False),
          (True, 0, frame(1, static_section(REQUEST)), True)], "http3.qpack_table_too_large"),
    ],
)  # fmt: skip
def test_damage_is_counted_never_raised(
    steps: list[tuple[bool, int, bytes, bool]], kind: str
) -> None:
    ctx = Context()
    feed(Http3Connection(ctx, 0), steps)
    assert ctx.anomalies.counts[kind] >= 1


def test_bodies_are_bounded() -> None:
    conn = Http3Connection(Context(), 0, max_body=1000)
    out = feed(conn, [(True, 0, frame(1, static_section(REQUEST)) + frame(0, bytes(5000)), True)])
    (request,) = messages(out)
    assert len(request.body) == 1000 and request.body_truncated


def test_data_frames_are_read_as_they_arrive() -> None:
    conn = Http3Connection(Context(), 0)
    head = frame(1, static_section(REQUEST)) + v(0) + v(100_000)
    conn.stream_data(True, 0, head, False, 1.0, 1)
    for i in range(100):
        conn.stream_data(True, 0, bytes(1000), False, 1.0, 2 + i)
        assert len(conn._requests[0][0].input.buf) < 64
    (request,) = messages(conn.stream_data(True, 0, b"", True, 2.0, 200))
    assert len(request.body) == 100_000
