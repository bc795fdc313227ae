"""Build ClientHello messages shaped like a current Chrome/Android one.

Used by the simulator and by tests. The extension list and order follow what browsers
send (GREASE first and last, key share, supported_versions ...) so dissectors such as
tshark read the result as they would a real hello. The random, session id and key share
are derived from the inputs, so the same call always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import struct

from phonehome.protocols.tls import HANDSHAKE_CLIENT_HELLO

_GREASE_SUITE = 0x0A0A
_GREASE_EXT_FIRST = 0x2A2A
_GREASE_EXT_LAST = 0x4A4A
_GREASE_GROUP = 0x6A6A
_GREASE_VERSION = 0x7A7A
_TLS13_SUITES = (0x1301, 0x1302, 0x1303)
_TLS12_SUITES = (
    0xC02B,
    0xC02F,
    0xC02C,
    0xC030,
    0xCCA9,
    0xCCA8,
    0xC013,
    0xC014,
    0x009C,
    0x009D,
    0x002F,
    0x0035,
)
_GROUPS = (0x001D, 0x0017, 0x0018)  # x25519, secp256r1, secp384r1
_SIGNATURE_ALGORITHMS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def _u8(value: int) -> bytes:
    return struct.pack("!B", value)


def _u16(value: int) -> bytes:
    return struct.pack("!H", value)


def _vec8(data: bytes) -> bytes:
    return _u8(len(data)) + data


def _vec16(data: bytes) -> bytes:
    return _u16(len(data)) + data


def _ext(ext_type: int, data: bytes) -> bytes:
    return _u16(ext_type) + _vec16(data)


def _pseudo_random(seed: bytes, label: bytes, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + label + _u8(counter)).digest()
        counter += 1
    return out[:size]


def client_hello(
    sni: str | None,
    alpn: tuple[str, ...] = ("h2", "http/1.1"),
    *,
    tls13: bool = True,
    ech: bool = False,
    grease: bool = True,
    padding_to: int = 0,
) -> bytes:
    """A ClientHello handshake message (handshake header included).

    With ``ech`` the hello carries an outer encrypted_client_hello extension and ``sni``
    plays the public (outer) name. ``padding_to`` adds a padding extension (RFC 7685) so
    the message is at least that long, as browsers do to dodge buggy middleboxes.
    """
    seed = f"{sni}|{','.join(alpn)}|{tls13}|{ech}|{grease}".encode()
    suites = (_TLS13_SUITES if tls13 else ()) + _TLS12_SUITES
    if grease:
        suites = (_GREASE_SUITE, *suites)
    groups = ((_GREASE_GROUP,) if grease else ()) + _GROUPS

    exts: list[bytes] = []
    if grease:
        exts.append(_ext(_GREASE_EXT_FIRST, b""))
    if sni is not None:
        name = sni.encode("utf-8")
        exts.append(_ext(0, _vec16(b"\x00" + _vec16(name))))
    exts.append(_ext(23, b""))  # extended_master_secret
    exts.append(_ext(0xFF01, b"\x00"))  # renegotiation_info
    exts.append(_ext(10, _vec16(b"".join(_u16(g) for g in groups))))  # supported_groups
    exts.append(_ext(11, _vec8(b"\x00")))  # ec_point_formats: uncompressed
    exts.append(_ext(35, b""))  # session_ticket
    if alpn:
        exts.append(_ext(16, _vec16(b"".join(_vec8(p.encode()) for p in alpn))))
    exts.append(_ext(5, b"\x01\x00\x00\x00\x00"))  # status_request: OCSP
    exts.append(_ext(13, _vec16(b"".join(_u16(a) for a in _SIGNATURE_ALGORITHMS))))
    exts.append(_ext(18, b""))  # signed_certificate_timestamp
    if tls13:
        shares = b""
        if grease:
            shares += _u16(_GREASE_GROUP) + _vec16(b"\x00")
        shares += _u16(0x001D) + _vec16(_pseudo_random(seed, b"key_share", 32))
        exts.append(_ext(51, _vec16(shares)))  # key_share
        exts.append(_ext(45, _vec8(b"\x01")))  # psk_key_exchange_modes: psk_dhe_ke
        versions = ((_GREASE_VERSION,) if grease else ()) + (0x0304, 0x0303)
        exts.append(_ext(43, _vec8(b"".join(_u16(v) for v in versions))))
    exts.append(_ext(27, _vec8(_u16(2))))  # compress_certificate: brotli
    if ech:
        # Outer ECH (draft-ietf-tls-esni): type outer, HPKE suite, config id, enc, payload.
        enc = _pseudo_random(seed, b"ech_enc", 32)
        payload = _pseudo_random(seed, b"ech_payload", 144)
        exts.append(
            _ext(0xFE0D, b"\x00" + _u16(1) + _u16(1) + b"\x7b" + _vec16(enc) + _vec16(payload))
        )
    if grease:
        exts.append(_ext(_GREASE_EXT_LAST, b"\x00"))

    def assemble(extensions: list[bytes]) -> bytes:
        body = (
            _u16(0x0303)
            + _pseudo_random(seed, b"random", 32)
            + _vec8(_pseudo_random(seed, b"session_id", 32))
            + _vec16(b"".join(_u16(s) for s in suites))
            + _vec8(b"\x00")
            + _vec16(b"".join(extensions))
        )
        return _u8(HANDSHAKE_CLIENT_HELLO) + len(body).to_bytes(3, "big") + body

    message = assemble(exts)
    if padding_to > len(message):
        missing = max(0, padding_to - len(message) - 4)
        message = assemble([*exts, _ext(21, bytes(missing))])
    return message


def tls_records(handshake: bytes, max_fragment: int = 16384) -> bytes:
    """Wrap handshake bytes in handshake records of at most ``max_fragment`` bytes.

    The record version is TLS 1.0 (0x0301), as clients send for their first flight.
    """
    if max_fragment < 1:
        raise ValueError("max_fragment must be positive")
    out = bytearray()
    for start in range(0, len(handshake), max_fragment):
        fragment = handshake[start : start + max_fragment]
        out += b"\x16\x03\x01" + _vec16(fragment)
    return bytes(out)
