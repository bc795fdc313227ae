"""The real-traffic precision benchmark as a gate: every finding a profile-less scan makes
on the real captures has a hand label (benchmarks/precision_labels.json), and no label is
left without its finding, so a detector change that adds or drops a finding on real
traffic is seen and labelled before it lands (benchmarks/precision.py prints the table)."""

from __future__ import annotations

import json
from typing import Any

import pytest
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


@pytest.fixture(scope="module")
def found() -> dict[precision.Key, dict[str, Any]]:
    return _findings()


def test_every_finding_on_real_traffic_is_labelled_and_every_label_found(
    found: dict[precision.Key, dict[str, Any]],
) -> None:
    labels = precision.load_labels()
    assert sorted(set(found) - set(labels)) == []
    stale = {k for k in set(labels) - set(found) if not labels[k].get("only_interpreted")}
    assert sorted(stale) == []
    assert all(isinstance(x["true"], bool) and x["why"] for x in labels.values())


def test_the_corpus_covers_every_real_capture_source() -> None:
    names = {p.parent.name for p in precision.captures()}
    assert names == {"real", "mobile", "har", "ssh", "radius", "sip", "noise", "tls"}
    assert not [p for p in precision.captures() if p.name.endswith(".dsb.pcapng")]


def test_no_ssh_names_as_e_mails(
    found: dict[precision.Key, dict[str, Any]],
) -> None:
    # issue 12, done when: the real OpenSSH key exchange offers dozens of name@domain
    # algorithm names (no real capture here sends a placeholder MAC in its payloads:
    # those are test_detect_placeholders' and test_detect_mac's hand-built cases)
    assert not [k for k in found if k[0].startswith("tests/data/ssh/") and k[2] == "email"]
    ssh_domains = ("@openssh.com", "@libssh.org", "@ssh.com", "@lysator.liu.se")
    assert not [f for f in found.values() if str(f["value"]).endswith(ssh_domains)]
