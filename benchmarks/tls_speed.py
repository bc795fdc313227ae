"""Speed and memory of decryption wired into ``phonehome scan``/``flows``, against tshark.

Generates the simulator's ``tls`` mix (every connection TLS 1.3 + HTTP/2, sealed for real,
its key log in FILE.keys; docs/simulator.md), then for each size runs

  tshark -2 -o tls.keylog_file:FILE.keys -r FILE -Y http2 -T fields
         -e http2.headers.authority -e http2.headers.path -e http2.header.name
         -e http2.header.value -e http2.data.data
  phonehome flows --keylog FILE.keys --format jsonl FILE
  phonehome scan --keylog FILE.keys --device FILE.device.toml --format json --no-store FILE

(the request and response header fields and bodies: what a scan reads) and prints wall
time, the ratio to tshark and the peak RSS of each process (``wait4``: that child only).
It checks that phonehome read what tshark read: the same multiset of (authority, path)
of the POST requests, and that the scan found the corpus's ground truth.

``--connections N`` instead makes a capture of N small connections (one request each,
DSBs in pcapng) and reports peak RSS at N/4, N/2 and N, to show that per-connection
state does not pile up (the key log itself is held: ~0.5 KB per connection).

Usage: python benchmarks/tls_speed.py [--sizes 50,200] [--pure] [--connections 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
ENV = dict(os.environ)
PH = [sys.executable, "-m", "phonehome"]
TSHARK_FIELDS = [
    "http2.headers.method",
    "http2.headers.authority",
    "http2.headers.path",
    "http2.header.name",
    "http2.header.value",
    "http2.data.data",
]


def measure(cmd: list[str], stdout_path: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one child process."""
    with open(stdout_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=ENV)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def ensure_corpus(size: int, pcapng: bool = False) -> Path:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"bench-tls-{size}.{'pcapng' if pcapng else 'pcap'}"
    if not path.exists():
        t0 = time.perf_counter()
        cmd = [*PH, "simulate", "bench", "--mix", "tls", "--size", str(size), "-o", str(path)]
        subprocess.run(cmd + (["--pcapng"] if pcapng else []), check=True,
                       stdout=subprocess.DEVNULL, env=ENV)  # fmt: skip
        print(f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    return path


def tshark_posts(out: Path) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for line in out.read_text(errors="replace").splitlines():
        cols = line.split("\t")
        methods, authorities, paths = (c.split(",") if c else [] for c in cols[:3])
        for m, a, p in zip(methods, authorities, paths, strict=False):
            if m == "POST":
                found[(a, p)] += 1
    return found


def phonehome_posts(out: Path) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    with open(out, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            d = json.loads(line)
            if d.get("method") == "POST" and d["protocol"] == "http2":
                found[(d["http_host"], d["uri"])] += 1
    return found


def run_size(size: int, tshark: str | None) -> bool:
    path = ensure_corpus(size)
    keys = path.with_suffix(".keys")
    mb = path.stat().st_size / 1e6
    print(f"\n== {path.name} ({mb:.0f} MB, key log {keys.stat().st_size / 1e6:.1f} MB)")
    f = measure([*PH, "flows", "--keylog", str(keys), "--format", "jsonl", str(path)],
                WORK / "tls-flows.out")  # fmt: skip
    print(f"  phonehome flows: {f[0]:6.1f} s  {mb / f[0]:6.1f} MB/s  peak RSS {f[1]:6.0f} MiB"
          f"  (exit {f[2]})")  # fmt: skip
    profile = path.with_suffix(".device.toml")
    s = measure([*PH, "scan", "--keylog", str(keys), "--device", str(profile), "--format",
                 "json", "--no-store", str(path)], WORK / "tls-scan.out")  # fmt: skip
    print(f"  phonehome scan:  {s[0]:6.1f} s  {mb / s[0]:6.1f} MB/s  peak RSS {s[1]:6.0f} MiB"
          f"  (exit {s[2]})")  # fmt: skip
    ok = True
    doc = json.loads((WORK / "tls-scan.out").read_text())
    truth = json.loads(path.with_suffix(".truth.json").read_text())
    found = Counter((x["identifier"], x["host"], x["where"]) for x in doc["findings"])
    want = Counter((x["identifier"], x["host"], x["where"]) for x in truth["leaks"])
    print(f"  scan findings vs ground truth: {'agree' if found == want else 'DIFFER'} "
          f"({sum(want.values())} leaks); {doc['decryption']['tls']}")  # fmt: skip
    ok &= found == want
    if tshark:
        cmd = [tshark, "-2", "-o", f"tls.keylog_file:{keys}", "-r", str(path), "-Y", "http2",
               "-T", "fields"]  # fmt: skip
        for name in TSHARK_FIELDS:
            cmd += ["-e", name]
        t = measure(cmd, WORK / "tls-tshark.out")
        print(f"  tshark -2:       {t[0]:6.1f} s  {mb / t[0]:6.1f} MB/s  peak RSS {t[1]:6.0f} MiB")
        print(f"  ratio flows: {t[0] / f[0]:.2f}x, scan: {t[0] / s[0]:.2f}x faster than tshark")
        theirs, ours = (
            tshark_posts(WORK / "tls-tshark.out"),
            phonehome_posts(WORK / "tls-flows.out"),
        )
        same = theirs == ours
        print(f"  POST requests: tshark {sum(theirs.values())}, phonehome {sum(ours.values())}: "
              f"{'agree' if same else 'DIFFER'}")  # fmt: skip
        ok &= same
    return ok


PER_CONNECTION = 2420
"""Frame bytes of one ``tls-many`` connection, about (``--size`` counts frame bytes)."""


def run_connections(n: int) -> None:
    """Peak RSS of flows/scan over captures of n/4, n/2 and n small connections."""
    for count in (n // 4, n // 2, n):
        path = WORK / f"conns-{count}.pcapng"
        if not path.exists():
            size = count * PER_CONNECTION / 1e6
            subprocess.run([*PH, "simulate", "bench", "--mix", "tls-many", "--seed", "7",
                            "--size", str(size), "--pcapng", "-o", str(path)], check=True,
                           stdout=subprocess.DEVNULL, env=ENV)  # fmt: skip
        f = measure([*PH, "flows", "--format", "jsonl", str(path)], WORK / "conns-flows.out")
        s = measure([*PH, "scan", "--device", str(path.with_suffix(".device.toml")), "--format",
                     "json", "--no-store", str(path)], WORK / "conns-scan.out")  # fmt: skip
        conns = json.loads((WORK / "conns-scan.out").read_text())["decryption"]["tls"]
        print(f"  {conns['connections']:>7} TLS connections ({conns['decrypted']} decrypted), "
              f"{path.stat().st_size / 1e6:5.0f} MB: flows {f[0]:5.1f} s / {f[1]:4.0f} MiB, "
              f"scan {s[0]:5.1f} s / {s[1]:4.0f} MiB")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="50,200", help="MB of the tls mix to run")
    ap.add_argument("--connections", type=int, default=0, help="memory against connections")
    ap.add_argument("--pure", action="store_true", help="time the interpreted modules")
    args = ap.parse_args()
    if args.pure:
        ENV["PHONEHOME_PURE_PYTHON"] = "1"
    else:
        ENV.pop("PHONEHOME_PURE_PYTHON", None)
    version = subprocess.run([*PH, "--version"], capture_output=True, text=True, env=ENV)
    core = version.stdout.strip().splitlines()[-1] if version.stdout else "?"
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; {core}")
    WORK.mkdir(exist_ok=True)
    ok = True
    if args.connections:
        run_connections(args.connections)
    else:
        tshark = shutil.which("tshark")
        for size in (int(x) for x in args.sizes.split(",") if x):
            ok &= run_size(size, tshark)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
