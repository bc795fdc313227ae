"""What changed between two scans: new, gone and changed findings.

Findings are matched by the identity of docs/scan-json.md ("Identity"): identifier,
value id, app uid and packages, host, port, protocol, where and encoding chain. The
question it answers is "what did the December update start sending that November did
not?", so a finding is "changed" only when something a reader would act on moved (see
``changes``), not whenever a count differs by one because the captures had other lengths.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from phonehome import identifiers, wording
from phonehome.jsondoc import opt_int as _int
from phonehome.jsondoc import opt_str as _str
from phonehome.jsondoc import strs as _strs

Identity = tuple[
    str | None,
    str | None,
    int | None,
    tuple[str, ...],
    str | None,
    int | None,
    str | None,
    str | None,
    tuple[str, ...],
]
IDENTITY_FIELDS = (
    "identifier",
    "value_id",
    "app_uid",
    "app_packages",
    "host",
    "port",
    "protocol",
    "where",
    "encoding",
)
DIFF_SCHEMA = "phonehome.diff/1"

COUNT_RATIO = 2.0
"""A count is notably changed when one side is at least twice the other ..."""
COUNT_MIN_DELTA = 2
"""... and they differ by at least this much (1 -> 2 is noise, 3 -> 11 is not)."""
INTERVAL_RATIO = 2.0
"""The typical (median) gap between sends changed by this factor: every 2 h -> every 15 min."""
MIN_TIMES_FOR_INTERVAL = 3


def identity(finding: Mapping[str, Any]) -> Identity:
    """The identity tuple of a finding of the scan JSON document."""
    app = finding.get("app")
    app = app if isinstance(app, dict) else {}
    return (
        _str(finding.get("identifier")),
        _str(finding.get("value_id")),
        _int(app.get("uid")),
        tuple(sorted(_strs(app.get("packages")))),
        _str(finding.get("host")),
        _int(finding.get("port")),
        _str(finding.get("protocol")),
        _str(finding.get("where")),
        _strs(finding.get("encoding")),
    )


def identity_key(finding: Mapping[str, Any]) -> str:
    """The identity as one indexable string (the store's ``findings.identity`` column)."""
    text = json.dumps(list(identity(finding)), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Change:
    before: dict[str, Any]
    after: dict[str, Any]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Diff:
    a: dict[str, Any]
    """Summary of the earlier scan (label, start, inputs, tool version)."""
    b: dict[str, Any]
    new: list[dict[str, Any]] = field(default_factory=list)
    """Findings of B whose identity A does not have: what B started sending."""
    gone: list[dict[str, Any]] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    unchanged: int = 0


def _summary(doc: Mapping[str, Any], label: str) -> dict[str, Any]:
    tool = doc.get("tool") if isinstance(doc.get("tool"), dict) else {}
    device = doc.get("device") if isinstance(doc.get("device"), dict) else {}
    inputs = doc.get("inputs") if isinstance(doc.get("inputs"), list) else []
    findings = doc.get("findings") if isinstance(doc.get("findings"), list) else []
    return {
        "label": label,
        "started": doc.get("started"),
        "tool_version": (tool or {}).get("version"),
        "device": (device or {}).get("name"),
        "inputs": [
            {"path": i.get("path"), "sha256": i.get("sha256")}
            for i in inputs or []
            if isinstance(i, dict)
        ],
        "findings": len(findings or []),
    }


def _by_identity(doc: Mapping[str, Any]) -> dict[Identity, dict[str, Any]]:
    """Findings by identity. A scan has one finding per identity; should a document hold
    two (edited by hand, or two hosts masked to one), the first stands for both with
    their counts added."""
    out: dict[Identity, dict[str, Any]] = {}
    findings = doc.get("findings")
    for f in findings if isinstance(findings, list) else []:
        if not isinstance(f, dict):
            continue
        key = identity(f)
        seen = out.get(key)
        if seen is None:
            out[key] = f
        else:
            count = (_int(seen.get("count")) or 0) + (_int(f.get("count")) or 0)
            out[key] = {**seen, "count": count}
    return out


def _median_gap(times: object) -> float | None:
    """Median seconds between consecutive sends, from the finding's ``times``."""
    if not isinstance(times, list) or len(times) < MIN_TIMES_FOR_INTERVAL:
        return None
    try:
        ts = sorted(
            datetime.fromisoformat(str(t).replace("Z", "+00:00")).timestamp() for t in times
        )
    except ValueError:
        return None
    return statistics.median(b - a for a, b in itertools.pairwise(ts))


def human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Why a finding present in both scans is worth reporting, or () when it is not.

    Notable: a different readability (sent in clear now, or encrypted now); a count that
    at least doubled or halved and moved by 2 or more; a typical interval between sends
    that at least doubled or halved (needs 3+ times on both sides).
    """
    reasons: list[str] = []
    ra, rb = before.get("readability"), after.get("readability")
    if ra != rb:
        reasons.append(f"readability {ra} -> {rb}")
    ca, cb = _int(before.get("count")) or 0, _int(after.get("count")) or 0
    lo, hi = min(ca, cb), max(ca, cb)
    if hi - lo >= COUNT_MIN_DELTA and hi >= COUNT_RATIO * lo:
        reasons.append(f"count {ca} -> {cb}")
    ga, gb = _median_gap(before.get("times")), _median_gap(after.get("times"))
    if ga and gb and max(ga, gb) >= INTERVAL_RATIO * min(ga, gb):
        reasons.append(f"every {human_seconds(ga)} -> every {human_seconds(gb)}")
    return tuple(reasons)


def _order(f: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(f.get("host") or ""), str(f.get("identifier") or ""), str(f.get("where") or ""))


def diff_docs(
    a: Mapping[str, Any], b: Mapping[str, Any], labels: tuple[str, str] = ("A", "B")
) -> Diff:
    """Compare scan A (before) with scan B (after)."""
    fa, fb = _by_identity(a), _by_identity(b)
    changed: list[Change] = []
    unchanged = 0
    for key in fa.keys() & fb.keys():
        reasons = changes(fa[key], fb[key])
        if reasons:
            changed.append(Change(fa[key], fb[key], reasons))
        else:
            unchanged += 1
    changed.sort(key=lambda c: _order(c.after))
    return Diff(
        a=_summary(a, labels[0]),
        b=_summary(b, labels[1]),
        new=sorted((fb[k] for k in fb.keys() - fa.keys()), key=_order),
        gone=sorted((fa[k] for k in fa.keys() - fb.keys()), key=_order),
        changed=changed,
        unchanged=unchanged,
    )


# -- rendering ------------------------------------------------------------------------------


def _finding_line(f: Mapping[str, Any]) -> str:
    name = identifiers.name(str(f.get("identifier") or "?"))
    clear = "CLEAR TEXT" if f.get("readability") == "cleartext" else str(f.get("readability"))
    enc = " > ".join(_strs(f.get("encoding"))) or "plain"
    app = f.get("app")
    who = ""
    if isinstance(app, dict):
        pkgs = ",".join(_strs(app.get("packages")))
        who = f"  app uid {app.get('uid')}" + (f" {pkgs}" if pkgs else "")
    return (
        f"{name} {f.get('value_redacted', '')} -> {f.get('host')}:{f.get('port')} "
        f"({f.get('protocol')}, {clear}) at {f.get('where')} [{enc}] x{f.get('count')}{who}"
    )


def _describe(s: Mapping[str, Any]) -> str:
    names = ", ".join(str(i.get("path")) for i in s.get("inputs", []))
    found = wording.count(s["findings"], "finding")
    return f"{s['label']} (started {s.get('started')}, {found}; {names})"


def _render_text(d: Diff) -> str:
    out = [
        f"before: {_describe(d.a)}",
        f"after:  {_describe(d.b)}",
        f"{len(d.new)} new, {len(d.gone)} gone, {len(d.changed)} changed, {d.unchanged} unchanged",
    ]
    sections: list[tuple[str, list[str]]] = [
        ("NEW (sent after, not before)", ["  + " + _finding_line(f) for f in d.new]),
        ("GONE (sent before, not after)", ["  - " + _finding_line(f) for f in d.gone]),
        (
            "CHANGED",
            [f"  ~ {_finding_line(c.after)}\n      {'; '.join(c.reasons)}" for c in d.changed],
        ),
    ]
    for title, lines in sections:
        if lines:
            out += ["", title, *lines]
    return "\n".join(out) + "\n"


def _render_json(d: Diff) -> str:
    doc = {
        "schema": DIFF_SCHEMA,
        "a": d.a,
        "b": d.b,
        "new": d.new,
        "gone": d.gone,
        "changed": [
            {"reasons": list(c.reasons), "before": c.before, "after": c.after} for c in d.changed
        ],
        "unchanged": d.unchanged,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_diff(diff: Diff, fmt: Literal["text", "json"] = "text") -> str:
    return _render_json(diff) if fmt == "json" else _render_text(diff)
