"""Build the hostile inputs of issue 18 (none is committed: they are large or compress to
almost nothing, so a script writes them where they are needed).

    python tests/hostile/build.py DIR [--scale 1.0]

writes every case into DIR with a device profile (``device.toml``). The tests in this
folder build the ones they need into a temporary directory; ``benchmarks/hostile.py``
builds them at full size and times them. Each builder returns what a correct result
looks like, so the tests and the benchmark check the same thing.

The cases (the issue's four, then their neighbours):

1. ``repeat.pcap``: one HTTP POST whose ``text/plain`` body is ``imei=<IMEI>&`` repeated
   to 50 KB (2,380 occurrences) — an SDK batching events that each carry the device id.
2. ``base64.pcap``: a POST body of Base64 (0.5 MB, and 6 MB in ``base64-6m.pcap``) whose
   decoded text holds the IMEI on every line.
3. ``bomb.har.gz``: a 1 MB gzipped HAR that inflates to 1 GiB (one entry with the IMEI,
   then entries whose bodies are runs of one letter).
4. ``zeros.pcap.gz``: a pcap header, one record, then 2 GiB of zero bytes, gzipped (2 MB,
   as gzip members of 64 MiB of zeros each).
5. ``entries.har``: a HAR of one million small entries (168 MB), each sending the IMEI.
6. ``twice.har.gz.gz``: gzip of a gzipped HAR.
7. ``flows.mitm``: a mitmproxy flow file of many flows (one million in the benchmark).
8. ``distinct.pcap``: one POST body with 10,000 distinct valid IMEIs (no profile needed).
"""

from __future__ import annotations

import argparse
import base64
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from phonehome.simulate.packets import Host, TcpConnection
from phonehome.simulate.pcap_writer import PcapWriter

IMEI = "359123456789012"
"""The profile's IMEI (Luhn-valid, reporting body 35)."""
PROFILE = f'name = "hostile"\nimei = "{IMEI}"\n'
DEVICE = Host(b"\x02\x00\x00\x00\x00\x01", bytes([10, 0, 0, 2]))
SERVER = Host(b"\x04\x00\x00\x00\x00\x01", bytes([93, 184, 216, 34]))
T0 = 1_700_000_000_000_000


class Case(NamedTuple):
    path: Path
    expect: str
    """What a correct run shows (for people; the tests assert it precisely)."""


