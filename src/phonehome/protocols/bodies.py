"""Removing HTTP Content-Encoding / Transfer-Encoding codings from a body, within bounds.

A capture is hostile input: a few kilobytes of gzip or brotli can expand to gigabytes.
Every layer is therefore decompressed as a stream that stops at an output bound (absolute
size and ratio to the layer's input), never with a one-shot ``decompress``.

Servers and malware also lie in headers (``Content-Encoding: gzip`` on a plain JSON body is
common). A layer that does not decode keeps the body as it was and is not reported as
removed, so the caller can tell a decoded body from a mislabelled one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import brotli

SUPPORTED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "identity"})
"""Coding names :func:`decode_body` understands (lower case)."""

_GZIP_MAGIC = b"\x1f\x8b"
_BROTLI_IN = 64 * 1024
_BROTLI_OUT = 1024 * 1024
"""With brotli >= 1.2: input fed per call, and output taken per call."""
_BROTLI_SMALL_STEP = 16
"""With brotli 1.1: input bytes fed per call (see _brotli_run)."""
_BROTLI_HAS_LIMIT = hasattr(brotli.Decompressor(), "can_accept_more_data")
"""brotli >= 1.2 (mitmproxy 11 pins brotli <= 1.1, so both are met in practice)."""


class _DecodeError(Exception):
    """This layer is not what the header says (or is corrupt)."""


def split_codings(values: Iterable[str]) -> list[str]:
    """Header values (possibly several, each comma-separated) as lower-case coding names."""
    out: list[str] = []
    for value in values:
        for token in value.split(","):
            token = token.strip().lower()
            if token:
                out.append(token)
    return out


def decode_body(
    data: bytes,
    encodings: list[str],
    *,
    max_size: int = 8 << 20,
    max_ratio: int = 200,
    partial: bool = False,
) -> tuple[bytes, tuple[str, ...], bool]:
    """Undo ``encodings`` (in the order they were applied, as listed in the header).

    Returns ``(body, removed, truncated)``: ``removed`` lists the codings actually undone,
    outermost (last applied) first; ``truncated`` is True when an output bound cut the body
    or an unfinished stream was accepted. ``partial`` says the input itself is known to be
    cut short (capture gap, body bound), so an unfinished compressed stream is accepted
    instead of being taken as proof that the header lied. Decoding stops at the first
    coding that is unknown or does not decode; the body is then what the layers above it
    gave.
    """
    body = data
    removed: list[str] = []
    truncated = False
    for coding in reversed(split_codings(encodings)):
        if coding == "identity":
            continue
        if coding not in SUPPORTED_ENCODINGS or not body:
            break
        limit = max(1, min(max_size, len(body) * max_ratio))
        try:
            body, cut = _decode_layer(coding, body, limit, partial or truncated)
        except _DecodeError:
            break
        removed.append(coding)
        truncated = truncated or cut
    return body, tuple(removed), truncated


def _decode_layer(coding: str, data: bytes, limit: int, partial: bool) -> tuple[bytes, bool]:
    if coding in ("gzip", "x-gzip"):
        return _gunzip(data, limit, partial)
    if coding == "deflate":
        return _inflate(data, limit, partial)
    return _unbrotli(data, limit, partial)


def _zlib_stream(data: bytes, wbits: int, limit: int, partial: bool) -> tuple[bytes, bool, bytes]:
    """One zlib/gzip/raw-deflate stream: (output, cut by limit, bytes after the stream)."""
    d = zlib.decompressobj(wbits)
    out = bytearray()
    tail = data
    try:
        while True:
            chunk = d.decompress(tail, limit - len(out) + 1)
            out += chunk
            if len(out) > limit:
                del out[limit:]
                return bytes(out), True, b""
            if d.eof:
                return bytes(out), False, d.unused_data
            tail = d.unconsumed_tail
            if not tail and not chunk:
                break
    except zlib.error as e:
        raise _DecodeError(str(e)) from None
    if partial and out:
        return bytes(out), True, b""
    raise _DecodeError("unfinished stream")


def _gunzip(data: bytes, limit: int, partial: bool) -> tuple[bytes, bool]:
    if not data.startswith(_GZIP_MAGIC):
        raise _DecodeError("no gzip magic")
    out = b""
    rest = data
    # Concatenated gzip members are one body (RFC 1952 section 2.2).
    while rest.startswith(_GZIP_MAGIC):
        chunk, cut, rest = _zlib_stream(rest, 16 + zlib.MAX_WBITS, limit - len(out), partial)
        out += chunk
        if cut:
            return out, True
        if len(out) >= limit and rest:
            return out, True
    return out, False


def _inflate(data: bytes, limit: int, partial: bool) -> tuple[bytes, bool]:
    # RFC 9110 says "deflate" is zlib-wrapped; many servers send raw deflate instead.
    wrapped = len(data) >= 2 and (data[0] & 0x0F) == 8 and int.from_bytes(data[:2], "big") % 31 == 0
    wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS
    out, cut, _ = _zlib_stream(data, wbits, limit, partial)
    return out, cut


def _unbrotli(data: bytes, limit: int, partial: bool) -> tuple[bytes, bool]:
    step = _BROTLI_IN if _BROTLI_HAS_LIMIT else _BROTLI_SMALL_STEP
    try:
        out, done = _brotli_run(data, limit, _pieces(len(data), step))
    except _BrotliFailed as failed:
        # Bytes after the end of the stream fail the piece that holds both; the old
        # byte-at-a-time reading stopped at the end and ignored them. Decode again with
        # single bytes over that piece: a real error fails again.
        exact = range(failed.start, failed.start + step)
        try:
            out, done = _brotli_run(data, limit, _pieces(len(data), step, exact))
        except _BrotliFailed as again:
            raise _DecodeError(again.reason) from None
    if len(out) > limit:
        return bytes(out[:limit]), True
    if done:
        return bytes(out), False
    if partial and out:
        return bytes(out), True
    raise _DecodeError("unfinished stream")


class _BrotliFailed(Exception):
    def __init__(self, start: int, reason: str) -> None:
        super().__init__(reason)
        self.start, self.reason = start, reason


def _pieces(size: int, step: int, exact: range = range(0)) -> Iterator[tuple[int, int]]:
    """(start, end) of the input pieces to feed: ``step`` bytes, single bytes in ``exact``."""
    pos = 0
    while pos < size:
        if pos in exact:
            end = pos + 1
        else:
            end = min(pos + step, size)
            if pos < exact.start < end:
                end = exact.start
        yield pos, end
        pos = end


def _brotli_run(
    data: bytes, limit: int, pieces: Iterator[tuple[int, int]]
) -> tuple[bytearray, bool]:
    """Decode until the stream ends or the output passes ``limit``.

    brotli >= 1.2 stops each call at an output limit and is drained with empty input, so
    the output never runs more than one step past ``limit``. brotli 1.1 has no such limit:
    its input goes in _BROTLI_SMALL_STEP bytes at a time. A meta-block (at most 16 MiB of
    output) takes a dozen bytes or more, so one step completes at most a few: the output
    can overshoot by tens of MiB at worst (16 MiB measured on an encoder-made bomb), and a
    7 MB incompressible body takes 0.18 s instead of 3.0 s byte by byte.
    """
    d = brotli.Decompressor()
    out = bytearray()
    view = memoryview(data)
    start = 0
    try:
        for start, end in pieces:
            if _BROTLI_HAS_LIMIT:
                out += d.process(view[start:end], output_buffer_limit=_BROTLI_OUT)
                while not d.can_accept_more_data() and len(out) <= limit:
                    got = d.process(b"", output_buffer_limit=_BROTLI_OUT)
                    if not got:
                        raise _BrotliFailed(start, "decoder makes no progress")
                    out += got
            else:
                out += d.process(data[start:end])
            if len(out) > limit or d.is_finished():
                break
    except brotli.error as e:
        raise _BrotliFailed(start, str(e)) from None
    return out, d.is_finished()
