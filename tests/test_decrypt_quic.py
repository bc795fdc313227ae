"""QUIC decryption: the aioquic HTTP/3 captures (v1 and v2, every suite, a key update, keys
by file and DSB), RFC 9001's Initial packets, datagrams lost, reordered and damaged, and
the frame walker and stream reassembly on their own."""

from __future__ import annotations

import pytest

from phonehome.decrypt.keylog import KeyLog
from phonehome.decrypt.quic import (
    DECRYPTED,
    INCOMPLETE,
    KEYS_MISSING,
    WRONG_KEY,
    QuicDecryptor,
    StreamPiece,
)
from phonehome.decrypt.quic_frames import (
    CRYPTO,
    MAX_PENDING_PIECES,
    NEW_CID,
    RESET,
    STREAM,
    Reassembly,
    walk_frames,
)
from phonehome.model.message import header
from phonehome.protocols.quic import encode_varint
from tests.builders_tls import DATA, Chunk, decrypt_capture, flow_chunks, keylog_of
from tests.test_decrypt_tls import AD_ID, BODY
from tests.test_protocols_quic import RFC9001_CLIENT_INITIAL

# RFC 9001 Appendix A.3: the server's Initial (ServerHello, TLS_AES_128_GCM_SHA256).
RFC9001_SERVER_INITIAL = bytes.fromhex(
    "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a5816b6394100f37a1c69"
    "797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73"
    "cc3f3bded74b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456"
    "cbc42158407dd074ee"
)

