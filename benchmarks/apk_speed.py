"""Time and peak memory of ``analyze_apk`` on a large generated multidex APK.

Builds (once, cached in benchmarks/_work) an APK of DEX_COUNT DEX files with many classes
and methods whose bytecode makes calls, strings and allocations (tests/builders_apk.py
``large_app_dexes``), then analyses it in a child process and prints wall time and the
child's peak RSS (from ``wait4``), beside the APK and DEX sizes: the figure to hold
against general-purpose analysers, which are reported to need ~150x the APK size.

The default is the 3.5 MB / 240k-method APK issue 17 holds the data flow to (under 2x
the time and memory of the call graph alone; docs/static.md has the figures). On a
shared machine, compare against a checkout of the previous version in alternation rather
than against a number measured at another time.

Usage: python benchmarks/apk_speed.py [--dex 8] [--classes 3000] [--methods 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"

CHILD = """
import json, sys, time
from pathlib import Path
from phonehome.static import analyze_apk
t = time.perf_counter()
r = analyze_apk(Path(sys.argv[1]))
print(json.dumps({"seconds": time.perf_counter() - t, "classes": r.classes,
                  "methods": r.methods, "chains": len(r.chains), "endpoints": len(r.endpoints),
                  "dataflow": r.dataflow, "problems": r.problems[:5]}))
"""
BASELINE = (
    "import phonehome.static, phonehome.refdata; phonehome.refdata.registrable_domain('a.com')"
)


def build(dex: int, classes: int, methods: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.builders_apk import build_apk, build_axml, large_app_dexes, manifest

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"large-{dex}x{classes}x{methods}.apk"
    if not path.exists():
        started = time.perf_counter()
        man = manifest(
            "com.big", receivers={"com.big.p0.C0": ("android.intent.action.BOOT_COMPLETED",)}
        )
        build_apk(
            path, manifest_xml=build_axml(man), dex_files=large_app_dexes(dex, classes, methods)
        )
        print(f"generated {path.name} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def run(args: list[str]) -> tuple[str, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"child failed: {status}")
    return out, time.perf_counter() - started, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dex", type=int, default=8)
    parser.add_argument("--classes", type=int, default=3000)
    parser.add_argument("--methods", type=int, default=10)
    opts = parser.parse_args()
    apk = build(opts.dex, opts.classes, opts.methods)
    import zipfile

    dex_bytes = sum(
        i.file_size for i in zipfile.ZipFile(apk).infolist() if i.filename.endswith(".dex")
    )
    _, _, base_rss = run([sys.executable, "-c", BASELINE])
    out, wall, rss = run([sys.executable, "-c", CHILD, str(apk)])
    result = json.loads(out)
    mb = 1024 * 1024
    print(
        f"APK {apk.stat().st_size / mb:.1f} MB, DEX {dex_bytes / mb:.1f} MB uncompressed, "
        f"{result['classes']} classes, {result['methods']} method refs"
    )
    print(
        f"analyze_apk: {result['seconds']:.1f}s ({wall:.1f}s with start-up), peak RSS "
        f"{rss / mb:.0f} MB (interpreter + imports alone: {base_rss / mb:.0f} MB), "
        f"= {(rss - base_rss) / apk.stat().st_size:.1f}x the APK size above baseline"
    )
    print(
        f"chains {result['chains']}, endpoints {result['endpoints']}, "
        f"data flow {result['dataflow']}, problems {result['problems']}"
    )


if __name__ == "__main__":
    main()
