"""Detection accuracy: precision and recall per identifier and overall.

1. The project's own labelled corpus: the simulator's ``nokia7plus`` and ``encodings``
   scenarios over several seeds, scanned with their device profile, compared with their
   ground truth by (identifier, value, where, host); the encoding chain, form and count of
   each leak are checked too. Also scanned without a profile, to show what the pattern
   detectors alone find.
2. Real captures we did not generate, labelled by hand (benchmarks/labels.json).

The own-corpus figure alone proves little (the same people wrote generator and detector),
which is why the hand-labelled captures are reported beside it. The scoring is
benchmarks/scoring.py, which tests/test_accuracy.py runs as a gate in every CI run.
Scans go through the command line (``phonehome scan --format json --reveal``), as a user
runs them.

Usage: python benchmarks/accuracy.py [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks.scoring, when run as a script

from benchmarks import scoring  # noqa: E402
from phonehome import simulate  # noqa: E402


def scan(path: Path, device: Path | None, work: Path) -> dict[str, Any]:
    out = work / "scan.json"
    cmd = [sys.executable, "-m", "phonehome", "scan", str(path), "--format", "json"]
    cmd += ["--reveal", "--no-store", "-o", str(out)]
    if device is not None:
        cmd += ["--device", str(device)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode not in (0, 1):
        raise SystemExit(f"phonehome scan {path.name} failed: {res.stderr.strip()}")
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def own_corpus(seeds: list[int], work: Path) -> tuple[float, float, bool]:
    with_profile, without = scoring.Tally(), scoring.Tally()
    exact = True
    for scenario in ("nokia7plus", "encodings"):
        for seed in seeds:
            cap = work / f"{scenario}-{seed}.pcap"
            simulate.run(scenario, cap, seed=seed)
            truth = json.loads(cap.with_name(cap.stem + ".truth.json").read_text())
            doc = scan(cap, cap.with_name(cap.stem + ".device.toml"), work)
            label = f"{scenario}/{seed}"
            expected = {scoring.leak_key(x) for x in truth["leaks"]}
            with_profile.add(expected, {scoring.finding_key(f) for f in doc["findings"]}, label)
            check = scoring.check_truth(doc, truth)
            for problem in check.wrong + [f"decoy hit: {d}" for d in check.decoy_hits]:
                print(f"  {label}: {problem}")
            exact &= check.ok
            # Without a profile only pattern-detectable leaks can be found (not hashes,
            # not a bare android_id), and pattern values are normal forms (a cell id in
            # decimal): compare places only, and read precision, not recall.
            places = scoring.truth_places(truth)
            got = scoring.pattern_places(scan(cap, None, work), truth)
            without.add(places & got, got, label)
    p, r = with_profile.report("Own corpus, scanned with the device profile")
    print(f"  encoding chain, form and count of every leak exact: {'yes' if exact else 'NO'}")
    without.report("Own corpus, without a profile (pattern detectors): precision only")
    print(
        f"  pattern detectors alone found {sum(without.tp.values())} of the "
        f"{sum(with_profile.tp.values()) + sum(with_profile.fn.values())} labelled leaks"
    )
    return p, r, exact


def real_captures(work: Path) -> bool:
    ok = True
    tally = scoring.Tally()
    print("\nReal captures, labelled by hand (benchmarks/labels.json)")
    for label in scoring.labels():
        name = label.file.name
        if label.profile is not None:
            device = work / "device.toml"
            device.write_text(scoring.profile_toml(label.profile))
            got = scoring.pattern_places(scan(label.file, device, work))
            found = label.leaks <= got
            print(
                f"  {name} with profile: expected {sorted(label.leaks)} -> "
                f"{'found' if found else 'MISSED'}; {len(got - label.leaks)} other finding(s)"
            )
            ok &= found
            tally.add(set(label.leaks), got, name)
        bare = scan(label.file, None, work)
        bad = scoring.forbidden(bare, label.banned)
        print(
            f"  {name} without profile: {len(bare['findings'])} finding(s), "
            f"{len(bad)} forbidden ({', '.join(sorted(label.banned))})"
        )
        for b in bad:
            print(f"    FORBIDDEN {b}")
            tally.fp[b.split()[0]] += 1
        ok &= not bad
    tally.report("Real captures, overall")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seeds", default="1,2,3")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        p, r, exact = own_corpus(seeds, Path(tmp))
        ok = real_captures(Path(tmp))
    target = p >= 0.98 and r >= 0.98
    print(
        f"\nown corpus precision {p:.3f} recall {r:.3f} (target >= 0.98: "
        f"{'met' if target else 'NOT met'}); chains {'exact' if exact else 'NOT exact'}; "
        f"real captures {'pass' if ok else 'FAIL'}"
    )
    return 0 if target and exact and ok else 1


if __name__ == "__main__":
    sys.exit(main())
