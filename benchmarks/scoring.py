"""Scoring a scan against what is known to be in its capture.

One implementation for ``benchmarks/accuracy.py`` (precision and recall, printed) and
``tests/test_accuracy.py`` (the same figures as a gate in every CI run), so that the
benchmark and the test cannot drift apart. It reads only public contracts: the scan
document (``phonehome scan --format json --reveal``, docs/scan-json.md), the simulator's
ground truth (``phonehome.truth/1``, docs/simulator.md) and the hand labels
(benchmarks/labels.json) — never phonehome's internals, which may move.

Ground truth and findings name the decoding of a leak in two documented vocabularies;
:func:`expected_chain` translates the first into the second, rule by rule, so that the
encoding chain is compared exactly rather than ignored.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels.json"
REAL = HERE.parent / "tests" / "shared"  # the labelled captures, vendored (tests/shared)

FINAL_TRANSFORMS = frozenset({"md5", "sha1", "sha256", "scaled-1e6"})
"""Truth ``encoding`` names that are the value's own spelling (a digest, scaled
coordinates): a finding reports them as its ``form``, not in ``encoding``."""

Doc = Mapping[str, Any]
Key = tuple[str, str, str, str]
"""(identifier, value in lower case, where, host): a leak, wherever it is described."""


def expected_chain(leak: Doc) -> tuple[tuple[str, ...], str]:
    """The (``encoding``, ``form``) a correct finding reports for a ground-truth leak.

    - A trailing ``md5``/``sha1``/``sha256``/``scaled-1e6`` is the finding's ``form``; a
      leak's own ``form`` (an IMEI URN, an IMSI in an EAP NAI) is the form.
    - A cell id spelled in decimal or as a hex number has form ``decimal`` / ``hex-number``
      (the truth's ``raw`` says which); any other value appears ``plain``.
    - ``gzip`` first in an ``http.body`` chain is the request's Content-Encoding: the scan's
      ``http.body`` is the body after it (docs/fields.md), so it is not a layer there.
    - For a query parameter or a form-body field, percent-decoding once is part of the
      grammar in the scan (docs/fields.md: ``url`` only when encoded twice), while the truth
      lists ``url`` whenever the value held an escape (docs/simulator.md).
    - A form body: the truth implies the form split by its ``where``; the scan lists
      ``form`` as a structure recognised in the free-form body.
    """
    chain = list(leak["encoding"])
    form = chain.pop() if chain and chain[-1] in FINAL_TRANSFORMS else "plain"
    form = leak.get("form", form)
    if leak["identifier"] == "cell_id":
        raw = leak.get("raw", leak["value"])
        form = "decimal" if raw == str(int(leak["value"], 16)) else "hex-number"
    part, _, path = leak["where"].partition(":")
    first = path.split(">")[0]
    form_body = part == "http.body" and first != "" and first[0] not in "$#/"
    if part == "http.body" and chain[:1] == ["gzip"]:
        chain.pop(0)
    if (part == "http.query" or form_body) and chain[:1] == ["url"]:
        chain.pop(0)
    if form_body:
        chain.insert(0, "form")
    return tuple(chain), form


def leak_key(leak: Doc) -> Key:
    return (leak["identifier"], str(leak["value"]).lower(), leak["where"], leak["host"])


def finding_key(finding: Doc) -> Key:
    """Needs the raw ``value``: the scan must have been made with ``--reveal``."""
    return (finding["identifier"], str(finding["value"]).lower(), finding["where"], finding["host"])


@dataclass
class TruthCheck:
    """A scan made with the device's profile, against the capture's ground truth."""

    missed: list[str] = field(default_factory=list)
    """Leaks with no finding at their place with their value."""
    wrong: list[str] = field(default_factory=list)
    """Leaks found, but with another encoding chain, form or occurrence count."""
    extra: list[str] = field(default_factory=list)
    """Findings the ground truth does not have (decoy hits among them)."""
    decoy_hits: list[str] = field(default_factory=list)
    """Findings at the place of a decoy (a place where nothing must be reported)."""
    found: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missed or self.wrong or self.extra or self.decoy_hits)


def check_truth(doc: Doc, truth: Doc) -> TruthCheck:
    """Every leak found exactly (value, where, host, encoding chain, form, count), nothing
    else reported, no decoy touched."""
    out = TruthCheck()
    findings: dict[Key, list[Doc]] = {}
    for f in doc["findings"]:
        findings.setdefault(finding_key(f), []).append(f)
    for leak in truth["leaks"]:
        key = leak_key(leak)
        label = f"{leak['identifier']} at {leak['where']} ({leak['host']})"
        got = findings.get(key, [])
        if not got:
            out.missed.append(label)
            continue
        want_encoding, want_form = expected_chain(leak)
        chains = [(tuple(f["encoding"]), f["form"], f["count"]) for f in got]
        if (want_encoding, want_form, len(leak["frames"])) not in chains:
            out.wrong.append(
                f"{label}: expected {list(want_encoding)}/{want_form} x{len(leak['frames'])}, "
                f"got {[(list(e), fm, n) for e, fm, n in chains]}"
            )
        else:
            out.found += 1
    expected = {leak_key(leak) for leak in truth["leaks"]}
    decoys = {(d["where"], d["host"]) for d in truth.get("decoys", [])}
    for key, got in findings.items():
        for f in got:
            label = f"{f['identifier']} at {f['where']} ({f['host']}) [{f['detector']}]"
            if (f["where"], f["host"]) in decoys:
                out.decoy_hits.append(label)
            if key not in expected:
                out.extra.append(label)
    return out


UNVALIDATED = "device_id"
"""The field-name heuristic's identifier: a value sent as "the device id", type unknown."""


def pattern_places(doc: Doc, truth: Doc | None = None) -> set[tuple[str, str, str]]:
    """(identifier, where, host) of every finding: without a profile the pattern detectors
    report normal forms (a cell id in decimal), so places are compared, not values. Given
    the ``truth``, an unvalidated device id at a labelled place is that place's leak (the
    heuristic names no type; the label does)."""
    labelled = {(x["where"], x["host"]): x["identifier"] for x in (truth or {}).get("leaks", [])}
    out = set()
    for f in doc["findings"]:
        ident = f["identifier"]
        if ident == UNVALIDATED:
            ident = labelled.get((f["where"], f["host"]), ident)
        out.add((ident, f["where"], f["host"]))
    return out


def truth_places(truth: Doc) -> set[tuple[str, str, str]]:
    return {(x["identifier"], x["where"], x["host"]) for x in truth["leaks"]}


# --- hand-labelled real captures ----------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """One capture of benchmarks/labels.json."""

    file: Path
    profile: dict[str, str] | None
    leaks: frozenset[tuple[str, str, str]]
    """(identifier, where, host) that a scan with ``profile`` must report."""
    banned: frozenset[str]
    """Identifiers a scan without a profile must not report here."""


def labels() -> list[Label]:
    data = json.loads(LABELS.read_text())
    return [
        Label(
            REAL / item["file"],
            item["profile"],
            frozenset((x["identifier"], x["where"], x["host"]) for x in item["leaks"]),
            frozenset(item["without_profile_must_not_report"]),
        )
        for item in data["captures"]
    ]


def profile_toml(values: Mapping[str, str]) -> str:
    """A device profile (docs/profile.md) holding ``values``."""
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in sorted(values.items()))


