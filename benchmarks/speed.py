"""Speed and memory of ``phonehome flows`` / ``phonehome scan`` against tshark.

Generates the bench corpus with the project's own simulator (fixed, documented mix: see
docs/simulator.md), then for each size runs

  tshark -2 -r FILE -T fields -e http.request.uri -e http.host -e dns.qry.name
         -e tls.handshake.extensions_server_name
  phonehome flows --format jsonl FILE
  phonehome scan --device FILE.device.toml --format json FILE

and prints wall time, the tshark/phonehome ratio and the peak RSS of each process (from
``wait4``, so only that child is measured). It also checks that phonehome printed at
least what tshark printed: the same multisets of request URIs, hosts, DNS names and SNIs.

The corpus mix is documented in docs/simulator.md: ``phone`` (a phone's realistic,
mostly encrypted mix; the target figure), ``stress`` (the cleartext parsers' worst
case) and ``leaky`` (issue 15: HTTP/1.1 where nearly every request carries an identifier,
the identifier search's worst case).

Usage: python benchmarks/speed.py [--sizes 50,200,400] [--stress-sizes 50]
       [--leaky-sizes 50,200] [--no-scan] [--pure]

Sizes are MB; ``--sizes 5 --stress-sizes '' --leaky-sizes 5`` is a quick run. Each
process's CPU time (user + sys, from ``wait4``) is what the ratios compare: the machine
is shared, so wall time is printed beside it but varies with the other jobs.

phonehome's packet core is compiled with mypyc at install (src/phonehome/native.py); the
first line says whether this run uses it; ``--pure`` times the interpreted modules.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import childusage

WORK = Path(__file__).resolve().parent / "_work"
TSHARK_FIELDS = [
    "http.request.uri",
    "http.host",
    "dns.qry.name",
    "tls.handshake.extensions_server_name",
]


ENV = dict(os.environ)


def measure(cmd: list[str], stdout_path: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds (user + sys), peak RSS MiB, exit code) of one child,
    forked from a fresh launcher (:mod:`childusage`: this process grows with the tshark
    output it holds, and a child forked from it would report that as its own peak).

    The machine is shared: wall time says how busy it was, CPU time what the command
    cost; ratios against tshark are given for both, CPU first."""
    u = childusage.run(cmd, stdout_path, env=ENV)
    return u.wall, u.cpu, u.peak_rss_mib, -9 if u.exit_code is None else u.exit_code


def ensure_corpus(size: int, mix: str) -> Path:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"bench-{mix}-{size}.pcap"
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "phonehome",
                "simulate",
                "bench",
                "--mix",
                mix,
                "--size",
                str(size),
                "-o",
                str(path),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(
            f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in "
            f"{time.perf_counter() - t0:.1f} s"
        )
    return path


def tshark_sets(out: Path) -> dict[str, Counter[str]]:
    sets: dict[str, Counter[str]] = {f: Counter() for f in TSHARK_FIELDS}
    for line in out.read_text(errors="replace").splitlines():
        cols = line.split("\t")
        for name, col in zip(TSHARK_FIELDS, cols, strict=False):
            for v in col.split(",") if col else ():
                sets[name][v] += 1
    return sets


