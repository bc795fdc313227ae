"""The identifier catalogue is the one table: every detector, profile key, static source,
severity weight and report format agrees with it, and renders every entry."""

from __future__ import annotations

import ast
import copy
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from phonehome import identifiers, simulate
from phonehome.detect import PATTERN_DETECTORS, Engine, KnownValues
from phonehome.detect.known import normal_value
from phonehome.detect.profile import load_profile
from phonehome.enrich.severity import assess
from phonehome.identifiers import BY_ID, CATALOGUE, IDS, Identifier
from phonehome.model.field import Field
from phonehome.model.profile import PROFILE_VALUE_KEYS, DeviceProfile
from phonehome.report import FORMATS, STATIC_FORMATS, ScanView
from phonehome.report.sarif_format import rules
from phonehome.static import firmware as fw
from phonehome.static.sources import SOURCE_FIELDS, SOURCES
from tests.conftest import scan_doc

Doc = dict[str, Any]
SRC = Path(__file__).resolve().parents[1] / "src" / "phonehome"
ENTRIES = [pytest.param(entry, id=entry.id) for entry in CATALOGUE]


# --- the catalogue itself ---------------------------------------------------------------


def test_ids_are_unique_json_names() -> None:
    assert len(set(IDS)) == len(IDS) == len(BY_ID)
    for entry in CATALOGUE:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", entry.id), entry.id


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_entry_is_complete(entry: Identifier) -> None:
    for text in (entry.name, entry.plural, entry.why, entry.rule_text, entry.static_name):
        assert text.strip() == text and text, entry.id
    assert entry.kind in identifiers.Kind.__args__  # type: ignore[attr-defined]
    assert 1 <= entry.weight <= 3
    # A resettable identifier tracks less than a permanent one, and weighs least.
    assert entry.weight == 1 if entry.resettable else entry.weight >= 2


def test_static_ranks_are_a_permutation() -> None:
    assert sorted(e.static_rank for e in CATALOGUE) == list(range(len(CATALOGUE)))
    # Device and SIM identifiers lead a static verdict.
    bound = [e.device_bound for e in sorted(CATALOGUE, key=lambda e: e.static_rank)]
    assert bound == sorted(bound, reverse=True)


@pytest.mark.parametrize(
    ("identifier", "shown", "rank"),
    [
        ("imei", "IMEI", 0),
        ("cell_id", "cell ID", IDS.index("cell_id")),
        ("not_an_identifier", "not_an_identifier", len(IDS)),
        (None, "identifier", len(IDS)),
    ],
)
def test_unknown_ids_are_shown_as_themselves(identifier: Any, shown: str, rank: int) -> None:
    assert identifiers.name(identifier) == shown
    assert identifiers.rank(identifier) == rank


# --- what derives from it ------------------------------------------------------------------


def test_every_detector_finds_a_catalogued_identifier() -> None:
    for cls in PATTERN_DETECTORS:
        assert cls.identifier in BY_ID, cls.id
    assert KnownValues.identifier == "*"  # the profile's values: any identifier


def test_profile_keys_are_the_catalogue_minus_tables() -> None:
    assert tuple(e.id for e in CATALOGUE if e.in_profile) == PROFILE_VALUE_KEYS
    # [[location]] tables; and what only pattern detectors report: the access point the
    # device is on, a SIP address, a value by its field name
    assert set(IDS) - set(PROFILE_VALUE_KEYS) == {"location", "bssid", "sip_uri", "device_id"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's encodings capture, with its profile (a value for every key)."""
    out = tmp_path_factory.mktemp("encodings") / "encodings.pcap"
    simulate.run("encodings", out, seed=5)
    return out


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.values[0].in_profile])
def test_every_profile_key_is_found_as_a_known_value(entry: Any) -> None:
    """A profile value of any catalogued identifier is searched for as written (no
    identifier needs a case of its own in the known-value detector to be found)."""
    key, raw = entry.id, entry.example
    profile = DeviceProfile(values={key: (raw,)}, home_country="NO")
    assert normal_value(key, raw, profile.home_country) is not None
    found = Engine(profile).scan(Field(f'{{"k":"{raw}"}}', "http.body", key="k"))
    assert {m.identifier for m in found if m.profile_match} == {key}


PATTERN_ONLY = {"bssid": "bssid", "sip_uri": "From", "device_id": "device_id"}
"""Identifiers not in profiles, and a key their detector reads them under."""


@pytest.mark.parametrize("entry", ENTRIES)
def test_examples_pass_the_profile_checks(entry: Identifier, tmp_path: Path) -> None:
    """The example is a value of the right shape: a profile holding it loads cleanly (or,
    for what only a pattern detector reports, that detector finds it)."""
    if entry.id in PATTERN_ONLY:
        key = PATTERN_ONLY[entry.id]
        found = Engine(None).scan(Field(entry.example, f"x:{key}", (), key))
        assert [(m.identifier, m.value) for m in found] == [(entry.id, entry.example)]
        return
    if entry.in_profile:
        text = f'{entry.id} = "{entry.example}"\n'
    else:
        lat, lon = entry.example.split(",")
        text = f"[[{entry.id}]]\nlat = {lat}\nlon = {lon}\n"
    (tmp_path / "p.toml").write_text(text)
    profile, warnings = load_profile(tmp_path / "p.toml")
    assert warnings == []
    assert profile.values.get(entry.id) == ((entry.example,) if entry.in_profile else None)


