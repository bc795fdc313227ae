"""Send a capture file as PCAPdroid's UDP exporter would: the file header in one datagram,
then one datagram per pcap record (pcapng: the SHB and IDBs together, then one per
block). Used by the watch tests and ``benchmarks/watch.py``.

    python benchmarks/replay.py x.pcap 127.0.0.1:1234 [--no-header] [--rate PPS]
"""

from __future__ import annotations

import argparse
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<",
                b"\xa1\xb2\x3c\x4d": ">"}  # fmt: skip
_SHB = b"\x0a\x0d\x0d\x0a"


def datagrams(path: Path) -> tuple[bytes, list[bytes]]:
    """(header datagram, record datagrams) of a pcap or pcapng file."""
    data = path.read_bytes()
    if data[:4] in _PCAP_MAGICS:
        endian = _PCAP_MAGICS[data[:4]]
        out = []
        pos = 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(endian + "I", data, pos + 8)[0]
            out.append(data[pos : pos + 16 + incl])
            pos += 16 + incl
        return data[:24], out
    if data[:4] != _SHB:
        raise ValueError(f"{path}: not pcap or pcapng")
    endian = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    header = b""
    blocks = []
    pos = 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        block = data[pos : pos + blen]
        pos += blen
        if btype in (0x0A0D0D0A, 1) and not blocks:
            header += block  # the preamble: SHB + IDBs, one datagram
        else:
            blocks.append(block)
    return header, blocks


def replay(
    header: bytes,
    records: list[bytes],
    addr: tuple[str, int],
    *,
    send_header: bool = True,
    rate: float | None = None,
    on_send: Callable[[int, float], None] | None = None,
) -> float:
    """Send; ``rate`` in datagrams per second (None: as fast as the socket takes them).
    ``on_send(index, monotonic time)`` is called after each record. Returns seconds taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    start = time.monotonic()
    if send_header:
        sock.sendto(header, addr)
    interval = 1.0 / rate if rate else 0.0
    for i, record in enumerate(records):
        if interval:
            # Ahead of the schedule by a millisecond or more: sleep it off (no spinning, so
            # the sender leaves the CPU to the receiver; it sends in bursts of <= 1 ms).
            ahead = start + i * interval - time.monotonic()
            if ahead >= 0.001:
                time.sleep(ahead)
        sock.sendto(record, addr)
        if on_send is not None:
            on_send(i, time.monotonic())
    sock.close()
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("address", help="HOST:PORT")
    parser.add_argument("--no-header", action="store_true")
    parser.add_argument("--rate", type=float, help="datagrams per second")
    args = parser.parse_args()
    host, _, port = args.address.rpartition(":")
    header, records = datagrams(args.capture)
    took = replay(header, records, (host, int(port)), send_header=not args.no_header,
                  rate=args.rate)  # fmt: skip
    print(f"{len(records)} datagrams in {took:.2f} s")


if __name__ == "__main__":
    main()
