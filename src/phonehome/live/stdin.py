"""``-``: a pcap/pcapng stream on standard input (``tcpdump -U -w - | phonehome watch -``).

Read straight from file descriptor 0 with ``select`` and ``os.read``, so a record is
handled as soon as its bytes are in the pipe (Python's buffered ``sys.stdin.buffer``
would wait for a full buffer). The end of the stream ends the watch.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator

from phonehome.errors import UsageError
from phonehome.live.source import LiveCapture, Source
from phonehome.live.stream import Fill

READ = 1 << 18


def fd_fill(source: Source, fd: int) -> Fill:
    """Read a pipe: what arrived within the timeout, None at its end."""

    def fill(timeout: float) -> bytes | None:
        # Stopping: bytes already here are still read, without waiting for more.
        if source.drained():
            return None
        ready, _, _ = select.select([fd], [], [], 0 if source.stopping else timeout)
        if not ready:
            return None if source.stopping else b""
        try:
            data = os.read(fd, READ)
        except OSError:
            return None
        if not data:
            return None
        source.arrived(len(data))
        return data

    return fill


class StdinSource(Source):
    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.name = "stdin"

    def open(self) -> None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError(
                "watch -: standard input is a terminal; pipe a capture into it "
                "(tcpdump -U -w - | phonehome watch -)"
            )
        self.state = "reading"

    def segments(self) -> Iterator[LiveCapture]:
        cap = self.capture(self.stream(fd_fill(self, sys.stdin.fileno())))
        if cap is not None:
            yield cap
        self.state = "end of input"
