"""``--interface IFACE [--bpf FILTER]``: live from a local interface (Linux first).

The capture runs in ``dumpcap`` (Wireshark's capture engine; ``tcpdump`` when dumpcap
is missing) writing pcapng to a pipe the watch reads with its pcapng reader. Chosen on
measurement (docs/watch.md, ``benchmarks/live_capture.py``): as fast as an in-process
libpcap binding on loopback, with the kernel filter and buffer in another process (the
other core does the copying), no compiled Python dependency, and no capture rights for
the Python interpreter itself — Debian lets a user capture through dumpcap alone
(``dpkg-reconfigure wireshark-common`` and the ``wireshark`` group). A raw ``AF_PACKET``
socket read from Python lost half of a 100k packet/s burst.

Without the permission the capture tool fails at once; the watch then says in one line
that root or CAP_NET_RAW is needed (exit 2).
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import re
import select
import shutil
import subprocess
import termios
import time
from collections.abc import Iterator

from phonehome.errors import UsageError
from phonehome.live.source import LiveCapture, Source
from phonehome.live.stdin import fd_fill

START_TIMEOUT_S = 10.0
_PERMISSION = re.compile(r"permission|not permitted|privilege|EPERM|access denied", re.IGNORECASE)
_NO_DEVICE = re.compile(r"no (such )?device|doesn't exist|does not exist", re.IGNORECASE)
_BAD_FILTER = re.compile(r"filter|syntax error", re.IGNORECASE)
_DUMPCAP_DROPS = re.compile(r"received/dropped on interface .*?: \d+/(\d+)")
_TCPDUMP_DROPS = re.compile(r"(\d+) packets? dropped by kernel")
NEEDS = "capturing needs root or the CAP_NET_RAW capability"


def capture_command(iface: str, bpf: str | None) -> list[str]:
    dumpcap = shutil.which("dumpcap")
    if dumpcap:
        cmd = [dumpcap, "-q", "-i", iface, "-w", "-", "-s", "262144", "-B", "16"]
        return cmd + (["-f", bpf] if bpf else [])
    tcpdump = shutil.which("tcpdump")
    if tcpdump:
        cmd = [tcpdump, "-i", iface, "-U", "-w", "-", "-s", "262144", "-B", "16384"]
        return cmd + ([bpf] if bpf else [])
    raise UsageError(
        "--interface needs dumpcap (apt-get install tshark, or wireshark-common) or tcpdump"
    )


def _detail(err: str) -> str:
    """The capture tool's message: its first line that is not its banner."""
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    return next((ln for ln in lines if not ln.startswith("Capturing on")), "")[:200]


def _pending(fd: int) -> int:
    """Bytes waiting in pipe ``fd`` (0 at end of file)."""
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


class InterfaceSource(Source):
    def __init__(self, spec: str, bpf: str | None = None) -> None:
        super().__init__(spec)
        if not spec or "/" in spec or len(spec) > 64:
            raise UsageError(f"--interface {spec!r}: not an interface name")
        self.iface = spec
        self.bpf = bpf
        self.name = f"interface {spec}" + (f" ({bpf})" if bpf else "")
        self.format = "pcapng"
        self.proc: subprocess.Popen[bytes] | None = None
        self.tool = ""

    def open(self) -> None:
        cmd = capture_command(self.iface, self.bpf)
        self.tool = os.path.basename(cmd[0])
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except PermissionError:
            raise UsageError(
                f"--interface {self.iface}: {NEEDS} ({cmd[0]}: permission denied)"
            ) from None
        except OSError as e:
            raise UsageError(f"--interface {self.iface}: cannot run {cmd[0]}: {e}") from None
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        # The capture tool writes its file header as soon as the capture is open; an
        # error (permission, unknown interface, bad filter) ends it first. Its output
        # turns readable on that end too (end of file), possibly before it has exited:
        # readable with nothing to read is a tool on its way out, not a capture.
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if proc.poll() is not None:
                break
            if ready:
                if _pending(proc.stdout.fileno()) == 0:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                break
        if proc.poll() is not None and proc.returncode != 0:
            err = (proc.stderr.read() if proc.stderr else b"").decode("utf-8", "replace")
            proc.stdout.close()
            raise UsageError(self._why(err))
        self.proc = proc
        self.state = "capturing"

    def _why(self, err: str) -> str:
        detail = _detail(err)
        where = f"--interface {self.iface}"
        if _PERMISSION.search(err):
            return f"{where}: {NEEDS} ({self.tool}: {detail})"
        if _NO_DEVICE.search(err):
            return f"{where}: no such interface ({self.tool}: {detail})"
        if self.bpf and _BAD_FILTER.search(err):
            return f"--bpf {self.bpf!r}: not a valid capture filter ({self.tool}: {detail})"
        return f"{where}: {self.tool} failed: {detail or 'no message'}"

    def segments(self) -> Iterator[LiveCapture]:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        cap = self.capture(self.stream(fd_fill(self, proc.stdout.fileno())))
        if cap is not None:
            yield cap
        if not self.stopping:
            # The capture ended on its own (interface gone, tool killed): the watch is no
            # longer watching, which must not look like a clean end. Its output ends a
            # moment before it has exited: give it that moment for its exit status.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=START_TIMEOUT_S)
            code = proc.poll()
            self.state = f"{self.tool} stopped" + (f" (exit {code})" if code is not None else "")
            self.failure = f"--interface {self.iface}: {self.state}"

    def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        if proc.poll() is None:
            proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        text = err.decode("utf-8", "replace")
        m = _DUMPCAP_DROPS.search(text) or _TCPDUMP_DROPS.search(text)
        if m:
            self.drops = int(m.group(1))
        if self.failure is not None:
            detail = _detail(text)
            if detail:
                self.failure += f": {detail}"