def phonehome_sets(out: Path) -> dict[str, Counter[str]]:
    sets: dict[str, Counter[str]] = {f: Counter() for f in TSHARK_FIELDS}
    with open(out, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            d = json.loads(line)
            if d.get("method") is not None and d["protocol"] == "http":
                sets["http.request.uri"][d["uri"]] += 1
                if d.get("http_host"):
                    sets["http.host"][d["http_host"]] += 1
            for q in d.get("qnames") or ():
                sets["dns.qry.name"][q] += 1
            if d.get("sni"):
                sets["tls.handshake.extensions_server_name"][d["sni"]] += 1
    return sets


def compare(ts: dict[str, Counter[str]], ph: dict[str, Counter[str]]) -> bool:
    ok = True
    for name in TSHARK_FIELDS:
        missing = ts[name] - ph[name]
        agree = "agree" if not missing else f"MISSING {sum(missing.values())}"
        print(
            f"    {name:<40} tshark {sum(ts[name].values()):>8}  phonehome "
            f"{sum(ph[name].values()):>8}  {agree}"
        )
        if missing:
            ok = False
            print(f"      e.g. {list(missing.items())[:3]}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="50,200,400", help="MB of the phone mix to run")
    ap.add_argument("--stress-sizes", default="50", help="MB of the stress mix to run")
    ap.add_argument(
        "--leaky-sizes", default="50,200", help="MB of the leak-dense mix (issue 15) to run"
    )
    ap.add_argument("--no-scan", action="store_true")
    ap.add_argument(
        "--pure", action="store_true", help="time the pure-Python modules (PHONEHOME_PURE_PYTHON)"
    )
    args = ap.parse_args()
    if args.pure:
        ENV["PHONEHOME_PURE_PYTHON"] = "1"
    else:
        ENV.pop("PHONEHOME_PURE_PYTHON", None)
    tshark = shutil.which("tshark")
    ph = [sys.executable, "-m", "phonehome"]
    version = subprocess.run([*ph, "--version"], capture_output=True, text=True, env=ENV)
    # packet core, matcher and JSON writer: every line of --version but the first
    core = "; ".join(version.stdout.strip().splitlines()[1:]) if version.stdout else "?"
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; {core}")
    all_ok = True
    runs = [(int(x), "phone") for x in args.sizes.split(",") if x]
    runs += [(int(x), "stress") for x in args.stress_sizes.split(",") if x]
    runs += [(int(x), "leaky") for x in args.leaky_sizes.split(",") if x]
    for size, mix in runs:
        path = ensure_corpus(size, mix)
        mb = path.stat().st_size / 1e6
        print(f"\n== {path.name} ({mb:.0f} MB)")
        f_wall, f_cpu, f_rss, f_rc = measure(
            [*ph, "flows", "--format", "jsonl", str(path)], WORK / "flows.out"
        )
        print(
            f"  phonehome flows: {f_wall:6.1f} s wall {f_cpu:6.1f} s CPU  "
            f"{mb / f_cpu:6.1f} MB/CPU-s  peak RSS {f_rss:6.0f} MiB  (exit {f_rc})"
        )
        if not args.no_scan:
            profile = path.with_name(path.stem + ".device.toml")
            s_wall, s_cpu, s_rss, s_rc = measure(
                [*ph, "scan", "--device", str(profile), "--format", "json", str(path)],
                WORK / "scan.out",
            )
            print(
                f"  phonehome scan:  {s_wall:6.1f} s wall {s_cpu:6.1f} s CPU  "
                f"{mb / s_cpu:6.1f} MB/CPU-s  peak RSS {s_rss:6.0f} MiB  (exit {s_rc})"
            )
        if tshark:
            cmd = [tshark, "-2", "-r", str(path), "-T", "fields"]
            for f in TSHARK_FIELDS:
                cmd += ["-e", f]
            t_wall, t_cpu, t_rss, _ = measure(cmd, WORK / "tshark.out")
            print(
                f"  tshark -2:       {t_wall:6.1f} s wall {t_cpu:6.1f} s CPU  "
                f"{mb / t_cpu:6.1f} MB/CPU-s  peak RSS {t_rss:6.0f} MiB"
            )
            print(
                f"  ratio flows: {t_cpu / f_cpu:.2f}x faster than tshark in CPU time "
                f"({t_wall / f_wall:.2f}x wall)"
            )
            if not args.no_scan:
                print(
                    f"  ratio scan:  {t_cpu / s_cpu:.2f}x faster than tshark in CPU time "
                    f"({t_wall / s_wall:.2f}x wall)"
                )
            all_ok &= compare(tshark_sets(WORK / "tshark.out"), phonehome_sets(WORK / "flows.out"))
        else:
            print("  tshark not installed: no ratio (apt-get install tshark)")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