def forbidden(doc: Doc, banned: Iterable[str]) -> list[str]:
    """Findings of a scan without a profile that name a banned identifier."""
    ban = set(banned)
    return [
        f"{f['identifier']} at {f['where']} ({f['host']})"
        for f in doc["findings"]
        if f["identifier"] in ban
    ]


# --- precision and recall ----------------------------------------------------------------


class Tally:
    """True/false positives and misses per identifier, with a few examples to print."""

    def __init__(self) -> None:
        self.tp: Counter[str] = Counter()
        self.fp: Counter[str] = Counter()
        self.fn: Counter[str] = Counter()
        self.examples: list[str] = []

    def add(self, expected: set[Any], got: set[Any], label: str) -> None:
        """Keys are tuples whose first item is the identifier."""
        for k in got & expected:
            self.tp[k[0]] += 1
        for k in got - expected:
            self.fp[k[0]] += 1
            self.examples.append(f"  false positive in {label}: {k}")
        for k in expected - got:
            self.fn[k[0]] += 1
            self.examples.append(f"  missed in {label}: {k}")

    def totals(self) -> tuple[int, int, int]:
        return sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())

    def precision_recall(self) -> tuple[float, float]:
        return pr(*self.totals())

    def report(self, title: str) -> tuple[float, float]:
        print(f"\n{title}")
        print(f"  {'identifier':<12} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>8}")
        for i in sorted(set(self.tp) | set(self.fp) | set(self.fn)):
            p, r = pr(self.tp[i], self.fp[i], self.fn[i])
            print(f"  {i:<12} {self.tp[i]:>4} {self.fp[i]:>4} {self.fn[i]:>4} {p:>10.3f} {r:>8.3f}")
        tp, fp, fn = self.totals()
        p, r = pr(tp, fp, fn)
        print(f"  {'overall':<12} {tp:>4} {fp:>4} {fn:>4} {p:>10.3f} {r:>8.3f}")
        for line in self.examples[:15]:
            print(line)
        return p, r


def pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)
