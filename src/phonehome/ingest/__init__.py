"""Capture ingestion: one module per input format plus the registry below.

The format is sniffed from the first bytes (after transparent gzip decompression), never
from the file name. A format yields either link-layer :class:`~phonehome.model.Frame`
objects (pcap, pcapng) or ready :class:`~phonehome.model.Message` objects (HAR,
mitmproxy flows, which are already decrypted HTTP).

Adding a format is one module with ``sniff``/``read`` functions and one line in
``FORMATS``.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.model import Frame, Message

SNIFF_BYTES = 4096

FrameReader = Callable[[BinaryIO, int, Context, str], Iterator[Frame]]
MessageReader = Callable[[BinaryIO, int, Context, str], Iterator[Message]]


@dataclass(frozen=True)
class InputFormat:
    name: str
    kind: Literal["frames", "messages"]
    sniff: Callable[[bytes], bool]
    read: Callable[[BinaryIO, int, Context, str], Iterator[Frame] | Iterator[Message]]


def _formats() -> list[InputFormat]:
    # Imported lazily so that `phonehome --help` stays fast and an optional reader
    # (mitmproxy) does not cost anything unless used.
    from phonehome.ingest import har, mitm, pcap, pcapng

    return [
        InputFormat("pcap", "frames", pcap.sniff, pcap.read),
        InputFormat("pcapng", "frames", pcapng.sniff, pcapng.read),
        InputFormat("har", "messages", har.sniff, har.read),
        InputFormat("mitm", "messages", mitm.sniff, mitm.read),
    ]


@dataclass
class Capture:
    """An opened input: its format and a stream positioned at its first byte."""

    path: str
    index: int
    format: InputFormat
    stream: BinaryIO
    compressed: bool

    def frames(self, ctx: Context) -> Iterator[Frame]:
        assert self.format.kind == "frames"
        return self.format.read(self.stream, self.index, ctx, self.path)  # type: ignore[return-value]

    def messages(self, ctx: Context) -> Iterator[Message]:
        assert self.format.kind == "messages"
        return self.format.read(self.stream, self.index, ctx, self.path)  # type: ignore[return-value]

    def close(self) -> None:
        if self.stream is not sys.stdin.buffer:
            self.stream.close()


def _peekable(raw: BinaryIO) -> io.BufferedReader:
    if isinstance(raw, io.BufferedReader):
        return raw
    return io.BufferedReader(raw, buffer_size=1 << 20)  # type: ignore[type-var]


def open_capture(path: str, index: int = 0) -> Capture:
    """Open ``path`` (``-`` = standard input), undo gzip, sniff the format.

    Raises :class:`InputError` with a one-line reason when the file cannot be read or
    its content is not a known format.
    """
    try:
        if path == "-":
            raw: BinaryIO = sys.stdin.buffer
        else:
            raw = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by Capture.close
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a capture file") from None
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    stream = _peekable(raw)
    try:
        head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    compressed = False
    if head[:2] == b"\x1f\x8b":
        compressed = True
        stream = _peekable(gzip.GzipFile(fileobj=stream, mode="rb"))  # type: ignore[arg-type]
        try:
            head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise InputError(path, f"damaged gzip data ({e})") from None
    if not head:
        raise InputError(path, "empty file")
    for fmt in _formats():
        if fmt.sniff(head):
            return Capture(path, index, fmt, stream, compressed)
    raise InputError(
        path, "not a recognised capture (expected pcap, pcapng, HAR or mitmproxy flows)"
    )
