"""Company of a host: Exodus tracker signatures and the curated carrier/OEM/platform map."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources

import pytest

from phonehome.enrich import entities

DATA = resources.files("phonehome").joinpath("data")


@pytest.mark.parametrize(
    ("host", "name", "kind"),
    [
        ("zzhc.vnet.cn", "China Telecom", "carrier"),
        ("ZZHC.VNET.CN.", "China Telecom", "carrier"),
        ("zzhc.vnet.cn:9999", "China Telecom", "carrier"),
        ("www.10086.cn", "China Mobile", "carrier"),
        ("play.googleapis.com", "Google", "platform"),
        ("connectivitycheck.gstatic.com", "Google", "platform"),
        ("www.google.com", "Google", "platform"),  # tie with the '\.google\.com' signature
        ("graph.facebook.com", "Meta", "platform"),  # seven SDKs share '\.facebook\.com'
        ("gateway.icloud.com", "Apple", "platform"),
        ("xtrapath1.izatcloud.net", "Qualcomm", "platform"),
        ("api.hicloud.com", "Huawei", "oem"),
        ("cdn.krxd.net", "Audience Studio (Krux)", "tracker"),
        ("t.appsflyer.com", "AppsFlyer", "tracker"),
        ("www.google-analytics.com", "Google Analytics", "tracker"),
        ("settings.crashlytics.com", "Google CrashLytics", "tracker"),
        ("googleads.g.doubleclick.net", "Google AdMob", "tracker"),
        ("mobileads.google.com", "Google AdMob", "tracker"),  # longer than 'google.com'
        ("api.fidzup.com", "FidZup", "tracker"),  # a bare-label signature
        ("a.exacttarget.com", "ExactTarget", "tracker"),  # '\.exacttarget\.'
    ],
)
def test_of_host_hit(host: str, name: str, kind: str) -> None:
    entity = entities.of_host(host)
    assert entity is not None
    assert (entity.name, entity.kind) == (name, kind)
    assert entity.source


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "krxd.net.example.org",  # signature must end the name
        "xkrxd.net",  # and start on a label boundary
        "notvnet.cn",
        "vnet.cn.example.com",
        "202.96.128.86",
        "[2001:db8::1]",
        "2001:db8::1",
        "",
        "a" * 300,
    ],
)
def test_of_host_miss(host: str) -> None:
    assert entities.of_host(host) is None


def test_every_literal_exodus_signature_is_found_under_a_subdomain() -> None:
    """A subdomain of each tracker's first literal domain is recognised as a tracker."""
    trackers = json.loads(DATA.joinpath(entities.EXODUS_FILE).read_text("utf-8"))["trackers"]
    checked = 0
    for t in trackers.values():
        first = str(t.get("network_signature") or "").split("|")[0]
        literal = first.replace("\\.", ".")
        if not first or any(c in literal for c in "()[]*+?^$\\/:") or "." not in literal:
            continue
        host = "x." + literal.strip(".") + (".com" if literal.endswith(".") else "")
        found = entities.tracker_of(host)
        assert found is not None and found.kind == entities.TRACKER, (host, t["name"])
        checked += 1
    assert checked > 200


def test_curated_rows_have_sources_and_known_kinds() -> None:
    rows = list(csv.DictReader(io.StringIO(DATA.joinpath(entities.ENTITIES_FILE).read_text())))
    assert len(rows) == entities.curated_count()
    suffixes = [r["suffix"] for r in rows]
    assert len(set(suffixes)) == len(suffixes)
    for r in rows:
        assert r["source"].strip(), r
        # A source a reader can check: a page, or a named public document; never a WHOIS
        # registrant quoted without its record.
        assert "https://" in r["source"] or ".md" in r["source"] or "gps.conf" in r["source"], r
        assert "WHOIS" not in r["source"], r
        assert r["kind"] in {"carrier", "oem", "platform"}, r
        assert len(r["country"]) == 2 and r["country"].isupper(), r
        assert r["suffix"] == r["suffix"].lower().strip(".")


@pytest.mark.parametrize(
    ("package", "domain", "entity"),
    [
        ("com.qualcomm.qti.autoregistration", "qualcomm.com", "Qualcomm"),
        ("com.google.android.gms", "google.com", "Google"),
        ("com.example.app", "example.com", None),
        ("cn.com.chinatelecom.account", "chinatelecom.com.cn", "China Telecom"),
        ("app", None, None),
        ("", None, None),
    ],
)
def test_package_domain(package: str, domain: str | None, entity: str | None) -> None:
    assert entities.package_domain(package) == domain
    found = entities.of_package(package)
    assert (found.name if found else None) == entity


def test_lazy_signatures_answer_as_compiling_every_one() -> None:
    """Signatures are compiled only for hosts holding one of their plain names: on hosts
    made from every signature (and near misses), the answer is the one of searching
    every compiled signature."""
    import random
    import re

    data = json.loads(entities._read(entities.EXODUS_FILE))["trackers"]
    signatures = [str(e.get("network_signature") or "").strip() for e in data.values()]
    signatures = [s for s in signatures if s]
    compiled = [(s, entities._bounded(s)) for s in signatures]
    lazy = {t.signature: t for t in entities._trackers()}
    assert sum(1 for t in lazy.values() if t.needles) > len(lazy) // 2
    rng = random.Random(15)
    hosts = {"example.com", "a.b", "x"}
    for s in signatures:
        for alternative in s.split("|"):
            name = re.sub(r"\\(.)", r"\1", alternative).strip(".^$")
            hosts |= {name, f"sdk.{name}", f"x{name}", f"{name}x", f"{name}.cdn.net"}
            hosts.add(name[: len(name) // 2] + rng.choice("-.q") + name[len(name) // 2 :])
    for host in sorted(hosts):
        for s, pattern in compiled:
            want = pattern.search(host) if pattern is not None else None
            got = lazy[s].search(host)
            assert (got and got.span()) == (want and want.span()), (s, host)
