"""Enrichment as an ordered list of enrichers over finding records, run once per scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phonehome import simulate
from phonehome.cli.scan import ScanRequest, run_scan_command
from phonehome.detect.profile import load_profile
from phonehome.enrich import destination
from phonehome.enrich.apps import AppFromCodeEnricher
from phonehome.enrich.base import Enricher, Scan
from phonehome.enrich.destination import DestinationEnricher
from phonehome.enrich.enrichers import EnrichOptions, default_enrichers, enrich
from phonehome.enrich.events import load_events
from phonehome.enrich.severity import SeverityEnricher
from phonehome.enrich.timeline import TimelineEnricher
from phonehome.enrich.triggers import TriggerEnricher
from phonehome.findings import Finding
from phonehome.pipeline import open_all
from phonehome.privacy import ValueIds
from phonehome.report.view import build_view
from phonehome.scan_pass import ScanResult, run_scan
from phonehome.static.apk import analyze_apk

APKS = Path(__file__).resolve().parent / "apks" / "built"
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def nokia(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nokia") / "nokia.pcap"
    simulate.run("nokia7plus", out, seed=3)
    return out


def scan(capture: Path) -> ScanResult:
    profile, _ = load_profile(capture.with_name(capture.stem + ".device.toml"))
    return run_scan(open_all([str(capture)]), profile)


def test_default_order() -> None:
    names = [type(e).__name__ for e in default_enrichers(EnrichOptions())]
    assert names == [
        "DestinationEnricher",
        "TimelineEnricher",
        "TriggerEnricher",
        "SeverityEnricher",
    ]
    reports = [analyze_apk(APKS / "AutoReg.apk").to_dict()]
    first = default_enrichers(EnrichOptions(app_reports=reports))[0]
    assert isinstance(first, AppFromCodeEnricher)  # before destination: party needs the app


def test_enrichers_write_the_records_in_order(nokia: Path) -> None:
    result = scan(nokia)
    events = load_events(nokia.with_name("nokia.events.csv"), reference_time=result.first_time)
    enrich(result, default_enrichers(EnrichOptions(events=list(events))))
    for f in result.findings:
        assert list(f.extra) == ["destination", "timeline", "trigger", "severity"]
        assert f.extra["destination"]["entity"] == "China Telecom"
        assert f.extra["trigger"]["event"] == "unlock"
        assert f.extra["severity"]["level"] == "high"
    assert list(result.extra) == ["datasets", "trigger_events"]
    doc = build_view(result, ValueIds(KEY)).doc
    for item, f in zip(doc["findings"], result.findings, strict=True):
        assert list(item)[-4:] == ["destination", "timeline", "trigger", "severity"]
        assert item["severity"] == f.extra["severity"]
    assert list(doc)[-2:] == ["datasets", "trigger_events"]


def test_without_events_a_hint_and_no_trigger(nokia: Path) -> None:
    result = scan(nokia)
    enrich(result, [TriggerEnricher([], 10.0)])
    assert all(f.extra["trigger"] is None for f in result.findings)
    assert "trigger_events" not in result.extra


def test_severity_reads_what_earlier_enrichers_wrote(nokia: Path) -> None:
    alone = scan(nokia)
    enrich(alone, [SeverityEnricher()])
    after = scan(nokia)
    enrich(after, [DestinationEnricher(), TimelineEnricher(), SeverityEnricher()])
    f, g = alone.findings[0], after.findings[0]
    assert not any("third country" in r for r in f.extra["severity"]["reasons"])
    assert any("third country" in r for r in g.extra["severity"]["reasons"])


class Tag(Enricher):
    """A new enricher is a class and a place in the list: nothing else changes."""

    def finding(self, finding: Finding, scan: Scan) -> None:
        finding.extra["tag"] = f"{finding.identifier}@{finding.host}"

    def done(self, scan: Scan) -> None:
        scan.extra["tagged"] = len(scan.findings)


def test_a_new_enricher_reaches_the_document(nokia: Path) -> None:
    result = scan(nokia)
    enrich(result, [*default_enrichers(EnrichOptions()), Tag()])
    doc = build_view(result, ValueIds(KEY)).doc
    assert doc["tagged"] == len(doc["findings"]) > 0
    assert {f["tag"] for f in doc["findings"]} == {
        f"{f.identifier}@zzhc.vnet.cn" for f in result.findings
    }


def test_apps_from_code_label_only_unlabelled_findings(nokia: Path) -> None:
    result = scan(nokia)
    reports = [analyze_apk(p).to_dict() for p in sorted(APKS.glob("*.apk"))]
    from phonehome.model.message import AppLabel

    labelled = AppLabel(10123, ("com.example.pcapdroid",), "pcapdroid")
    result.findings[0].app = labelled
    enrich(result, [AppFromCodeEnricher(reports)])
    assert result.findings[0].app is labelled and result.findings[0].app_evidence is None
    for f in result.findings[1:]:
        assert f.app is not None and f.app.packages == ("org.phonehome.test.autoreg",)
        assert f.app.source == "apk" and f.app_evidence and "zzhc.vnet.cn" in f.app_evidence
    item = build_view(result, ValueIds(KEY)).doc["findings"][1]
    assert (
        item["app"]["source"] == "apk"
        and item["app"]["evidence"] == result.findings[1].app_evidence
    )


def test_reveal_enriches_once(nokia: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = destination.describe

    def counting(host: str, *args: Any, **kw: Any) -> dict[str, Any]:
        calls.append(host)
        return real(host, *args, **kw)

    monkeypatch.setattr(destination, "describe", counting)
    device = nokia.with_name("nokia.device.toml")
    request = ScanRequest(captures=(str(nokia),), device_file=device, store=False)
    plain = run_scan_command(request)
    once = len(calls)
    assert once >= 1
    calls.clear()
    request.reveal = True
    shown = run_scan_command(request)
    assert len(calls) == once  # not twice: the raw document reuses the enriched records
    for a, b in zip(plain.doc["findings"], shown.doc["findings"], strict=True):
        for key in ("destination", "timeline", "trigger", "severity"):
            assert a[key] == b[key]
        assert "value" in b and "value" not in a
