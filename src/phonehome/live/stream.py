"""A live byte stream the file readers can read as if it were a file.

The pcap and pcapng readers (:mod:`phonehome.ingest.pcap`, ``.pcapng``) pull bytes with
``stream.read(n)`` and parse every complete record in what they got before asking again.
A file object from ``open()`` or a ``BufferedReader`` would block in ``read(n)`` until
``n`` bytes (256 KiB) arrived — minutes on a quiet phone — so a live source hands the
readers a :class:`LiveStream` instead: ``read`` returns whatever has arrived (at least one
byte), and blocks only while nothing has.

While it waits, and at least every ``tick_every`` seconds while data flows, it calls the
watch's ``tick`` (status line, periodic store save). That runs between two reads of the
reader, when every message of the bytes read so far has been handled: the watch's state
is consistent there, and no second thread is needed.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

Fill = Callable[[float], bytes | None]
"""``fill(timeout)``: the next bytes of the source; ``b""`` when none arrived within
``timeout`` seconds; None at the end of the stream (connection closed, stop requested)."""

TICK_EVERY_S = 0.25
PEEK_ENOUGH = 32
"""Bytes enough to tell pcap (4-byte magic) from pcapng (12-byte block start)."""


class LiveStream(io.RawIOBase):
    """Reads from ``fill`` with short reads; see the module docstring."""

    def __init__(
        self,
        fill: Fill,
        tick: Callable[[], None] | None = None,
        *,
        tick_every: float = TICK_EVERY_S,
    ) -> None:
        super().__init__()
        self._fill = fill
        self._tick = tick
        self._tick_every = tick_every
        self._next_tick = time.monotonic() + tick_every
        self._buf = bytearray()
        self._eof = False
        self.received = 0
        """Bytes taken from the source so far."""

    def readable(self) -> bool:
        return True

    def _maybe_tick(self, now: float) -> None:
        if self._tick is not None and now >= self._next_tick:
            self._next_tick = now + self._tick_every
            self._tick()

    def _more(self) -> bool:
        """Wait for the next bytes of the source; False at its end."""
        while not self._eof:
            self._maybe_tick(time.monotonic())
            data = self._fill(self._tick_every)
            if data is None:
                self._eof = True
                return False
            if data:
                self._buf += data
                self.received += len(data)
                return True
        return False

    def read(self, size: int | None = -1) -> bytes:
        """What has arrived, up to ``size`` bytes (all of it for -1): never a buffer of
        ``size`` bytes made up front (the readers ask for 256 KiB at a time)."""
        if not self._buf:
            if not self._more():
                return b""
        else:
            self._maybe_tick(time.monotonic())
        n = len(self._buf) if size is None or size < 0 else min(size, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def readinto(self, b: Any) -> int:
        if not self._buf:
            if not self._more():
                return 0
        else:
            self._maybe_tick(time.monotonic())
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        del self._buf[:n]
        return n

    def peek(self, size: int) -> bytes:
        """Up to ``size`` bytes without consuming them, for sniffing the format: as soon
        as :data:`PEEK_ENOUGH` have arrived (a file header's worth), since on a quiet
        link ``size`` bytes may take minutes; fewer only when the stream ends first."""
        while len(self._buf) < min(size, PEEK_ENOUGH) and self._more():
            pass
        return bytes(self._buf[:size])
