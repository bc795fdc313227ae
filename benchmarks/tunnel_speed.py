"""What tunnels cost: a GTP-U capture against the same traffic untunnelled, and the
untunnelled path against another install (the code before tunnels were read).

1. The ``bench`` corpus (``--mix``, ``--size`` MB) is rewritten frame by frame into GTP-U
   between a base station and the core (``phonehome.simulate.tunnels.TunnelSink``, TEIDs
   per direction, some G-PDUs with sequence numbers and a PDU session container), with a
   jumbo outer MTU so that both files hold the same frames one for one, as on an S1-U/N3
   network sized for it. ``phonehome flows --format jsonl`` runs on both, interleaved.
2. With ``--baseline PYTHON`` (the interpreter of a venv where the other install lives),
   ``flows`` runs on the untunnelled corpora with that install and with this one,
   interleaved: the untunnelled path must not have become slower.

The VM is shared, so each command runs ``--runs`` times and the minimum and median of the
child's CPU time (user + sys, from ``wait4``) are reported beside wall time; CPU time is
far less disturbed by other jobs than wall time. The outputs of each pair are compared
(the tunnelled jsonl without its ``tunnel`` key must equal the untunnelled one).

With ``--instructions`` each command runs once under callgrind instead and the counts of
executed instructions are compared: on a shared machine the only figure that is the same
from one run to the next (valgrind must be installed; ~50x slower, so use small sizes).

Usage: python benchmarks/tunnel_speed.py [--size 50] [--mix phone] [--runs 5]
       [--baseline /path/to/other/venv/bin/python] [--baseline-sizes 50,200]
       [--instructions]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"


def run(python: str, args: list[str], out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of ``python -m phonehome ARGS`` with stdout to ``out``."""
    with open(out, "wb") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [python, "-m", "phonehome", *args], stdout=f, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{python} -m phonehome {' '.join(args)}: exit {code}")
    return wall, usage.ru_utime + usage.ru_stime


def corpus(size: int, mix: str) -> Path:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"bench-{mix}-{size}.pcap"
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "phonehome", "simulate", "bench", "--mix", mix,
             "--size", str(size), "-o", str(path)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return path


def wrap_gtpu(plain: Path) -> Path:
    """The same frames, each wrapped in GTP-U (no outer fragmentation)."""
    from phonehome.simulate.pcap_writer import PcapWriter
    from phonehome.simulate.tunnels import TunnelSink

    out = plain.with_name(plain.stem + "-gtpu.pcap")
    if out.exists() and out.stat().st_mtime > plain.stat().st_mtime:
        return out
    data = plain.read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    with PcapWriter(out) as writer:
        sink = TunnelSink(writer, "gtpu", mtu=9000)
        off = 24
        while off < len(data):
            sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
            sink.emit(sec * 1_000_000 + usec, data[off + 16 : off + 16 + incl])
            off += 16 + incl
    return out


