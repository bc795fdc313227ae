"""Capture ingestion: one module per input format plus the registry below.

The format is sniffed from the first bytes (after transparent gzip decompression), never
from the file name. A format yields either link-layer :class:`~phonehome.model.Frame`
objects (pcap, pcapng) or ready :class:`~phonehome.model.Message` objects (HAR,
mitmproxy flows, which are already decrypted HTTP).

Adding a format is one module with ``sniff``/``read`` functions and one line in
``FORMATS``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.model import Frame, Message

if TYPE_CHECKING:
    from phonehome.net.contracts import ReaderFilter

SNIFF_BYTES = 4096

LinktypeFilter = Callable[[int], "ReaderFilter | None"]
"""``linktype -> filter``: what a frame reader asks the flow table for each interface
(see ``FlowTable.done_filter``); frame readers take it as an optional fifth argument."""


@dataclass(frozen=True)
class InputFormat:
    name: str
    kind: Literal["frames", "messages"]
    sniff: Callable[[bytes], bool]
    read: Callable[..., Iterator[Frame] | Iterator[Message]]
    """``read(stream, input, ctx, path)``; frame readers also take a LinktypeFilter."""


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


def sniff_format(head: bytes) -> InputFormat | None:
    """The format whose signature ``head`` (the first bytes, gzip already undone) starts
    with, or None. For callers that pick captures out of a directory without opening
    each one as a capture (``corpus scan``)."""
    for fmt in _formats():
        if fmt.sniff(head):
            return fmt
    return None


@dataclass
class Capture:
    """An opened input: its format and a stream positioned at its first byte."""

    path: str
    index: int
    format: InputFormat
    stream: BinaryIO
    hasher: _HashingReader
    gz: _SafeGzip | None = None

    @property
    def compressed(self) -> bool:
        return self.gz is not None

    @property
    def damage(self) -> str | None:
        """Why reading stopped early at the container level (damaged gzip), if it did."""
        return self.gz.damage if self.gz is not None else None

    @property
    def damage_kind(self) -> str:
        """The anomaly kind of :attr:`damage`: ``gzip.damaged`` or ``gzip.limit``."""
        return self.gz.damage_kind if self.gz is not None else "gzip.damaged"

    @property
    def sha256(self) -> str:
        """SHA-256 of the file as stored (compressed bytes for .gz); complete after close;
        empty when the capture was opened without hashing."""
        return self.hasher.sha256.hexdigest() if self.hasher.enabled else ""

    @property
    def size(self) -> int:
        return self.hasher.size

    def frames(self, ctx: Context, filter_for: LinktypeFilter | None = None) -> Iterator[Frame]:
        assert self.format.kind == "frames"
        return self.format.read(  # type: ignore[return-value]
            self.stream, self.index, ctx, self.path, filter_for
        )

    def messages(self, ctx: Context) -> Iterator[Message]:
        assert self.format.kind == "messages"
        return self.format.read(self.stream, self.index, ctx, self.path)  # type: ignore[return-value]

    def close(self) -> None:
        if not self.hasher.closed:
            with contextlib.suppress(OSError):
                self.hasher.drain()
        self.stream.close()
        self.hasher.close()


class _HashingReader(io.RawIOBase):
    """Hashes every byte as it is read, so an input's SHA-256 costs no second pass
    (and works for standard input, which cannot be read twice)."""

    def __init__(self, raw: BinaryIO, enabled: bool = True) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.enabled = enabled
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if not self.enabled:
            # Nothing to hash: read straight into the caller's buffer, no copy.
            n = self._raw.readinto(b)  # type: ignore[attr-defined]
            self.size += n or 0
            return n or 0
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        if self.enabled:
            self.sha256.update(data)
        self.size += n
        return n

    def drain(self) -> None:
        """Hash what the parser left unread so the digest covers the whole file."""
        if not self.enabled:
            return
        while True:
            data = self._raw.read(1 << 20)
            if not data:
                return
            self.sha256.update(data)
            self.size += len(data)

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()
        super().close()


MAX_INFLATE_RATIO = 200
"""Inflated bytes per compressed byte read beyond :data:`INFLATE_ALLOWANCE`: captures and
HAR compress 3-20x; 2 GiB of zeros compress 1000x."""
INFLATE_ALLOWANCE = 64 << 20
"""Any ``.gz`` may inflate this far whatever its ratio (a small file of repetitive
traffic is not a bomb)."""
MAX_INFLATED = 16 << 30
"""Inflated bytes read from one ``.gz`` input at most, whatever its ratio (16 GiB):
beyond that, decompress the file and pass it as it is (uncompressed inputs have no
limit: they cost their own size)."""


class _SafeGzip(io.RawIOBase):
    """Gzip decompression that turns damage (truncation, bad CRC, garbage) into end of
    data plus a flag, so a damaged ``.gz`` behaves like a truncated capture: what was
    readable is processed and the damage is counted, never a traceback.

    The inflated size is bounded by ratio to the compressed bytes read
    (:data:`MAX_INFLATE_RATIO`, past :data:`INFLATE_ALLOWANCE`) and in total
    (:data:`MAX_INFLATED`): a 2 MB file of 2 GiB zeros stops at 64 MiB, as end of data
    with ``damage_kind`` ``gzip.limit``, instead of being read for minutes.
    """

    def __init__(self, compressed: BinaryIO, consumed: Callable[[], int] | None = None) -> None:
        self._gz = gzip.GzipFile(fileobj=compressed, mode="rb")
        self._consumed = consumed
        self.inflated = 0
        self.damage: str | None = None
        self.damage_kind = "gzip.damaged"

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.damage is not None:
            return 0
        try:
            data = self._gz.read(len(b))
        except (OSError, EOFError, zlib.error) as e:
            self.damage = str(e) or type(e).__name__
            return 0
        n = len(data)
        self.inflated += n
        if self.inflated > INFLATE_ALLOWANCE and self._over_limit():
            return 0
        b[:n] = data
        return n

    def _over_limit(self) -> bool:
        read = self._consumed() if self._consumed is not None else 0
        if self.inflated > MAX_INFLATED:
            why = f"more than {MAX_INFLATED >> 30} GiB inflated"
        elif self.inflated > MAX_INFLATE_RATIO * read:
            why = (
                f"{self.inflated >> 20} MiB inflated from {read >> 10} KiB, "
                f"over {MAX_INFLATE_RATIO}x"
            )
        else:
            return False
        self.damage_kind = "gzip.limit"
        self.damage = (
            f"{why}: stopped reading (a decompression bomb?); decompress the file "
            "yourself to read past this"
        )
        return True


def _peekable(raw: BinaryIO) -> io.BufferedReader:
    if isinstance(raw, io.BufferedReader):
        return raw
    return io.BufferedReader(raw, buffer_size=1 << 20)  # type: ignore[arg-type]


def open_capture(path: str, index: int = 0, *, hash_input: bool = True) -> Capture:
    """Open ``path`` (``-`` = standard input), undo gzip, sniff the format.

    With ``hash_input`` the file's SHA-256 is computed as it is read (``Capture.sha256``);
    without it the hasher only counts bytes.

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
    hasher = _HashingReader(raw, hash_input)
    stream = _peekable(hasher)  # type: ignore[arg-type]
    try:
        head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    gz: _SafeGzip | None = None
    if head[:2] == b"\x1f\x8b":
        gz = _SafeGzip(stream, lambda: hasher.size)
        stream = _peekable(gz)  # type: ignore[arg-type]
        head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        if gz.damage is not None and not head:
            hasher.close()
            raise InputError(path, f"damaged gzip data ({gz.damage})")
        if head[:2] == b"\x1f\x8b":
            hasher.close()
            raise InputError(
                path, "gzip inside gzip is not undone: decompress the outer layer first"
            )
    if not head:
        hasher.close()
        raise InputError(path, "empty file")
    fmt = sniff_format(head)
    if fmt is not None:
        return Capture(path, index, fmt, stream, hasher, gz)
    hasher.close()
    raise InputError(
        path, "not a recognised capture (expected pcap, pcapng, HAR or mitmproxy flows)"
    )


