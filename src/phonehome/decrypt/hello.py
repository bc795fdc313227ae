"""The handshake fields decryption needs (RFC 8446 4.1-4.3, RFC 5246 7.4.1).

``protocols/tls.py`` reads what a ClientHello says about the destination (SNI, offered
ALPN); this module reads what decides the keys: both randoms, the version and cipher suite
the server chose, encrypt-then-MAC, the ALPN the server picked (ServerHello in TLS 1.2,
EncryptedExtensions in TLS 1.3) and whether early data was offered or accepted. The same
functions serve TLS over TCP and QUIC (whose CRYPTO frames carry the bare messages).
Malformed input raises :class:`~phonehome.protocols.tls.TlsError`.
"""

from __future__ import annotations

import hashlib
from typing import Final

from phonehome.decrypt.wire import TlsError, is_grease

CLIENT_HELLO: Final = 1
SERVER_HELLO: Final = 2
NEW_SESSION_TICKET: Final = 4
END_OF_EARLY_DATA: Final = 5
ENCRYPTED_EXTENSIONS: Final = 8
FINISHED: Final = 20
KEY_UPDATE: Final = 24

EXT_ALPN: Final = 16
EXT_ENCRYPT_THEN_MAC: Final = 22
EXT_EXTENDED_MASTER_SECRET: Final = 23
EXT_EARLY_DATA: Final = 42
EXT_SUPPORTED_VERSIONS: Final = 43

HRR_RANDOM: Final = hashlib.sha256(b"HelloRetryRequest").digest()
"""The ServerHello random that marks a HelloRetryRequest (RFC 8446 4.1.3)."""


class ClientHelloKeys:
    __slots__ = ("alpn", "early_data", "random", "session_id")

    def __init__(
        self, random: bytes, session_id: bytes, alpn: tuple[str, ...], early_data: bool
    ) -> None:
        self.random = random
        self.session_id = session_id
        self.alpn = alpn
        self.early_data = early_data


class ServerHelloKeys:
    __slots__ = ("alpn", "ems", "etm", "random", "retry", "session_id", "suite", "version")

    def __init__(
        self,
        random: bytes,
        session_id: bytes,
        version: int,
        suite: int,
        alpn: str | None,
        etm: bool,
        ems: bool,
    ) -> None:
        self.random = random
        self.session_id = session_id
        self.version = version
        """The negotiated version: supported_versions when present, else legacy_version."""
        self.suite = suite
        self.alpn = alpn
        self.etm = etm
        self.ems = ems
        self.retry = random == HRR_RANDOM


class _Cursor:
    """Bounds-checked reads over one message body; an overrun is a TlsError."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int = -1) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end < 0 else end

    def take(self, n: int) -> bytes:
        stop = self.pos + n
        if stop > self.end:
            raise TlsError(f"field of {n} bytes runs past the end at {self.pos}")
        out = self.data[self.pos : stop]
        self.pos = stop
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vector(self, length_size: int) -> _Cursor:
        size = self.uint(length_size)
        start = self.pos
        self.take(size)
        return _Cursor(self.data, start, start + size)

    def left(self) -> int:
        return self.end - self.pos


def _extensions(body: _Cursor) -> list[tuple[int, _Cursor]]:
    if not body.left():
        return []
    block = body.vector(2)
    out: list[tuple[int, _Cursor]] = []
    while block.left():
        ext_type = block.uint(2)
        out.append((ext_type, block.vector(2)))
    return out


def _alpn_list(ext: _Cursor) -> tuple[str, ...]:
    names = ext.vector(2)
    found: list[str] = []
    while names.left():
        name = names.vector(1)
        found.append(name.take(name.left()).decode("latin-1"))
    return tuple(found)


def parse_client_hello(body: bytes) -> ClientHelloKeys:
    """A ClientHello's body (after the 4-byte handshake header)."""
    c = _Cursor(body)
    c.uint(2)  # legacy_version
    random = c.take(32)
    session = c.vector(1)
    session_id = session.take(session.left())
    c.vector(2)  # cipher_suites
    c.vector(1)  # compression methods
    alpn: tuple[str, ...] = ()
    early = False
    for ext_type, ext in _extensions(c):
        if ext_type == EXT_ALPN:
            alpn = _alpn_list(ext)
        elif ext_type == EXT_EARLY_DATA:
            early = True
    return ClientHelloKeys(random, session_id, alpn, early)


