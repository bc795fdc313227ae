"""TLS ClientHello (RFC 8446 4.1.2): the one cleartext message of an HTTPS connection.

Only what tells where the device connects and how is kept: the server name, the
offered application protocols, the highest offered version and whether Encrypted
Client Hello hid the real name. The same parser serves TLS over TCP (records) and QUIC
(CRYPTO frames carry the bare handshake message).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from phonehome.context import (
    DECRYPTED,
    INCOMPLETE,
    KEYS_MISSING,
    UNSUPPORTED,
    WRONG_KEY,
    Context,
)
from phonehome.decrypt.wire import TlsError as TlsError
from phonehome.decrypt.wire import is_grease as is_grease
from phonehome.decrypt.wire import version_name as version_name
from phonehome.extract.engine import Budget
from phonehome.extract.names import labels
from phonehome.model.field import Field
from phonehome.model.message import Content, Decryption, Message, TlsClientHello
from phonehome.protocols.base import Parsed, Protocol, Session, TcpApp, TcpHost

if TYPE_CHECKING:
    from phonehome.decrypt.tls import Piece, TlsDecryptor

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
SERVER_HOLD_LIMIT: Final = 64 << 10
"""Server bytes held while the client's hello is not complete yet (when decrypting)."""

# TlsApp states
_HELLO: Final = 0  # reading the client's ClientHello
_DECRYPT: Final = 1  # the key log has (or may get) this connection's secrets
_OVER: Final = 2  # nothing more to read

# TlsDecryptor.status -> coverage verdict
_VERDICT: Final = {
    "decrypted": DECRYPTED,
    "keys_missing": KEYS_MISSING,
    "wrong_key": WRONG_KEY,
    "unsupported": UNSUPPORTED,
}


def client_random(stream: bytes | bytearray) -> bytes | None:
    """The 32-byte random of the ClientHello a client stream starts with, when its first
    record holds it (always, but for a hello cut into tiny records)."""
    if len(stream) < 43 or stream[0] != CONTENT_HANDSHAKE or stream[5] != HANDSHAKE_CLIENT_HELLO:
        return None
    if int.from_bytes(stream[3:5], "big") < 38:
        return None
    return bytes(stream[11:43])


