"""TLS ClientHello (RFC 8446 4.1.2): the one cleartext message of an HTTPS connection.

Only what tells where the device connects and how is kept: the server name, the
offered application protocols, the highest offered version and whether Encrypted
Client Hello hid the real name. The same parser serves TLS over TCP (records) and QUIC
(CRYPTO frames carry the bare handshake message).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import Budget
from phonehome.extract.names import labels
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, TlsClientHello
from phonehome.protocols.base import Parsed, Protocol, TcpApp, TcpHost

HANDSHAKE_CLIENT_HELLO: Final = 1
CONTENT_HANDSHAKE: Final = 0x16
MAX_HELLO: Final = 65536
"""A ClientHello bigger than this is refused (real ones with post-quantum key shares are
under 2 KiB; the cap keeps a hostile stream from being buffered without end)."""
MAX_RECORD: Final = 16384 + 2048
"""Largest TLSPlaintext/TLSCiphertext record (RFC 8446 5.1/5.2)."""

EXT_SERVER_NAME: Final = 0
EXT_ALPN: Final = 16
EXT_SUPPORTED_VERSIONS: Final = 43
EXT_ENCRYPTED_CLIENT_HELLO: Final = 0xFE0D

_VERSION_NAMES: Final = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}


class TlsError(ValueError):
    """The bytes are not a (well-formed) TLS ClientHello."""


def is_grease(value: int) -> bool:
    """RFC 8701 reserved values 0x0a0a, 0x1a1a ... 0xfafa, sent to keep servers tolerant."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def version_name(value: int) -> str:
    return _VERSION_NAMES.get(value) or f"0x{value:04x}"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _Reader:
    """Bounds-checked cursor over one byte string; every overrun is a TlsError."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, size: int) -> bytes:
        stop = self.pos + size
        if stop > self.end:
            raise TlsError(f"field of {size} bytes runs past the end at {self.pos}")
        chunk = self.data[self.pos : stop]
        self.pos = stop
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> _Reader:
        """A sub-reader over a length-prefixed vector; the cursor moves past it."""
        size = self.uint(length_size)
        start = self.pos
        self.take(size)
        return _Reader(self.data, start, start + size)

    def left(self) -> int:
        return self.end - self.pos


def _server_name(ext: _Reader) -> str | None:
    names = ext.vector(2)
    while names.left():
        name_type = names.uint(1)
        name = names.vector(2)
        if name_type == 0:
            return _decode(name.take(name.left())).rstrip(".")
    return None


def _alpn(ext: _Reader) -> tuple[str, ...]:
    protocols = ext.vector(2)
    found: list[str] = []
    while protocols.left():
        proto = protocols.vector(1)
        found.append(_decode(proto.take(proto.left())))
    return tuple(found)


def _highest_version(ext: _Reader) -> int | None:
    versions = ext.vector(1)
    best: int | None = None
    while versions.left() >= 2:
        value = versions.uint(2)
        if not is_grease(value) and (best is None or value > best):
            best = value
    return best


def parse_client_hello(handshake: bytes) -> TlsClientHello:
    """Parse one handshake message (4-byte handshake header first) holding a ClientHello."""
    if len(handshake) < 4:
        raise TlsError("shorter than a handshake header")
    if handshake[0] != HANDSHAKE_CLIENT_HELLO:
        raise TlsError(f"handshake type {handshake[0]} is not ClientHello")
    length = int.from_bytes(handshake[1:4], "big")
    if length > MAX_HELLO:
        raise TlsError(f"ClientHello of {length} bytes is over the {MAX_HELLO} byte limit")
    if 4 + length > len(handshake):
        raise TlsError(f"ClientHello of {length} bytes is cut at {len(handshake) - 4}")
    body = _Reader(handshake, 4, 4 + length)
    legacy_version = body.uint(2)
    if legacy_version >> 8 != 3:
        raise TlsError(f"legacy_version 0x{legacy_version:04x} is not TLS")
    body.take(32)  # random
    body.vector(1)  # legacy_session_id
    suites = body.vector(2)
    if suites.left() % 2 or not suites.left():
        raise TlsError("malformed cipher_suites")
    body.vector(1)  # legacy_compression_methods
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    offered: int | None = None
    ech = False
    if body.left():
        extensions = body.vector(2)
        while extensions.left():
            ext_type = extensions.uint(2)
            ext = extensions.vector(2)
            if ext_type == EXT_SERVER_NAME:
                sni = _server_name(ext)
            elif ext_type == EXT_ALPN:
                alpn = _alpn(ext)
            elif ext_type == EXT_SUPPORTED_VERSIONS:
                offered = _highest_version(ext)
            elif ext_type == EXT_ENCRYPTED_CLIENT_HELLO:
                ech = True
    version = version_name(offered if offered is not None else legacy_version)
    return TlsClientHello(sni=sni, alpn=alpn, version=version, ech=ech)


def looks_like_client_hello(buf: bytes) -> bool:
    """Cheap check on the first bytes of a TCP stream: a handshake record opening a
    ClientHello. Works on as little as one byte (then it only says 'maybe')."""
    if not buf or buf[0] != CONTENT_HANDSHAKE:
        return False
    if len(buf) > 1 and buf[1] != 3:
        return False
    if len(buf) > 2 and buf[2] > 4:
        return False
    return len(buf) <= 5 or buf[5] == HANDSHAKE_CLIENT_HELLO


def parse_client_hello_records(buf: bytes) -> TlsClientHello | None:
    """The ClientHello from a client's stream bytes, taken from the start of the stream.

    Handshake records are unwrapped and their fragments joined, since a large hello
    (post-quantum key shares, padding) spans several records. Returns None while more
    bytes are needed; raises :class:`TlsError` when the stream is not a TLS ClientHello.
    """
    handshake = bytearray()
    pos = 0
    n = len(buf)
    while pos < n:
        if buf[pos] != CONTENT_HANDSHAKE:
            raise TlsError(f"record type {buf[pos]} before the ClientHello was complete")
        if pos + 1 < n and buf[pos + 1] != 3:
            raise TlsError(f"record version major {buf[pos + 1]} is not TLS")
        if pos + 5 > n:
            return None
        size = int.from_bytes(buf[pos + 3 : pos + 5], "big")
        if size == 0 or size > MAX_RECORD:
            raise TlsError(f"handshake record of {size} bytes")
        # A partly received record is plaintext too: use what is there.
        handshake += buf[pos + 5 : min(pos + 5 + size, n)]
        pos += 5 + size
        if len(handshake) >= 4:
            if handshake[0] != HANDSHAKE_CLIENT_HELLO:
                raise TlsError(f"first handshake message has type {handshake[0]}")
            length = int.from_bytes(handshake[1:4], "big")
            if length > MAX_HELLO:
                raise TlsError(f"ClientHello of {length} bytes is over the limit")
            if len(handshake) >= 4 + length:
                return parse_client_hello(bytes(handshake[: 4 + length]))
    return None


# -- the connection and the registry entry ------------------------------------------------

TLS_HELLO_LIMIT: Final = 64 << 10
"""Client bytes buffered while waiting for a complete ClientHello."""


class TlsApp(TcpApp):
    """A TLS connection: the client's ClientHello is read; past it everything is
    encrypted, so the flow is done (the flow table then skips it cheaply)."""

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._buf = bytearray()
        self._start = (0.0, 0)

    def start(self, from_client: bool, out: list[Parsed]) -> None:
        if from_client:
            self._buf.clear()
        else:
            self.host.skip(False)  # a server speaking TLS first: nothing to read

    def follows(self, from_client: bool) -> bool:
        return False  # the server's answer is encrypted past its hello

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        host = self.host
        buf = self._buf
        if not buf:
            self._start = (time, frame)
        buf += data[: max(0, TLS_HELLO_LIMIT - len(buf))]
        try:
            hello = parse_client_hello_records(bytes(buf))
        except TlsError as e:
            host.ctx.anomalies.add("tls.bad_client_hello", host.input, frame, str(e))
            self._end()
            return
        if hello is not None:
            out.append(Parsed(True, self._start[0], self._start[1], hello))
            self._end()
        elif len(buf) >= TLS_HELLO_LIMIT:
            host.ctx.anomalies.add(
                "tls.incomplete_client_hello", host.input, frame, f"over {TLS_HELLO_LIMIT} bytes"
            )
            self._end()

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        host = self.host
        host.ctx.anomalies.add("tls.incomplete_client_hello", host.input, None, "gap")
        host.done = True

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        if self._buf:
            host = self.host
            host.ctx.anomalies.add("tls.incomplete_client_hello", host.input, None, "flow ended")
            self._buf.clear()

    def _end(self) -> None:
        """Past the ClientHello everything is encrypted: stop the flow's delivery."""
        self._buf.clear()
        self.host.skip(True)
        self.host.done = True


