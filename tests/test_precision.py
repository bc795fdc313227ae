"""The real-traffic precision benchmark as a gate: every finding a profile-less scan makes
on the real captures has a hand label (benchmarks/precision_labels.json), and no label is
left without its finding, so a detector change that adds or drops a finding on real
traffic is seen and labelled before it lands (benchmarks/precision.py prints the table)."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from benchmarks import precision
from phonehome.cli import main


def _findings() -> dict[precision.Key, dict[str, Any]]:
    out: dict[precision.Key, dict[str, Any]] = {}
    for path in precision.captures():
        args = ["scan", str(path), "--format", "json", "--reveal", "--no-store"]
        res = CliRunner().invoke(main, args)
        assert res.exit_code in (0, 1), res.output
        name = str(path.relative_to(precision.ROOT))
        for f in json.loads(res.stdout)["findings"]:
            out[precision.finding_key(name, f)] = f
    return out


def test_every_finding_on_real_traffic_is_labelled_and_every_label_found() -> None:
    found = _findings()
    labels = precision.load_labels()
    assert sorted(set(found) - set(labels)) == []
    stale = {k for k in set(labels) - set(found) if not labels[k].get("only_interpreted")}
    assert sorted(stale) == []
    assert all(isinstance(x["true"], bool) and x["why"] for x in labels.values())


def test_the_corpus_covers_every_real_capture_source() -> None:
    names = {p.parent.name for p in precision.captures()}
    assert names == {"real", "mobile", "har", "ssh", "radius", "sip", "noise", "tls"}
    assert not [p for p in precision.captures() if p.name.endswith(".dsb.pcapng")]
