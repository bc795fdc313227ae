"""Baselines: write from a real scan, filter a later scan, keep justifications, reject bad files."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from phonehome.errors import InputError, UsageError
from phonehome.store.baseline import BASELINE_SCHEMA, filter_new, load_baseline, write_baseline
from tests.test_store_builders import Day, nokia_day, scan_doc


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return nokia_day(tmp_path_factory.mktemp("day"))


@pytest.fixture(scope="module")
def doc(day: Day) -> dict[str, Any]:
    return scan_doc(day.capture, day.profile)


def test_baseline_of_a_scan_accepts_that_scan(doc: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "phonehome.baseline.json"
    written = write_baseline(doc, path, None)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_baseline(path)
    assert loaded.identities == written.identities
    assert len(loaded.entries) == len(doc["findings"])
    assert filter_new(doc, loaded) == []
    raw = json.loads(path.read_text())
    assert raw["schema"] == BASELINE_SCHEMA
    assert raw["scan"]["inputs"][0]["sha256"] == doc["inputs"][0]["sha256"]
    assert {e["value_id"] for e in raw["entries"]} == {f["value_id"] for f in doc["findings"]}
    assert all(e["justification"] is None for e in raw["entries"])


def test_findings_not_in_the_baseline_are_new(doc: dict[str, Any], tmp_path: Path) -> None:
    accepted = {**doc, "findings": doc["findings"][:3]}
    path = tmp_path / "b.json"
    write_baseline(accepted, path)
    new = filter_new(doc, load_baseline(path))
    assert new == doc["findings"][3:]
    # Same identifier and value sent somewhere else is new as well.
    moved = copy.deepcopy(doc["findings"][0])
    moved["host"] = "collector.example.net"
    assert filter_new({**doc, "findings": [moved]}, load_baseline(path)) == [moved]


def test_no_raw_value_in_a_baseline(doc: dict[str, Any], day: Day, tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_baseline(doc, path, "vendor self-registration, reported upstream")
    text = path.read_text().lower()
    assert [v for v in day.raw_values() if v.lower() in text] == []


def test_revealed_scans_are_refused(day: Day, tmp_path: Path) -> None:
    revealed = scan_doc(day.capture, day.profile, reveal=True)
    with pytest.raises(UsageError, match="raw values"):
        write_baseline(revealed, tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()


def test_rewriting_keeps_the_justifications_people_wrote(
    doc: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "b.json"
    write_baseline({**doc, "findings": doc["findings"][:2]}, path, "first review")
    raw = json.loads(path.read_text())
    raw["entries"][0]["justification"] = "accepted by legal, ticket 42"
    path.write_text(json.dumps(raw))
    kept_id = raw["entries"][0]["value_id"]
    write_baseline(doc, path, "second review")
    entries = {e["value_id"]: e["justification"] for e in json.loads(path.read_text())["entries"]}
    assert entries[kept_id] == "accepted by legal, ticket 42"
    first_two = {f["value_id"] for f in doc["findings"][:2]}
    assert [j for v, j in entries.items() if v in first_two and v != kept_id] == ["first review"]
    assert [j for v, j in entries.items() if v not in first_two] == ["second review"] * (
        len(doc["findings"]) - 2
    )


def test_a_file_that_is_not_a_baseline_is_not_overwritten(
    doc: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"my": "notes"}')
    with pytest.raises(InputError, match="not a phonehome baseline"):
        write_baseline(doc, path)
    assert path.read_text() == '{"my": "notes"}'


ENTRY = {
    "identifier": "imei",
    "value_id": "h1:" + "a" * 32,
    "app": None,
    "host": "zzhc.vnet.cn",
    "port": 80,
    "protocol": "http",
    "where": "http.body:$.IMEI1",
    "encoding": ["base64", "json"],
    "justification": None,
}


def baseline_text(*entries: object) -> str:
    return json.dumps({"schema": BASELINE_SCHEMA, "entries": list(entries)})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        ("[]", "not a phonehome baseline"),
        ('{"schema": "phonehome.baseline/9", "entries": []}', "not a phonehome baseline"),
        (json.dumps({"schema": BASELINE_SCHEMA}), "no 'entries' list"),
        (baseline_text(ENTRY, "x"), "entry 1 is not an object"),
        (baseline_text({**ENTRY, "value_id": None}), "entry 0: 'value_id'"),
        (baseline_text({**ENTRY, "host": 5}), "entry 0: 'host'"),
        (baseline_text({**ENTRY, "encoding": "json"}), "entry 0: bad 'port' or 'encoding'"),
        (baseline_text({**ENTRY, "port": "80"}), "entry 0: bad 'port' or 'encoding'"),
        (baseline_text({**ENTRY, "app": [1]}), "entry 0: 'app'"),
    ],
)
def test_broken_baselines_stop_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        load_baseline(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_a_hand_written_entry_matches(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(baseline_text({**ENTRY, "justification": 7}))  # odd justification: ignored
    finding = {k: v for k, v in ENTRY.items() if k != "justification"} | {"count": 3}
    doc = {"schema": "phonehome.scan/1", "inputs": [], "findings": [finding]}
    assert filter_new(doc, load_baseline(path)) == []


def test_missing_and_oversized_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_baseline(tmp_path / "none.json")
    monkeypatch.setattr("phonehome.store.baseline.MAX_BASELINE_BYTES", 10)
    path = tmp_path / "b.json"
    path.write_text(baseline_text())
    with pytest.raises(InputError, match="too large"):
        load_baseline(path)
