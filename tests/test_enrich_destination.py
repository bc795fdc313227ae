"""The destination object: shape, the Nokia 7 Plus case end to end, party, data sets."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from phonehome import simulate
from phonehome.enrich import destination

KEYS = [
    "registrable_domain",
    "entity",
    "party",
    "networks",
    "asn",
    "as_org",
    "country",
    "jurisdiction",
]


@pytest.fixture(scope="module")
def nokia_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nokia") / "nokia7plus.pcap"
    simulate.run("nokia7plus", out, seed=1)
    return out


@pytest.fixture(scope="module")
def nokia_truth(nokia_capture: Path) -> dict[str, object]:
    truth_path = simulate.side_paths(nokia_capture)[0]
    truth: dict[str, object] = json.loads(truth_path.read_text("utf-8"))
    return truth


def test_nokia_zzhc_destination(nokia_truth: dict[str, object]) -> None:
    leaks = nokia_truth["leaks"]
    assert isinstance(leaks, list)
    zzhc = [leak for leak in leaks if leak["host"] == "zzhc.vnet.cn"]
    assert zzhc, "the simulator no longer sends to zzhc.vnet.cn"
    ips = sorted({leak["ip"] for leak in zzhc})
    d = destination.describe(
        "zzhc.vnet.cn",
        ips,
        home_country="NO",
        app_packages=["com.qualcomm.qti.autoregistration"],
    )
    assert list(d) == KEYS
    assert d["registrable_domain"] == "vnet.cn"
    assert d["entity"] == "China Telecom"
    assert d["party"] == "third"
    assert (d["asn"], d["country"]) == (4134, "CN")
    assert d["networks"] == [
        {"ip": ip, "asn": 4134, "as_org": d["as_org"], "country": "CN"} for ip in ips
    ]
    juris = d["jurisdiction"]
    assert juris["region"] == "third country"
    assert juris["out_of_home_region"] is True
    assert juris["basis"].startswith("IP registered in CN (per @ip-location-db/")


def _outgoing_destinations(capture: Path) -> dict[str, set[str]]:
    """Host -> public addresses the simulated phone sent to, read back through the scan's
    own pipeline (not the simulator's internals)."""
    from phonehome.context import Context
    from phonehome.flowlist import to_json
    from phonehome.pipeline import iter_messages, open_all

    out: dict[str, set[str]] = {}
    for msg in iter_messages(open_all([str(capture)]), Context()):
        m = json.loads(to_json(msg))
        if m["direction"] == "out" and m.get("host") and ipaddress.ip_address(m["dst"]).is_global:
            out.setdefault(m["host"], set()).add(m["dst"])
    return out


def test_every_simulated_destination_resolves(nokia_capture: Path) -> None:
    seen = _outgoing_destinations(nokia_capture)
    assert "zzhc.vnet.cn" in seen and len(seen) > 3
    for host, ips in sorted(seen.items()):
        d = destination.describe(host, sorted(ips), home_country="NO", app_packages=[])
        assert list(d) == KEYS
        assert all(n["asn"] is not None and n["country"] for n in d["networks"]), d
        assert d["jurisdiction"]["region"] is not None
        if host.endswith((".google.com", ".googleapis.com", ".gstatic.com", ".youtube.com")):
            assert d["entity"] == "Google" and d["asn"] == 15169, d
        if host == "zzhc.vnet.cn":
            assert (d["entity"], d["asn"], d["country"]) == ("China Telecom", 4134, "CN")


@pytest.mark.parametrize(
    ("host", "packages", "party"),
    [
        ("api.example.com", ["com.example.app"], "first"),  # same registrable domain
        ("play.googleapis.com", ["com.google.android.gms"], "first"),  # same company
        ("zzhc.vnet.cn", ["com.qualcomm.qti.autoregistration"], "third"),
        ("t.appsflyer.com", ["com.example.app"], "third"),
        ("t.appsflyer.com", [], "third"),  # a tracker is third party to any app
        ("play.googleapis.com", [], "unknown"),  # a platform, but whose app?
        ("cdn.unknown-vendor.example", ["com.example.app"], "unknown"),
        ("8.8.8.8", ["com.example.app"], "unknown"),
    ],
)
def test_party(host: str, packages: list[str], party: str) -> None:
    assert (
        destination.describe(host, [], home_country=None, app_packages=packages)["party"] == party
    )


def test_networks_that_disagree_leave_the_summary_empty() -> None:
    d = destination.describe(
        "dns.example", ["8.8.8.8", "1.1.1.1", "8.8.8.8"], home_country="DE", app_packages=[]
    )
    assert [n["ip"] for n in d["networks"]] == ["8.8.8.8", "1.1.1.1"]
    assert (d["asn"], d["as_org"], d["country"]) == (None, None, None)
    assert d["jurisdiction"]["out_of_home_region"] is True
    assert "AU, US" in d["jurisdiction"]["basis"]


@pytest.mark.parametrize("ips", [[], ["192.168.1.1"], ["not an ip"], ["x" * 5000]])
def test_unknown_networks_give_nulls(ips: list[str]) -> None:
    d = destination.describe("", ips, home_country="NO", app_packages=[])
    assert list(d) == KEYS
    assert d["registrable_domain"] is None and d["entity"] is None
    assert (d["asn"], d["as_org"], d["country"]) == (None, None, None)
    assert d["jurisdiction"] == {"region": None, "out_of_home_region": None, "basis": None}
    assert all(n["asn"] is None for n in d["networks"])
    assert all(len(n["ip"]) <= destination.MAX_IP_TEXT for n in d["networks"])


def test_many_addresses_are_capped() -> None:
    ips = [f"8.8.8.{i}" for i in range(200)]
    d = destination.describe("dns.google", ips, home_country=None, app_packages=[])
    assert len(d["networks"]) == destination.MAX_NETWORKS


def test_datasets_used_names_every_source_with_a_date() -> None:
    lines = destination.datasets_used()
    text = "\n".join(lines)
    assert "@ip-location-db/asn" in text and "@ip-location-db/geo-whois-asn-country" in text
    assert "Exodus" in text and "entities.csv" in text and "eu-adequacy.csv" in text
    assert "Public Suffix List" in text
    assert all(line.endswith(")") for line in lines)  # each ends with its date/version
