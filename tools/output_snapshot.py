"""Snapshot phonehome's public outputs, to prove a refactor changed none of them.

    python tools/output_snapshot.py write DIR     # outputs of the installed phonehome
    python tools/output_snapshot.py compare A B   # exit 1 and a diff summary if they differ

``write`` simulates every shape (nokia pcap/pcapng, encodings, bench phone/stress) with a
fixed seed, then runs ``flows --format jsonl`` and ``scan --format json`` (with the
scenario's profile and events where it has them, and without) on them and on every real
capture in ../shared/fixtures. Runs use a fixed private ``PHONEHOME_HOME`` under DIR, so
value ids (keyed hashes) are comparable between snapshots written with the same DIR name;
the scan document's wall-clock ``started``/``finished`` and the snapshot's own directory
and the checkout's in input paths are blanked.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "tests" / "shared" / "fixtures"
KEY_HOME = Path("/tmp/phonehome-snapshot-home")
"""One home for every snapshot: the per-installation key makes value ids comparable."""

SHAPES: list[tuple[str, list[str]]] = [
    ("nokia.pcap", ["nokia7plus"]),
    ("nokia-ng.pcapng", ["nokia7plus", "--pcapng"]),
    ("encodings.pcap", ["encodings"]),
    ("bench.pcap", ["bench", "--size", "3"]),
    ("stress.pcap", ["bench", "--size", "3", "--mix", "stress"]),
]
_CLOCK = re.compile(rb'"(started|finished)": "[^"]*"')


def _run(args: list[str], env: dict[str, str], snap: Path) -> bytes:
    res = subprocess.run(
        [sys.executable, "-m", "phonehome", *args], capture_output=True, env=env, check=False
    )
    return (
        _CLOCK.sub(rb'"\1": ""', res.stdout)
        .replace(str(snap).encode(), b"<SNAPSHOT>")
        .replace(str(REPO).encode(), b"<REPO>")
        + b"\n--- stderr ---\n"
        + res.stderr
        + f"\n--- exit {res.returncode} ---\n".encode()
    )


def write(out: Path) -> None:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    caps = out / "captures"
    caps.mkdir(exist_ok=True)
    KEY_HOME.mkdir(exist_ok=True)
    env = dict(os.environ, PHONEHOME_HOME=str(KEY_HOME))
    inputs: list[Path] = []
    for name, sim in SHAPES:
        path = caps / name
        if not path.exists():
            subprocess.run(
                [sys.executable, "-m", "phonehome", "simulate", *sim, "-o", str(path),
                 "--seed", "7"],
                check=True, env=env, capture_output=True,
            )  # fmt: skip
        inputs.append(path)
    if SHARED.is_dir():
        inputs += sorted(p for p in SHARED.rglob("*") if p.suffix in (".pcap", ".pcapng", ".har"))
    for path in inputs:
        tag = path.name
        (out / f"{tag}.flows.jsonl").write_bytes(
            _run(["flows", "--format", "jsonl", str(path)], env, out)
        )
        (out / f"{tag}.scan.json").write_bytes(
            _run(["scan", "--no-store", "--format", "json", str(path)], env, out)
        )
        device = path.with_suffix(".device.toml")
        if device.exists():
            args = ["scan", "--no-store", "--format", "json", "--device", str(device)]
            events = path.with_suffix(".events.csv")
            if events.exists():
                args += ["--events", str(events)]
            (out / f"{tag}.scan-device.json").write_bytes(_run([*args, str(path)], env, out))
    print(f"wrote {len(list(out.glob('*.json*')))} outputs for {len(inputs)} inputs to {out}")


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.glob("*.json*")} | {p.name for p in b.glob("*.json*")})
    bad = 0
    for name in names:
        pa, pb = a / name, b / name
        if not pa.exists() or not pb.exists():
            print(f"only in {'B' if not pa.exists() else 'A'}: {name}")
            bad += 1
            continue
        da, db = pa.read_bytes(), pb.read_bytes()
        if da != db:
            bad += 1
            print(f"DIFFERS: {name}")
            diff = difflib.unified_diff(
                da.decode(errors="replace").splitlines(),
                db.decode(errors="replace").splitlines(),
                lineterm="",
                n=1,
            )
            for line in list(diff)[:20]:
                print("   ", line[:200])
    print(f"{len(names) - bad} of {len(names)} outputs identical")
    return 1 if bad else 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(Path(sys.argv[2]))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(Path(sys.argv[2]), Path(sys.argv[3]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
