"""The corpus run's progress bar: counts, rate and ETA, on a terminal only.

The ETA is reckoned in bytes, not tasks: a corpus mixes 1 MB and 50 MB captures, and the
bytes still to read say far better how long is left than the number of files. Tasks that
an earlier run recorded count as finished but not toward the rate.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

EVERY_S = 0.25
WIDTH = 24


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class RunProgress:
    """Call :meth:`update` after each task; :meth:`close` erases the line."""

    def __init__(self, total: int, total_bytes: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = total
        self.total_bytes = max(total_bytes, 1)
        self.started = time.monotonic()
        self.last = 0.0
        self.counts = {"done": 0, "failed": 0, "error": 0}
        self.earlier = 0
        self.bytes_done = 0
        self.bytes_worked = 0
        self.shown = False

    def update(self, status: str, size: int, earlier: bool = False) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        self.bytes_done += size
        if earlier:
            self.earlier += 1
        else:
            self.bytes_worked += size
        self.draw()

    def line(self, now: float) -> str:
        finished = sum(self.counts.values())
        elapsed = max(now - self.started, 1e-6)
        frac = min(self.bytes_done / self.total_bytes, 1.0)
        filled = int(frac * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        worked = finished - self.earlier
        rate = worked / elapsed
        speed = self.bytes_worked / elapsed
        left = self.total_bytes - self.bytes_done
        eta = _clock(left / speed) if speed > 0 and finished < self.total else "-:--:--"
        bad = self.counts["failed"] + self.counts["error"]
        extra = f", {bad} failed" if bad else ""
        extra += f", {self.earlier} done before" if self.earlier else ""
        return (
            f"[{bar}] {finished}/{self.total} inputs{extra}  "
            f"{rate:.1f}/s {speed / 1e6:.1f} MB/s  ETA {eta}"
        )

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < EVERY_S:
            return
        self.last = now
        self.stream.write("\r" + self.line(now)[:120] + "\033[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
