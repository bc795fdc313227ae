"""Every report format reads the scan document through one typed reader that tolerates
missing and mistyped keys: a damaged or old document renders with less, never a crash."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from phonehome.report import FORMATS, ScanView
from phonehome.report.document import FindingDoc, ScanDocument
from tests.conftest import scan_doc

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def doc(nokia_capture: Path) -> Doc:
    return scan_doc(nokia_capture, "--reveal")


def test_reader_types_a_real_finding(doc: Doc) -> None:
    d = ScanDocument(ScanView(doc, False))
    assert d.revealed  # the document says so, whatever the caller passed
    f = d.findings[0]
    assert f.raw is doc["findings"][0]
    assert (f.host, f.port, f.protocol) == (doc["findings"][0]["host"], 80, "http")
    assert f.name == {"imei": "IMEI", "cell_id": "cell ID"}.get(f.raw["identifier"], f.name)
    assert f.shown_value(True) == f.raw["value"] and f.shown_value(False) == f.raw["value_redacted"]


@pytest.mark.parametrize(
    ("raw", "host", "port", "count", "encoding", "packages"),
    [
        ({}, "?", 0, 0, (), ()),
        ({"host": None, "port": "80", "count": True, "encoding": "b64"}, "?", 0, 0, (), ()),
        ({"host": 7, "port": 443, "count": 2, "encoding": ["a", 1]}, "7", 443, 2, ("a", "1"), ()),
        ({"app": {"packages": ["a.b", None]}}, "?", 0, 0, (), ("a.b", "None")),
        ({"app": [1]}, "?", 0, 0, (), ()),
        ([1, 2], "?", 0, 0, (), ()),
    ],
)
def test_missing_and_mistyped_keys_read_as_empty(
    raw: Any, host: str, port: int, count: int, encoding: tuple[str, ...], packages: tuple[str, ...]
) -> None:
    f = FindingDoc(raw)
    assert (f.host, f.port, f.count, f.encoding, f.packages) == (
        host,
        port,
        count,
        encoding,
        packages,
    )
    assert f.destination == f.timeline == f.trigger == f.severity == {}
    assert f.evidence == [] and f.name == "identifier"


def _all_formats(d: Doc) -> None:
    for name, render in FORMATS.items():
        assert isinstance(render(ScanView(d, False), False), str), name


def test_every_format_renders_without_each_finding_key(doc: Doc) -> None:
    for key in doc["findings"][0]:
        d = copy.deepcopy(doc)
        for f in d["findings"]:
            del f[key]
        _all_formats(d)


def test_every_format_renders_without_each_top_level_key(doc: Doc) -> None:
    for key in doc:
        d = copy.deepcopy(doc)
        del d[key]
        _all_formats(d)


@pytest.mark.parametrize("junk", [None, 7, "x", [], {}, [None], {"a": 1}])
def test_every_format_renders_with_each_key_mistyped(doc: Doc, junk: Any) -> None:
    for key in [*doc["findings"][0], "inputs", "findings", "anomalies", "device", "tool"]:
        d = copy.deepcopy(doc)
        if key in doc["findings"][0]:
            d["findings"][0][key] = junk
        else:
            d[key] = junk
        _all_formats(d)
