"""How to capture from a local interface: the candidates for ``phonehome watch --interface``
measured on loopback (docs/watch.md has the figures and the choice).

Each candidate captures the same burst of UDP datagrams on ``lo`` (filter ``udp port P``)
and hands every packet to Python as a ``bytes`` object, which is what the watch's reader
needs; the script reports packets captured (of those sent), packets per second over the
burst and the CPU seconds spent capturing (this process plus its capture subprocess).

    python benchmarks/live_capture.py --count 200000    # as root (or with CAP_NET_RAW)

Candidates: ``tcpdump -U -w -`` and ``dumpcap -w -`` as subprocesses (pcap records read
from the pipe), a raw ``AF_PACKET`` socket, and libpcap through the ``pcapy-ng`` binding
(skipped when it is not installed: ``pip install pcapy-ng``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def blast(port: int, count: int, size: int) -> subprocess.Popen[bytes]:
    """A child that sends ``count`` datagrams of ``size`` bytes to 127.0.0.1:port as fast
    as it can (a bound socket receives nothing: the kernel drops what overflows it)."""
    code = (
        "import socket,sys\n"
        f"r=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);r.bind(('127.0.0.1',{port}))\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"d=b'x'*{size};a=('127.0.0.1',{port})\n"
        f"for _ in range({count}): s.sendto(d,a)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_pcap_pipe(proc: subprocess.Popen[bytes], want: int, deadline: float) -> int:
    """Count pcap records from a capture subprocess's stdout until ``want`` or the deadline."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    while len(buf) < 24:
        buf += os.read(fd, 65536)
    buf = buf[24:]
    n = 0
    pos = 0
    while n < want and time.monotonic() < deadline:
        chunk = os.read(fd, 1 << 18)
        if not chunk:
            break
        buf = buf[pos:] + chunk
        pos = 0
        while pos + 16 <= len(buf):
            incl = struct.unpack_from("<I", buf, pos + 8)[0]
            if pos + 16 + incl > len(buf):
                break
            _frame = buf[pos + 16 : pos + 16 + incl]
            pos += 16 + incl
            n += 1
    return n


def subprocess_candidate(argv: list[str]) -> Callable[[int, int, float], int]:
    def run(port: int, want: int, deadline: float) -> int:
        cmd = [a.replace("PORT", str(port)) for a in argv]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let it open the interface before the burst starts
        sender = blast(port, want, ARGS.size)
        try:
            return read_pcap_pipe(proc, want, deadline)
        finally:
            sender.wait()
            proc.terminate()
            proc.wait()

    return run


def af_packet(port: int, want: int, deadline: float) -> int:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("lo", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.settimeout(0.5)
    sender = blast(port, want, ARGS.size)
    n = 0
    try:
        while n < want and time.monotonic() < deadline:
            try:
                data, addr = s.recvfrom(65535)
            except TimeoutError:
                if sender.poll() is not None:
                    break
                continue
            if addr[2] == PACKET_OUTGOING:
                continue  # loopback shows each packet twice
            # No kernel filter here: match udp port P in Python, as the watch would have to.
            if len(data) >= 38 and data[23] == 17 and struct.unpack_from("!H", data, 36)[0] == port:
                n += 1
    finally:
        sender.wait()
        s.close()
    return n


def pcapy_ng(port: int, want: int, deadline: float) -> int:
    import pcapy  # type: ignore[import-not-found]

    cap = pcapy.open_live("lo", 262144, False, 100)
    cap.setfilter(f"udp port {port}")
    sender = blast(port, want, ARGS.size)
    n = 0
    try:
        while n < want and time.monotonic() < deadline:
            header, data = cap.next()
            if header is None:
                if sender.poll() is not None:
                    break
                continue
            _frame = bytes(data)
            n += 1
    finally:
        sender.wait()
    return n


def main() -> None:
    candidates: dict[str, Callable[[int, int, float], int]] = {}
    if shutil.which("tcpdump"):
        candidates["tcpdump -U -w -"] = subprocess_candidate(
            ["tcpdump", "-i", "lo", "-U", "-w", "-", "-s", "262144", "-B", "8192",
             "udp port PORT"]
        )  # fmt: skip
    if shutil.which("dumpcap"):
        candidates["dumpcap -w -"] = subprocess_candidate(
            ["dumpcap", "-q", "-i", "lo", "-P", "-w", "-", "-s", "262144", "-B", "8",
             "-f", "udp port PORT"]
        )  # fmt: skip
    candidates["AF_PACKET socket"] = af_packet
    try:
        import pcapy  # type: ignore[import-not-found]  # noqa: F401

        candidates["libpcap (pcapy-ng)"] = pcapy_ng
    except ImportError:
        print("pcapy-ng not installed: skipped", file=sys.stderr)
    c0 = cpu_seconds()
    blast(free_port(), ARGS.count, ARGS.size).wait()
    sender_cpu = cpu_seconds() - c0  # the sender's own CPU, taken off every row below
    print(f"{ARGS.count} datagrams of {ARGS.size} bytes on lo, each candidate alone")
    print(f"{'candidate':<22} {'captured':>9} {'pkt/s':>9} {'CPU s':>7} {'CPU us/pkt':>10}")
    for name, run in candidates.items():
        port = free_port()
        c0, t0 = cpu_seconds(), time.monotonic()
        n = run(port, ARGS.count, t0 + 60)
        t1, c1 = time.monotonic(), cpu_seconds()
        wall = t1 - t0 - (1.0 if "-w -" in name else 0.0)
        cpu = c1 - c0 - sender_cpu
        print(f"{name:<22} {n:>9} {n / wall:>9.0f} {cpu:>7.2f} {1e6 * cpu / max(n, 1):>10.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=200)
    ARGS = parser.parse_args()
    main()
