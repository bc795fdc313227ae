"""``--format sarif``: SARIF 2.1.0 for CI gates and code-scanning dashboards.

One ``run``: ``tool.driver`` lists every detector as a rule (the known-value detector and
each pattern detector, ids as in docs/detectors.md), and each finding is one ``result``
with ``ruleId`` = its detector id. The location is the capture file (``artifactLocation``,
with its SHA-256 in ``run.artifacts``) and a logical location naming the frame and the
``where`` inside the message, since a capture has no lines to point at.

``partialFingerprints`` carries ``valueId/v1`` (the keyed value id) and ``identity/v1``
(SHA-256 of the finding identity of docs/scan-json.md), so a dashboard tracks one leak
across scans of the same installation the way ``phonehome diff`` does.

Level: the finding's ``severity.level`` when the scan assessed one (critical/high ->
error, medium -> warning, low/info -> note); otherwise by identifier and readability:
a hardware, subscriber or personal identifier (IMEI, IMSI, ICCID, phone number, MAC,
e-mail, location, …) is an error in clear text and a warning otherwise; a resettable one
(Android ID, advertising ID) is a warning in clear text and a note otherwise.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from phonehome import identifiers
from phonehome.jsondoc import as_dict, as_list, dicts
from phonehome.report.document import FindingDoc, ScanDocument, ScanView, how_sent

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RESETTABLE = frozenset(i.id for i in identifiers.CATALOGUE if i.resettable)
SEVERITY_LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
    "none": "none",
}


def level(f: dict[str, Any]) -> str:
    assessed = as_dict(f.get("severity")).get("level")
    if isinstance(assessed, str) and assessed.lower() in SEVERITY_LEVELS:
        return SEVERITY_LEVELS[assessed.lower()]
    clear = f.get("readability") == "cleartext"
    if f.get("identifier") in RESETTABLE:
        return "warning" if clear else "note"
    return "error" if clear else "warning"


def identity_fingerprint(f: dict[str, Any]) -> str:
    """SHA-256 over the finding identity tuple of docs/scan-json.md."""
    app = as_dict(f.get("app"))
    identity = [
        f.get("identifier"),
        f.get("value_id"),
        app.get("uid"),
        sorted(str(p) for p in as_list(app.get("packages"))),
        f.get("host"),
        f.get("port"),
        f.get("protocol"),
        f.get("where"),
        as_list(f.get("encoding")),
    ]
    blob = json.dumps(identity, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def artifact_uri(path: str) -> str:
    """A capture path as a URI reference (SARIF wants URIs, not file names)."""
    if path == "-":
        return "stdin"
    if PurePosixPath(path).is_absolute():
        return "file://" + quote(path)
    win = PureWindowsPath(path)
    if win.drive and win.is_absolute():
        return win.as_uri()
    return quote(path.replace("\\", "/"))


def _first_line(doc: str | None) -> str:
    text = (doc or "").strip().split("\n\n")[0]
    return " ".join(text.replace("``", "").split())


def rules() -> list[dict[str, Any]]:
    """Every registered detector, in registry order: stable rule indices across scans.

    A pattern detector's rule text is its own ``rule_text`` or else its identifier's in
    the catalogue; the known-value detector (which finds every identifier) is described
    by its module."""
    from phonehome.detect import PATTERN_DETECTORS, Detector, KnownValues

    detectors: list[type[Detector]] = [KnownValues, *PATTERN_DETECTORS]
    out = []
    for cls in detectors:
        entry = identifiers.get(cls.identifier)
        module = sys.modules.get(cls.__module__)
        text = cls.rule_text or (
            entry.rule_text
            if entry is not None
            else _first_line(module.__doc__ if module else None) or cls.name
        )
        out.append(
            {
                "id": cls.id,
                "name": cls.name,
                "shortDescription": {"text": text},
                "properties": {"identifier": cls.identifier},
            }
        )
    return out


def _message(f: dict[str, Any], revealed: bool) -> str:
    name = identifiers.name(f.get("identifier"))
    how, then = how_sent([FindingDoc(f)])
    if then:
        how = f"{how} ({then})"
    chain = ">".join(str(e) for e in as_list(f.get("encoding"))) or "no encoding"
    value = f.get("value") if revealed and "value" in f else f.get("value_redacted")
    return (
        f"{name} {value} sent {how} to {f.get('host')} ({f.get('protocol')}/{f.get('port')}) "
        f"at {f.get('where')} via {chain}, {f.get('count')} time(s) "
        f"from {f.get('first_seen')} to {f.get('last_seen')}."
    )


def _result(
    f: dict[str, Any],
    rule_index: dict[str, int],
    inputs: list[dict[str, Any]],
    artifact_of: list[int],
    revealed: bool,
) -> dict[str, Any]:
    evidence = dicts(f.get("evidence"))
    first = evidence[0] if evidence else {}
    where = str(f.get("where", ""))
    location: dict[str, Any] = {
        "logicalLocations": [
            {
                "name": where,
                "fullyQualifiedName": f"frame {first.get('frame', '?')} > {where}",
                "kind": "element",
            }
        ]
    }
    idx = first.get("input")
    if isinstance(idx, int) and 0 <= idx < len(inputs):
        location["physicalLocation"] = {
            "artifactLocation": {
                "uri": artifact_uri(str(inputs[idx].get("path"))),
                "index": artifact_of[idx],
            }
        }
    detector = str(f.get("detector", "PH-UNKNOWN"))
    props: dict[str, Any] = {
        k: f[k]
        for k in (
            "identifier",
            "profile_match",
            "confidence",
            "value_redacted",
            "value_id",
            "encoding",
            "form",
            "protocol",
            "readability",
            "host",
            "ips",
            "port",
            "app",
            "count",
            "first_seen",
            "last_seen",
            "destination",
            "severity",
            "trigger",
        )
        if k in f
    }
    if revealed and "value" in f:
        props["value"] = f["value"]
    props["evidence"] = evidence[:10]
    result: dict[str, Any] = {
        "ruleId": detector,
        "level": level(f),
        "message": {"text": _message(f, revealed)},
        "locations": [location],
        "partialFingerprints": {
            "valueId/v1": str(f.get("value_id", "")),
            "identity/v1": identity_fingerprint(f),
        },
        "properties": props,
    }
    if detector in rule_index:
        result["ruleIndex"] = rule_index[detector]
    return result


def render(view: ScanView, color: bool = False) -> str:
    d = ScanDocument(view)
    revealed = d.revealed
    findings = [f.raw for f in d.findings]
    inputs = d.inputs
    driver_rules = rules()
    known = {r["id"] for r in driver_rules}
    for f in findings:  # a detector this build does not know (an old stored scan)
        det = str(f.get("detector", "PH-UNKNOWN"))
        if det not in known:
            known.add(det)
            driver_rules.append({"id": det, "shortDescription": {"text": det}})
    rule_index = {r["id"]: i for i, r in enumerate(driver_rules)}
    tool = d.tool
    # One artifact per distinct input: SARIF requires the artifacts to be unique, and the
    # same file may be given twice (``scan a.pcap a.pcap``).
    artifacts: list[dict[str, Any]] = []
    artifact_of: list[int] = []
    for i in inputs:
        art: dict[str, Any] = {"location": {"uri": artifact_uri(str(i.get("path")))}}
        if isinstance(i.get("size"), int):
            art["length"] = i["size"]
        if i.get("sha256"):
            art["hashes"] = {"sha-256": str(i["sha256"])}
        if art not in artifacts:
            artifacts.append(art)
        artifact_of.append(artifacts.index(art))
    notifications = [
        {
            "descriptor": {"id": str(kind)},
            "level": "note",
            "message": {"text": f"{kind}: {count} occurrence(s) in the input"},
        }
        for kind, count in sorted(d.anomalies.items())
    ]
    invocation: dict[str, Any] = {"executionSuccessful": True}
    for key, prop in (("started", "startTimeUtc"), ("finished", "endTimeUtc")):
        if isinstance(d.get(key), str):
            invocation[prop] = d.get(key)
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run_props: dict[str, Any] = {
        "schema": d.get("schema"),
        "revealed": revealed,
        "device": d.get("device"),
        "notInspected": as_list(d.get("not_inspected"))[:1000],
        "decryption": as_dict(d.get("decryption")),
        "stats": d.stats,
    }
    if revealed:
        run_props["warning"] = "RAW VALUES SHOWN (--reveal): this log contains personal data."
    for key in ("datasets", "methodology"):
        if key in d.raw:
            run_props[key] = d.raw[key]
    run = {
        "tool": {
            "driver": {
                "name": "phonehome",
                "version": str(tool.get("version", "0")),
                "rules": driver_rules,
            }
        },
        "artifacts": artifacts,
        "invocations": [invocation],
        "results": [_result(f, rule_index, inputs, artifact_of, revealed) for f in findings],
        "properties": run_props,
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
