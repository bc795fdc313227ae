"""Decoders that peel one layer off a value: URL, Base64, hex, gzip/zlib/deflate, JWT.

Each decoder is a cheap pre-check (a regex compiled once, a magic number) followed by the
decode and an acceptance test. The acceptance test is what keeps false positives down: a
hash or an ordinary word is valid Base64 or hex by alphabet, but it does not decode to
text, so it is left alone. Every decoder returns None instead of raising.
"""

from __future__ import annotations

import binascii
import json
import re
import zlib
from urllib.parse import unquote_to_bytes

from phonehome.extract import protobuf
from phonehome.extract.text import printable

MAX_INPUT = 1 << 20
"""Largest value a decoder is tried on (characters or bytes)."""
MAX_OUTPUT = 1 << 20
"""Largest output a decompressor may produce for one value."""
MIN_INFLATE_ALLOWANCE = 64 << 10
MAX_RATIO = 100
"""Output may be 100x the compressed input (at least 64 KiB): text compresses 5-20x, a
bomb compresses 1000x."""

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_B64_STD = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_B64_URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_URLSAFE_TO_STD = str.maketrans("-_", "+/")
_HEX = re.compile(r"[0-9a-fA-F]{12,}")
"""With an even length: pairs of hex digits, six at least. (The pairs written as a
repeated group, ``(?:[0-9a-fA-F]{2}){6,}``, cost ~30 ns a character in ``re``: 30 ms for
a 1 MB body of letters A-F; one character class is several times faster.)"""
_JWT = re.compile(r"(?:Bearer\s+)?(eyJ[A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)\.[A-Za-z0-9_-]*")

MIN_BASE64 = 8
SHORT_OUTPUT = 12
_WORDISH = re.compile(rb"[A-Za-z0-9 _.:@,+=/-]+")


def url(text: str) -> bytes | None:
    """Percent-decoding, only when a ``%xx`` escape is present (so a lone ``+`` survives)."""
    if "%" not in text or not _PERCENT.search(text):
        return None
    return unquote_to_bytes(text)


def _b64decode(body: str) -> bytes | None:
    body = body.rstrip("=")
    if len(body) % 4 == 1:
        return None
    try:
        return binascii.a2b_base64(body + "=" * (-len(body) % 4))
    except binascii.Error:
        return None


def base64(text: str) -> bytes | None:
    """Standard, URL-safe, unpadded or line-wrapped (Android ``Base64.DEFAULT``) Base64."""
    if len(text) < MIN_BASE64 or len(text) > MAX_INPUT:
        return None
    if "\n" in text or "\r" in text:
        text = text.replace("\r", "").replace("\n", "")
    if _B64_STD.fullmatch(text) is None:
        if _B64_URL.fullmatch(text) is None:
            return None
        text = text.translate(_URLSAFE_TO_STD)
    if len(text) < MIN_BASE64:
        return None
    out = _b64decode(text)
    if out is None:
        return None
    if len(out) < SHORT_OUTPUT:
        # 6-11 random bytes are all printable about once in 400 tries; all word characters
        # about once in 10,000
        return out if _WORDISH.fullmatch(out) else None
    if printable(out) or known_binary(out):
        return out
    return None


def hex_text(text: str) -> bytes | None:
    """Hex that decodes to text (or a compressed stream); a hash or a MAC stays as it is."""
    if len(text) > MAX_INPUT or len(text) % 2 or _HEX.fullmatch(text) is None:
        return None
    out = bytes.fromhex(text)
    if printable(out) or (compressed(out) is not None and known_binary(out)):
        return out
    return None


def compressed(data: bytes) -> str | None:
    """``gzip`` or ``zlib`` when the buffer starts with that format's header."""
    if len(data) < 3:
        return None
    if data[0] == 0x1F and data[1] == 0x8B and data[2] == 8:
        return "gzip"
    if data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0:
        return "zlib"
    return None


def known_binary(data: bytes) -> bool:
    """A binary Base64 payload worth keeping: compressed, or protobuf with readable strings."""
    fmt = compressed(data)
    if fmt is not None:
        return _inflates(data, fmt)
    parsed = protobuf.leaves(data)
    if parsed is not None and parsed[1] >= max(4, len(data) // 4):
        return True
    return raw_deflate(data) is not None


def _inflates(data: bytes, fmt: str) -> bool:
    """A two-byte zlib header passes by chance once in ~500 tries: check the stream starts well."""
    try:
        return bool(zlib.decompressobj(_WBITS[fmt]).decompress(data, 256))
    except zlib.error:
        return False


_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "zlib": zlib.MAX_WBITS, "deflate": -zlib.MAX_WBITS}


def inflate(data: bytes, fmt: str) -> tuple[bytes, bool] | None:
    """(output, cut) for ``gzip``, ``zlib`` or raw ``deflate``; None if the stream is bad.

    ``cut`` is True when the size or ratio bound stopped decompression: the prefix is
    still returned so what it contains is searched.
    """
    limit = min(MAX_OUTPUT, max(MIN_INFLATE_ALLOWANCE, MAX_RATIO * len(data)))
    inflater = zlib.decompressobj(_WBITS[fmt])
    try:
        out = inflater.decompress(data[:MAX_INPUT], limit)
    except zlib.error:
        return None
    if fmt == "deflate" and (not inflater.eof or inflater.unused_data):
        return None  # no magic number to go by: only a stream that is all of the input counts
    if not out:
        return None
    return out, bool(inflater.unconsumed_tail)


def raw_deflate(data: bytes) -> bytes | None:
    """Raw deflate (no header), accepted only if it ends cleanly and gives text."""
    result = inflate(data, "deflate")
    if result is None or len(result[0]) < MIN_BASE64 or not printable(result[0][:4096]):
        return None
    return result[0]


def jwt(text: str) -> list[tuple[str, bytes]] | None:
    """Header and payload of a JSON Web Token (JWS compact form), if the header names ``alg``."""
    if len(text) > MAX_INPUT or text.count(".") != 2:
        return None
    m = _JWT.fullmatch(text)
    if m is None:
        return None
    head = _b64decode(m.group(1).translate(_URLSAFE_TO_STD))
    if head is None or b'"alg"' not in head:
        return None
    try:
        header = json.loads(head)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or "alg" not in header:
        return None
    parts = [("header", head)]
    payload = _b64decode(m.group(2).translate(_URLSAFE_TO_STD))
    if payload:
        parts.append(("payload", payload))
    return parts