def luhn(body: str) -> str:
    """``body`` plus its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def write_profile(out: Path) -> Path:
    path = out / "device.toml"
    path.write_text(PROFILE)
    return path


def http_post(path: Path, body: bytes, content_type: str = "text/plain") -> None:
    """A pcap of one HTTP/1.1 POST carrying ``body``, its 204 answer and the close."""
    with PcapWriter(path) as w:
        conn = TcpConnection(w, DEVICE, 40000, SERVER, 80, T0)
        conn.open()
        head = (
            f"POST /collect HTTP/1.1\r\nHost: t.example.com\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn.send(head + body)
        conn.send(b"HTTP/1.1 204 No Content\r\n\r\n", from_client=False)
        conn.close()


def repeat_body(out: Path, size: int = 50_000) -> Case:
    unit = f"imei={IMEI}&".encode()
    n = size // len(unit)
    path = out / "repeat.pcap"
    http_post(path, unit * n)
    return Case(path, f"one IMEI finding at http.body:imei, and {n - 1} more in the message")


def base64_text(size: int) -> bytes:
    """About ``size`` bytes of Base64 whose decoded lines each hold the IMEI."""
    line = f"event=unlock&ts=1700000000&device={IMEI}&v=3\n".encode()
    return base64.b64encode(line * max(1, (size * 3 // 4) // len(line)))


def base64_body(out: Path, size: int = 500_000, name: str = "base64.pcap") -> Case:
    path = out / name
    http_post(path, base64_text(size))
    return Case(path, "one IMEI finding in the Base64 body, the rest counted")


def distinct_body(out: Path, n: int = 10_000) -> tuple[Case, list[str]]:
    imeis = [luhn(f"35{i:012d}") for i in range(n)]
    path = out / "distinct.pcap"
    http_post(path, "\n".join(imeis).encode())
    return Case(path, f"{n} distinct IMEI findings (PH-IMEI)"), imeis


def _har_entry(i: int, body: str | None = None) -> dict[str, object]:
    request: dict[str, object] = {
        "method": "POST" if body is not None else "GET",
        "url": f"http://t.example.com/c?imei={IMEI}&n={i}",
        "httpVersion": "HTTP/1.1",
        "headers": [],
    }
    if body is not None:
        request["postData"] = {"mimeType": "text/plain", "text": body}
    return {
        "startedDateTime": "2023-11-14T22:13:20.000Z",
        "request": request,
        "response": {"status": 204, "httpVersion": "HTTP/1.1", "headers": []},
    }


_HAR_HEAD = (
    b'{"log": {"version": "1.2", "creator": {"name": "hostile", "version": "1"}, "entries": ['
)
_HAR_TAIL = b"]}}\n"


def _har_chunks(entries: Iterator[bytes]) -> Iterator[bytes]:
    yield _HAR_HEAD
    for i, entry in enumerate(entries):
        yield entry if i == 0 else b"," + entry
    yield _HAR_TAIL


def many_entries(out: Path, n: int = 1_000_000) -> Case:
    """A HAR of ``n`` small entries, written as a stream (never whole in memory)."""
    path = out / "entries.har"
    with open(path, "wb", buffering=1 << 20) as f:
        entries = (json.dumps(_har_entry(i), separators=(",", ":")).encode() for i in range(n))
        for chunk in _har_chunks(entries):
            f.write(chunk)
    return Case(path, f"one IMEI finding at http.query:imei with count {n}")


def _gzip_to(path: Path, chunks: Iterator[bytes]) -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        for chunk in chunks:
            f.write(z.compress(chunk))
        f.write(z.flush())


def _gzip_member(data: bytes) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def har_bomb(out: Path, inflated: int = 1 << 30) -> Case:
    """One entry with the IMEI, then 1 MiB bodies of one letter up to ``inflated``.

    A gzip file may be several members one after the other (RFC 1952, 2.2): the filler
    is one member of 64 entries written as many times as needed, so building a 1 GiB
    bomb costs compressing 64 MiB once."""
    path = out / "bomb.har.gz"
    filler = json.dumps(_har_entry(1, "A" * (1 << 20))).encode()
    head = _HAR_HEAD + json.dumps(_har_entry(0)).encode()
    block = _gzip_member(b"," + b",".join([filler] * 64))
    with open(path, "wb") as f:
        f.write(_gzip_member(head))
        for _ in range(max(1, inflated // (64 * len(filler)))):
            f.write(block)
        f.write(_gzip_member(_HAR_TAIL))
    return Case(path, "the first entries read, then gzip.limit: stopped reading")


def har_twice(out: Path) -> Case:
    path = out / "twice.har.gz.gz"
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    har = b"".join(_har_chunks(iter([json.dumps(_har_entry(0)).encode()])))
    once = inner.compress(har) + inner.flush()
    _gzip_to(path, iter([once]))
    return Case(path, "refused: gzip inside gzip")


def pcap_zeros(out: Path, zeros: int = 2 << 30) -> Case:
    """A pcap header, one UDP record (a DNS query), then ``zeros`` zero bytes, gzipped."""
    import struct

    from phonehome.simulate.packets import udp_frame

    query = b"\x12\x34\x01\x00\x00\x01" + bytes(6) + b"\x07example\x03com\x00\x00\x01\x00\x01"
    frame = udp_frame(DEVICE, SERVER, 40000, 53, query)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", T0 // 1_000_000, 0, len(frame), len(frame)) + frame
    block = _gzip_member(bytes(64 << 20))
    path = out / "zeros.pcap.gz"
    with open(path, "wb") as f:
        f.write(_gzip_member(header + record))
        for _ in range(max(1, zeros >> 26)):
            f.write(block)
    return Case(path, "the DNS query, then one pcap.empty_records and gzip.limit")


def mitm_flows(out: Path, n: int = 1_000_000) -> Case:
    """``n`` HTTP flows, each sending the IMEI: one flow written by mitmproxy's own
    writer, its bytes repeated with the request path varied (a flow file is a plain
    concatenation of flows)."""
    import io

    from mitmproxy import http
    from mitmproxy.io import FlowWriter
    from mitmproxy.test import tflow

    marker = "/c?imei=" + IMEI + "&n=000000000"
    flow = tflow.tflow(
        req=http.Request.make("GET", "http://t.example.com" + marker),
        resp=tflow.tresp(),
    )
    buf = io.BytesIO()
    FlowWriter(buf).add(flow)
    one = buf.getvalue()
    at = one.index(b"&n=000000000")
    path = out / "flows.mitm"
    with open(path, "wb", buffering=1 << 20) as f:
        for i in range(n):
            f.write(one[:at] + b"&n=%09d" % i + one[at + 12 :])
    return Case(path, f"one IMEI finding at http.query:imei with count {n}")


BUILDERS: dict[str, Callable[[Path, float], object]] = {
    "repeat": lambda out, s: repeat_body(out, int(50_000 * s)),
    "base64": lambda out, s: base64_body(out, int(500_000 * s)),
    "base64-6m": lambda out, s: base64_body(out, int(6_000_000 * s), "base64-6m.pcap"),
    "bomb": lambda out, s: har_bomb(out, int((1 << 30) * s)),
    "zeros": lambda out, s: pcap_zeros(out, int((2 << 30) * s) >> 20 << 20),
    "entries": lambda out, s: many_entries(out, int(1_000_000 * s)),
    "twice": lambda out, s: har_twice(out),
    "mitm": lambda out, s: mitm_flows(out, int(1_000_000 * s)),
    "distinct": lambda out, s: distinct_body(out, int(10_000 * s)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the large cases")
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_profile(args.out)
    for name, build in BUILDERS.items():
        if args.only and name not in args.only.split(","):
            continue
        made = build(args.out, args.scale)
        case = made if isinstance(made, Case) else made[0]
        print(f"{name}: {case}")


if __name__ == "__main__":
    main()