def open_live_stream(raw: BinaryIO, path: str, index: int = 0) -> Capture:
    """A capture over a live pcap/pcapng byte stream (``phonehome watch``).

    ``raw`` must answer ``read(n)`` with what has arrived (short reads, as a socket does)
    and offer ``peek(n)`` for sniffing; it is used as is, never wrapped in a buffered
    reader, whose ``read(n)`` would wait for ``n`` bytes. Not hashed: a live stream has
    no file to check a hash against. Raises :class:`InputError` when the stream ends
    before its first bytes or does not start as a pcap or pcapng capture.
    """
    head = raw.peek(SNIFF_BYTES)[:SNIFF_BYTES]  # type: ignore[attr-defined]
    if not head:
        raise InputError(path, "the stream ended before any data")
    fmt = sniff_format(head)
    if fmt is None or fmt.kind != "frames":
        raise InputError(path, "not a pcap or pcapng stream")
    return Capture(path, index, fmt, raw, _HashingReader(raw, enabled=False))


def secrets_ahead(cap: Capture) -> Iterator[tuple[bytes, int]] | None:
    """The key logs of a pcapng input's Decryption Secrets Blocks, read in a pass of their
    own before its packets (with the number of packets before each); None when the input
    cannot be read twice (standard input) or has no DSBs by format. The file is opened
    again, so the main pass and its SHA-256 are untouched."""
    if cap.format.name != "pcapng" or cap.path == "-":
        return None
    return _secrets_ahead(cap.path, cap.compressed)


def _secrets_ahead(path: str, compressed: bool) -> Iterator[tuple[bytes, int]]:
    from phonehome.ingest.pcapng import secrets_in

    try:
        with open(path, "rb") as raw:
            if compressed:
                with _peekable(_SafeGzip(raw)) as stream:  # type: ignore[arg-type]
                    yield from secrets_in(stream)
            else:
                yield from secrets_in(raw)
    except OSError:
        return  # the main pass reports an unreadable input