class TlsProtocol(Protocol):
    """TLS on TCP: the ClientHello's server name and offers."""

    def __init__(self) -> None:
        super().__init__("tls", (TlsClientHello,), encrypted=True)

    def tcp_client(self, head: bytes) -> bool:
        return len(head) >= 6 and head[0] == 0x16 and head[1] == 3 and head[5] == 1

    def tcp_server(self, head: bytes) -> bool:
        return len(head) >= 3 and head[0] in (0x15, 0x16) and head[1] == 3

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return TlsApp(self, host)

    def host(self, content: Content) -> str | None:
        assert isinstance(content, TlsClientHello)
        return content.sni or None

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, TlsClientHello)
        return hello_columns(content)

    def summary(self, content: Content) -> str:
        assert isinstance(content, TlsClientHello)
        return f"ClientHello sni={content.sni} alpn={','.join(content.alpn)} {content.version}"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        assert isinstance(content, TlsClientHello)
        if content.sni:
            return labels(budget, "tls.sni", content.sni, "label")
        return iter(())


def hello_columns(hello: TlsClientHello) -> dict[str, Any]:
    return {
        "sni": hello.sni,
        "alpn": list(hello.alpn),
        "tls_version": hello.version,
        "ech": hello.ech,
    }


TLS: Final = TlsProtocol()
