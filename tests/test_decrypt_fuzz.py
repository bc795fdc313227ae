"""Fuzz: whatever the bytes, the TLS record layer, QUIC packets and frames, HTTP/2 frames
with HPACK, and HTTP/3 with QPACK never raise. Real streams are mutated; what comes after
decryption is fuzzed by sealing random plaintext with the keys of a synthetic session, so
the parsers behind the AEAD see it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phonehome.context import Context
from phonehome.decrypt.quic import QuicDecryptor
from phonehome.decrypt.quic_frames import Reassembly, walk_frames
from phonehome.decrypt.tls import TlsDecryptor
from phonehome.protocols.http2 import PREFACE, Http2Connection
from phonehome.protocols.http3 import Http3Connection
from phonehome.protocols.quic import encode_varint as v
from tests.builders_tls import (
    DATA,
    flow_chunks,
    keylog_of,
    quic_client_initial,
    quic_sealed,
    synthetic_keylog,
    tls13_hellos,
    tls13_sealed,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

TLS_STREAMS = {
    name: (flow_chunks(DATA / f"{name}.pcap")[0], keylog_of(DATA / f"{name}.keys"))
    for name in ("tls13-aes128gcm-h2", "tls12-cbc-sha384-mte-http11")
}
QUIC_STREAM = (flow_chunks(DATA / "h3-aes128gcm.pcap")[0], keylog_of(DATA / "h3-aes128gcm.keys"))


@st.composite
def mutations(
    draw: st.DrawFn, chunks: list[tuple[bool, bytes, float, int]]
) -> list[tuple[bool, bytes, float, int]]:
    out = list(chunks)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(out) - 1))
        c, data, t, f = out[i]
        buf = bytearray(data)
        at = draw(st.integers(0, len(buf)))
        choice = draw(st.integers(0, 4))
        if choice == 0 and at < len(buf):
            buf[at] ^= draw(st.integers(1, 255))
        elif choice == 1:
            buf[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif choice == 2:
            del buf[at : at + draw(st.integers(1, 40))]
        elif choice == 3:
            out.insert(i, out.pop(draw(st.integers(0, len(out) - 1))))
            continue
        else:
            del out[i]
            if not out:
                break
            continue
        out[i] = (c, bytes(buf), t, f)
    return out


@FUZZ
@given(st.sampled_from(sorted(TLS_STREAMS)), st.data())
def test_mutated_tls_streams_never_raise(name: str, data: st.DataObject) -> None:
    chunks, keylog = TLS_STREAMS[name]
    dec = TlsDecryptor(keylog)
    for c, d, t, f in data.draw(mutations(chunks)):
        for piece in dec.data(c, d, t, f):
            assert isinstance(piece.data, bytes)
    dec.close()
    for kind, _frame, detail in dec.take_problems():
        assert kind.startswith("tls.") and isinstance(detail, str)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([20, 21, 22, 23, 24, 0, 99]), st.binary(max_size=60)),
                max_size=12))  # fmt: skip
def test_random_plaintext_behind_tls13_keys_never_raises(inner: list[tuple[int, bytes]]) -> None:
    client_hello, server_hello = tls13_hellos()
    dec = TlsDecryptor(synthetic_keylog())
    dec.data(True, client_hello, 0.0, 1)
    dec.data(False, server_hello, 0.0, 2)
    pieces = dec.data(True, tls13_sealed(True, [(23, b"first"), *inner]), 0.0, 3)
    assert pieces[0].data == b"first"
    dec.data(False, tls13_sealed(False, inner), 0.0, 4)
    dec.close()
    dec.take_problems()


@FUZZ
@given(st.data())
def test_mutated_quic_datagrams_never_raise(data: st.DataObject) -> None:
    chunks, keylog = QUIC_STREAM
    dec = QuicDecryptor(keylog)
    h3 = Http3Connection(Context(), 0)
    for c, d, t, f in data.draw(mutations(chunks)):
        for p in dec.datagram(c, d, t, f):
            h3.stream_data(p.from_client, p.stream_id, p.data, p.fin, p.time, p.frame, p.reset)
    dec.close()
    h3.close()


@st.composite
def quic_payloads(draw: st.DrawFn) -> bytes:
    """Mostly well-formed frames, some random bytes."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            ftype = 0x08 | draw(st.integers(0, 7))
            body = draw(st.binary(max_size=30))
            part = bytes((ftype,)) + v(draw(st.integers(0, 20)))
            if ftype & 4:
                part += v(draw(st.integers(0, 100)))
            if ftype & 2:
                part += v(len(body))
            parts.append(part + body)
        elif kind == 1:
            parts.append(b"\x04" + v(draw(st.integers(0, 20))) + v(0) + v(draw(st.integers(0, 99))))
        elif kind == 2:
            parts.append(b"\x06" + v(draw(st.integers(0, 50))) + v(3) + b"abc")
        elif kind == 3:
            parts.append(
                b"\x18" + v(1) + v(0) + bytes((8,)) + draw(st.binary(min_size=24, max_size=24))
            )
        else:
            parts.append(draw(st.binary(max_size=20)))
    return b"".join(parts)


