"""csv, markdown and SARIF reports on real scans; every registered format on odd docs."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from phonehome.detect import PATTERN_DETECTORS
from phonehome.report import FORMATS, csv_format, markdown_format, sarif_format
from phonehome.report.document import ScanView
from tests.conftest import scan_doc
from tests.test_report_html import Page

Doc = dict[str, Any]
SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-2.1.0.json"


scan = scan_doc


@pytest.fixture(scope="module")
def nokia(nokia_capture: Path) -> Path:
    return nokia_capture


@pytest.fixture(scope="module")
def doc(nokia: Path) -> Doc:
    return scan(nokia)


@pytest.fixture(scope="module")
def revealed(nokia: Path) -> Doc:
    return scan(nokia, "--reveal")


def view(doc: Doc) -> ScanView:
    return ScanView(doc, bool(doc.get("revealed")))


# -- every format ---------------------------------------------------------------------


def test_all_formats_registered() -> None:
    assert set(FORMATS) >= {"text", "json", "jsonl", "csv", "markdown", "sarif", "html"}


@pytest.mark.parametrize("fmt", ["csv", "markdown", "sarif", "html"])
def test_raw_values_only_with_reveal(fmt: str, doc: Doc, revealed: Doc) -> None:
    raw = [f["value"] for f in revealed["findings"]]
    assert raw and not [v for v in raw if v in FORMATS[fmt](view(doc), False)]
    shown = FORMATS[fmt](view(revealed), False)
    assert all(v in shown for v in raw)


@pytest.mark.parametrize("fmt", ["csv", "markdown", "sarif", "html"])
@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.update(findings=[]),
        lambda d: d.update(findings=[{}], inputs=[{}]),
        lambda d: d["findings"][0].update(app=[1], encoding=None, destination="x", evidence=[7]),
        lambda d: d["findings"][0].update(severity={"level": 3}, trigger=[], count="x"),
    ],
)
def test_odd_docs_render(fmt: str, doc: Doc, mangle: Any, sarif_schema: Any) -> None:
    d = copy.deepcopy(doc)
    mangle(d)
    assert_structure(fmt, FORMATS[fmt](view(d), False), d, sarif_schema)


def assert_structure(fmt: str, text: str, d: Doc, sarif_schema: Any) -> None:
    """What each format promises whatever the document holds: one CSV row, one markdown
    table row, one SARIF result, one HTML card per finding; a CSV header of the documented
    columns, a SARIF log that validates, a page that parses and nests."""
    n = len(d["findings"])
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        assert len(list(reader)) == n
        assert reader.fieldnames == list(csv_format.COLUMNS)
    elif fmt == "markdown":
        rows = [ln for ln in text.splitlines() if ln.startswith("| ") and "Identifier" not in ln]
        assert len(rows) == n and all(_cells(ln) == 8 for ln in rows)
    elif fmt == "sarif":
        log = json.loads(text)
        jsonschema.validate(log, sarif_schema)
        assert len(log["runs"][0]["results"]) == n
    else:
        page = Page(text)
        assert page.errors == [] and page.stack == []
        assert len(page.find("tr", **{"class": "ident"})) == n  # a row per finding
        assert min(n, 1) <= len(page.find("article", **{"class": "card"})) <= n


@pytest.mark.parametrize("fmt", ["csv", "markdown", "sarif", "html"])
def test_every_format_has_one_entry_per_finding(fmt: str, doc: Doc, sarif_schema: Any) -> None:
    assert len(doc["findings"]) == 7
    assert_structure(fmt, FORMATS[fmt](view(doc), False), doc, sarif_schema)


# -- csv ------------------------------------------------------------------------------


def test_csv_one_row_per_finding_in_documented_columns(doc: Doc) -> None:
    text = csv_format.render(view(doc))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == list(csv_format.COLUMNS)
    assert ", ".join(csv_format.COLUMNS) in " ".join(csv_format.__doc__.split())  # type: ignore[union-attr]
    assert len(rows) == len(doc["findings"])
    for row, f in zip(rows, doc["findings"], strict=True):
        assert row["value_id"] == f["value_id"] and row["where"] == f["where"]
        assert row["host"] == f["host"] and int(row["count"]) == f["count"]
        assert row["encoding"] == ">".join(f["encoding"]) and row["ips"] == " ".join(f["ips"])
        assert row["profile_match"] == "true" and row["value"] == ""


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("zzhc.vnet.cn", "zzhc.vnet.cn"),
        ("http.query:a=b", "http.query:a=b"),
        (-1.5, "-1.5"),
        (True, "true"),
        (None, ""),
    ],
)
def test_csv_cells_cannot_become_formulas(value: Any, cell: str) -> None:
    assert csv_format.cell(value) == cell


def test_csv_enrichment_columns(doc: Doc) -> None:
    d = copy.deepcopy(doc)
    d["findings"][0]["destination"] = {
        "entity": "China Telecom",
        "country": "CN",
        "jurisdiction": {"region": "CN", "out_of_home_region": True},
    }
    d["findings"][0]["severity"] = {"level": "high", "reasons": ["a", "b"]}
    row = next(csv.DictReader(io.StringIO(csv_format.render(view(d)), newline="")))
    assert (row["owner"], row["country"], row["out_of_home_region"]) == (
        "China Telecom",
        "CN",
        "true",
    )
    assert (row["severity"], row["severity_reasons"]) == ("high", "a; b")


# -- markdown -------------------------------------------------------------------------


def _cells(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))


def test_markdown_summary_and_one_table_row_per_finding(doc: Doc) -> None:
    text = markdown_format.render(view(doc))
    assert "zzhc.vnet.cn" in text and "**in clear text**" in text
    table = [ln for ln in text.splitlines() if ln.startswith("| ") and "Identifier" not in ln]
    assert len(table) == len(doc["findings"])
    assert all(_cells(ln) == 8 for ln in table)


@pytest.mark.parametrize(
    "hostile",
    ["a|b", "x\ny", "<img src=http://x/p.png>", "`code`", "[l](http://x)", "![i](http://x/i)"],
)
def test_markdown_keeps_hostile_strings_inside_their_cell(doc: Doc, hostile: str) -> None:
    d = copy.deepcopy(doc)
    d["findings"][0].update(host=hostile, where=hostile, detector=hostile)
    d["device"]["name"] = hostile
    text = markdown_format.render(view(d))
    table = [ln for ln in text.splitlines() if ln.startswith("| ") and "Identifier" not in ln]
    assert len(table) == len(doc["findings"]) and all(_cells(ln) == 8 for ln in table)
    outside_code = re.sub(r"`[^`]*`", "", text)  # code spans are literal text
    assert "<img" not in outside_code
    assert not re.search(r"(?<!\\)\]\(", outside_code)  # no link or image syntax


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a_b*c", r"a\_b\*c"),
        ("<b>&", "&lt;b&gt;&amp;"),
        ("x|y", r"x\|y"),
        ("plain.host", "plain.host"),
    ],
)
def test_markdown_escape(text: str, escaped: str) -> None:
    assert markdown_format.md(text) == escaped


# -- sarif ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_schema() -> Any:
    return json.loads(SCHEMA.read_text())


def _enriched(doc: Doc) -> Doc:
    d = copy.deepcopy(doc)
    d["findings"][0]["severity"] = {"level": "low", "reasons": ["x"]}
    d["findings"][0]["destination"] = {"entity": "China Telecom", "country": "CN"}
    d["datasets"] = ["asn 2026-11-01"]
    return d


@pytest.mark.parametrize(
    "variant", ["plain", "revealed", "enriched", "empty", "odd-path", "same-input-twice"]
)
def test_sarif_validates_against_the_2_1_0_schema(
    variant: str, doc: Doc, revealed: Doc, sarif_schema: Any
) -> None:
    d = {
        "plain": doc,
        "revealed": revealed,
        "enriched": _enriched(doc),
        "empty": {**doc, "findings": [], "anomalies": {}},
        "odd-path": {**doc, "inputs": [{**doc["inputs"][0], "path": "C:\\caps\\a b#1.pcap"}]},
        # `scan x.pcap x.pcap`: SARIF artifacts must be unique (this was invalid SARIF)
        "same-input-twice": {**doc, "inputs": [doc["inputs"][0], doc["inputs"][0]]},
    }[variant]
    log = json.loads(sarif_format.render(view(d)))
    jsonschema.validate(log, sarif_schema)
    (run,) = log["runs"]
    assert len(run["results"]) == len(d["findings"])
    for res in run["results"]:
        where = res["locations"][0]["physicalLocation"]["artifactLocation"]
        assert run["artifacts"][where["index"]]["location"]["uri"] == where["uri"]


def test_sarif_rules_and_results_match_the_scan(doc: Doc) -> None:
    (run,) = json.loads(sarif_format.render(view(doc)))["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "phonehome" and driver["version"] == doc["tool"]["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert ids == ["PH-KNOWN", *(d.id for d in PATTERN_DETECTORS)]
    assert all(r["shortDescription"]["text"] for r in driver["rules"])
    assert run["artifacts"][0]["hashes"]["sha-256"] == doc["inputs"][0]["sha256"]
    for res, f in zip(run["results"], doc["findings"], strict=True):
        assert res["ruleId"] == f["detector"] and ids[res["ruleIndex"]] == f["detector"]
        assert res["level"] == "error"  # device identifiers in clear text
        assert res["partialFingerprints"]["valueId/v1"] == f["value_id"]
        loc = res["locations"][0]
        uri = sarif_format.artifact_uri(doc["inputs"][0]["path"])
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == uri
        assert loc["logicalLocations"][0]["name"] == f["where"]
        assert (
            f"frame {f['evidence'][0]['frame']}" in loc["logicalLocations"][0]["fullyQualifiedName"]
        )
        assert f["value_redacted"] in res["message"]["text"] and f["host"] in res["message"]["text"]


def test_sarif_identity_fingerprint_is_stable_across_scans_and_tracks_identity(
    nokia: Path,
) -> None:
    doc, again = scan(nokia), scan(nokia)  # one installation key (a test's home)
    first = [sarif_format.identity_fingerprint(f) for f in doc["findings"]]
    assert first == [sarif_format.identity_fingerprint(f) for f in again["findings"]]
    assert len(set(first)) == len(first)
    moved = {**doc["findings"][0], "where": "http.query:imei"}
    assert sarif_format.identity_fingerprint(moved) != first[0]
    recounted = {**doc["findings"][0], "count": 99, "times": []}
    assert sarif_format.identity_fingerprint(recounted) == first[0]


@pytest.mark.parametrize(
    ("finding", "level"),
    [
        ({"identifier": "imei", "readability": "cleartext"}, "error"),
        ({"identifier": "imei", "readability": "encrypted"}, "warning"),
        ({"identifier": "location", "readability": "decrypted"}, "warning"),
        ({"identifier": "ad_id", "readability": "cleartext"}, "warning"),
        ({"identifier": "android_id", "readability": "encrypted"}, "note"),
        (
            {"identifier": "ad_id", "readability": "cleartext", "severity": {"level": "high"}},
            "error",
        ),
        ({"identifier": "imei", "readability": "cleartext", "severity": {"level": "low"}}, "note"),
        (
            {"identifier": "imei", "readability": "cleartext", "severity": {"level": "medium"}},
            "warning",
        ),
        ({"identifier": "imei", "readability": "cleartext", "severity": {"level": "odd"}}, "error"),
    ],
)
def test_sarif_level(finding: Doc, level: str) -> None:
    assert sarif_format.level(finding) == level


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("x.pcap", "x.pcap"),
        ("caps/a b.pcap", "caps/a%20b.pcap"),
        ("/tmp/a#b.pcap", "file:///tmp/a%23b.pcap"),
        ("-", "stdin"),
        ("C:\\caps\\x.pcap", "file:///C:/caps/x.pcap"),
    ],
)
def test_sarif_artifact_uri(path: str, uri: str) -> None:
    assert sarif_format.artifact_uri(path) == uri