# name: (version, suite)
CAPTURES = {
    "h3-aes128gcm": ("v1", "TLS_AES_128_GCM_SHA256"),
    "h3-aes256gcm": ("v1", "TLS_AES_256_GCM_SHA384"),
    "h3-chacha20": ("v1", "TLS_CHACHA20_POLY1305_SHA256"),
    "h3-v2": ("v2", "TLS_AES_128_GCM_SHA256"),
    "h3-keyupdate": ("v1", "TLS_AES_128_GCM_SHA256"),
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
@pytest.mark.parametrize("keys_by", ["file", "dsb"])
def test_every_http3_capture_decrypts(name: str, keys_by: str) -> None:
    if keys_by == "file":
        result = decrypt_capture(DATA / f"{name}.pcap", [DATA / f"{name}.keys"])
    else:
        result = decrypt_capture(DATA / f"{name}.dsb.pcapng")
    assert dict(result.ctx.anomalies.counts) == {}
    (quic,) = result.quic
    assert (quic.status, quic.version, quic.suite, quic.alpn) == (
        (DECRYPTED, *CAPTURES[name], "h3")
    )
    assert quic.key_source == keys_by
    requests = result.requests()
    assert [r.target for r in requests] == ["/v1/checkin", "/v1/register", "/v1/heartbeat"]
    for request in requests:
        assert request.version == "HTTP/3" and request.body == BODY
        assert header(request.headers, "x-ad-id") == AD_ID
        assert request.host is not None and request.host.startswith("telemetry.phonehome.test:")
    responses = result.responses()
    assert [r.status for r in responses] == [200] * 3
    assert all(r.body == b'{"ok": true, "received": 61}' for r in responses)
    # Requests are what the QUIC client sent, whichever side the flow table calls client.
    assert all(p.from_client != quic.flipped for p in result.messages
               if p.content in requests)  # fmt: skip
    assert quic.key_updates == (2 if name == "h3-keyupdate" else 0)


def test_a_flow_oriented_the_wrong_way_round_is_turned() -> None:
    chunks = client_first("h3-chacha20")
    keylog = keylog_of(DATA / "h3-chacha20.keys")
    straight = QuicDecryptor(keylog)
    turned = QuicDecryptor(keylog)
    a = run(straight, chunks)
    b = run(turned, [(not c, d, t, f) for c, d, t, f in chunks])
    assert (straight.flipped, turned.flipped) == (False, True)
    # The pieces say what the QUIC client sent either way.
    assert [(p.from_client, p.stream_id, p.data) for p in a] == [
        (p.from_client, p.stream_id, p.data) for p in b
    ]


def client_first(name: str) -> list[Chunk]:
    """The flow's datagrams with ``from_client`` meaning the QUIC client's."""
    (chunks,) = flow_chunks(DATA / f"{name}.pcap")
    first = chunks[0][0]
    return [(c == first, d, t, f) for c, d, t, f in chunks]


def run(dec: QuicDecryptor, chunks: list[Chunk]) -> list[StreamPiece]:
    out: list[StreamPiece] = []
    for c, data, t, f in chunks:
        out += dec.datagram(c, data, t, f)
    return out + dec.close()


def stream_bytes(pieces: list[StreamPiece], from_client: bool, stream_id: int) -> bytes:
    got = [p for p in pieces if p.from_client == from_client and p.stream_id == stream_id]
    assert [p.offset for p in got] == sorted(p.offset for p in got)
    return b"".join(p.data for p in got)


def test_reordered_datagrams_give_the_same_streams() -> None:
    chunks = client_first("h3-aes128gcm")
    keylog = keylog_of(DATA / "h3-aes128gcm.keys")
    plain = run(QuicDecryptor(keylog), chunks)
    later = [i for i, (c, *_) in enumerate(chunks) if c][2:]
    swapped = list(chunks)
    swapped[later[0]], swapped[later[-1]] = swapped[later[-1]], swapped[later[0]]
    mixed = run(QuicDecryptor(keylog), swapped)
    for stream in (0, 4, 8):
        assert stream_bytes(mixed, True, stream) == stream_bytes(plain, True, stream)
        assert BODY in stream_bytes(mixed, True, stream)


def test_without_the_server_hello_the_suite_is_guessed() -> None:
    for name in ("h3-aes128gcm", "h3-chacha20", "h3-aes256gcm"):
        chunks = client_first(name)
        server_first = next(i for i, (c, *_) in enumerate(chunks) if not c)
        del chunks[server_first]  # the server's Initial + Handshake datagram
        dec = QuicDecryptor(keylog_of(DATA / f"{name}.keys"))
        pieces = run(dec, chunks)
        assert dec.status == DECRYPTED and dec.suite == CAPTURES[name][1], name
        assert BODY in stream_bytes(pieces, True, 0)
        assert dec.alpn is None  # EncryptedExtensions was in the lost datagram


def test_a_damaged_packet_is_counted_and_the_rest_read() -> None:
    chunks = client_first("h3-aes128gcm")
    keylog = keylog_of(DATA / "h3-aes128gcm.keys")
    dec = QuicDecryptor(keylog)
    pieces: list[StreamPiece] = []
    damaged = 0
    for c, data, t, f in chunks:
        if c and dec.packets > 2 and not data[0] & 0x80 and not damaged:
            buf = bytearray(data)
            buf[-3] ^= 0x55
            data, damaged = bytes(buf), f
        pieces += dec.datagram(c, data, t, f)
    problems = dec.take_problems()
    assert problems == [("quic.decrypt_failed", damaged, "1-RTT packet of the client does "
                         "not authenticate")]  # fmt: skip
    assert BODY in stream_bytes(pieces, False, 0) or stream_bytes(pieces, True, 4)


def test_wrong_and_missing_keys(tmp_path: object) -> None:
    name = "h3-aes128gcm"
    text = (DATA / f"{name}.keys").read_text().splitlines()
    wrong = []
    for line in text:
        label, random, secret = line.split()
        wrong.append(f"{label} {random} {secret[:-2]}{int(secret[-2:], 16) ^ 1:02x}")
    keylog = KeyLog()
    keylog.add_text("\n".join(wrong).encode(), "file", "wrong")
    dec = QuicDecryptor(keylog)
    assert run(dec, client_first(name)) == []
    kinds = [k for k, _, _ in dec.take_problems()]
    assert dec.status == WRONG_KEY and "quic.decrypt_failed" in kinds
    dec = QuicDecryptor(KeyLog())
    assert run(dec, client_first(name)) == []
    assert dec.status == KEYS_MISSING and dec.done
    assert [k for k, _, _ in dec.take_problems()] == ["quic.keys_missing"]


def test_rfc9001_initials_give_the_suite_and_then_ask_for_keys() -> None:
    dec = QuicDecryptor(KeyLog())
    assert dec.datagram(True, RFC9001_CLIENT_INITIAL, 0.0, 1) == []
    assert len(dec.client_random) == 32 and dec.version == "v1"
    assert dec.datagram(False, RFC9001_SERVER_INITIAL, 0.1, 2) == []
    assert dec.suite == "TLS_AES_128_GCM_SHA256"
    assert dec.status == KEYS_MISSING and dec.done
    (problem,) = dec.take_problems()
    assert problem[0] == "quic.keys_missing"
    assert dec.client_random.hex()[:8] in problem[2]


def test_a_server_initial_alone_is_incomplete() -> None:
    dec = QuicDecryptor(KeyLog())
    dec.datagram(False, RFC9001_SERVER_INITIAL, 0.1, 2)
    dec.datagram(False, b"\x40" + bytes(40), 0.2, 3)  # a short header: held, never opened
    dec.close()
    assert dec.status == INCOMPLETE


# -- frames and reassembly --------------------------------------------------------------


def v(n: int) -> bytes:
    return encode_varint(n)


def test_frame_walker_reads_every_rfc9000_frame() -> None:
    payload = (
        b"\x00\x00\x00" + b"\x01"  # PADDING, PING
        + b"\x02" + v(10) + v(0) + v(1) + v(2) + v(1) + v(3)  # ACK with one range
        + b"\x03" + v(10) + v(0) + v(0) + v(2) + v(1) + v(1) + v(1)  # ACK_ECN
        + b"\x04" + v(8) + v(1) + v(100)  # RESET_STREAM
        + b"\x05" + v(8) + v(1)  # STOP_SENDING
        + b"\x06" + v(5) + v(3) + b"abc"  # CRYPTO
        + b"\x07" + v(2) + b"tk"  # NEW_TOKEN
        + b"\x0e" + v(4) + v(7) + v(2) + b"hi"  # STREAM off+len
        + b"\x10" + v(1) + b"\x11" + v(4) + v(1) + b"\x12" + v(1) + b"\x13" + v(1)
        + b"\x14" + v(1) + b"\x15" + v(4) + v(1) + b"\x16" + v(1) + b"\x17" + v(1)
        + b"\x18" + v(1) + v(0) + b"\x04" + b"cid!" + bytes(16)  # NEW_CONNECTION_ID
        + b"\x19" + v(0) + b"\x1a" + bytes(8) + b"\x1b" + bytes(8)
        + b"\x1e" + b"\x31" + v(2) + b"dg"
        + b"\x1d" + v(0) + v(3) + b"bye"  # CONNECTION_CLOSE (application)
        + b"\x09" + v(0) + b"rest of packet"  # STREAM without length, FIN
    )  # fmt: skip
    events, problem = walk_frames(payload)
    assert problem is None
    assert [(e.kind, e.stream_id, e.offset, e.data, e.fin) for e in events] == [
        (RESET, 8, 100, b"", True),
        (CRYPTO, 0, 5, b"abc", False),
        (STREAM, 4, 7, b"hi", False),
        (NEW_CID, 0, 0, b"cid!", False),
        (STREAM, 0, 0, b"rest of packet", True),
    ]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"\x40\xaf" + v(1), "unknown frame type 0xaf"),
        (b"\x0a" + v(0) + v(50) + b"short", "STREAM frame runs past the packet"),
        (b"\x06" + v(0) + v(9) + b"x", "CRYPTO frame runs past the packet"),
        (b"\x02" + v(1), "truncated varint"),
        (b"\x18" + v(1) + v(0) + b"\x30" + bytes(10), "bad NEW_CONNECTION_ID"),
    ],
)
def test_frame_walker_problems(payload: bytes, problem: str) -> None:
    assert walk_frames(b"\x01" + payload)[1] == problem


