"""Linking traffic to code: the simulated Nokia capture's zzhc findings get the test
autoregistration app; a hit/miss table of host, domain and IP matches."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.static.apk import analyze_apk
from phonehome.static.attribution import attribute
from phonehome.static.firmware import analyze_tree

APKS = Path(__file__).resolve().parent / "apks"
AUTOREG = "org.phonehome.test.autoreg"


@pytest.fixture(scope="module")
def nokia_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("nokia") / "nokia.pcap"
    simulate.run("nokia7plus", out, seed=3)
    device = out.with_name(out.stem + ".device.toml")
    res = CliRunner().invoke(main, ["scan", str(out), "--device", str(device), "--format", "json"])
    assert res.exit_code == 1, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def test_nokia_zzhc_findings_name_the_autoregistration_app(nokia_doc: dict[str, Any]) -> None:
    zzhc = [f for f in nokia_doc["findings"] if f["host"] == "zzhc.vnet.cn"]
    assert zzhc and all(f["app"] is None for f in zzhc)  # a plain pcap carries no app
    reports = [
        analyze_apk(APKS / "built" / name).to_dict()
        for name in ("AutoReg.apk", "Weather.apk", "ImeiLog.apk")
    ]
    before = copy.deepcopy(nokia_doc)
    linked = attribute(nokia_doc, reports)
    assert nokia_doc == before  # the input document is left alone
    for f in linked["findings"]:
        if f["host"] != "zzhc.vnet.cn":
            continue
        app = f["app"]
        assert app["packages"] == [AUTOREG]
        assert app["source"] == "apk" and app["uid"] is None
        assert app["evidence"].startswith(f"host zzhc.vnet.cn in {AUTOREG}: dex string http://zzhc")
        chain = next((c for c in reports[0]["chains"] if c["identifier"] == f["identifier"]), None)
        if chain is not None:  # the code path that reads this very identifier
            assert chain["text"] in app["evidence"]


def test_firmware_summaries_link_as_well(nokia_doc: dict[str, Any]) -> None:
    apps, _ = analyze_tree(APKS / "firmware" / "new", jobs=1, cache=False)
    linked = attribute(nokia_doc, apps)
    assert {tuple(f["app"]["packages"]) for f in linked["findings"]} == {(AUTOREG,)}


def report(
    package: str, *endpoints: str, chains: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    eps = []
    for value in endpoints:
        parts = urlsplit(value)
        host, scheme = (parts.hostname, parts.scheme) if parts.scheme else (value, None)
        eps.append({"value": value, "host": host, "scheme": scheme, "where": "dex"})
    return {"package": package, "endpoints": eps, "chains": chains or []}


REPORTS = [
    report("a.reg", "http://zzhc.vnet.cn/"),
    report("b.ads", "https://ads.tracker.example.com/v1", "cdn.tracker.example.com"),
    report("c.ads", "https://ads.tracker.example.com/v2"),
    report("d.ip", "http://203.0.113.9:8080/up"),
    report("", "http://nameless.example.net/"),  # no package: cannot be named
]


@pytest.mark.parametrize(
    ("host", "packages", "how"),
    [
        ("zzhc.vnet.cn", ["a.reg"], "host"),
        ("ZZHC.vnet.cn.", ["a.reg"], "host"),
        ("other.vnet.cn", ["a.reg"], "domain"),
        ("ads.tracker.example.com", ["b.ads", "c.ads"], "host"),
        ("cdn.tracker.example.com", ["b.ads"], "host"),  # exact beats domain: c.ads not named
        ("img.tracker.example.com", ["b.ads", "c.ads"], "domain"),
        ("203.0.113.9", ["d.ip"], "host"),
        ("203.0.113.10", None, None),
        ("vnet.com", None, None),
        ("nameless.example.net", None, None),
        ("", None, None),
    ],
)
def test_host_table(host: str, packages: list[str] | None, how: str | None) -> None:
    doc = {"findings": [{"identifier": "imei", "host": host, "app": None}]}
    (finding,) = attribute(doc, REPORTS)["findings"]
    if packages is None:
        assert finding["app"] is None
    else:
        assert finding["app"]["packages"] == packages
        assert finding["app"]["evidence"].startswith(f"{how} ")
        if len(packages) > 1:
            assert "also named by 1 other app(s)" in finding["app"]["evidence"]


def test_a_label_from_the_capture_is_never_replaced() -> None:
    label = {"uid": 1000, "packages": ["x.from.pcapdroid"], "source": "pcapdroid"}
    doc = {"findings": [{"identifier": "imei", "host": "zzhc.vnet.cn", "app": label}]}
    assert attribute(doc, REPORTS)["findings"][0]["app"] == label


def test_evidence_names_the_path_of_the_same_identifier() -> None:
    chains = [
        {"identifier": "imsi", "text": "BOOT receiver -> getSubscriberId -> post"},
        {"identifier": "imei", "text": "BOOT receiver -> getDeviceId -> post"},
    ]
    reports = [report("a.reg", "http://zzhc.vnet.cn/", chains=chains)]
    doc = {"findings": [{"identifier": "imei", "host": "zzhc.vnet.cn", "app": None}]}
    evidence = attribute(doc, reports)["findings"][0]["app"]["evidence"]
    # chains without evidence (stored before phonehome.apk/2) were reachability
    assert evidence.endswith(
        "; code path (reachability, no flow found): BOOT receiver -> getDeviceId -> post"
    )
    flow = {"identifier": "imei", "text": "BOOT receiver -> getDeviceId => post"}
    reports = [
        report("a.reg", "http://zzhc.vnet.cn/", chains=[*chains, flow | {"evidence": "data-flow"}])
    ]
    evidence = attribute(doc, reports)["findings"][0]["app"]["evidence"]
    assert evidence.endswith("; data flow: BOOT receiver -> getDeviceId => post")
