"""Key derivations: the TLS 1.2 PRF (RFC 5246 5) and TLS 1.3 HKDF-Expand-Label (RFC 8446 7.1).

Both are a handful of HMACs per connection, written with :func:`hmac.digest` (one C call
each) rather than cryptography's HKDF objects, for the reason ``protocols/quic.py`` gives;
``tests/test_decrypt_schedule.py`` holds them to RFC 8448's example handshake, a published
PRF vector and cryptography's own HKDFExpand.
"""

from __future__ import annotations

import hmac
from typing import Final

HASH_LEN: Final = {"sha256": 32, "sha384": 48}


def hkdf_expand(prk: bytes, info: bytes, length: int, hash_name: str) -> bytes:
    """HKDF-Expand (RFC 5869 2.3)."""
    size = HASH_LEN[hash_name]
    if length > 255 * size:
        raise ValueError("HKDF-Expand: length over 255 blocks")
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), hash_name)
        out += block
        counter += 1
    return out[:length]


def hkdf_expand_label(
    secret: bytes, label: bytes, length: int, hash_name: str, context: bytes = b""
) -> bytes:
    """HKDF-Expand-Label (RFC 8446 7.1): the ``HkdfLabel`` structure as HKDF info."""
    full_label = b"tls13 " + label
    info = (
        length.to_bytes(2, "big")
        + bytes((len(full_label),))
        + full_label
        + bytes((len(context),))
        + context
    )
    return hkdf_expand(secret, info, length, hash_name)


def traffic_keys(
    secret: bytes, key_len: int, iv_len: int, hash_name: str, prefix: bytes = b""
) -> tuple[bytes, bytes]:
    """(key, iv) of a TLS 1.3 traffic secret (RFC 8446 7.3); ``prefix`` ``quic `` or
    ``quicv2 `` gives QUIC's packet protection keys (RFC 9001 5.1, RFC 9369 3.3.2)."""
    return (
        hkdf_expand_label(secret, prefix + b"key", key_len, hash_name),
        hkdf_expand_label(secret, prefix + b"iv", iv_len, hash_name),
    )


def next_traffic_secret(secret: bytes, hash_name: str, label: bytes = b"traffic upd") -> bytes:
    """The secret after a KeyUpdate (RFC 8446 7.2); QUIC's key update uses ``quic ku``
    (RFC 9001 6.1) or ``quicv2 ku`` (RFC 9369 3.3.2)."""
    return hkdf_expand_label(secret, label, HASH_LEN[hash_name], hash_name)


def prf12(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """The TLS 1.2 PRF: P_hash(secret, label + seed) (RFC 5246 5)."""
    full_seed = label + seed
    out = b""
    a = full_seed
    while len(out) < length:
        a = hmac.digest(secret, a, hash_name)
        out += hmac.digest(secret, a + full_seed, hash_name)
    return out[:length]


def key_block12(
    master_secret: bytes,
    server_random: bytes,
    client_random: bytes,
    mac_len: int,
    key_len: int,
    iv_len: int,
    hash_name: str,
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
    """TLS 1.2 key block (RFC 5246 6.3), cut into (client MAC key, server MAC key, client
    key, server key, client IV, server IV)."""
    size = 2 * (mac_len + key_len + iv_len)
    block = prf12(master_secret, b"key expansion", server_random + client_random, size, hash_name)
    parts: list[bytes] = []
    pos = 0
    for n in (mac_len, mac_len, key_len, key_len, iv_len, iv_len):
        parts.append(block[pos : pos + n])
        pos += n
    return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
