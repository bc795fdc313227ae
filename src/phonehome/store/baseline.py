"""Baselines for CI gates, in the manner of detect-secrets' ``.secrets.baseline``.

A baseline lists the finding identities a team has accepted (each with an optional
"justification" a person can edit); a later scan fails the gate only for findings that
are not in it. Entries hold value ids (keyed hashes) and redacted values, never raw
values. Value ids are keyed per installation, so a baseline matches scans made with the
same key (``$PHONEHOME_HOME/key``): a CI job must use the key the baseline was made with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phonehome import __version__
from phonehome.errors import InputError
from phonehome.privacy import write_private
from phonehome.store.db import check_scan_doc, now_iso, read_json_file, require_redacted
from phonehome.store.diff import Identity, identity

BASELINE_SCHEMA = "phonehome.baseline/1"
MAX_BASELINE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Baseline:
    entries: list[dict[str, Any]]
    identities: frozenset[Identity]

    def justifications(self) -> dict[Identity, str]:
        return {
            identity(e): e["justification"]
            for e in self.entries
            if isinstance(e.get("justification"), str)
        }


def _entry(f: Mapping[str, Any], justification: str | None) -> dict[str, Any]:
    app = f.get("app")
    return {
        "identifier": f.get("identifier"),
        "value_id": f.get("value_id"),
        "value_redacted": f.get("value_redacted"),
        "app": (
            {"uid": app.get("uid"), "packages": list(app.get("packages") or [])}
            if isinstance(app, dict)
            else None
        ),
        "host": f.get("host"),
        "port": f.get("port"),
        "protocol": f.get("protocol"),
        "where": f.get("where"),
        "encoding": list(f.get("encoding") or []),
        "justification": justification,
    }


def _check_entry(path: Path, i: int, e: object) -> dict[str, Any]:
    if not isinstance(e, dict):
        raise InputError(str(path), f"baseline entry {i} is not an object")
    for key in ("identifier", "value_id", "host", "protocol", "where"):
        if not isinstance(e.get(key), str):
            raise InputError(str(path), f"baseline entry {i}: {key!r} must be a string")
    if not isinstance(e.get("port"), int | None) or not isinstance(e.get("encoding"), list):
        raise InputError(str(path), f"baseline entry {i}: bad 'port' or 'encoding'")
    if e.get("app") is not None and not isinstance(e.get("app"), dict):
        raise InputError(str(path), f"baseline entry {i}: 'app' must be an object or null")
    return e


def load_baseline(path: Path) -> Baseline:
    """Read a baseline; a file that is not one (or an entry a hand edit broke) stops the
    run with a one-line message naming it, since a gate with a half-read baseline would
    judge the wrong things."""
    doc = read_json_file(path, MAX_BASELINE_BYTES, "a baseline")
    if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA:
        raise InputError(str(path), f"not a phonehome baseline (no schema {BASELINE_SCHEMA!r})")
    raw = doc.get("entries")
    if not isinstance(raw, list):
        raise InputError(str(path), "baseline has no 'entries' list")
    entries = [_check_entry(path, i, e) for i, e in enumerate(raw)]
    return Baseline(entries, frozenset(identity(e) for e in entries))


def write_baseline(
    doc: Mapping[str, Any], path: Path, justification: str | None = None
) -> Baseline:
    """Write the baseline of a redacted scan document to ``path`` (mode 0600).

    Rewriting an existing baseline keeps the justifications people wrote for findings
    that are still there; ``justification`` fills the entries that have none.
    """
    baseline, text = baseline_document(doc, path, justification)
    write_private(path, text.encode())
    return baseline


def baseline_document(
    doc: Mapping[str, Any], path: Path, justification: str | None = None
) -> tuple[Baseline, str]:
    """The baseline of a redacted scan document and its JSON text, keeping the
    justifications of the baseline already at ``path`` (see :func:`write_baseline`)."""
    check_scan_doc(doc)
    require_redacted(doc)
    kept = load_baseline(path).justifications() if path.exists() else {}
    entries: list[dict[str, Any]] = []
    seen: set[Identity] = set()
    for f in doc["findings"]:
        key = identity(f)
        if key in seen:
            continue
        seen.add(key)
        entries.append(_entry(f, kept.get(key, justification)))
    entries.sort(key=lambda e: (str(e["host"]), str(e["identifier"]), str(e["where"])))
    out = {
        "schema": BASELINE_SCHEMA,
        "generated": now_iso(),
        "tool": {"name": "phonehome", "version": __version__},
        "scan": {
            "started": doc.get("started"),
            "inputs": [{"path": i.get("path"), "sha256": i.get("sha256")} for i in doc["inputs"]],
        },
        "entries": entries,
    }
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    return Baseline(entries, frozenset(seen)), text


def filter_new(doc: Mapping[str, Any], baseline: Baseline) -> list[dict[str, Any]]:
    """The findings of ``doc`` the baseline does not accept: what should fail a gate."""
    findings = doc.get("findings")
    return [
        f
        for f in (findings if isinstance(findings, list) else [])
        if isinstance(f, dict) and identity(f) not in baseline.identities
    ]
