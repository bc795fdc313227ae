"""Issue 18's case 3 beside the tools a user has today: the same traffic (``--entries``
GET requests, each with the IMEI in its query, as ``tests/hostile/build.py`` makes them)
as a HAR 1.2 file with every member the format requires (mitmproxy refuses the hostile
set's minimal entries) and as a pcap of one TCP connection a request.

Timed (CPU of the child, peak RSS; benchmarks/childusage.py), each ``--runs`` times:
``phonehome scan --device`` of the HAR and of the pcap; ``mitmdump -n -r`` of the HAR
(mitmproxy only reading it into flows, no addon); ``tshark -Y http.request`` of the pcap
(dissection only). phonehome must find the IMEI ``--entries`` times in both.

Usage: python benchmarks/har_compare.py [--entries 100000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.childusage import Usage, best  # noqa: E402
from phonehome.simulate.packets import Host, tcp_frame  # noqa: E402

WORK = Path(__file__).resolve().parent / "_work" / "har-compare"
IMEI = "359123456789012"
PHONE = Host(bytes.fromhex("020000000001"), bytes([10, 0, 0, 2]))
SERVER = Host(bytes.fromhex("020000000002"), bytes([93, 184, 216, 34]))


def url(i: int) -> str:
    return f"http://t.example.com/c?imei={IMEI}&n={i}"


def write_har(path: Path, n: int) -> None:
    with open(path, "w") as f:
        f.write('{"log":{"version":"1.2","creator":{"name":"bench","version":"1"},"entries":[')
        for i in range(n):
            entry = {
                "startedDateTime": "2023-11-14T22:13:20.000Z",
                "time": 1,
                "request": {
                    "method": "GET", "url": url(i), "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Host", "value": "t.example.com"}], "cookies": [],
                    "queryString": [
                        {"name": "imei", "value": IMEI}, {"name": "n", "value": str(i)}
                    ],
                    "headersSize": -1, "bodySize": 0,
                },
                "response": {
                    "status": 204, "statusText": "No Content", "httpVersion": "HTTP/1.1",
                    "headers": [], "cookies": [], "content": {"size": 0, "mimeType": ""},
                    "redirectURL": "", "headersSize": -1, "bodySize": 0,
                },
                "cache": {},
                "timings": {"send": 0, "wait": 1, "receive": 0},
            }  # fmt: skip
            f.write(("," if i else "") + json.dumps(entry, separators=(",", ":")))
        f.write("]}}")


def write_pcap(path: Path, n: int) -> None:
    """Each request on its own connection: handshake, request, 204, both FINs; client
    ports come round again after 60,000 connections."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            port = 1024 + i % 60000
            req = f"GET {url(i)[len('http://t.example.com') :]} HTTP/1.1\r\n"
            body = (req + "Host: t.example.com\r\n\r\n").encode()
            resp = b"HTTP/1.1 204 No Content\r\n\r\n"
            # a new ISN each time a port comes round again (as a real stack picks them)
            c, s = (1000 + i * 100_003) & 0x7FFFFFFF, (5000 + i * 200_003) & 0x7FFFFFFF
            frames = [
                tcp_frame(PHONE, SERVER, port, 80, c, 0, 0x02),
                tcp_frame(SERVER, PHONE, 80, port, s, c + 1, 0x12),
                tcp_frame(PHONE, SERVER, port, 80, c + 1, s + 1, 0x18, body),
                tcp_frame(SERVER, PHONE, 80, port, s + 1, c + 1 + len(body), 0x18, resp),
                tcp_frame(PHONE, SERVER, port, 80, c + 1 + len(body), s + 1 + len(resp), 0x11),
                tcp_frame(SERVER, PHONE, 80, port, s + 1 + len(resp), c + 2 + len(body), 0x11),
            ]
            t = 1_700_000_000 + i // 100  # 100 connections a second
            for k, frame in enumerate(frames):
                usec = (i % 100) * 10_000 + k
                f.write(struct.pack("<IIII", t, usec, len(frame), len(frame)) + frame)


def row(name: str, u: Usage, extra: str = "") -> None:
    print(f"| {name} | {u.cpu:.2f} s | {u.peak_rss_mib:.0f} MiB | {extra} |")


def imei_count(doc_path: Path) -> int:
    doc = json.loads(doc_path.read_text())
    return sum(f["count"] for f in doc["findings"] if f["identifier"] == "imei")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    har, pcap = WORK / f"requests-{args.entries}.har", WORK / f"requests-{args.entries}.pcap"
    write_har(har, args.entries)
    write_pcap(pcap, args.entries)
    device = WORK / "device.toml"
    device.write_text(f'name = "bench"\nimei = "{IMEI}"\n')
    print(f"{args.entries:,} requests: HAR {har.stat().st_size / 1e6:.0f} MB, "
          f"pcap {pcap.stat().st_size / 1e6:.0f} MB\n")  # fmt: skip
    print("| command | CPU | peak RSS | result |\n|---|---:|---:|---|")
    for name, capture in (("HAR", har), ("pcap", pcap)):
        doc = WORK / f"scan-{name}.json"
        u = best(
            [sys.executable, "-m", "phonehome", "scan", str(capture), "--device", str(device),
             "--no-store", "--format", "json", "-o", str(doc)],
            Path("/dev/null"), args.runs, 3600,
        )  # fmt: skip
        row(f"phonehome scan --device ({name})", u, f"IMEI {imei_count(doc):,} times")
    mitmdump = shutil.which("mitmdump") or str(Path(sys.executable).with_name("mitmdump"))
    if Path(mitmdump).exists():
        u = best([mitmdump, "-n", "-q", "-r", str(har)], Path("/dev/null"), args.runs, 3600)
        row("mitmdump -n -r (HAR, reading only)", u, f"exit {u.exit_code}")
    tshark = shutil.which("tshark")
    if tshark:
        out = WORK / "tshark.txt"
        u = best([tshark, "-r", str(pcap), "-Y", "http.request", "-T", "fields",
                  "-e", "http.request.uri"], out, args.runs, 3600)  # fmt: skip
        lines = len(out.read_bytes().splitlines())
        row("tshark -Y http.request (pcap, dissection only)", u, f"{lines:,} requests")


if __name__ == "__main__":
    main()