def test_reassembly_in_order_out_of_order_retransmitted_and_fin() -> None:
    r = Reassembly()
    got = r.add(5, b"fghij", False, 1.0, 2)
    assert got == [] and r.pending_bytes == 5
    got = r.add(0, b"abcdefg", False, 2.0, 3)  # overlaps the held piece
    assert [(g.offset, g.data, g.frame) for g in got] == [(0, b"abcdefg", 3), (7, b"hij", 2)]
    assert r.add(0, b"abc", False, 3.0, 4) == []  # a retransmission
    got = r.add(10, b"", True, 4.0, 5)  # FIN alone
    assert [(g.data, g.fin) for g in got] == [(b"", True)] and r.finished
    assert r.add(10, b"more", False, 5.0, 6) == []


def test_reassembly_keeps_the_longer_of_two_pieces_at_one_offset_and_is_bounded() -> None:
    r = Reassembly()
    r.add(10, b"xy", False, 0.0, 1)
    r.add(10, b"xyz", False, 0.0, 2)
    r.add(10, b"x", False, 0.0, 3)
    assert r.pending[10][0] == b"xyz"
    for i in range(MAX_PENDING_PIECES + 10):
        r.add(100 + 10 * i, b"p", False, 0.0, 4)
    assert len(r.pending) == MAX_PENDING_PIECES and r.overflow
    got = r.add(0, bytes(10), False, 0.0, 5)
    assert b"".join(g.data for g in got) == bytes(10) + b"xyz"


def test_quic_frames_never_raise_on_random_bytes() -> None:
    import os

    for _ in range(2000):
        walk_frames(os.urandom(os.urandom(1)[0]))


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_the_captures_exercise_the_qpack_dynamic_table(name: str) -> None:
    """The third request and the later answers begin their field sections with a non-zero
    Required Insert Count (RFC 9204 4.5.1): they refer to encoder stream insertions, and the
    requests above still decode to the same fields."""
    pieces = run(QuicDecryptor(keylog_of(DATA / f"{name}.keys")), client_first(name))
    sections = [stream_bytes(pieces, side, s) for side in (True, False) for s in (0, 4, 8)]
    prefixes = [b[3] if b[1] & 0xC0 == 0x40 else b[2] for b in sections]  # after type, length
    assert prefixes[0] == prefixes[1] == 0 and prefixes[2] != 0  # client
    assert prefixes[3] == 0 and prefixes[4] != 0 and prefixes[5] != 0  # server
    assert stream_bytes(pieces, True, 6)[1:]  # the client's encoder stream insertions
