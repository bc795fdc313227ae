"""Wall time, CPU time and peak RSS of one command, forked from a fresh launcher.

Linux keeps a process's peak RSS across fork and exec, so a command started by a big
parent (speed.py holding tshark's output sets, hostile.py its case data) reports the
parent's size as its own peak: speed.py's leaky rows all said 109 MiB, flows and scan
alike. Forking from a small fresh interpreter reports the command's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_LAUNCHER = """
import os, sys, time
timeout, out = float(sys.argv[1]), sys.argv[2]
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.execvp(sys.argv[3], sys.argv[3:])
deadline = t + timeout if timeout > 0 else None
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    if deadline is not None and time.perf_counter() > deadline:
        os.kill(pid, 9)
        done, status, usage = os.wait4(pid, 0)
        break
    time.sleep(0.01)
wall = time.perf_counter() - t
print(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss, status)
"""


@dataclass(frozen=True)
class Usage:
    wall: float
    user: float
    system: float
    peak_rss_mib: float
    killed: bool
    exit_code: int | None
    """None when killed."""

    @property
    def cpu(self) -> float:
        return self.user + self.system


def run(
    cmd: list[str],
    stdout_path: Path | str = os.devnull,
    timeout: float = 0,
    env: dict[str, str] | None = None,
) -> Usage:
    """Run ``cmd`` (its output to ``stdout_path``, its errors dropped); ``timeout`` > 0
    kills it after that many seconds."""
    res = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(timeout), str(stdout_path), *cmd],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    wall, user, system, rss_kib, status = res.stdout.split()
    killed = os.WIFSIGNALED(int(status))
    return Usage(
        float(wall),
        float(user),
        float(system),
        int(rss_kib) / 1024,
        killed,
        None if killed else os.waitstatus_to_exitcode(int(status)),
    )


def best(cmd: list[str], stdout_path: Path | str, runs: int, timeout: float = 0) -> Usage:
    """The run of ``runs`` with the least CPU (the least disturbed by other jobs)."""
    return min((run(cmd, stdout_path, timeout) for _ in range(runs)), key=lambda u: u.cpu)
