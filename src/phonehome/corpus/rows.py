"""Scan documents and APK reports -> table rows.

The findings rows are made from the *redacted* scan document (``phonehome.scan/1``,
docs/scan-json.md), the one ``phonehome scan --format json`` prints and the store keeps:
so a corpus row holds exactly what the store would, never a raw value, and the rows of a
corpus run can be compared with those of sequential ``phonehome scan`` runs of the same
inputs (tests do).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def _time(text: Any) -> datetime | None:
    """The scan document's ISO-8601 UTC time (or its ``epoch:`` fallback) as a datetime."""
    if not isinstance(text, str) or not text:
        return None
    try:
        if text.startswith("epoch:"):
            return datetime.fromtimestamp(float(text[6:]), UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None


def epoch(t: float | None) -> datetime | None:
    if t is None:
        return None
    try:
        return datetime.fromtimestamp(t, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def app_name(app: dict[str, Any]) -> str | None:
    """How a finding's app is named in the tables: its package(s), else its uid."""
    packages = _strs(app.get("packages"))
    if packages:
        return ",".join(packages)
    uid = _int(app.get("uid"))
    return f"uid:{uid}" if uid is not None else None


def finding_rows(doc: dict[str, Any], task: str, input_sha256: str) -> list[dict[str, Any]]:
    """One row per finding of a redacted scan document."""
    if doc.get("revealed"):
        raise ValueError("corpus rows are made from the redacted document only")
    rows = []
    for f in doc.get("findings", []):
        dest = _dict(f.get("destination"))
        juris = _dict(dest.get("jurisdiction"))
        app = _dict(f.get("app"))
        evidence = f.get("evidence") or [{}]
        first = _dict(evidence[0])
        conf = f.get("confidence")
        rows.append(
            {
                "task": task,
                "input_sha256": input_sha256,
                "identifier": f.get("identifier"),
                "detector": f.get("detector"),
                "profile_match": bool(f.get("profile_match")),
                "confidence": float(conf) if isinstance(conf, int | float) else None,
                "value_id": f.get("value_id"),
                "value_redacted": f.get("value_redacted"),
                "form": f.get("form"),
                "encoding": _strs(f.get("encoding")),
                "where": f.get("where"),
                "protocol": f.get("protocol"),
                "readability": f.get("readability"),
                "host": f.get("host"),
                "port": _int(f.get("port")),
                "ips": _strs(f.get("ips")),
                "registrable_domain": dest.get("registrable_domain"),
                "owner": dest.get("entity"),
                "party": dest.get("party"),
                "asn": _int(dest.get("asn")),
                "as_org": dest.get("as_org"),
                "country": dest.get("country"),
                "jurisdiction": juris.get("region"),
                "out_of_home_region": juris.get("out_of_home_region"),
                "app": app_name(app),
                "app_packages": _strs(app.get("packages")),
                "app_uid": _int(app.get("uid")),
                "app_source": app.get("source"),
                "count": _int(f.get("count")),
                "first_seen": _time(f.get("first_seen")),
                "last_seen": _time(f.get("last_seen")),
                "interval_s": _dict(f.get("timeline")).get("interval_s"),
                "severity": _dict(f.get("severity")).get("level"),
                "first_input": _int(first.get("input")),
                "first_frame": _int(first.get("frame")),
                "community_id": first.get("community_id"),
            }
        )
    return rows


def scan_counts(doc: dict[str, Any]) -> dict[str, Any]:
    """The inputs-row columns a scan document answers (counts over all the task's files)."""
    stats = _dict(doc.get("stats"))
    anomalies = {str(k): int(v) for k, v in _dict(doc.get("anomalies")).items()}
    formats = sorted({str(i.get("format")) for i in doc.get("inputs", []) if i.get("format")})
    return {
        "format": ",".join(formats) or None,
        "packets": _int(stats.get("packets")),
        "flows": _int(stats.get("flows")),
        "messages": _int(stats.get("messages")),
        "anomalies": sum(anomalies.values()),
        "anomaly_kinds": sorted(anomalies.items()),
        "not_inspected": len(doc.get("not_inspected") or []),
        "findings": len(doc.get("findings") or []),
        "device": _dict(doc.get("device")).get("name"),
    }


def coverage(sent: dict[str, int]) -> dict[str, Any]:
    """Outgoing messages by readability, and the share that could be inspected (clear
    text or decrypted); None when the device sent nothing."""
    clear = sent.get("cleartext", 0)
    enc = sent.get("encrypted", 0)
    dec = sent.get("decrypted", 0)
    total = clear + enc + dec
    return {
        "sent_cleartext": clear,
        "sent_encrypted": enc,
        "sent_decrypted": dec,
        "coverage": round((clear + dec) / total, 6) if total else None,
    }


def app_row(report: dict[str, Any], task: str) -> dict[str, Any]:
    """One ``apps`` row from an APK analysis (static.apk report + signing + risk)."""
    from phonehome.enrich import entities

    signing = _dict(report.get("signing"))
    certs = [c for c in signing.get("certificates") or [] if isinstance(c, dict)]
    endpoints = [e for e in report.get("endpoints") or [] if isinstance(e, dict)]
    hosts = sorted({str(e["host"]) for e in endpoints if e.get("host")})
    owners = set()
    for host in hosts:
        entity = entities.of_host(host)
        if entity is not None:
            owners.add(entity.name)
    chains = [c for c in report.get("chains") or [] if isinstance(c, dict)]
    risk = _dict(report.get("risk"))
    signers = _strs(signing.get("signer"))
    subjects = _strs(signing.get("subjects"))
    return {
        "task": task,
        "sha256": report.get("sha256"),
        "path": report.get("path"),
        "package": report.get("package"),
        "version_name": report.get("version_name"),
        "version_code": _int(report.get("version_code")),
        "min_sdk": _int(report.get("min_sdk")),
        "target_sdk": _int(report.get("target_sdk")),
        "shared_user_id": report.get("shared_user_id"),
        "signer": signers[0] if signers else (certs[0].get("sha256") if certs else None),
        "signer_subject": subjects[0] if subjects else None,
        "signature_schemes": _strs(signing.get("schemes")),
        "permissions": _strs(report.get("permissions")),
        "reads": _strs(report.get("reads_identifiers")),
        "leaks": sorted({str(c["identifier"]) for c in chains if c.get("identifier")}),
        "chains": len(chains),
        "triggers": _strs(report.get("triggers")),
        "endpoints": sorted({str(e["value"]) for e in endpoints if e.get("value")}),
        "endpoint_hosts": hosts,
        "cleartext_hosts": sorted({str(e["host"]) for e in endpoints if e.get("cleartext")}),
        "endpoint_owners": sorted(owners),
        "trackers": sorted({str(t.get("name")) for t in report.get("trackers") or []}),
        "cleartext_allowed": report.get("cleartext_allowed"),
        "risk_score": _int(risk.get("score")),
        "risky": risk.get("risky"),
        "verdict": report.get("verdict"),
        "problems": _strs(report.get("problems")),
    }
