"""Throughput of the decryption core on its own: TLS 1.3 record decryption, HTTP/2 parsing,
QUIC 1-RTT decryption with stream reassembly, HTTP/3 parsing.

Inputs are made here with known secrets (the same sealing a TLS/QUIC stack does, through
cryptography) and, for HTTP/2 and HTTP/3, with the ``h2`` and ``pylsqpack`` encoders, so the
figures are for realistic frames without a capture. Only the parsing/decryption loop is
timed; each figure is the best of ``--repeat`` runs. The wiring into ``scan`` and the
comparison with tshark are measured by ``speed.py`` once the core is wired in.

Usage: python benchmarks/decrypt_speed.py [--mb 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phonehome.context import Context
from phonehome.decrypt.ciphers import SUITES
from phonehome.decrypt.keylog import KeyLog
from phonehome.decrypt.quic import QuicDecryptor, initial_keys, packet_keys
from phonehome.decrypt.schedule import hkdf_expand_label, traffic_keys
from phonehome.decrypt.tls import TlsDecryptor
from phonehome.protocols.http2 import Http2Connection
from phonehome.protocols.http3 import Http3Connection
from phonehome.protocols.quic import VERSION_1, VERSIONS, encode_varint, hkdf_extract
from phonehome.simulate.quic_build import client_initial_datagrams
from phonehome.simulate.tls_build import client_hello, tls_records

RANDOM = bytes(range(32))
CLIENT_SECRET = bytes(range(1, 33))
SERVER_SECRET = bytes(range(2, 34))
HEADERS = [
    (":method", "POST"), (":scheme", "https"), (":authority", "api.example.com"),
    (":path", "/v1/events?session=8d1f0c"), ("content-type", "application/json"),
    ("user-agent", "okhttp/4.12.0"), ("x-ad-id", "f409f3d8-dbd7-40a3-8548-2877e348feb5"),
    ("accept-encoding", "gzip"), ("x-request-id", "0"),
]  # fmt: skip
BODY = b'{"imei":"352071026884283","events":[' + b'{"t":1700000000,"k":"unlock"},' * 20 + b"{}]}"


def keylog() -> KeyLog:
    log = KeyLog()
    log.add_text(
        f"CLIENT_TRAFFIC_SECRET_0 {RANDOM.hex()} {CLIENT_SECRET.hex()}\n"
        f"SERVER_TRAFFIC_SECRET_0 {RANDOM.hex()} {SERVER_SECRET.hex()}\n".encode(),
        "file",
        "bench",
    )
    return log


def best(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(best seconds, bytes) over ``repeat`` runs."""
    times = []
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = run()
        times.append(time.perf_counter() - start)
    return min(times), size


# -- TLS 1.3 -------------------------------------------------------------------------


