"""Severity: levels from the documented table, with reasons, on the Nokia scan and a table."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.enrich.events import load_events
from phonehome.enrich.severity import SENSITIVITY, assess, human_interval
from phonehome.enrich.timeline import summarize
from phonehome.enrich.triggers import correlate
from phonehome.model.profile import IDENTIFIERS

CHINA_TELECOM = {
    "registrable_domain": "vnet.cn",
    "entity": "China Telecom",
    "party": "third",
    "country": "CN",
    "jurisdiction": {
        "region": "third country",
        "out_of_home_region": True,
        "basis": "IP registered in CN (per ip-location-db, 2026-03-01)",
    },
}


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_nokia_registration_is_high_with_every_reason(tmp_path: Path) -> None:
    simulate.run("nokia7plus", tmp_path / "x.pcap")
    result = CliRunner().invoke(
        main,
        [
            "scan",
            str(tmp_path / "x.pcap"),
            "--device",
            str(tmp_path / "x.device.toml"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["findings"]
    events = load_events(tmp_path / "x.events.csv")
    zzhc = [f for f in findings if f["host"] == "zzhc.vnet.cn"]
    assert {f["identifier"] for f in zzhc} >= {"imei", "imsi", "iccid", "mac", "cell_id"}
    for finding in zzhc:
        times = [epoch(t) for t in finding["times"]]
        enriched = {
            **finding,
            "destination": CHINA_TELECOM,
            "timeline": summarize(times),
            "trigger": correlate(times, events, window_s=10.0),
        }
        severity = assess(enriched)
        assert severity["level"] == "high", severity
        text = " ".join(severity["reasons"])
        assert "clear text" in text
        assert "third party (China Telecom)" in text
        assert "outside the home region (IP registered in CN" in text
        assert "third country" in text
        assert f"after {len(times)} of {len(times)} unlock events" in text
        # the same finding without destination data still says what it is and how it went
        enrichment = ("destination", "timeline", "trigger", "trigger_hint", "severity")
        bare = assess({k: v for k, v in finding.items() if k not in enrichment})
        assert bare["level"] in ("high", "medium")
        assert len(bare["reasons"]) == 2


def finding(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "identifier": "imei",
        "readability": "decrypted",
        "confidence": 1.0,
        "profile_match": True,
        "where": "http.body:$.imei",
    }
    base.update(fields)
    return base


FIRST_PARTY_HOME = {
    "party": "first",
    "jurisdiction": {"region": "EU/EEA", "out_of_home_region": False},
}
THIRD_PARTY_HOME = {
    "party": "third",
    "entity": "Example Ads",
    "jurisdiction": {"region": "EU/EEA", "out_of_home_region": False},
}
US_ADEQUACY = {
    "party": "third",
    "entity": "Example Analytics",
    "jurisdiction": {"region": "adequacy (partial)", "out_of_home_region": True},
}


@pytest.mark.parametrize(
    ("fields", "level"),
    [
        ({"readability": "cleartext"}, "high"),  # 3 + 3
        ({}, "medium"),  # an IMEI, even over HTTPS to its own vendor
        ({"destination": FIRST_PARTY_HOME}, "medium"),
        ({"identifier": "ad_id"}, "low"),
        ({"identifier": "ad_id", "destination": THIRD_PARTY_HOME}, "low"),
        ({"identifier": "ad_id", "destination": CHINA_TELECOM}, "medium"),
        ({"identifier": "ad_id", "readability": "cleartext"}, "medium"),
        ({"identifier": "android_id", "destination": US_ADEQUACY}, "medium"),
        ({"identifier": "mac"}, "low"),
        ({"identifier": "mac", "readability": "cleartext"}, "medium"),
        (
            {"identifier": "mac", "readability": "cleartext", "destination": THIRD_PARTY_HOME},
            "high",
        ),
        # in a TLS server name, an identifier is readable on the path
        ({"readability": "encrypted", "where": "tls.sni:label[0]"}, "high"),
        ({"identifier": "imsi", "readability": "encrypted", "where": "http.body"}, "low"),
        # a shaky pattern match is pulled down a level
        ({"readability": "cleartext", "profile_match": False, "confidence": 0.6}, "medium"),
        ({"readability": "cleartext", "profile_match": False, "confidence": 0.95}, "high"),
        # frequency and triggers push a borderline finding up
        (
            {
                "identifier": "android_id",
                "readability": "cleartext",
                "timeline": {"per_day": {"2026-03-02": 96}, "interval_s": 900.0},
            },
            "medium",
        ),
        (
            {
                "identifier": "mac",
                "destination": THIRD_PARTY_HOME,
                "timeline": {"per_day": {"2026-03-02": 96}, "interval_s": 900.0},
            },
            "medium",
        ),
        (
            {
                "identifier": "mac",
                "destination": CHINA_TELECOM,
                "timeline": {"per_day": {"2026-03-02": 30}, "interval_s": None},
            },
            "high",
        ),
    ],
)
def test_severity_table(fields: dict[str, Any], level: str) -> None:
    result = assess(finding(**fields))
    assert result["level"] == level, result
    assert result["reasons"] and all(isinstance(r, str) and r for r in result["reasons"])


@pytest.mark.parametrize(
    ("trigger", "says"),
    [
        (
            {
                "event": "unlock",
                "matched": 6,
                "of": 6,
                "baseline": 0.04,
                "p_value": 4e-9,
                "window_s": 5.0,
            },
            True,
        ),
        (
            {
                "event": "unlock",
                "matched": 3,
                "of": 10,
                "baseline": 0.167,
                "p_value": 0.22,
                "window_s": 5.0,
            },
            False,
        ),  # a 30 s beacon
        ({"event": "boot", "matched": 1, "of": 1, "baseline": 0.001, "p_value": 0.001}, False),
        (None, False),
    ],
)
def test_trigger_reason_needs_significance(trigger: dict[str, Any] | None, says: bool) -> None:
    reasons = assess(finding(trigger=trigger))["reasons"]
    assert any("after" in r and "events" in r for r in reasons) is says


def test_every_identifier_has_a_documented_sensitivity() -> None:
    assert set(SENSITIVITY) == set(IDENTIFIERS)


@pytest.mark.parametrize(
    "junk",
    [
        {},
        {"identifier": 5, "destination": "x", "timeline": [1], "trigger": {"p_value": "0"}},
        {"timeline": {"per_day": {"d": "many"}, "interval_s": -1}, "confidence": True},
    ],
)
def test_bad_input_never_raises(junk: dict[str, Any]) -> None:
    result = assess(junk)
    assert result["level"] in ("high", "medium", "low")


def test_deterministic() -> None:
    item = finding(readability="cleartext", destination=CHINA_TELECOM)
    assert assess(item) == assess(json.loads(json.dumps(item)))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (30, "30 s"),
        (900, "15 min"),
        (3600, "60 min"),
        (21600, "6 h"),
        (5400, "90 min"),
        (9000, "2.5 h"),
    ],
)
def test_human_interval(seconds: float, text: str) -> None:
    assert human_interval(seconds) == text
