"""Bytes to searchable text, and the printability test that keeps decoders honest.

Detectors search text, so every byte has to become a character. UTF-8 is tried first
(most payloads are); anything else is read as latin-1 so one byte stays one character
and hex, Base64 and digit runs keep their shape.
"""

from __future__ import annotations

_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D)) + b"\x7f"

SNIFF_PREFIX = 512
"""How much of a buffer the binary sniff looks at: enough for any header, cheap for 1 MiB."""


def to_text(data: bytes) -> str:
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def printable(data: bytes) -> bool:
    """True for bytes a human would call text: the test a decoded value must pass.

    Random bytes are printable ASCII only ~37% of the time each, so requiring (almost)
    every byte to be text rejects chance decodes of hashes and ordinary words. Long
    outputs may carry a few stray control bytes (1 in 20) without being rejected.
    """
    if not data:
        return False
    if data.isascii():
        bad = len(data.translate(None, _PRINTABLE_ASCII))
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        bad = sum(1 for ch in text if not ch.isprintable() and ch not in "\t\r\n")
    if len(data) < 32:
        return bad == 0
    return bad * 20 <= len(data)


def looks_binary(data: bytes) -> bool:
    """Control bytes near the start: not text, so binary decoders get a try."""
    return len(data[:SNIFF_PREFIX].translate(None, _CONTROL_BYTES)) < min(len(data), SNIFF_PREFIX)
