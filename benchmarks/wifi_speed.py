"""WPA2 decryption of a monitor-mode capture: ``phonehome flows --wifi-key`` against tshark
decrypting the same file with the same passphrase.

The capture is built by ``tests/builders_wifi.py`` (a station's 4-way handshake, then
``--connections`` HTTP connections of five CCMP-protected frames each: the handshake of
TCP, a GET with an IMEI in its query, the two FINs). Both tools print one line per HTTP
request; the counts must agree. Each command runs ``--runs`` times; the minimum CPU time
(user + sys) and the peak RSS of the child are reported (benchmarks/childusage.py).

Usage: python benchmarks/wifi_speed.py [--connections 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.childusage import best  # noqa: E402
from phonehome.simulate.packets import Host, tcp_frame  # noqa: E402
from tests.builders_wifi import PASSPHRASE, SSID, STA, Network, pcap  # noqa: E402

WORK = Path(__file__).resolve().parent / "_work"
KEY = f"{PASSPHRASE}:{SSID}"
PHONE = Host(STA, bytes([192, 168, 1, 23]))
SERVER = Host(bytes.fromhex("c80e14a291f0"), bytes([93, 184, 216, 34]))


def build(path: Path, connections: int) -> int:
    """Write the capture; returns its number of frames."""
    net = Network()
    net.handshake()
    c, s = 1000, 5000
    for i in range(connections):
        port = 1024 + i % 60000
        req = f"GET /c?imei=359123456789012&n={i} HTTP/1.1\r\nHost: t.example.com\r\n\r\n"
        body = req.encode()
        net.send(tcp_frame(PHONE, SERVER, port, 80, c, 0, 0x02), to_ap=True)
        net.send(tcp_frame(SERVER, PHONE, 80, port, s, c + 1, 0x12), to_ap=False)
        net.send(tcp_frame(PHONE, SERVER, port, 80, c + 1, s + 1, 0x18, body), to_ap=True)
        net.send(tcp_frame(PHONE, SERVER, port, 80, c + 1 + len(body), s + 1, 0x11), to_ap=True)
        net.send(tcp_frame(SERVER, PHONE, 80, port, s + 1, c + 2 + len(body), 0x11), to_ap=False)
    path.write_bytes(pcap(net.frames))
    return len(net.frames)


def lines(path: Path, word: str = "") -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if word.encode() in line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    path = WORK / f"wpa-{args.connections}.pcap"
    frames = build(path, args.connections)
    size = path.stat().st_size / 1e6
    print(f"{path.name}: {frames:,} frames, {size:.1f} MB")
    ours_out, theirs_out = WORK / "wifi-ours.jsonl", WORK / "wifi-tshark.txt"
    ours = best(
        [sys.executable, "-m", "phonehome", "flows", str(path), "--wifi-key", KEY,
         "--format", "jsonl"], ours_out, args.runs,
    )  # fmt: skip
    requests = lines(ours_out, '"method":"GET"')
    print(f"phonehome flows: {ours.cpu:.2f} s CPU, {ours.peak_rss_mib:.0f} MiB, "
          f"{frames / ours.cpu:,.0f} frames/s, {requests:,} requests")  # fmt: skip
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark: not installed")
        return
    theirs = best(
        [tshark, "-r", str(path), "-o", "wlan.enable_decryption:TRUE",
         "-o", f'uat:80211_keys:"wpa-pwd","{KEY}"', "-Y", "http.request",
         "-T", "fields", "-e", "http.request.uri"], theirs_out, args.runs,
    )  # fmt: skip
    ratio = theirs.cpu / ours.cpu
    print(f"tshark: {theirs.cpu:.2f} s CPU, {theirs.peak_rss_mib:.0f} MiB, "
          f"{lines(theirs_out):,} requests; tshark / phonehome CPU: {ratio:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
