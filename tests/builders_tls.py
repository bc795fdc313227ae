"""Test helpers: decrypt a whole capture with the decrypt/ and protocols/http2|http3 modules.

The sessions below wire a decryptor to the application parsers the way a TCP/UDP session
will (ALPN decides; without one, the first plaintext bytes do), on the real flow table,
so the tests exercise the modules on what real stacks sent. Key logs: the given files
first, then every DSB of the capture, read in a first pass (the capture's DSBs may come
after the packets they decrypt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from phonehome.context import Context
from phonehome.decrypt.keylog import SOURCE_DSB, KeyLog
from phonehome.decrypt.quic import QuicDecryptor, StreamPiece
from phonehome.decrypt.tls import TlsDecryptor
from phonehome.ingest import open_capture
from phonehome.model.message import HttpRequest, HttpResponse
from phonehome.net.flows import Flow, FlowTable
from phonehome.net.link import Decoder
from phonehome.protocols.base import Parsed, Session
from phonehome.protocols.http import HttpStreamParser
from phonehome.protocols.http2 import Http2Connection, is_h2_preface, is_h2c_switch
from phonehome.protocols.http3 import Http3Connection

DATA = Path(__file__).parent / "data" / "tls"

HttpMessage = HttpRequest | HttpResponse


def _problems(ctx: Context, input: int, problems: list[tuple[str, int | None, str]]) -> None:
    for kind, frame, detail in problems:
        ctx.anomalies.add(kind, input, frame, detail)


class _Http1Pair:
    """Request and response parsers of one HTTP/1.x connection; on ``101`` to h2c the
    rest of both directions goes to an :class:`Http2Connection`."""

    def __init__(self, ctx: Context, input: int) -> None:
        self.ctx, self.input = ctx, input
        self.req = HttpStreamParser(True, ctx, input)
        self.resp = HttpStreamParser(False, ctx, input)
        self.h2: Http2Connection | None = None
        self.upgrade_request: tuple[HttpRequest, float, int] | None = None

    def feed(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        if self.h2 is not None:
            return self.h2.data(from_client, data, time, frame)
        out: list[Parsed] = []
        parser = self.req if from_client else self.resp
        for t, f, msg in parser.feed(data, time, frame):
            out.append(Parsed(from_client, t, f, msg))
            if isinstance(msg, HttpRequest):
                self.resp.expect(msg.method)
                if msg.headers and any(k.lower() == "upgrade" for k, _ in msg.headers):
                    self.upgrade_request = (msg, t, f)
                    self.resp.hold_after(1)
            elif isinstance(msg, HttpResponse) and is_h2c_switch(msg) and self.upgrade_request:
                request, rt, rf = self.upgrade_request
                self.h2 = Http2Connection.upgraded(self.ctx, self.input, request, rt, rf)
                for p, side in ((self.req, True), (self.resp, False)):
                    rest = p.take_rest()
                    if rest is not None:
                        out += self.h2.data(side, rest[0], rest[1], rest[2])
        if self.resp.holding is False and self.req.paused:
            for t, f, msg in self.req.resume(False):
                out.append(Parsed(True, t, f, msg))
        return out

    def close(self) -> list[Parsed]:
        if self.h2 is not None:
            return self.h2.close()
        out = [Parsed(True, t, f, m) for t, f, m in self.req.finish()]
        out += [Parsed(False, t, f, m) for t, f, m in self.resp.finish()]
        return out


class AppStream:
    """Plaintext of one TCP connection to HTTP/1.x or HTTP/2: ALPN if known, else the
    client's first bytes (the HTTP/2 preface)."""

    def __init__(self, ctx: Context, input: int, alpn: str | None = None) -> None:
        self.ctx, self.input = ctx, input
        self.alpn = alpn
        self.parser: _Http1Pair | Http2Connection | None = None
        self.pending: list[tuple[bool, bytes, float, int]] = []

    def feed(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        if self.parser is None:
            self.pending.append((from_client, data, time, frame))
            head = b"".join(d for c, d, _, _ in self.pending if c)
            if self.alpn == "h2" or is_h2_preface(head):
                self.parser = Http2Connection(self.ctx, self.input)
            elif (
                self.alpn is not None
                or len(head) >= 24
                or (head and not b"PRI".startswith(head[:3]))
            ):
                self.parser = _Http1Pair(self.ctx, self.input)
            else:
                return []
            pending, self.pending = self.pending, []
            out: list[Parsed] = []
            for c, d, t, f in pending:
                out += self._feed(c, d, t, f)
            return out
        return self._feed(from_client, data, time, frame)

    def _feed(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        assert self.parser is not None
        if isinstance(self.parser, Http2Connection):
            return self.parser.data(from_client, data, time, frame)
        return self.parser.feed(from_client, data, time, frame)

    def close(self) -> list[Parsed]:
        if self.parser is None:
            if not self.pending:
                return []
            self.parser = _Http1Pair(self.ctx, self.input)
            for c, d, t, f in self.pending:
                self._feed(c, d, t, f)
        return self.parser.close()


class TlsTestSession:
    """A TCP session: TLS when the client starts with a handshake record, else cleartext."""

    def __init__(self, ctx: Context, input: int, keylog: KeyLog, tls: list[TlsDecryptor]) -> None:
        self.ctx, self.input, self.keylog, self.all = ctx, input, keylog, tls
        self.done = False
        self.tls: TlsDecryptor | None = None
        self.app: AppStream | None = None
        self.decided = False

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        if not self.decided:
            self.decided = True
            if from_client and data[:1] == b"\x16":
                self.tls = TlsDecryptor(self.keylog)
                self.all.append(self.tls)
            else:
                self.app = AppStream(self.ctx, self.input)
        if self.tls is None:
            assert self.app is not None
            return self.app.feed(from_client, data, time, frame)
        pieces = self.tls.data(from_client, data, time, frame)
        _problems(self.ctx, self.input, self.tls.take_problems())
        out: list[Parsed] = []
        for piece in pieces:
            if self.app is None:
                self.app = AppStream(self.ctx, self.input, self.tls.alpn)
            out += self.app.feed(piece.from_client, piece.data, piece.time, piece.frame)
        return out

    def gap(self, from_client: bool, size: int) -> None:
        if self.tls is not None:
            self.tls.gap(from_client, size)
            _problems(self.ctx, self.input, self.tls.take_problems())

    def close(self) -> list[Parsed]:
        out: list[Parsed] = []
        if self.tls is not None:
            self.tls.close()
            _problems(self.ctx, self.input, self.tls.take_problems())
        if self.app is not None:
            out += self.app.close()
        return out


class QuicTestSession:
    def __init__(self, ctx: Context, input: int, keylog: KeyLog, all: list[QuicDecryptor]) -> None:
        self.ctx, self.input = ctx, input
        self.done = False
        self.quic = QuicDecryptor(keylog)
        all.append(self.quic)
        self.h3 = Http3Connection(ctx, input)

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        return self._h3(self.quic.datagram(from_client, data, time, frame))

    def _h3(self, pieces: list[StreamPiece]) -> list[Parsed]:
        """HTTP/3 over the pieces; messages turned back to the flow's orientation."""
        out: list[Parsed] = []
        for piece in pieces:
            out += self.h3.stream_data(
                piece.from_client,
                piece.stream_id,
                piece.data,
                piece.fin,
                piece.time,
                piece.frame,
                piece.reset,
            )
        _problems(self.ctx, self.input, self.quic.take_problems())
        return self._orient(out)

    def _orient(self, out: list[Parsed]) -> list[Parsed]:
        if not self.quic.flipped:
            return out
        return [Parsed(not p.from_client, p.time, p.frame, p.content) for p in out]

    def gap(self, from_client: bool, size: int) -> None:
        return None

    def close(self) -> list[Parsed]:
        return self._h3(self.quic.close()) + self._orient(self.h3.close())


@dataclass
class Decrypted:
    ctx: Context
    keylog: KeyLog
    messages: list[Parsed] = field(default_factory=list)
    tls: list[TlsDecryptor] = field(default_factory=list)
    quic: list[QuicDecryptor] = field(default_factory=list)

    def http(self) -> list[tuple[bool, HttpMessage]]:
        return [
            (p.from_client, p.content)
            for p in self.messages
            if isinstance(p.content, HttpRequest | HttpResponse)
        ]

    def requests(self) -> list[HttpRequest]:
        return [m for _, m in self.http() if isinstance(m, HttpRequest)]

    def responses(self) -> list[HttpResponse]:
        return [m for _, m in self.http() if isinstance(m, HttpResponse)]


def decrypt_capture(capture: Path | str, keys: list[Path | str] | None = None) -> Decrypted:
    """Every HTTP message of every TCP (TLS or clear) and UDP (QUIC) flow of ``capture``."""
    ctx = Context()
    keylog = KeyLog(ctx.anomalies)
    for path in keys or []:
        keylog.add_file(str(path))
    first = open_capture(str(capture))
    try:
        for _ in first.frames(ctx):
            pass
    finally:
        first.close()
    for i, block in enumerate(ctx.keylogs, 1):
        keylog.add_text(block, SOURCE_DSB, f"DSB {i}")
    result = Decrypted(Context(anomalies=ctx.anomalies), keylog)
    ctx = result.ctx

    def factory(flow: Flow) -> Session:
        if flow.transport == "tcp":
            return TlsTestSession(ctx, 0, keylog, result.tls)
        return QuicTestSession(ctx, 0, keylog, result.quic)

    table = FlowTable(ctx, factory, use_done_filter=False)
    decoder = Decoder(ctx)
    cap = open_capture(str(capture))
    try:
        for frame in cap.frames(ctx):
            pkt = decoder.decode(frame)
            if pkt is not None:
                result.messages += [p for _, p in table.process(pkt)]
        result.messages += [p for _, p in table.flush()]
    finally:
        cap.close()
    return result


Chunk = tuple[bool, bytes, float, int]
"""(from_client, data, time, frame) as the flow table hands it to a session."""


class _Recorder:
    done = False

    def __init__(self, into: list[list[Chunk]]) -> None:
        self.chunks: list[Chunk] = []
        into.append(self.chunks)

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        self.chunks.append((from_client, data, time, frame))
        return []

    def gap(self, from_client: bool, size: int) -> None:
        raise AssertionError("the test captures have no gaps")

    def close(self) -> list[Parsed]:
        return []


def flow_chunks(capture: Path | str) -> list[list[Chunk]]:
    """What the flow table delivers to each flow's session, flow by flow (TCP: each
    direction's reassembled bytes; UDP: datagrams)."""
    ctx = Context()
    flows: list[list[Chunk]] = []
    table = FlowTable(ctx, lambda flow: _Recorder(flows), use_done_filter=False)
    decoder = Decoder(ctx)
    cap = open_capture(str(capture))
    try:
        for frame in cap.frames(ctx):
            pkt = decoder.decode(frame)
            if pkt is not None:
                table.process(pkt)
        table.flush()
    finally:
        cap.close()
    return flows


def keylog_of(*paths: Path) -> KeyLog:
    keylog = KeyLog()
    for path in paths:
        keylog.add_file(str(path))
    return keylog


# -- synthetic sessions with known secrets (fuzzing what comes after decryption) -----------

SYNTH_RANDOM = bytes(range(32))
SYNTH_CLIENT_SECRET = bytes(range(1, 33))
SYNTH_SERVER_SECRET = bytes(range(2, 34))


def synthetic_keylog() -> KeyLog:
    keylog = KeyLog()
    text = (
        f"CLIENT_TRAFFIC_SECRET_0 {SYNTH_RANDOM.hex()} {SYNTH_CLIENT_SECRET.hex()}\n"
        f"SERVER_TRAFFIC_SECRET_0 {SYNTH_RANDOM.hex()} {SYNTH_SERVER_SECRET.hex()}\n"
    )
    keylog.add_text(text.encode(), "file", "synthetic")
    return keylog


def _record(ctype: int, body: bytes) -> bytes:
    return bytes((ctype, 3, 3)) + len(body).to_bytes(2, "big") + body


def tls13_hellos() -> tuple[bytes, bytes]:
    """(client's ClientHello records, server's ServerHello record), TLS_AES_128_GCM_SHA256,
    whose key log has only the application secrets (handshake records are then skipped
    until one opens with them)."""
    from phonehome.simulate.tls_build import client_hello, tls_records

    hello = bytearray(client_hello("synthetic.example", ("h2",)))
    hello[6:38] = SYNTH_RANDOM
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x13\x01" + b"\x00"
    body += (6).to_bytes(2, "big") + b"\x00\x2b\x00\x02\x03\x04"
    server_hello = b"\x02" + len(body).to_bytes(3, "big") + body
    return tls_records(bytes(hello)), _record(22, server_hello)


def tls13_sealed(from_client: bool, inner: list[tuple[int, bytes]]) -> bytes:
    """Application records of the synthetic session, sequence numbers from 0."""
    from phonehome.decrypt.ciphers import aead_for
    from phonehome.decrypt.schedule import traffic_keys

    secret = SYNTH_CLIENT_SECRET if from_client else SYNTH_SERVER_SECRET
    key, iv = traffic_keys(secret, 16, 12, "sha256")
    aead = aead_for("aes-gcm", key)
    out = b""
    for seq, (ctype, plain) in enumerate(inner):
        data = plain + bytes((ctype,))
        header = bytes((23, 3, 3)) + (len(data) + 16).to_bytes(2, "big")
        nonce = (int.from_bytes(iv, "big") ^ seq).to_bytes(12, "big")
        out += header + aead.encrypt(nonce, data, header)
    return out


SYNTH_DCID = bytes(range(10, 18))


def quic_client_initial() -> bytes:
    """A v1 client Initial whose ClientHello has the synthetic random (no server reply:
    the decryptor guesses the suite from the 1-RTT packets it held)."""
    from phonehome.simulate.quic_build import client_initial_datagrams
    from phonehome.simulate.tls_build import client_hello

    hello = bytearray(client_hello("synthetic.example", ("h3",)))
    hello[6:38] = SYNTH_RANDOM
    (datagram,) = client_initial_datagrams(bytes(hello), SYNTH_DCID, b"\x01" * 8, packets=1)
    return datagram


def quic_sealed(payloads: list[bytes], first_pn: int = 0) -> list[bytes]:
    """1-RTT packets from the client of the synthetic session (AES-128-GCM, key phase 0,
    an 8-byte destination id), one per payload."""
    from phonehome.decrypt.ciphers import SUITES
    from phonehome.decrypt.quic import packet_keys
    from phonehome.protocols.quic import VERSION_1, VERSIONS

    keys = packet_keys(SUITES[0x1301], SYNTH_CLIENT_SECRET, VERSIONS[VERSION_1])
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from phonehome.decrypt.schedule import traffic_keys

    key, iv = traffic_keys(SYNTH_CLIENT_SECRET, 16, 12, "sha256", b"quic ")
    aead = AESGCM(key)
    out = []
    for i, payload in enumerate(payloads):
        pn = first_pn + i
        payload = payload + bytes(max(0, 4 - len(payload)))
        header = bytes((0x41,)) + b"\x02" * 8 + pn.to_bytes(2, "big")
        nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
        sealed = aead.encrypt(nonce, payload, header)
        packet = bytearray(header + sealed)
        mask = keys.hp.mask(bytes(packet[9 + 4 : 9 + 20]))
        packet[0] ^= mask[0] & 0x1F
        for j in range(2):
            packet[9 + j] ^= mask[1 + j]
        out.append(bytes(packet))
    return out


# -- capture variants (real captures rewritten: DSB placement, addresses, lost packets) -----


def read_frames(capture: Path | str) -> list[tuple[float, int, bytes]]:
    """(time, link type, frame bytes) of every frame of a capture."""
    ctx = Context()
    cap = open_capture(str(capture))
    try:
        return [(f.ts, f.linktype, bytes(f.data)) for f in cap.frames(ctx)]
    finally:
        cap.close()


def write_pcapng(
    frames: list[tuple[float, int, bytes]], out: Path, secrets: bytes | None = None,
    dsb_at: int = 0,
) -> Path:  # fmt: skip
    """A little-endian pcapng of ``frames`` (one interface per link type), with the key log
    ``secrets`` in a Decryption Secrets Block placed before frame ``dsb_at`` (0: before
    every packet, as editcap puts it; ``len(frames)``: after the last)."""
    import struct

    from phonehome.ingest.pcapng import (
        DSB,
        EPB,
        IDB,
        IF_TSRESOL,
        OPT_ENDOFOPT,
        SHB,
        TLS_KEY_LOG,
        encode_block,
        encode_option,
    )  # fmt: skip

    blocks = [encode_block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    ifaces: dict[int, int] = {}

    def dsb() -> bytes:
        assert secrets is not None
        return encode_block(DSB, struct.pack("<II", TLS_KEY_LOG, len(secrets)) + secrets)

    for i, (ts, linktype, data) in enumerate(frames):
        if secrets is not None and i == dsb_at:
            blocks.append(dsb())
        if linktype not in ifaces:
            opts = encode_option(IF_TSRESOL, bytes([9])) + encode_option(OPT_ENDOFOPT, b"")
            blocks.append(encode_block(IDB, struct.pack("<HHI", linktype, 0, 0) + opts))
            ifaces[linktype] = len(ifaces)
        ns = round(ts * 1e9)
        head = struct.pack("<IIIII", ifaces[linktype], ns >> 32, ns & 0xFFFFFFFF, len(data),
                           len(data))  # fmt: skip
        blocks.append(encode_block(EPB, head + data + b"\0" * (-len(data) % 4)))
    if secrets is not None and dsb_at >= len(frames):
        blocks.append(dsb())
    out.write_bytes(b"".join(blocks))
    return out


def readdress_udp(
    frames: list[tuple[float, int, bytes]], client: tuple[str, int], server: tuple[str, int]
) -> list[tuple[float, int, bytes]]:
    """The UDP frames of a one-flow loopback capture (Ethernet, IPv4) between other
    addresses and ports: the side that sent the first datagram becomes ``client``. The IPv4
    checksum is recomputed and the UDP one left out (allowed over IPv4); QUIC does not
    depend on either."""
    import ipaddress
    import struct

    first: tuple[bytes, int] | None = None
    out = []
    for ts, linktype, data in frames:
        assert linktype == 1 and data[12:14] == b"\x08\x00" and data[23] == 17
        ihl = (data[14] & 0x0F) * 4
        ip = bytearray(data[14 : 14 + ihl])
        udp = bytearray(data[14 + ihl : 14 + ihl + 8])
        sport = struct.unpack_from("!H", udp, 0)[0]
        if first is None:
            first = (bytes(ip[12:16]), sport)
        from_client = (bytes(ip[12:16]), sport) == first
        src, dst = (client, server) if from_client else (server, client)
        ip[12:16] = ipaddress.IPv4Address(src[0]).packed
        ip[16:20] = ipaddress.IPv4Address(dst[0]).packed
        ip[10:12] = b"\0\0"
        total = sum(struct.unpack(f"!{ihl // 2}H", bytes(ip)))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        ip[10:12] = struct.pack("!H", ~total & 0xFFFF)
        struct.pack_into("!HH", udp, 0, src[1], dst[1])
        udp[6:8] = b"\0\0"
        out.append((ts, linktype, data[:14] + bytes(ip) + bytes(udp) + data[14 + ihl + 8 :]))
    return out
