"""Detection accuracy as a gate: the simulator's labelled corpus and the hand-labelled real
captures, scored by the same code as ``benchmarks/accuracy.py`` (benchmarks/scoring.py).

- ``encodings`` over several seeds (every encoding and protocol the simulator has, and its
  decoys), ``nokia7plus`` and the mobile scenarios ``volte`` and ``eap-aka``: with the
  device profile every leak of the ground truth is found with its value, ``where``, host,
  encoding chain, form and count, nothing else is reported, no decoy is touched; without a
  profile the pattern detectors report nothing outside the labelled places.
- benchmarks/labels.json: each labelled leak found with its profile, no banned identifier
  reported without one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks import scoring
from phonehome import simulate
from phonehome.cli import main

SEEDS = {"encodings": [1, 2, 3, 4, 5], "nokia7plus": [1, 2], "volte": [1, 2], "eap-aka": [1, 2]}
CORPUS = [(scenario, seed) for scenario, seeds in SEEDS.items() for seed in seeds]


def scan(capture: Path, device: Path | None) -> dict[str, Any]:
    args = ["scan", str(capture), "--format", "json", "--reveal", "--no-store"]
    res = CliRunner().invoke(main, [*args, *(["--device", str(device)] if device else [])])
    assert res.exit_code in (0, 1), res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Path]:
    folder = tmp_path_factory.mktemp("accuracy")
    out = {}
    for scenario, seed in CORPUS:
        path = folder / f"{scenario}-{seed}.pcap"
        simulate.run(scenario, path, seed=seed)
        out[(scenario, seed)] = path
    return out


def sidecar(capture: Path, suffix: str) -> Path:
    return capture.with_name(capture.stem + suffix)


@pytest.mark.parametrize(("scenario", "seed"), CORPUS, ids=[f"{s}-{n}" for s, n in CORPUS])
def test_every_leak_found_exactly_and_nothing_else(
    corpus: dict[tuple[str, int], Path], scenario: str, seed: int
) -> None:
    capture = corpus[(scenario, seed)]
    truth = json.loads(sidecar(capture, ".truth.json").read_text())
    result = scoring.check_truth(scan(capture, sidecar(capture, ".device.toml")), truth)
    assert result.missed == []
    assert result.wrong == []
    assert result.extra == []
    assert result.decoy_hits == []
    assert result.found == len(truth["leaks"]) > 0
    if scenario == "encodings":
        assert len(truth["decoys"]) == 7  # the decoys were really there to be avoided


@pytest.mark.parametrize(("scenario", "seed"), CORPUS, ids=[f"{s}-{n}" for s, n in CORPUS])
def test_pattern_detectors_alone_report_only_labelled_places(
    corpus: dict[tuple[str, int], Path], scenario: str, seed: int
) -> None:
    capture = corpus[(scenario, seed)]
    truth = json.loads(sidecar(capture, ".truth.json").read_text())
    doc = scan(capture, None)
    got = scoring.pattern_places(doc, truth)
    assert got <= scoring.truth_places(truth)
    assert got, "the pattern detectors found none of the labelled leaks"
    decoys = {(d["where"], d["host"]) for d in truth.get("decoys", [])}
    assert not [p for p in got if p[1:] in decoys]


def test_the_gate_catches_each_kind_of_error(corpus: dict[tuple[str, int], Path]) -> None:
    """A finding dropped, reported with another chain, added, or at a decoy's place: each
    is reported, so the exact check above is not vacuous."""
    capture = corpus[("encodings", 1)]
    truth = json.loads(sidecar(capture, ".truth.json").read_text())
    doc = scan(capture, sidecar(capture, ".device.toml"))
    assert scoring.check_truth(doc, truth).ok
    first, *rest = doc["findings"]
    assert len(scoring.check_truth({**doc, "findings": rest}, truth).missed) == 1
    rechained = {**first, "encoding": [*first["encoding"], "base64"]}
    assert len(scoring.check_truth({**doc, "findings": [rechained, *rest]}, truth).wrong) == 1
    recounted = {**first, "count": first["count"] + 1}
    assert len(scoring.check_truth({**doc, "findings": [recounted, *rest]}, truth).wrong) == 1
    decoy = truth["decoys"][0]
    planted = {**first, "where": decoy["where"], "host": decoy["host"], "value": decoy["value"]}
    bad = scoring.check_truth({**doc, "findings": [*doc["findings"], planted]}, truth)
    assert len(bad.decoy_hits) == 1 and len(bad.extra) == 1 and not bad.ok


def test_expected_chain_translates_the_documented_differences() -> None:
    """The translation itself, on the shapes the ground truth uses (docs/simulator.md)."""
    cases = [
        (
            {"encoding": ["base64", "json"], "where": "http.body:$.IMEI1"},
            (("base64", "json"), "plain"),
        ),
        ({"encoding": ["url"], "where": "http.query:email"}, ((), "plain")),
        ({"encoding": ["url"], "where": "http.body:msisdn"}, (("form",), "plain")),
        ({"encoding": [], "where": "http.body:imsi"}, (("form",), "plain")),
        ({"encoding": ["gzip", "json"], "where": "http.body:$.a"}, (("json",), "plain")),
        ({"encoding": ["json", "sha256"], "where": "http.body:$.e"}, (("json",), "sha256")),
        ({"encoding": ["md5"], "where": "http.query:uid"}, ((), "md5")),
        ({"encoding": ["hex"], "where": "dns.qname:label[0]"}, (("hex",), "plain")),
        ({"encoding": ["url"], "where": "http.header:X-Id"}, (("url",), "plain")),
    ]
    for leak, want in cases:
        assert scoring.expected_chain({"identifier": "imei", "value": "1", **leak}) == want, leak
    cell = {"identifier": "cell_id", "value": "0x9fa2e0c", "encoding": ["json"], "where": "x"}
    assert scoring.expected_chain({**cell, "raw": "167390732"}) == (("json",), "decimal")
    assert scoring.expected_chain({**cell, "raw": "9FA2E0C"}) == (("json",), "hex-number")


# --- hand-labelled real captures (benchmarks/labels.json) --------------------------------

LABELS = scoring.labels()


@pytest.mark.parametrize("label", LABELS, ids=[lb.file.name for lb in LABELS])
def test_hand_labels(label: scoring.Label, tmp_path: Path) -> None:
    if label.profile is not None:
        device = tmp_path / "device.toml"
        device.write_text(scoring.profile_toml(label.profile))
        got = scoring.pattern_places(scan(label.file, device))
        assert label.leaks <= got, f"missed {sorted(label.leaks - got)}"
    bare = scan(label.file, None)
    assert scoring.forbidden(bare, label.banned) == []


def test_the_labels_cover_every_real_capture() -> None:
    labelled = {lb.file.name for lb in LABELS}
    real = {p.name for p in (scoring.REAL / "fixtures" / "real").iterdir()}
    assert labelled == real


def test_leaky_mix_every_leak_found_exactly(tmp_path: Path) -> None:
    """The identifier search's worst case (issue 15): ~64 overlapping keep-alive HTTP
    connections, retransmitted segments, nearly every request carrying the IMEI in one of
    five ways; every one found, counted and placed exactly."""
    capture = tmp_path / "leaky.pcap"
    simulate.run("bench", capture, seed=3, size_mb=2, mix="leaky")
    truth = json.loads(sidecar(capture, ".truth.json").read_text())
    result = scoring.check_truth(scan(capture, sidecar(capture, ".device.toml")), truth)
    assert (result.missed, result.wrong, result.extra) == ([], [], [])
    assert result.found == len(truth["leaks"]) > 0
    sends = sum(len(leak["frames"]) for leak in truth["leaks"])
    assert sends > 100  # "nearly every request": hundreds of sends in 2 MB
