"""Run every fuzz target for a bounded time (or number of runs) and tabulate.

    python fuzz/run_all.py --runs 20000 --seed 1   # CI: every target, the same inputs each run
    python fuzz/run_all.py --seconds 12            # every target for a bounded time
    python fuzz/run_all.py --runs 100000 --jobs 2  # the long local run (benchmarks/README.md)
    python fuzz/run_all.py --only dns,tls --seconds 60

Each target runs in its own process (``fuzz/run.py``: libFuzzer exits the process when
it ends). The table gives, per target, executions, edge coverage (``cov``), features
(``ft``), corpus size and crashes; the exit code is 1 when any target crashed, and the
crashing inputs are in ``fuzz/_work/crashes/`` (turn each into a regression test: copy
it to ``fuzz/regressions/<target>/``, which ``tests/test_fuzz_regressions.py`` replays).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

_STATS = re.compile(rb"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_EXECS = re.compile(rb"stat::number_of_executed_units: (\d+)")


_REPLAY = (
    f"import sys; sys.path.insert(0, {str(HERE.parent)!r}); from fuzz import targets; "
    "targets.check(sys.argv[1], open(sys.argv[2], 'rb').read())"
)


def run_one(name: str, flags: list[str], timeout: float) -> dict[str, object]:
    crashes = HERE / "_work" / "crashes"
    before = set(crashes.glob(f"{name}-*")) if crashes.is_dir() else set()
    t0 = time.monotonic()
    # A fixed hash seed too: set and dict iteration order steer coverage, so with
    # ``-seed`` and ``-runs`` a run explores the same inputs every time (CI must not turn
    # red by luck; the long exploratory runs are time-bounded and local).
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "run.py"), name, *flags, "-print_final_stats=1"],
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    wall = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    stats = _STATS.findall(out)
    execs = _EXECS.findall(out)
    last = stats[-1] if stats else (b"0", b"0", b"0", b"0")
    after = set(crashes.glob(f"{name}-*")) if crashes.is_dir() else set()
    new = sorted(after - before)
    if proc.returncode != 0 and not new:
        log = HERE / "_work" / f"{name}.log"
        log.write_bytes(out)
    return {
        "target": name,
        "execs": int(execs[-1]) if execs else int(last[0]),
        "cov": int(last[1]),
        "ft": int(last[2]),
        "corpus": int(last[3]),
        "crashes": len(new),
        "rc": proc.returncode,
        "wall": wall,
        "files": [str(p) for p in new],
    }


def main() -> int:
    from fuzz.targets import targets

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=0, help="time per target")
    ap.add_argument("--runs", type=int, default=0, help="executions per target")
    ap.add_argument("--seed", type=int, default=0, help="libFuzzer seed (0: random)")
    ap.add_argument("--only", default="", help="comma-separated targets")
    ap.add_argument("--jobs", type=int, default=1, help="targets run at once")
    args = ap.parse_args()
    names = [n for n in targets() if not args.only or n in args.only.split(",")]
    flags = ["-max_len=65536"]
    if args.seconds:
        flags.append(f"-max_total_time={args.seconds}")
    if args.seed:
        flags.append(f"-seed={args.seed}")
    if not args.seconds and not args.runs:
        ap.error("give --seconds or --runs")
    table = targets()

    def runs(name: str) -> list[str]:
        if not args.runs:
            return []
        return [f"-runs={max(1, round(args.runs * table[name].share))}"]

    (HERE / "_work").mkdir(exist_ok=True)
    timeout = (args.seconds or 3600) * 3 + 120
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda n: run_one(n, flags + runs(n), timeout), names))
    print("| target | executions | cov | ft | corpus | crashes | wall s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['target']} | {r['execs']:,} | {r['cov']} | {r['ft']} | {r['corpus']} "
            f"| {r['crashes']} | {r['wall']:.0f} |"
        )
    total = sum(int(str(r["execs"])) for r in results)
    print(f"\n{total:,} executions in all")
    bad = [r for r in results if r["crashes"] or r["rc"] not in (0,)]
    for r in bad:
        print(f"{r['target']}: exit {r['rc']}, crashes {r['files']}", file=sys.stderr)
        for crash in r["files"]:
            # The traceback too: CI's log is all a reader of a red run has.
            replay = subprocess.run(
                [sys.executable, "-c", _REPLAY, str(r["target"]), str(crash)],
                capture_output=True,
                text=True,
                check=False,
            )
            print(replay.stderr[-3000:], file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