class TlsApp(TcpApp):
    """A TLS connection: the client's ClientHello is read; past it everything is
    encrypted, so the flow is done (the flow table then skips it cheaply) — unless the
    run's key log has the connection's secrets. Then both directions are decrypted
    (:class:`phonehome.decrypt.tls.TlsDecryptor`) and the plaintext goes to a session of
    its own, which recognises its protocol by content as for any TCP connection (HTTP/2
    by its preface, as ALPN ``h2`` says; HTTP/1.x; MQTT ...); what it parses is marked
    with the connection's :class:`Decryption`. Each connection's verdict goes to
    ``ctx.coverage``."""

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._buf = bytearray()
        self._tail = b""
        """Client bytes past the hello buffer's limit (the decryptor needs them all)."""
        self._start = (0.0, 0)
        self._state = _HELLO
        self._client_started = False
        self._held: list[tuple[bytes, float, int]] = []
        self._held_size = 0
        self._held_gap = 0
        self._tls: TlsDecryptor | None = None
        self._inner: Session | None = None
        self._layer: Decryption | None = None
        self._server_name = ""
        self._counted = False

    def start(self, from_client: bool, out: list[Parsed]) -> None:
        if from_client:
            self._client_started = True
            self._buf.clear()
        elif not self._client_started:
            self.host.skip(False)  # a server speaking TLS first: nothing to read

    def follows(self, from_client: bool) -> bool:
        # The server's answer is encrypted past its hello: followed only when it can be
        # decrypted (held until the client's hello says whether it can).
        return self._state != _OVER and _has_keys(self.host.ctx)

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        state = self._state
        if state == _DECRYPT:
            tls = self._tls
            assert tls is not None
            self._plain(tls.data(from_client, data, time, frame), out)
            return
        if state == _OVER:
            return
        if not from_client:
            if self._held_size + len(data) <= SERVER_HOLD_LIMIT and not self._held_gap:
                self._held.append((data, time, frame))
                self._held_size += len(data)
            return
        host = self.host
        buf = self._buf
        if not buf:
            self._start = (time, frame)
        room = max(0, TLS_HELLO_LIMIT - len(buf))
        buf += data[:room]
        if len(data) > room:
            self._tail += data[room:]
        try:
            hello = parse_client_hello_records(bytes(buf))
        except TlsError as e:
            host.ctx.anomalies.add("tls.bad_client_hello", host.input, frame, str(e))
            self._end()
            return
        if hello is not None:
            out.append(Parsed(True, self._start[0], self._start[1], hello))
            self._server_name = hello.sni or host.server
            self._after_hello(out)
        elif len(buf) >= TLS_HELLO_LIMIT:
            host.ctx.anomalies.add(
                "tls.incomplete_client_hello", host.input, frame, f"over {TLS_HELLO_LIMIT} bytes"
            )
            self._end()

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        host = self.host
        state = self._state
        if state == _DECRYPT:
            tls = self._tls
            assert tls is not None
            tls.gap(from_client, size)
            self._problems(tls)
            inner = self._inner
            if inner is not None:
                inner.gap(from_client, size)
            if tls.done:
                host.done = True
        elif state == _HELLO:
            if from_client:
                host.ctx.anomalies.add("tls.incomplete_client_hello", host.input, None, "gap")
                self._state = _OVER
                host.done = True
            else:
                self._held_gap = size  # the decryptor is told at its start

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        host = self.host
        if self._state == _HELLO:
            if from_client and self._buf:
                host.ctx.anomalies.add(
                    "tls.incomplete_client_hello", host.input, None, "flow ended"
                )
                self._buf.clear()
            return
        tls = self._tls
        if tls is None or self._counted:
            return
        self._plain(tls.close(), out)
        inner = self._inner
        if inner is not None:
            self._inner = None
            self._mark(inner.close(), out)
        self._count(_VERDICT.get(tls.status, INCOMPLETE))

    # -- decryption -------------------------------------------------------------------

    def _after_hello(self, out: list[Parsed]) -> None:
        """The hello is read: decrypt if the key log has (or may still get) the keys."""
        ctx = self.host.ctx
        keylog = ctx.keylog
        if not _has_keys(ctx) or keylog is None:
            self._count(KEYS_MISSING)
            self._end()
            return
        random = client_random(self._buf)
        if random is not None and ctx.keylog_final and keylog.lookup(random) is None:
            self._count(KEYS_MISSING)
            self._end()
            return
        from phonehome.decrypt.tls import TlsDecryptor

        tls = self._tls = TlsDecryptor(keylog)
        self._state = _DECRYPT
        time, frame = self._start
        client = bytes(self._buf) + self._tail
        self._buf = bytearray()
        self._tail = b""
        self._plain(tls.data(True, client, time, frame), out)
        held, self._held = self._held, []
        self._held_size = 0
        for data, t, f in held:
            self._plain(tls.data(False, data, t, f), out)
        if self._held_gap:
            tls.gap(False, self._held_gap)
            self._problems(tls)
        if tls.done:
            self.host.done = True

    def _plain(self, pieces: list[Piece], out: list[Parsed]) -> None:
        """Decrypted application data to the plaintext session."""
        tls = self._tls
        assert tls is not None
        self._problems(tls)
        if pieces:
            inner = self._inner
            if inner is None:
                inner = self._inner = self.host.nested(tls.alpn)
            for piece in pieces:
                self._mark(inner.data(piece.from_client, piece.data, piece.time, piece.frame), out)
            if inner.done:
                self.host.done = True  # nothing more the plaintext session wants
        if tls.done:
            self.host.done = True

    def _mark(self, parsed: list[Parsed], out: list[Parsed]) -> None:
        if not parsed:
            return
        layer = self._layer
        if layer is None:
            tls = self._tls
            assert tls is not None
            layer = self._layer = Decryption(
                "tls", tls.version, tls.suite, tls.key_source or "file", tls.alpn
            )
        for p in parsed:
            if p.layer is None:
                p.layer = layer
            out.append(p)

    def _problems(self, tls: TlsDecryptor) -> None:
        host = self.host
        for kind, frame, detail in tls.take_problems():
            host.ctx.anomalies.add(kind, host.input, frame, detail)

    def _count(self, verdict: str) -> None:
        if not self._counted:
            self._counted = True
            self.host.ctx.coverage.add("tls", verdict, self._server_name or self.host.server)

    def _end(self) -> None:
        """Past the ClientHello everything is encrypted: stop the flow's delivery."""
        self._state = _OVER
        self._buf.clear()
        self._tail = b""
        self._held = []
        self.host.skip(True)
        self.host.skip(False)
        self.host.done = True


def _has_keys(ctx: Context) -> bool:
    """The run has a key log with at least one connection's secrets in it."""
    keylog = ctx.keylog
    return keylog is not None and len(keylog) > 0


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