def parse_server_hello(body: bytes) -> ServerHelloKeys:
    """A ServerHello's (or HelloRetryRequest's) body."""
    c = _Cursor(body)
    version = c.uint(2)
    random = c.take(32)
    session = c.vector(1)
    session_id = session.take(session.left())
    suite = c.uint(2)
    c.uint(1)  # compression
    alpn: str | None = None
    etm = ems = False
    for ext_type, ext in _extensions(c):
        if ext_type == EXT_SUPPORTED_VERSIONS and ext.left() >= 2:
            chosen = ext.uint(2)
            if not is_grease(chosen):
                version = chosen
        elif ext_type == EXT_ALPN:
            names = _alpn_list(ext)
            alpn = names[0] if names else None
        elif ext_type == EXT_ENCRYPT_THEN_MAC:
            etm = True
        elif ext_type == EXT_EXTENDED_MASTER_SECRET:
            ems = True
    return ServerHelloKeys(random, session_id, version, suite, alpn, etm, ems)


def parse_encrypted_extensions(body: bytes) -> tuple[str | None, bool]:
    """(ALPN the server chose, early data accepted) from EncryptedExtensions (TLS 1.3)."""
    c = _Cursor(body)
    alpn: str | None = None
    early = False
    for ext_type, ext in _extensions(c):
        if ext_type == EXT_ALPN:
            names = _alpn_list(ext)
            alpn = names[0] if names else None
        elif ext_type == EXT_EARLY_DATA:
            early = True
    return alpn, early


MAX_MESSAGE: Final = 64 << 10
"""Largest handshake message kept whole; bigger ones (certificate chains) are skipped."""
KEEP: Final = frozenset(
    (CLIENT_HELLO, SERVER_HELLO, END_OF_EARLY_DATA, ENCRYPTED_EXTENSIONS, FINISHED, KEY_UPDATE)
)
"""Messages whose content matters here; the others are skipped without being held."""


class HandshakeReader:
    """Cuts one direction's handshake byte stream into messages (RFC 8446 4), holding only
    the messages in :data:`KEEP`: a 50 KB certificate chain is counted past, not stored."""

    __slots__ = ("_buf", "_skip")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The (type, body) of the messages the new bytes complete (skipped ones with an
        empty body). Raises TlsError for a kept message over :data:`MAX_MESSAGE`."""
        out: list[tuple[int, bytes]] = []
        pos = 0
        n = len(data)
        if self._skip:
            step = min(self._skip, n)
            self._skip -= step
            pos = step
        buf = self._buf
        while pos < n:
            buf += data[pos:]
            pos = n
            while len(buf) >= 4:
                value: int = int.from_bytes(buf[:4], "big")
                msg_type, length = value >> 24, value & 0xFFFFFF
                if msg_type not in KEEP:
                    out.append((msg_type, b""))
                    have = len(buf) - 4
                    if have >= length:
                        del buf[: 4 + length]
                        continue
                    self._skip = length - have
                    buf.clear()
                    break
                if length > MAX_MESSAGE:
                    buf.clear()
                    raise TlsError(f"handshake message type {msg_type} of {length} bytes")
                if len(buf) < 4 + length:
                    break
                out.append((msg_type, bytes(buf[4 : 4 + length])))
                del buf[: 4 + length]
        return out

    def clear(self) -> None:
        self._buf.clear()
        self._skip = 0
