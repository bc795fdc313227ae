"""Diffs of scans: simulated before/after-update captures, identity, what counts as changed."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phonehome.store.diff import DIFF_SCHEMA, changes, diff_docs, identity, render_diff
from tests.test_store_builders import Day, before_update, filter_pcap, nokia_day, scan_doc, until


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return nokia_day(tmp_path_factory.mktemp("day"))


@pytest.fixture(scope="module")
def after(day: Day) -> dict[str, Any]:
    return scan_doc(day.capture, day.profile)


@pytest.fixture(scope="module")
def before(day: Day) -> dict[str, Any]:
    """November: the same day without the zzhc self-registration."""
    return scan_doc(before_update(day, day.capture.with_name("before.pcap")), day.profile)


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_the_update_that_started_the_self_registration(
    before: dict[str, Any], after: dict[str, Any], day: Day
) -> None:
    d = diff_docs(before, after)
    assert d.gone == [] and d.changed == [] and d.unchanged == 0
    expected = {(x["identifier"], x["host"], x["where"]) for x in day.truth["leaks"]}
    assert {(f["identifier"], f["host"], f["where"]) for f in d.new} == expected
    assert all(f["readability"] == "cleartext" for f in d.new)
    # The other way round the same findings are gone.
    back = diff_docs(after, before)
    assert back.new == [] and back.gone == d.new


def test_a_shorter_capture_shows_changed_counts(day: Day, after: dict[str, Any]) -> None:
    first_posts = sorted(ts(t) for t in day.truth["leaks"][0]["times"])
    cut = first_posts[2] + 60  # the morning: three registrations out of the day's
    morning = day.capture.with_name("morning.pcap")
    filter_pcap(day.capture, morning, until(cut))
    d = diff_docs(scan_doc(morning, day.profile), after)
    assert d.new == [] and d.gone == []
    assert len(d.changed) == len(day.truth["leaks"])
    n = len(first_posts)
    for c in d.changed:
        assert f"count 3 -> {n}" in c.reasons
        assert c.before["count"] == 3 and c.after["count"] == n


def test_the_same_scan_twice_is_unchanged(after: dict[str, Any]) -> None:
    d = diff_docs(after, copy.deepcopy(after))
    assert (d.new, d.gone, d.changed, d.unchanged) == ([], [], [], len(after["findings"]))


def finding(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "detector": "PH-KNOWN",
        "identifier": "imei",
        "value_id": "h1:" + "a" * 32,
        "value_redacted": "35•••••••••••60",
        "app": {"uid": 10123, "packages": ["com.b", "com.a"], "source": "pcapdroid"},
        "host": "zzhc.vnet.cn",
        "ips": ["202.96.128.86"],
        "port": 80,
        "protocol": "http",
        "where": "http.body:$.IMEI1",
        "encoding": ["base64", "json"],
        "readability": "cleartext",
        "confidence": 1.0,
        "count": 5,
        "times": [],
    }
    return {**base, **over}


def doc_of(*findings: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "phonehome.scan/1", "inputs": [], "findings": list(findings)}


@pytest.mark.parametrize(
    ("over", "same_identity"),
    [
        ({"identifier": "meid"}, False),
        ({"value_id": "h1:" + "b" * 32}, False),
        ({"app": {"uid": 10124, "packages": ["com.b", "com.a"]}}, False),
        ({"app": {"uid": 10123, "packages": ["com.a"]}}, False),
        ({"app": None}, False),
        ({"host": "other.example"}, False),
        ({"port": 8080}, False),
        ({"protocol": "mqtt"}, False),
        ({"where": "http.body:$.IMEI2"}, False),
        ({"encoding": ["json"]}, False),
        ({"encoding": ["json", "base64"]}, False),
        # Not part of the identity:
        ({"app": {"uid": 10123, "packages": ["com.a", "com.b"], "source": "har"}}, True),
        ({"ips": ["202.96.128.87"]}, True),
        ({"confidence": 0.5, "detector": "PH-IMEI"}, True),
        ({"value_redacted": "35•••••••••••61"}, True),
        ({"count": 6, "evidence": [{"frame": 1}]}, True),
    ],
)
def test_identity_fields(over: dict[str, Any], same_identity: bool) -> None:
    a, b = finding(), finding(**over)
    assert (identity(a) == identity(b)) is same_identity
    d = diff_docs(doc_of(a), doc_of(b))
    if same_identity:
        assert d.new == [] and d.gone == [] and d.unchanged == 1
    else:
        assert d.new == [b] and d.gone == [a] and d.unchanged == 0


def every(seconds: float, n: int) -> list[str]:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    return [
        (t0 + timedelta(seconds=seconds * i))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (
            {"readability": "encrypted"},
            {"readability": "cleartext"},
            "readability encrypted -> cleartext",
        ),
        ({"count": 3}, {"count": 11}, "count 3 -> 11"),
        ({"count": 11}, {"count": 3}, "count 11 -> 3"),
        ({"count": 1}, {"count": 3}, "count 1 -> 3"),
        ({"count": 1}, {"count": 2}, None),  # doubled, but by one: noise
        ({"count": 10}, {"count": 12}, None),
        ({"count": 10}, {"count": 19}, None),
        ({"count": 0}, {"count": 0}, None),
        ({"times": every(7200, 4)}, {"times": every(900, 4)}, "every 2.0 h -> every 15 min"),
        ({"times": every(60, 4)}, {"times": every(30, 4)}, "every 60 s -> every 30 s"),
        ({"times": every(900, 4)}, {"times": every(1000, 4)}, None),
        ({"times": every(7200, 2)}, {"times": every(900, 2)}, None),  # too few to judge
        ({"times": ["garbage"] * 4}, {"times": every(900, 4)}, None),
    ],
)
def test_what_counts_as_changed(a: dict[str, Any], b: dict[str, Any], reason: str | None) -> None:
    got = changes(finding(**a), finding(**b))
    assert got == ((reason,) if reason else ())
    d = diff_docs(doc_of(finding(**a)), doc_of(finding(**b)))
    assert len(d.changed) == (1 if reason else 0) and d.unchanged == (0 if reason else 1)


def test_duplicate_identities_in_a_document_are_merged() -> None:
    d = diff_docs(doc_of(finding(count=2), finding(count=2)), doc_of(finding(count=4)))
    assert d.changed == [] and d.unchanged == 1


def test_malformed_findings_are_skipped_not_fatal() -> None:
    broken = {"schema": "phonehome.scan/1", "inputs": "x", "findings": [1, "x", finding()]}
    d = diff_docs(broken, doc_of(finding()))
    assert d.unchanged == 1 and d.a["inputs"] == []


def test_json_rendering(before: dict[str, Any], after: dict[str, Any]) -> None:
    d = diff_docs(before, after, ("scan 1", "scan 2"))
    out = json.loads(render_diff(d, "json"))
    assert out["schema"] == DIFF_SCHEMA
    assert out["a"]["label"] == "scan 1" and out["b"]["findings"] == len(after["findings"])
    assert out["new"] == d.new and out["gone"] == [] and out["unchanged"] == 0
    assert out["b"]["inputs"] == [
        {"path": i["path"], "sha256": i["sha256"]} for i in after["inputs"]
    ]


def test_text_rendering_names_what_is_new_and_how_it_changed(
    before: dict[str, Any], after: dict[str, Any], day: Day
) -> None:
    text = render_diff(diff_docs(before, after), "text")
    assert f"{len(day.truth['leaks'])} new, 0 gone, 0 changed" in text
    assert "NEW (sent after, not before)" in text and "GONE" not in text
    assert text.count("  + ") == len(day.truth["leaks"])
    assert "zzhc.vnet.cn:80 (http, CLEAR TEXT) at http.body:$.IMEI1 [base64 > json]" in text
    changed = render_diff(diff_docs(doc_of(finding(count=2)), doc_of(finding(count=9))))
    assert "CHANGED" in changed and "count 2 -> 9" in changed and "app uid 10123" in changed


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_raw_value_in_a_rendered_diff(
    before: dict[str, Any], after: dict[str, Any], day: Day, fmt: str
) -> None:
    text = render_diff(diff_docs(before, after), fmt).lower()  # type: ignore[arg-type]
    assert [v for v in day.raw_values() if v.lower() in text] == []
    assert "•" in text or "\\u2022" in text
