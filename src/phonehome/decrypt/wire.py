"""Wire facts of TLS and QUIC that the hello readers and the decryptors share.

The readers in :mod:`phonehome.protocols.tls` and :mod:`phonehome.protocols.quic` (the
ClientHello, the client Initial) and the decryptors in this package need the same few
things: the error a malformed handshake raises, the version names, GREASE, the QUIC
version table (salts and labels of RFC 9001 and RFC 9369) and packet types. They live
here so that imports go one way: ``protocols`` uses ``decrypt`` (when a key log is
given), ``decrypt`` never imports ``protocols`` (tests/test_imports.py: no cycle).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final

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


VERSION_1 = 0x00000001
VERSION_2 = 0x6B3343CF

# Packet types in version 1 numbering; version 2 sends other bits on the wire.
INITIAL = 0
ZERO_RTT = 1
HANDSHAKE = 2
RETRY = 3

MAX_CID = 20


@dataclass(frozen=True, slots=True)
class QuicVersion:
    number: int
    name: str
    """``v1`` or ``v2``, as in :class:`phonehome.model.message.QuicInitial`."""
    salt: bytes
    key_label: bytes
    iv_label: bytes
    hp_label: bytes
    initial_bits: int
    """The long header type bits (0..3) that mean Initial in this version."""

    def packet_type(self, first_byte: int) -> int:
        """The long header type bits in version 1 numbering (INITIAL, ZERO_RTT, ...)."""
        return ((first_byte >> 4) - self.initial_bits) & 0x03

    def type_bits(self, packet_type: int) -> int:
        return (packet_type + self.initial_bits) & 0x03


VERSIONS: dict[int, QuicVersion] = {
    VERSION_1: QuicVersion(
        VERSION_1,
        "v1",
        bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
        b"quic key",
        b"quic iv",
        b"quic hp",
        0b00,
    ),
    VERSION_2: QuicVersion(
        VERSION_2,
        "v2",
        bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
        b"quicv2 key",
        b"quicv2 iv",
        b"quicv2 hp",
        0b01,
    ),
}


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 2.2) with SHA-256: one HMAC."""
    return hmac.digest(salt, ikm, "sha256")
