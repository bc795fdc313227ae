"""Precision on real traffic: every finding of a profile-less scan of every real capture,
labelled true or false by hand (benchmarks/precision_labels.json), counted per detector.

The captures are the ones the tests can reach that nobody here generated with the
simulator: the vendored real and mobile fixtures (tests/shared/fixtures/real, mobile),
the HAR files of browsers and proxies (tests/shared/fixtures/har), and the captures of
real programs made on loopback for the tests (tests/data: OpenSSH, eapol_test against
FreeRADIUS, curl/OpenSSL/aioquic, curl uploading public text). A scan without a device
profile runs only the pattern detectors, which is where false alarms come from.

A label is keyed by (capture, detector, identifier, where, host, SHA-256 of the value),
so it survives redaction and reordering; ``value`` is the redacted value for a reader.
The run fails (exit 1) when a finding has no label or a label no longer matches a
finding: a changed detector must be looked at again, not silently scored.

Usage:
    python benchmarks/precision.py            # the per-detector table (markdown)
    python benchmarks/precision.py --unlabelled   # label stubs for findings without one
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABELS = Path(__file__).resolve().parent / "precision_labels.json"
GOAL = 0.99

SOURCES = (
    "tests/shared/fixtures/real",
    "tests/shared/fixtures/mobile",
    "tests/shared/fixtures/har",
    "tests/data/ssh",
    "tests/data/radius",
    "tests/data/sip",
    "tests/data/noise",
    "tests/data/tls",
)
SUFFIXES = (".pcap", ".pcapng", ".har")
"""``tests/data/tls/*.dsb.pcapng`` are the ``.pcap`` files with their keys embedded: the
same packets, counted once."""

Key = tuple[str, str, str, str, str, str]


def captures() -> list[Path]:
    out = []
    for source in SOURCES:
        for path in sorted((ROOT / source).iterdir()):
            if path.name.endswith(SUFFIXES) and not path.name.endswith(".dsb.pcapng"):
                out.append(path)
    return out


def scan(path: Path, work: Path) -> dict[str, Any]:
    out = work / "scan.json"
    cmd = [sys.executable, "-m", "phonehome", "scan", str(path), "--format", "json"]
    cmd += ["--reveal", "--no-store", "-o", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode not in (0, 1):
        raise SystemExit(f"phonehome scan {path.name} failed: {res.stderr.strip()}")
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def finding_key(capture: str, f: dict[str, Any]) -> Key:
    return (capture, f["detector"], f["identifier"], f["where"], f["host"], digest(f["value"]))


def label_key(label: dict[str, Any]) -> Key:
    return (
        label["capture"],
        label["detector"],
        label["identifier"],
        label["where"],
        label["host"],
        label["sha256"],
    )


def findings() -> dict[Key, dict[str, Any]]:
    """Every finding of a profile-less scan of every capture, by label key."""
    out: dict[Key, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in captures():
            name = str(path.relative_to(ROOT))
            for f in scan(path, Path(tmp))["findings"]:
                out[finding_key(name, f)] = f
    return out


def load_labels() -> dict[Key, dict[str, Any]]:
    data = json.loads(LABELS.read_text())
    return {label_key(x): x for x in data["labels"]}


def table(found: dict[Key, dict[str, Any]], labels: dict[Key, dict[str, Any]]) -> list[str]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    for key in found:
        (tp if labels[key]["true"] else fp)[key[1]] += 1
    rows = [
        "| detector | findings | true | false | precision |",
        "|---|---:|---:|---:|---:|",
    ]
    for detector in sorted(tp.keys() | fp.keys()):
        n = tp[detector] + fp[detector]
        rows.append(
            f"| `{detector}` | {n} | {tp[detector]} | {fp[detector]} | {tp[detector] / n:.3f} |"
        )
    total_tp, total = sum(tp.values()), sum(tp.values()) + sum(fp.values())
    rows.append(f"| all | {total} | {total_tp} | {total - total_tp} | {total_tp / total:.3f} |")
    return rows


def precision(
    found: dict[Key, dict[str, Any]], labels: dict[Key, dict[str, Any]]
) -> dict[str, float]:
    tp: Counter[str] = Counter()
    n: Counter[str] = Counter()
    for key in found:
        n[key[1]] += 1
        tp[key[1]] += labels[key]["true"]
    return {d: tp[d] / n[d] for d in n}


def stub(key: Key, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "capture": key[0],
        "detector": key[1],
        "identifier": key[2],
        "where": key[3],
        "host": key[4],
        "sha256": key[5],
        "value": f["value_redacted"],
        "true": None,
        "why": "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unlabelled", action="store_true", help="print label stubs")
    args = parser.parse_args()
    found = findings()
    labels = load_labels()
    missing = [k for k in found if k not in labels]
    stale = [k for k in labels if k not in found and not labels[k].get("only_interpreted")]
    if args.unlabelled:
        print(json.dumps([stub(k, found[k]) for k in missing], indent=2, ensure_ascii=False))
        return 0
    print(f"{len(captures())} captures, {len(found)} findings without a profile\n")
    for line in table({k: v for k, v in found.items() if k in labels}, labels):
        print(line)
    for key in missing:
        print(f"UNLABELLED: {key}")
    for key in stale:
        print(f"STALE LABEL (no such finding): {key}")
    for key, label in labels.items():
        if key in found and not label["true"]:
            print(f"false: {label['detector']} {label['value']} at {label['where']} "
                  f"({label['capture']}): {label['why']}")  # fmt: skip
    return 1 if missing or stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