def tls13_stream(total: int, record: int) -> tuple[bytes, bytes, bytes]:
    hello = bytearray(client_hello("bench.example", ("h2",)))
    hello[6:38] = RANDOM
    body = b"\x03\x03" + bytes(32) + b"\x00\x13\x01\x00\x00\x06\x00\x2b\x00\x02\x03\x04"
    server_hello = b"\x16\x03\x03" + (len(body) + 4).to_bytes(2, "big") + b"\x02"
    server_hello += len(body).to_bytes(3, "big") + body
    key, iv = traffic_keys(SERVER_SECRET, 16, 12, "sha256")
    aead = AESGCM(key)
    chunk = bytes(range(256)) * (record // 256 + 1)
    out = bytearray()
    seq = 0
    while len(out) < total:
        data = chunk[:record] + b"\x17"
        header = b"\x17\x03\x03" + (len(data) + 16).to_bytes(2, "big")
        out += header + aead.encrypt(
            (int.from_bytes(iv, "big") ^ seq).to_bytes(12, "big"), data, header
        )
        seq += 1
    return tls_records(bytes(hello)), server_hello, bytes(out)


def bench_tls(mb: int, record: int, repeat: int) -> tuple[float, int]:
    client_hello_records, server_hello, stream = tls13_stream(mb << 20, record)
    log = keylog()

    def run() -> int:
        dec = TlsDecryptor(log)
        dec.data(True, client_hello_records, 0.0, 1)
        dec.data(False, server_hello, 0.0, 2)
        got = 0
        for i in range(0, len(stream), 65536):  # TCP delivers up to a window at a time
            for piece in dec.data(False, stream[i : i + 65536], 0.0, 3 + i):
                got += len(piece.data)
        assert dec.take_problems() == [] and got > 0
        return len(stream)

    return best(run, repeat)


# -- HTTP/2 --------------------------------------------------------------------------


def h2_streams(requests: int) -> list[tuple[bool, bytes]]:
    from h2.config import H2Configuration
    from h2.connection import H2Connection

    client = H2Connection(H2Configuration(client_side=True))
    server = H2Connection(H2Configuration(client_side=False))
    chunks: list[tuple[bool, bytes]] = []

    def move() -> None:
        for side, conn, peer in ((True, client, server), (False, server, client)):
            data = conn.data_to_send()
            if data:
                chunks.append((side, data))
                peer.receive_data(data)

    client.initiate_connection()
    server.initiate_connection()
    move()
    for i in range(requests):
        stream = 2 * i + 1
        headers = [*HEADERS[:-1], ("x-request-id", str(i))]
        client.send_headers(stream, headers)
        client.send_data(stream, BODY, end_stream=True)
        move()
        server.send_headers(stream, [(":status", "200"), ("content-type", "application/json")])
        server.send_data(stream, BODY, end_stream=True)
        move()
        client.increment_flow_control_window(2 * len(BODY))
        server.increment_flow_control_window(2 * len(BODY))
        move()
    return chunks


def bench_h2(requests: int, repeat: int) -> tuple[float, int]:
    chunks = h2_streams(requests)
    size = sum(len(d) for _, d in chunks)

    def run() -> int:
        conn = Http2Connection(Context(), 0)
        messages = 0
        for i, (side, data) in enumerate(chunks):
            messages += len(conn.data(side, data, 0.0, i))
        messages += len(conn.close())
        assert messages == 2 * requests
        return size

    return best(run, repeat)


# -- QUIC + HTTP/3 -------------------------------------------------------------------


def server_initial(odcid: bytes, to: bytes, scid: bytes) -> bytes:
    """The server's Initial: a ServerHello choosing TLS_AES_128_GCM_SHA256 (RFC 9001 5)."""
    body = b"\x03\x03" + bytes(32) + b"\x00\x13\x01\x00\x00\x06\x00\x2b\x00\x02\x03\x04"
    hello = b"\x02" + len(body).to_bytes(3, "big") + body
    payload = b"\x06\x00" + encode_varint(len(hello)) + hello
    payload += bytes(max(0, 20 - len(payload)))
    keys = initial_keys(odcid, VERSIONS[VERSION_1], server=True)
    key, iv = traffic_keys(hkdf_expand_label(hkdf_extract(VERSIONS[VERSION_1].salt, odcid),
                                             b"server in", 32, "sha256"), 16, 12, "sha256",
                           b"quic ")  # fmt: skip
    header = b"\xc1\x00\x00\x00\x01" + bytes((len(to),)) + to + bytes((len(scid),)) + scid
    header += b"\x00" + encode_varint(len(payload) + 2 + 16) + b"\x00\x00"
    sealed = bytearray(header + AESGCM(key).encrypt(iv, payload, header))
    pn_at = len(header) - 2
    mask = keys.hp.mask(bytes(sealed[pn_at + 4 : pn_at + 20]))
    sealed[0] ^= mask[0] & 0x0F
    sealed[pn_at] ^= mask[1]
    sealed[pn_at + 1] ^= mask[2]
    return bytes(sealed)


def quic_packets(total: int) -> tuple[bytes, bytes, list[bytes]]:
    hello = bytearray(client_hello("bench.example", ("h3",)))
    hello[6:38] = RANDOM
    (initial,) = client_initial_datagrams(bytes(hello), bytes(8), bytes(8), packets=1)
    reply = server_initial(bytes(8), bytes(8), bytes(8))
    keys = packet_keys(SUITES[0x1301], CLIENT_SECRET, VERSIONS[VERSION_1])
    key, iv = traffic_keys(CLIENT_SECRET, 16, 12, "sha256", b"quic ")
    aead = AESGCM(key)
    packets = []
    offset = 0
    pn = 0
    payload_size = 1200 - 1 - 8 - 2 - 16 - 12
    data = bytes(range(256)) * 5
    while offset < total:
        piece = data[:payload_size]
        frame = b"\x0e" + encode_varint(0) + encode_varint(offset) + encode_varint(len(piece))
        frame += piece
        header = b"\x41" + bytes(8) + (pn & 0xFFFF).to_bytes(2, "big")
        sealed = bytearray(
            header
            + aead.encrypt((int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big"), frame, header)
        )
        mask = keys.hp.mask(bytes(sealed[13:29]))
        sealed[0] ^= mask[0] & 0x1F
        sealed[9] ^= mask[1]
        sealed[10] ^= mask[2]
        packets.append(bytes(sealed))
        offset += len(piece)
        pn += 1
    return initial, reply, packets


def bench_quic(mb: int, repeat: int) -> tuple[float, int]:
    initial, reply, packets = quic_packets(mb << 20)
    log = keylog()
    size = sum(len(p) for p in packets)

    def run() -> int:
        dec = QuicDecryptor(log)
        dec.datagram(True, initial, 0.0, 1)
        dec.datagram(False, reply, 0.0, 2)
        assert dec.suite == "TLS_AES_128_GCM_SHA256"
        got = 0
        for i, packet in enumerate(packets):
            for piece in dec.datagram(True, packet, 0.0, 3 + i):
                got += len(piece.data)
        got += sum(len(p.data) for p in dec.close())
        assert got >= size * 0.95 and dec.take_problems() == [], got
        return size

    return best(run, repeat)


def h3_streams(requests: int) -> list[tuple[bool, int, bytes, bool]]:
    import pylsqpack

    encoder = pylsqpack.Encoder()
    setup = encoder.apply_settings(max_table_capacity=4096, blocked_streams=16)
    steps: list[tuple[bool, int, bytes, bool]] = [
        (False, 3, b"\x00\x04\x04\x01\x50\x00\x07\x10", False),  # SETTINGS: capacity 4096
        (True, 6, b"\x02" + setup, False),
    ]

    def frame(ftype: int, payload: bytes) -> bytes:
        return encode_varint(ftype) + encode_varint(len(payload)) + payload

    raw = [(k.encode(), v.encode()) for k, v in HEADERS]
    for i in range(requests):
        stream = 4 * i
        enc, block = encoder.encode(stream, raw)
        if enc:
            steps.append((True, 6, enc, False))
        steps.append((True, stream, frame(1, block) + frame(0, BODY), True))
        steps.append((False, stream, frame(1, b"\x00\x00\xd9") + frame(0, BODY), True))
    return steps


def bench_h3(requests: int, repeat: int) -> tuple[float, int]:
    steps = h3_streams(requests)
    size = sum(len(s[2]) for s in steps)

    def run() -> int:
        conn = Http3Connection(Context(), 0)
        messages = 0
        for i, (side, stream, data, fin) in enumerate(steps):
            messages += len(conn.stream_data(side, stream, data, fin, 0.0, i))
        assert messages == 2 * requests
        return size

    return best(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [
        ("TLS 1.3 AES-128-GCM, 16 KiB records", bench_tls(args.mb, 16384, args.repeat), None),
        ("TLS 1.3 AES-128-GCM, 1400-byte records", bench_tls(args.mb // 4, 1400, args.repeat),
         None),
        ("QUIC 1-RTT AES-128-GCM, 1200-byte packets + reassembly", bench_quic(args.mb // 4,
                                                                               args.repeat), None),
        ("HTTP/2 (h2 library's frames, HPACK)", bench_h2(2000, args.repeat), 4000),
        ("HTTP/3 (pylsqpack's sections)", bench_h3(2000, args.repeat), 4000),
    ]  # fmt: skip
    for name, (seconds, size), messages in rows:
        line = f"{name:58s} {size / seconds / 1e6:8.1f} MB/s"
        if messages:
            line += f"  {messages / seconds:9.0f} messages/s"
        print(line)


if __name__ == "__main__":
    main()