def test_static_sources_name_catalogued_identifiers() -> None:
    assert set(SOURCES.values()) | set(SOURCE_FIELDS.values()) <= set(IDS)


def test_static_tables_derive_from_the_catalogue() -> None:
    assert list(fw.IDENTIFIER_NAMES) == list(identifiers.STATIC_ORDER)
    assert set(fw.IDENTIFIER_NAMES) == set(IDS)
    assert {e.id for e in CATALOGUE if e.kind in ("hardware", "sim")} == fw.DEVICE_IDS


@pytest.mark.parametrize("entry", ENTRIES)
def test_severity_weighs_every_entry(entry: Identifier) -> None:
    reasons = assess({"identifier": entry.id})["reasons"]
    assert reasons == [f"{entry.id} is {entry.why}"]
    clear = assess({"identifier": entry.id, "readability": "cleartext"})["level"]
    assert clear == ("high" if entry.weight + 3 >= 6 else "medium")


def test_sarif_rules_cover_every_detected_identifier() -> None:
    by_id = {r["id"]: r for r in rules()}
    assert by_id["PH-KNOWN"]["properties"]["identifier"] == "*"  # every entry, serial too
    for cls in PATTERN_DETECTORS:
        rule = by_id[cls.id]
        assert rule["properties"]["identifier"] == cls.identifier in BY_ID
        text = cls.rule_text or BY_ID[cls.identifier].rule_text
        assert rule["shortDescription"]["text"] == text


def _string_tables(path: Path) -> list[tuple[int, int]]:
    """(line, how many catalogue ids) of each dict/tuple/list/set literal in ``path`` that
    names three or more identifier ids: the shape of a parallel table."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = list(node.elts)
        else:
            continue
        ids = {i.value for i in items if isinstance(i, ast.Constant) and i.value in BY_ID}
        if len(ids) >= 3:
            out.append((node.lineno, len(ids)))
    return out


PER_IDENTIFIER_LOGIC = {
    "identifiers.py": "the catalogue",
    "detect/profile.py": "optional validators of profile values (serial has none)",
    "static/sources.py": "the framework APIs that return each identifier",
}
"""Modules allowed a literal table of identifiers, and why. The simulator's generated
traffic is data, not a table of the catalogue."""


def test_no_parallel_table_of_identifiers() -> None:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in PER_IDENTIFIER_LOGIC or rel.startswith("simulate/"):
            continue
        tables = _string_tables(path)
        if tables:
            found[rel] = tables
    assert found == {}, "derive these from phonehome.identifiers"


# --- every report format renders every entry ----------------------------------------------


@pytest.fixture(scope="module")
def finding(sim: Path) -> Doc:
    """A real finding (with destination, timeline, severity) from a simulated scan."""
    doc = scan_doc(sim)
    return {"doc": doc, "finding": doc["findings"][0]}


def _doc_of(base: Doc, entry: Identifier, enriched: bool) -> Doc:
    doc = copy.deepcopy(base["doc"])
    f = copy.deepcopy(base["finding"])
    f["identifier"] = entry.id
    if not enriched:
        for key in ("severity", "destination", "timeline", "trigger", "trigger_hint"):
            f.pop(key, None)
    doc["findings"] = [f]
    return doc


@pytest.mark.parametrize("enriched", [True, False])
@pytest.mark.parametrize("entry", ENTRIES)
def test_every_scan_format_renders_every_entry(
    finding: Doc, entry: Identifier, enriched: bool
) -> None:
    doc = _doc_of(finding, entry, enriched)
    out = {fmt: render(ScanView(doc, False), False) for fmt, render in FORMATS.items()}
    assert f"{entry.name} " in out["text"]
    assert f">{entry.name} → " in out["html"]
    assert out["markdown"].count("| " + entry.name.replace("_", "\\_") + " |") == 1
    (row,) = list(csv.DictReader(io.StringIO(out["csv"])))
    assert row["identifier"] == entry.id
    assert json.loads(out["json"])["findings"][0]["identifier"] == entry.id
    assert json.loads(out["jsonl"])["identifier"] == entry.id
    (result,) = json.loads(out["sarif"])["runs"][0]["results"]
    assert result["message"]["text"].startswith(f"{entry.name} ")
    if not enriched:  # by kind: a resettable id is one level lower
        clear = doc["findings"][0]["readability"] == "cleartext"
        levels = ("warning", "note") if entry.resettable else ("error", "warning")
        assert result["level"] == levels[0 if clear else 1]


@pytest.mark.parametrize("fmt", sorted(STATIC_FORMATS))
def test_every_static_format_renders_every_entry(fmt: str) -> None:
    app = {
        "package": "org.example.reads.everything",
        "version_name": "1.0",
        "version_code": 1,
        "path": "everything.apk",
        "reads_identifiers": list(reversed(IDS)),
        "permissions": ["android.permission.INTERNET"],
        "sources": [
            {"kind": i, "api": f"Lx;->get{n}", "method": "Lx;->run"} for n, i in enumerate(IDS)
        ],
    }
    app["risk"] = fw.risk(app)
    app["verdict"] = fw.describe(app)
    doc = {"schema": "phonehome.apks/1", "tool": {"version": "0"}, "apks": [app], "errors": []}
    text = STATIC_FORMATS[fmt](doc)
    expected = ", ".join(identifiers.static_name(i) for i in identifiers.STATIC_ORDER)
    assert "reads " + expected in text
    if fmt == "html":
        for entry in CATALOGUE:
            assert f"<td>{entry.static_name}</td>" in text
