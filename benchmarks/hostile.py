"""Time and memory of the hostile inputs of issue 18, and the matching throughput.

    python benchmarks/hostile.py [--python PY] [--timeout 120] [--only NAMES] [--scale 1]

Builds the cases with ``tests/hostile/build.py`` into ``benchmarks/_work/hostile/`` (at
full size: a 1e6-entry HAR of 237 MB, a 1e6-flow mitmproxy file of ~1.6 GB — skip it
with ``--only``), runs ``phonehome flows`` / ``scan`` on each in a child process and
prints wall time, user CPU, peak RSS (``wait4``) and the exit code; a run that passes
``--timeout`` is killed and shown as such. ``--python`` runs another installation (the
code before a change: ``--python /path/to/venv/bin/python``).

The throughput lines time the detect stage alone on one 10 MB body with 100,000
occurrences of the profile's IMEI, plain (``imei=<IMEI>&`` plus filler) and as Base64
(the same text encoded), in the interpreter given: extraction + detection + the
per-message dedupe, the work that grew with the square of the occurrences before.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "_work" / "hostile"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import childusage  # noqa: E402

from tests.hostile import build  # noqa: E402

THROUGHPUT = """
import base64, sys, time
from phonehome.detect import Engine
from phonehome.protocols.registry import message_fields as fields
from phonehome.findings import best_matches
from phonehome.model import Endpoint, FlowKey, HttpRequest, Message
from phonehome.model.profile import DeviceProfile

IMEI = "359123456789012"
unit = ("imei=" + IMEI + "&pad=" + "x" * 75 + "&").encode()   # 100 bytes
body = unit * 100_000                                          # 10 MB, 100k occurrences
if sys.argv[1] == "base64":
    body = base64.b64encode(body)[: 10_000_000]
c, s = Endpoint("10.0.0.2", 40000), Endpoint("93.184.216.34", 80)
req = HttpRequest("POST", "/c", "HTTP/1.1", (("Content-Type", "text/plain"),), body)
msg = Message(0.0, 0, 1, 1, FlowKey("tcp", c, s), c, s, "out", "http", "cleartext", req)
engine = Engine(DeviceProfile(values={"imei": (IMEI,)}))
t = time.perf_counter()
matches = []
for f in fields(msg):
    matches += engine.scan(f)
best = best_matches(matches)
dt = time.perf_counter() - t
found = sum(1 + m.more for m in best)
print(f"{len(body) / 1e6 / dt:.1f} MB/s ({dt:.2f} s, {len(body) / 1e6:.1f} MB, "
      f"{len(best)} reported, {found} occurrences counted)")
"""


def measure(python: str, args: list[str], timeout: float) -> str:
    env = dict(os.environ, PHONEHOME_HOME=str(WORK / "home"))
    u = childusage.run([python, "-m", "phonehome", *args], timeout=timeout, env=env)
    code = "killed" if u.exit_code is None else f"exit {u.exit_code}"
    return f"{u.wall:.2f} s wall, {u.user:.2f} s user, {u.peak_rss_mib:.0f} MiB, {code}"


def throughput(python: str, kind: str, timeout: float) -> str:
    try:
        res = subprocess.run(
            [python, "-c", THROUGHPUT, kind], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"did not finish in {timeout:.0f} s"
    return res.stdout.strip() or res.stderr.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    profile = build.write_profile(WORK)
    only = set(filter(None, args.only.split(",")))

    def wanted(name: str) -> bool:
        return not only or name in only

    for kind in ("plain", "base64"):
        if wanted(f"throughput-{kind}"):
            print(f"throughput {kind}: {throughput(args.python, kind, args.timeout)}", flush=True)
    for name, maker in build.BUILDERS.items():
        if not wanted(name):
            continue
        made = maker(WORK, args.scale)
        case = made if isinstance(made, build.Case) else made[0]
        size = case.path.stat().st_size / 1e6
        flows = measure(args.python, ["flows", "--format", "jsonl", str(case.path)], args.timeout)
        scan_args = ["scan", str(case.path), "--no-store", "--format", "json", "-o", os.devnull]
        if name != "distinct":
            scan_args += ["--device", str(profile)]
        scan = measure(args.python, scan_args, args.timeout)
        print(f"{name} ({size:.1f} MB): flows {flows} | scan {scan}", flush=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t0:.0f} s)")
