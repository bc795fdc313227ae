"""A progress line on stderr for scans that take more than a second.

Shown only on a terminal (never in pipes, CI logs or files), by bytes of input read,
and erased when the scan ends, so the report that follows stays clean.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from phonehome.ingest import Capture

DELAY_S = 1.0
EVERY_S = 0.2


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.cap: Capture | None = None
        self.total = 0
        self.shown = False

    def __call__(self, cap: Capture | None) -> None:
        if not self.enabled:
            return
        if cap is not None:
            self.cap = cap
            self.total = _size(cap.path)
        now = time.monotonic()
        if now - self.started < DELAY_S or now - self.last < EVERY_S or self.cap is None:
            return
        self.last = now
        done = self.cap.size
        name = os.path.basename(self.cap.path) or self.cap.path
        if self.total:
            pct = min(100, 100 * done // self.total)
            bar = "#" * (pct // 5) + "-" * (20 - pct // 5)
            line = f"scanning {name} [{bar}] {pct:3d}% {done >> 20}/{self.total >> 20} MB"
        else:
            line = f"scanning {name}: {done >> 20} MB"
        self.stream.write("\r" + line[:100] + "\033[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _size(path: str) -> int:
    if path == "-":
        return 0
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
