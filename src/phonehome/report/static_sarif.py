"""``--format sarif`` for ``apk`` and ``firmware-diff``: SARIF 2.1.0, so a vendor's CI can
gate a build on what its apps do, next to the scan's SARIF.

One ``result`` per app (``apk``) or per added or changed app (``firmware-diff``) that
breaks a rule of :data:`~phonehome.report.static_document.RULES`, riskiest first; the result is
filed under the app's most serious rule and lists all of them in ``properties.rules``.
The unit of triage is the app: one alert that says "system app; reads IMEI, ICCID, IMSI;
posts to http://zzhc.vnet.cn" beats three that each say a third of it. A risky app is an
``error``; otherwise the rule's own level.

The location is the APK (for a firmware diff relative to the build, ``uriBaseId`` OLD or
NEW) with the package as a logical location; the call paths from a trigger to an
identifier source and on to a network sink are ``codeFlows``, each method one step.
``partialFingerprints`` (``package/v1``: rule and package) keep one alert per app across
versions, the way a dashboard should track "the autoregistration app sends the IMEI".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from phonehome.jsondoc import as_dict, as_int, as_list
from phonehome.report.sarif_format import SARIF_SCHEMA, artifact_uri
from phonehome.report.static_document import RULES, Item, identifier_names, items, kind
from phonehome.static import firmware as fw

MAX_FLOWS = 10
MAX_NOTIFICATIONS = 1000


def rules() -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.text},
            "defaultConfiguration": {"level": r.level},
        }
        for r in RULES
    ]


def render(doc: dict[str, Any]) -> str:
    diff = kind(doc) == "firmware-diff"
    index = {r.id: i for i, r in enumerate(RULES)}
    ranked = [i for i in items(doc) if i.rules]
    artifacts: list[dict[str, Any]] = []
    results = [_result(i, index, artifacts, diff) for i in ranked]
    tool = as_dict(doc.get("tool"))
    invocation: dict[str, Any] = {"executionSuccessful": True}
    notifications = _notifications(doc, diff)
    if notifications:
        invocation["toolExecutionNotifications"] = notifications[:MAX_NOTIFICATIONS]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "phonehome",
                "version": str(tool.get("version", "0")),
                "rules": rules(),
            }
        },
        "artifacts": artifacts,
        "invocations": [invocation],
        "results": results,
        "properties": {"schema": doc.get("schema")},
    }
    if diff:
        run["originalUriBaseIds"] = {
            label: _base(as_dict(doc.get(label.lower())).get("path"), label)
            for label in ("OLD", "NEW")
        }
        run["properties"]["unchanged"] = doc.get("unchanged")
        run["properties"]["duplicates"] = as_list(doc.get("duplicates"))[:100]
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _base(path: Any, label: str) -> dict[str, Any]:
    """Where OLD/NEW are: a ``file:`` URI for an absolute folder, a description otherwise
    (SARIF wants base URIs absolute, and the document keeps paths as the user gave them)."""
    text = str(path or "?")
    if PurePosixPath(text).is_absolute():
        return {"uri": artifact_uri(text.rstrip("/") + "/")}
    return {"description": {"text": f"{label} build: {text}"}}


def _result(
    item: Item, index: dict[str, int], artifacts: list[dict[str, Any]], diff: bool
) -> dict[str, Any]:
    rule = item.rules[0]
    app = item.app
    path = str(app.get("path", "?"))
    location: dict[str, Any] = {"uri": quote(path) if diff else artifact_uri(path)}
    if diff and item.side:
        location["uriBaseId"] = item.side
    artifact: dict[str, Any] = {"location": dict(location)}
    if as_int(app.get("size")):
        artifact["length"] = app["size"]
    if app.get("sha256"):
        artifact["hashes"] = {"sha-256": str(app["sha256"])}
    # SARIF requires unique artifacts: an APK given twice, or two entries of an old document
    # without paths, share one.
    if artifact not in artifacts:
        artifacts.append(artifact)
    location["index"] = artifacts.index(artifact)
    why = ", ".join(f"{r.get('reason')} +{r.get('points')}" for r in item.reasons)
    text = item.verdict if diff else f"{item.package} {fw.version_text(app)}: {item.verdict}"
    result: dict[str, Any] = {
        "ruleId": rule.id,
        "ruleIndex": index[rule.id],
        "level": "error" if item.risky else rule.level,
        "message": {"text": f"{text} (risk {item.score}" + (f": {why})" if why else ")")},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": location},
                "logicalLocations": [
                    {"name": item.package, "fullyQualifiedName": item.package, "kind": "module"}
                ],
            }
        ],
        "partialFingerprints": {"package/v1": _fingerprint(rule.id, item.package)},
        "properties": {
            "package": item.package,
            "version": fw.version_text(app),
            "status": item.status,
            "rules": [r.id for r in item.rules],
            "risk": {"score": item.score, "risky": item.risky, "reasons": item.reasons},
            "readsIdentifiers": identifier_names(as_list(app.get("reads_identifiers"))),
            "triggers": as_list(app.get("triggers")),
            "changes": item.changes,
        },
    }
    flows = [_flow(c) for c in fw.flow_chains(app)[:MAX_FLOWS]]
    if flows:
        result["codeFlows"] = flows
    return result


def _fingerprint(rule_id: str, package: str) -> str:
    return hashlib.sha256(f"{rule_id}\n{package}".encode()).hexdigest()


def _step(name: str, kind: str, message: str) -> dict[str, Any]:
    return {
        "location": {
            "logicalLocations": [{"fullyQualifiedName": name, "kind": kind}],
            "message": {"text": message},
        }
    }


def _flow(chain: dict[str, Any]) -> dict[str, Any]:
    """Entry point → methods → identifier source, then → methods → network sink."""
    ident = identifier_names([chain.get("identifier")])[0]
    steps = [_step(str(chain.get("entry", "?")), "function", "entry point")]
    steps += [_step(str(m), "function", "calls") for m in as_list(chain.get("to_source"))[:20]]
    steps.append(_step(str(chain.get("source", "?")), "function", f"reads the {ident}"))
    path = [as_dict(p) for p in as_list(chain.get("path"))]
    if path:  # data flow: the statements the value passes, source call to sink call
        for p in path[1:41]:
            text = f"@{p.get('offset')}: {p.get('instruction')}"
            steps.append(_step(str(p.get("method", "?")), "function", text))
        steps.append(_step(str(chain.get("sink", "?")), "function", "network sink"))
    else:
        steps += [_step(str(m), "function", "calls") for m in as_list(chain.get("to_sink"))[:20]]
        steps.append(_step(str(chain.get("sink", "?")), "function", "network sink"))
    return {
        "message": {"text": str(chain.get("text", ""))},
        "threadFlows": [{"locations": steps}],
    }


def _notifications(doc: dict[str, Any], diff: bool) -> list[dict[str, Any]]:
    """Files that could not be analysed, and build-level problems: a gate should see that
    part of the input was not looked at."""
    out: list[dict[str, Any]] = []
    sides = (
        [("OLD ", as_dict(doc.get("old"))), ("NEW ", as_dict(doc.get("new")))]
        if diff
        else [("", doc)]
    )
    for label, side in sides:
        for e in (as_dict(x) for x in as_list(side.get("errors"))):
            out.append(
                {
                    "descriptor": {"id": "unreadable-apk"},
                    "level": "warning",
                    "message": {"text": f"{label}{e.get('path')}: {e.get('error')}"},
                }
            )
        for problem in as_list(side.get("problems")):
            out.append(
                {
                    "descriptor": {"id": "build-problem"},
                    "level": "warning",
                    "message": {"text": f"{label}{problem}"},
                }
            )
    return out