def instructions(python: str, args: list[str], out: Path) -> int:
    """Instructions ``python -m phonehome ARGS`` executes, counted by callgrind: unlike
    time, the count does not depend on what else the machine runs (it does on the
    interpreter and the compiled modules, so compare installs on the same machine)."""
    cg = out.with_suffix(".callgrind")
    with open(out, "wb") as f:
        p = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}",
             python, "-m", "phonehome", *args],
            stdout=f, stderr=subprocess.PIPE, check=False,
        )  # fmt: skip
    cg.unlink(missing_ok=True)
    found = re.search(rb"Collected : (\d+)", p.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count: {p.stderr[-500:]!r}")
    return int(found.group(1))


def compare_instructions(label: str, cmds: dict[str, tuple[str, list[str]]]) -> dict[str, int]:
    counts = {
        name: instructions(py, args, WORK / f"{name}.out") for name, (py, args) in cmds.items()
    }
    print(f"\n== {label} (callgrind)")
    first = next(iter(counts.values()))
    for name, n in counts.items():
        print(f"  {name:<28} {n:>15,} instructions  {(n / first - 1) * 100:+.2f} %")
    return counts


def same_messages(plain_out: Path, tunnel_out: Path) -> bool:
    with open(plain_out) as a, open(tunnel_out) as b:
        for x, y in zip(a, b, strict=True):
            dx, dy = json.loads(x), json.loads(y)
            dy.pop("tunnel", None)
            if dx != dy:
                return False
    return True


def summary(samples: list[tuple[float, float]]) -> str:
    cpu = sorted(c for _, c in samples)
    wall = sorted(w for w, _ in samples)
    return (
        f"CPU min {cpu[0]:6.2f} s  median {statistics.median(cpu):6.2f} s   "
        f"wall min {wall[0]:6.2f} s  median {statistics.median(wall):6.2f} s"
    )


def compare(
    label: str, cmds: dict[str, tuple[str, list[str]]], runs: int
) -> dict[str, list[tuple[float, float]]]:
    """Run each command ``runs`` times, interleaved; print and return the samples."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, (python, args) in cmds.items():
            samples[name].append(run(python, args, WORK / f"{name}.out"))
    print(f"\n== {label}")
    for name, s in samples.items():
        print(f"  {name:<28} {summary(s)}")
    return samples


def ratio(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> str:
    """b relative to a, on the minimum and the median CPU time."""
    amin, bmin = min(c for _, c in a), min(c for _, c in b)
    amed, bmed = statistics.median(c for _, c in a), statistics.median(c for _, c in b)
    return f"{(bmin / amin - 1) * 100:+.1f} % (min), {(bmed / amed - 1) * 100:+.1f} % (median)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=50)
    ap.add_argument("--mix", default="phone")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", help="python of another install to compare untunnelled runs")
    ap.add_argument("--baseline-sizes", default="50,200")
    ap.add_argument("--baseline-stress-sizes", default="50")
    ap.add_argument("--skip-gtpu", action="store_true")
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind (one run each) instead of timing",
    )
    args = ap.parse_args()
    me = sys.executable
    version = subprocess.run([me, "-m", "phonehome", "--version"], capture_output=True, text=True)
    print(f"machine: {os.cpu_count()} cores; this install: {version.stdout.splitlines()[-1]}")
    if not args.skip_gtpu:
        plain = corpus(args.size, args.mix)
        tunnelled = wrap_gtpu(plain)
        print(f"corpus {plain.name} {plain.stat().st_size / 1e6:.0f} MB, "
              f"GTP-U {tunnelled.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        label = f"GTP-U vs untunnelled, {args.mix} {args.size} MB, flows --format jsonl"
        cmds = {
            "untunnelled": (me, ["flows", "--format", "jsonl", str(plain)]),
            "gtpu": (me, ["flows", "--format", "jsonl", str(tunnelled)]),
        }
        if args.instructions:
            compare_instructions(label, cmds)
            ok = same_messages(WORK / "untunnelled.out", WORK / "gtpu.out")
            print(f"  same messages: {ok}")
        else:
            s = compare(label, cmds, args.runs)
            ok = same_messages(WORK / "untunnelled.out", WORK / "gtpu.out")
            print(f"  GTP-U costs {ratio(s['untunnelled'], s['gtpu'])}; same messages: {ok}")
    if args.baseline:
        sizes = [("phone", int(x)) for x in args.baseline_sizes.split(",") if x]
        sizes += [("stress", int(x)) for x in args.baseline_stress_sizes.split(",") if x]
        base = subprocess.run(
            [args.baseline, "-m", "phonehome", "--version"], capture_output=True, text=True
        )
        print(f"baseline: {args.baseline}: {base.stdout.splitlines()[-1]}")
        for mix, size in sizes:
            path = str(corpus(size, mix))
            label = f"untunnelled {mix} {size} MB, flows --format jsonl: baseline vs this install"
            cmds = {
                "baseline": (args.baseline, ["flows", "--format", "jsonl", path]),
                "this": (me, ["flows", "--format", "jsonl", path]),
            }
            if args.instructions:
                compare_instructions(label, cmds)
                same = (WORK / "baseline.out").read_bytes() == (WORK / "this.out").read_bytes()
                print(f"  identical output: {same}")
                continue
            s = compare(label, cmds, args.runs)
            same = (WORK / "baseline.out").read_bytes() == (WORK / "this.out").read_bytes()
            print(f"  this install vs baseline: {ratio(s['baseline'], s['this'])}; "
                  f"identical output: {same}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
