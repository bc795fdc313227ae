"""A real ``phonehome watch`` process for the live tests: started, read while it runs
(stdout and stderr collected by two threads, so neither pipe fills), waited on by the
lines it prints (never by sleeping), stopped by a signal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

DEADLINE_S = 120.0
"""How long a test waits for a line the watch must print (a loaded CI machine is slow to
start Python and load the reference data; the wait ends as soon as the line is there)."""


class Lines:
    def __init__(self, pipe: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[bytes]) -> None:
        for raw in pipe:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_for(
        self, pattern: str, deadline_s: float = DEADLINE_S, count: int = 1
    ) -> re.Match[str]:
        """The ``count``-th line matching ``pattern``, waiting for it to be printed."""
        rx = re.compile(pattern)
        end = time.monotonic() + deadline_s
        with self._cond:
            while True:
                found = [m for m in map(rx.search, self.lines) if m]
                if len(found) >= count:
                    return found[count - 1]
                left = end - time.monotonic()
                if left <= 0 or self._done:
                    raise AssertionError(
                        f"no line matching {pattern!r} (x{count}); got:\n" + "\n".join(self.lines)
                    )
                self._cond.wait(min(left, 1.0))

    def join(self) -> None:
        self._thread.join(timeout=DEADLINE_S)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Watcher:
    """``phonehome watch ARGS`` with its own PHONEHOME_HOME under ``home``."""

    def __init__(self, args: list[str], home: Path, *, stdin: Any = subprocess.DEVNULL) -> None:
        env = {**os.environ, "PHONEHOME_HOME": str(home)}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phonehome", "watch", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)

    def started(self) -> re.Match[str]:
        """The 'watching ...' line (the watch is listening and stored from here on)."""
        return self.err.wait_for(r"watching (\S+ )?(\S*?):(\d+)|watching (\S+)")

    def port(self) -> int:
        m = self.err.wait_for(r"watching \S+ [^\s;]*:(\d+)")
        return int(m.group(1))

    def scan_id(self) -> int:
        return int(self.err.wait_for(r"recorded as scan (\d+)").group(1))

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=DEADLINE_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.out.join()
        self.err.join()
        return rc

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.lines if line.startswith("{")]

    def alerts(self) -> list[dict[str, Any]]:
        return [o for o in self.objects() if o.get("type") == "alert"]


def phonehome(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHONEHOME_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "phonehome", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE_S,
    )