@FUZZ
@given(st.lists(quic_payloads(), min_size=1, max_size=8))
def test_random_frames_behind_quic_keys_never_raise(payloads: list[bytes]) -> None:
    dec = QuicDecryptor(synthetic_keylog())
    dec.datagram(True, quic_client_initial(), 0.0, 1)
    h3 = Http3Connection(Context(), 0)
    pieces = []
    for i, packet in enumerate(quic_sealed(payloads)):
        pieces += dec.datagram(True, packet, 0.0, 2 + i)
    pieces += dec.close()
    assert dec.status == "decrypted"
    for p in pieces:
        h3.stream_data(p.from_client, p.stream_id, p.data, p.fin, p.time, p.frame, p.reset)
    h3.close()


@FUZZ
@given(st.binary(max_size=200))
def test_quic_frame_walker_never_raises(payload: bytes) -> None:
    events, problem = walk_frames(payload)
    assert problem is None or isinstance(problem, str)
    assert all(e.offset >= 0 for e in events)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 300), st.binary(max_size=40), st.booleans()), max_size=30))
def test_reassembly_releases_each_byte_once_in_order(
    pieces: list[tuple[int, bytes, bool]],
) -> None:
    r = Reassembly()
    delivered = 0
    for offset, data, fin in pieces:
        for out in r.add(offset, data, fin, 0.0, 0):
            assert out.offset == delivered
            delivered += len(out.data)
    assert delivered == r.delivered


@st.composite
def h2_frames(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(1, 8))):
        payload = draw(st.binary(max_size=40))
        ftype = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x21]))
        flags = draw(st.integers(0, 255))
        stream = draw(st.sampled_from([0, 1, 3, 5, 2]))
        out += len(payload).to_bytes(3, "big") + bytes((ftype, flags)) + stream.to_bytes(4, "big")
        out += payload
    return out


@FUZZ
@given(h2_frames(), h2_frames(), st.integers(1, 50))
def test_random_http2_frames_and_hpack_never_raise(client: bytes, server: bytes, step: int) -> None:
    ctx = Context()
    conn = Http2Connection(ctx, 0)
    data = PREFACE + client
    for i in range(0, max(len(data), len(server)), step):
        conn.data(True, data[i : i + step], 0.0, i)
        conn.data(False, server[i : i + step], 0.0, i)
    conn.close()
    assert all(kind.startswith("http2.") for kind in ctx.anomalies.counts)


@FUZZ
@given(st.data())
def test_mutated_http2_conversation_never_raises(data: st.DataObject) -> None:
    from tests.test_protocols_http2 import REQUEST, RESPONSE, Talk

    talk = Talk()
    talk.c(lambda c: c.send_headers(1, REQUEST))
    talk.c(lambda c: c.send_data(1, b"body" * 20, end_stream=True))
    talk.s(lambda s: s.send_headers(1, RESPONSE, end_stream=True))
    chunks = [(c, d, 0.0, i) for i, (c, d) in enumerate(talk.chunks)]
    conn = Http2Connection(Context(), 0)
    for c, d, t, f in data.draw(mutations(chunks)):
        conn.data(c, d, t, f)
    conn.close()


@FUZZ
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0, 2, 3, 4, 6, 7, 10, 11]),
                          st.binary(max_size=60), st.booleans()), max_size=20))  # fmt: skip
def test_random_http3_streams_and_qpack_never_raise(
    steps: list[tuple[bool, int, bytes, bool]],
) -> None:
    ctx = Context()
    conn = Http3Connection(ctx, 0)
    # Give some uni streams a known type so the QPACK and control paths are reached.
    conn.stream_data(True, 2, b"\x00", False, 0.0, 0)
    conn.stream_data(True, 6, b"\x02", False, 0.0, 0)
    conn.stream_data(False, 7, b"\x02", False, 0.0, 0)
    for i, (c, stream, data, fin) in enumerate(steps):
        conn.stream_data(c, stream, data, fin, 0.0, i)
    conn.close()
    assert all(kind.startswith("http3.") for kind in ctx.anomalies.counts)


# -- the same mutations through the sessions phonehome runs (TLS app, QUIC app) -------------


@FUZZ
@given(st.sampled_from(sorted(TLS_STREAMS)), st.data())
def test_mutated_tls_streams_through_the_tcp_session_never_raise(
    name: str, data: st.DataObject
) -> None:
    from phonehome.protocols.tcp import TcpSession

    chunks, keylog = TLS_STREAMS[name]
    ctx = Context(keylog=keylog)
    session = TcpSession(ctx, 0, 443, "192.0.2.1")
    lost = data.draw(st.sets(st.integers(0, len(chunks) + 6), max_size=2))
    for i, (c, d, t, f) in enumerate(data.draw(mutations(chunks))):
        if session.done:
            break
        if i in lost:
            session.gap(c, len(d))
            continue
        for p in session.data(c, d, t, f):
            assert p.content is not None
    for p in session.close():
        assert p.content is not None
    assert sum(ctx.coverage.tls.values()) <= 1


@FUZZ
@given(st.data())
def test_mutated_quic_datagrams_through_the_udp_session_never_raise(data: st.DataObject) -> None:
    from phonehome.protocols.udp import UdpSession

    chunks, keylog = QUIC_STREAM
    ctx = Context(keylog=keylog)
    session = UdpSession(ctx, 0, 50000, 443, "192.0.2.2", "192.0.2.1")
    for c, d, t, f in data.draw(mutations(chunks)):
        if session.done:
            break
        for p in session.data(c, d, t, f):
            assert p.content is not None
    session.close()
    assert sum(ctx.coverage.quic.values()) <= 1
