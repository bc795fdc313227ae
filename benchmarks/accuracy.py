"""Detection accuracy: precision and recall per identifier and overall.

1. The project's own labelled corpus: the simulator's ``nokia7plus`` and ``encodings``
   scenarios over several seeds, scanned with their device profile, compared with their
   ground truth by (identifier, value, where, host). Also scanned without a profile, to
   show what the pattern detectors alone find.
2. Real captures we did not generate, labelled by hand (benchmarks/labels.json).

The own-corpus figure alone proves little (the same people wrote generator and detector),
which is why the hand-labelled captures are reported beside it.

Usage: python benchmarks/accuracy.py [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from phonehome import simulate
from phonehome.context import Context
from phonehome.detect.profile import load_profile
from phonehome.model.message import HttpRequest
from phonehome.model.profile import DeviceProfile
from phonehome.pipeline import iter_messages, open_all
from phonehome.scan import ScanResult, run_scan

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent / "tests" / "shared"  # vendored real fixtures (tests/shared/README.md)

Key = tuple[str, str, str, str]


def scan(path: Path, profile: DeviceProfile | None) -> ScanResult:
    return run_scan(open_all([str(path)]), profile, Context())


def finding_keys(result: ScanResult) -> set[Key]:
    return {(f.identifier, f.value.lower(), f.where, f.host) for f in result.findings}


def truth_keys(truth: dict[str, Any]) -> set[Key]:
    return {(x["identifier"], x["value"].lower(), x["where"], x["host"]) for x in truth["leaks"]}


class Tally:
    def __init__(self) -> None:
        self.tp: Counter[str] = Counter()
        self.fp: Counter[str] = Counter()
        self.fn: Counter[str] = Counter()
        self.examples: list[str] = []

    def add(self, expected: set[Key], got: set[Key], label: str) -> None:
        for k in got & expected:
            self.tp[k[0]] += 1
        for k in got - expected:
            self.fp[k[0]] += 1
            self.examples.append(f"  false positive in {label}: {k[0]} at {k[2]} ({k[3]})")
        for k in expected - got:
            self.fn[k[0]] += 1
            self.examples.append(f"  missed in {label}: {k[0]} at {k[2]} ({k[3]})")

    def report(self, title: str) -> tuple[float, float]:
        print(f"\n{title}")
        print(f"  {'identifier':<12} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>8}")
        ids = sorted(set(self.tp) | set(self.fp) | set(self.fn))
        for i in ids:
            p, r = _pr(self.tp[i], self.fp[i], self.fn[i])
            print(f"  {i:<12} {self.tp[i]:>4} {self.fp[i]:>4} {self.fn[i]:>4} {p:>10.3f} {r:>8.3f}")
        tp, fp, fn = (sum(c.values()) for c in (self.tp, self.fp, self.fn))
        p, r = _pr(tp, fp, fn)
        print(f"  {'overall':<12} {tp:>4} {fp:>4} {fn:>4} {p:>10.3f} {r:>8.3f}")
        for line in self.examples[:15]:
            print(line)
        return p, r


def _pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


def own_corpus(seeds: list[int], work: Path) -> tuple[float, float]:
    with_profile, without = Tally(), Tally()
    for scenario in ("nokia7plus", "encodings"):
        for seed in seeds:
            cap = work / f"{scenario}-{seed}.pcap"
            simulate.run(scenario, cap, seed=seed)
            truth = json.loads(cap.with_name(cap.stem + ".truth.json").read_text())
            profile, _ = load_profile(cap.with_name(cap.stem + ".device.toml"))
            expected = truth_keys(truth)
            label = f"{scenario}/{seed}"
            with_profile.add(expected, finding_keys(scan(cap, profile)), label)
            # Without a profile only pattern-detectable leaks can be found (not hashes,
            # not a bare android_id), and pattern values are normal forms (a cell id in
            # decimal): compare places only, and read precision, not recall.
            places = {(k[0], "", k[2], k[3]) for k in expected}
            got = {(k[0], "", k[2], k[3]) for k in finding_keys(scan(cap, None))}
            without.add(places & got, got, label)
    p, r = with_profile.report("Own corpus, scanned with the device profile")
    without.report("Own corpus, without a profile (pattern detectors): precision only")
    print(
        f"  pattern detectors alone found {sum(without.tp.values())} of the "
        f"{sum(with_profile.tp.values()) + sum(with_profile.fn.values())} labelled leaks"
    )
    return p, r


def dropper_device_id(path: Path) -> str | None:
    for msg in iter_messages(open_all([str(path)]), Context()):
        c = msg.content
        if isinstance(c, HttpRequest) and msg.direction == "out" and c.body:
            try:
                return str(json.loads(c.body)["device_id"])
            except (ValueError, KeyError):
                continue
    return None


def real_captures() -> bool:
    labels = json.loads((HERE / "labels.json").read_text())
    if not SHARED.is_dir():
        print(f"\nReal captures: skipped ({SHARED} absent)")
        return True
    ok = True
    tally = Tally()
    print("\nReal captures, labelled by hand (benchmarks/labels.json)")
    for item in labels["captures"]:
        path = SHARED / item["file"]
        if not path.exists():
            print(f"  {item['file']}: absent, skipped")
            continue
        profile = None
        if item["profile"]:
            device_id = dropper_device_id(path)
            profile = DeviceProfile(values={"imei": (device_id,)} if device_id else {})
            res = scan(path, profile)
            got = {(f.identifier, f.where, f.host) for f in res.findings}
            expected = {(x["identifier"], x["where"], x["host"]) for x in item["leaks"]}
            found = expected <= got
            print(
                f"  {path.name} with profile: expected {sorted(expected)} -> "
                f"{'found' if found else 'MISSED'}; {len(got - expected)} other finding(s)"
            )
            ok &= found
            tally.add({(*k, "") for k in expected}, {(*k, "") for k in got}, path.name)
        bare = scan(path, None)
        banned = set(item["without_profile_must_not_report"])
        bad = [f for f in bare.findings if f.identifier in banned]
        print(
            f"  {path.name} without profile: {len(bare.findings)} finding(s), "
            f"{len(bad)} forbidden ({', '.join(sorted(banned))})"
        )
        for f in bad:
            print(f"    FORBIDDEN {f.identifier} at {f.where} ({f.host})")
            tally.fp[f.identifier] += 1
        ok &= not bad
    tally.report("Real captures, overall")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1,2,3")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        p, r = own_corpus(seeds, Path(tmp))
    ok = real_captures()
    target = p >= 0.98 and r >= 0.98
    print(
        f"\nown corpus precision {p:.3f} recall {r:.3f} (target >= 0.98: "
        f"{'met' if target else 'NOT met'}); real captures {'pass' if ok else 'FAIL'}"
    )
    return 0 if target and ok else 1


if __name__ == "__main__":
    sys.exit(main())
