"""The redacted, serialisable view of a scan that every output format renders.

Built once per output. With ``reveal=False`` (the default) no raw identifier value
survives into the view: values are redacted, and any raw value that happens to appear
inside a host name or another free-text field is masked too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from phonehome.detect.profile import profile_hash
from phonehome.findings import Finding
from phonehome.privacy import ValueIds, redact
from phonehome.scan import ScanResult

SCHEMA = "phonehome.scan/1"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ScanView:
    doc: dict[str, Any]
    """The JSON document of the scan contract (docs/scan-json.md)."""
    revealed: bool


class _Scrubber:
    """Masks raw values that leak into free text (a host label carrying an IMEI)."""

    def __init__(self, findings: list[Finding]) -> None:
        vals = sorted({f.value for f in findings if len(f.value) >= 6}, key=len, reverse=True)
        self._values = {v.lower(): redact(v) for v in vals}
        self._re = re.compile("|".join(re.escape(v) for v in vals), re.IGNORECASE) if vals else None

    def __call__(self, text: str) -> str:
        if self._re is None or not text:
            return text
        return self._re.sub(lambda m: self._values.get(m.group(0).lower(), "•••"), text)


_LONG_RUN = re.compile(r"[0-9A-Za-z]{6,}")


def _mask_numbers(text: str) -> str:
    """Context around a match may hold other values, whole or cut at the window's edge,
    that no detector reported: mask every run of 6+ letters and digits that is mostly
    digits or all hex (IMEI halves, hashes, ids), keep words and keys (``SIM1ICCID``)."""

    def mask(m: re.Match[str]) -> str:
        run = m.group(0)
        digits = sum(c.isdigit() for c in run)
        hexy = all(c in "0123456789abcdefABCDEF" for c in run) and digits > 0
        return "•" * len(run) if digits * 2 >= len(run) or hexy else run

    return _LONG_RUN.sub(mask, text)


def _excerpt(
    excerpt: tuple[str, str, str], identifier: str, scrub: Any, reveal: bool
) -> dict[str, str]:
    """Where the value sat in the decoded text, with the matching part marked: the
    redacted value in its context (``"IMEI1":"35•••••••••••83","IMEI2":``)."""
    before, match, after = excerpt
    if reveal:
        return {"before": before, "match": match, "after": after}
    return {
        "before": _mask_numbers(scrub(before)),
        "match": redact(match, identifier),
        "after": _mask_numbers(scrub(after)),
    }


def build_view(result: ScanResult, value_ids: ValueIds, reveal: bool = False) -> ScanView:
    scrub = _Scrubber(result.findings) if not reveal else (lambda s: s)
    findings = []
    for f in result.findings:
        item: dict[str, Any] = {
            "detector": f.detector,
            "identifier": f.identifier,
            "profile_match": f.profile_match,
            "confidence": round(f.confidence, 2),
            "value_redacted": redact(f.value, f.identifier),
            "value_id": value_ids(f.identifier, f.value),
            "encoding": list(f.encoding),
            "form": f.form,
            "where": scrub(f.where),
            "protocol": f.protocol,
            "readability": f.readability,
            "host": scrub(f.host),
            "ips": f.ips,
            "port": f.port,
            "app": (
                {"uid": f.app.uid, "packages": list(f.app.packages), "source": f.app.source}
                if f.app
                else None
            ),
            "count": f.count,
            "first_seen": iso(f.first_seen),
            "last_seen": iso(f.last_seen),
            "times": [iso(t) for t in f.times],
            "per_day": dict(sorted(f.per_day.items())),
            "evidence": [
                {
                    "input": e.input,
                    "frame": e.frame,
                    "community_id": e.community_id,
                    "filter": e.filter,
                }
                for e in f.evidence
            ],
        }
        if f.excerpt is not None:
            item["excerpt"] = _excerpt(f.excerpt, f.identifier, scrub, reveal)
        if reveal:
            item["value"] = f.value
        findings.append(item)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "phonehome", "version": result.tool_version},
        "revealed": reveal,
        "started": iso(result.started),
        "finished": iso(result.finished),
        "inputs": [
            {
                "path": i.path,
                "sha256": i.sha256,
                "size": i.size,
                "format": i.format,
                "packets": i.packets,
                "messages": i.messages,
                "anomalies": i.anomalies,
            }
            for i in result.inputs
        ],
        "device": (
            # Keyed like value ids: a plain hash of a profile could confirm a guessed IMEI.
            {
                "name": result.device_name,
                "profile_id": value_ids("profile", profile_hash(result.profile)),
            }
            if result.profile is not None
            else None
        ),
        "findings": findings,
        "not_inspected": [
            {"host": scrub(h), "hellos": n}
            for h, n in sorted(result.encrypted_flows.items(), key=lambda x: -x[1])
        ],
        "stats": result.stats,
        "anomalies": result.anomalies,
    }
    return ScanView(doc, reveal)
