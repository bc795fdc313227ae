"""The static-analysis documents as the report formats read them: one reading of ``apk``
and ``firmware-diff`` documents, and the rules an app or a change breaks.

The documents may come back from the store, written by an older phonehome or edited by
hand, so they are read defensively: a missing or mistyped key shows as absent, it never
stops a report. Every format ranks and names things through :func:`items`, so the text,
HTML and SARIF of one run agree on what is risky and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phonehome import identifiers, wording
from phonehome.jsondoc import as_dict, as_int, as_list
from phonehome.static import firmware as fw

APKS_SCHEMA = "phonehome.apks/2"
"""The ``apk`` command's document: ``{"schema", "tool", "apks": [...], "errors": [...]}``."""
APK_PREFIX = "phonehome.apk/"
"""One APK's analysis (``ApkReport.to_dict()`` plus signing, risk, verdict): what the
store keeps per app."""
DIFF_PREFIX = "phonehome.firmware-diff/"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    text: str
    level: str
    """SARIF level when the app is not risky; a risky app's result is always an error."""


IDENTIFIER_TO_NETWORK = Rule(
    "PH-STATIC-IDENTIFIER-TO-NETWORK",
    "IdentifierToNetwork",
    "The value of a device identifier the app reads flows to a network sink (data flow).",
    "error",
)
NEW_SYSTEM_APP = Rule(
    "PH-STATIC-NEW-SYSTEM-APP",
    "NewSystemApp",
    "A firmware update added a system app (platform shared uid or priv-app).",
    "warning",
)
SIGNER_CHANGED = Rule(
    "PH-STATIC-SIGNER-CHANGED",
    "SignerChanged",
    "The certificate that signs the app changed between the two builds.",
    "warning",
)
CLEARTEXT_ENDPOINT = Rule(
    "PH-STATIC-CLEARTEXT-ENDPOINT",
    "CleartextEndpoint",
    "The app names an endpoint that is reached without encryption (http, ws, ftp, mqtt, tcp).",
    "warning",
)
SIGNATURE_INVALID = Rule(
    "PH-STATIC-SIGNATURE-INVALID",
    "SignatureInvalid",
    "The APK's signature does not verify: Android (apksigner verify) would refuse it, and "
    "its claimed signer proves nothing.",
    "error",
)
RISKY_APP = Rule(
    "PH-STATIC-RISKY-APP",
    "RiskyApp",
    "The app reads a device identifier, has a way to send it and scores as risky.",
    "warning",
)
RULES = (
    IDENTIFIER_TO_NETWORK,
    SIGNATURE_INVALID,
    NEW_SYSTEM_APP,
    SIGNER_CHANGED,
    CLEARTEXT_ENDPOINT,
    RISKY_APP,
)
"""Most serious first: an item's first rule is the one a SARIF result is filed under."""


@dataclass(frozen=True, slots=True)
class Item:
    """One analysed app (``apk``) or one added, changed or removed app (``firmware-diff``)."""

    package: str
    status: str | None
    """None for an ``apk`` report; ``added``, ``changed`` or ``removed`` in a diff."""
    score: int
    risky: bool
    reasons: list[dict[str, Any]]
    verdict: str
    app: dict[str, Any]
    """The app as it is now: the NEW build's for added/changed, the OLD one's if removed."""
    old: dict[str, Any] | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    side: str | None = None
    """``NEW``/``OLD``: the build the app's path is relative to (diffs only)."""


def kind(doc: dict[str, Any]) -> str:
    """``apks`` or ``firmware-diff``; a single stored app counts as ``apks``."""
    schema = str(doc.get("schema", ""))
    return "firmware-diff" if schema.startswith(DIFF_PREFIX) else "apks"


def as_apks(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``apk`` command's document; one stored app's analysis is wrapped into one."""
    if str(doc.get("schema", "")).startswith(APK_PREFIX):
        return {"schema": APKS_SCHEMA, "tool": as_dict(doc.get("tool")), "apks": [doc]}
    return doc


def items(doc: dict[str, Any]) -> list[Item]:
    """The apps or changes of a document, riskiest first (ties keep the document's order)."""
    if kind(doc) == "firmware-diff":
        out = [_change_item(as_dict(e)) for e in as_list(doc.get("changes"))]
    else:
        out = [_apk_item(as_dict(r)) for r in as_list(as_apks(doc).get("apks"))]
    return sorted(out, key=lambda i: -i.score)


def _risk(entry: dict[str, Any]) -> tuple[int, bool, list[dict[str, Any]]]:
    risk = as_dict(entry.get("risk"))
    reasons = [as_dict(r) for r in as_list(risk.get("reasons"))]
    return as_int(risk.get("score")), bool(risk.get("risky")), reasons


def _apk_item(r: dict[str, Any]) -> Item:
    score, risky, reasons = _risk(r)
    rules: list[Rule] = []
    if fw.flow_chains(r):
        rules.append(IDENTIFIER_TO_NETWORK)
    if as_dict(r.get("signing")).get("verified") is False:
        rules.append(SIGNATURE_INVALID)
    if _cleartext(as_list(r.get("endpoints"))):
        rules.append(CLEARTEXT_ENDPOINT)
    if risky and not rules:
        rules.append(RISKY_APP)
    return Item(
        package=str(r.get("package") or "?"),
        status=None,
        score=score,
        risky=risky,
        reasons=reasons,
        verdict=str(r.get("verdict", "")),
        app=r,
        rules=tuple(rules),
    )


def _change_item(e: dict[str, Any]) -> Item:
    score, risky, reasons = _risk(e)
    status = str(e.get("status", "?"))
    old, new = as_dict(e.get("old")) or None, as_dict(e.get("new")) or None
    changes = as_dict(e.get("changes"))
    app = new if new is not None else (old or {})
    rules: list[Rule] = []
    if status == "added":
        if fw.flow_chains(app):
            rules.append(IDENTIFIER_TO_NETWORK)
        if app.get("signature_verified") is False:
            rules.append(SIGNATURE_INVALID)
        if fw.is_system_app(app):
            rules.append(NEW_SYSTEM_APP)
        if _cleartext(as_list(app.get("endpoints"))):
            rules.append(CLEARTEXT_ENDPOINT)
    elif status == "changed":
        # Only what the update brought counts, as in the diff's own score.
        new_ids = set(as_list(as_dict(changes.get("reads_identifiers")).get("added")))
        if any(c.get("identifier") in new_ids for c in fw.flow_chains(app)):
            rules.append(IDENTIFIER_TO_NETWORK)
        if "signature" in changes:
            rules.append(SIGNATURE_INVALID)
        if "signer" in changes and not as_dict(changes["signer"]).get("rotated"):
            rules.append(SIGNER_CHANGED)
        new_values = set(as_list(as_dict(changes.get("endpoints")).get("added")))
        added = [x for x in as_list(app.get("endpoints")) if as_dict(x).get("value") in new_values]
        if _cleartext(added):
            rules.append(CLEARTEXT_ENDPOINT)
    if risky and status != "removed" and not rules:
        rules.append(RISKY_APP)
    return Item(
        package=str(e.get("package") or app.get("package") or "?"),
        status=status,
        score=score,
        risky=risky,
        reasons=reasons,
        verdict=str(e.get("verdict", "")),
        app=app,
        old=old,
        changes=changes,
        rules=tuple(rules),
        side="OLD" if new is None else "NEW",
    )


def _cleartext(endpoints: list[Any]) -> list[str]:
    return [str(as_dict(x).get("value")) for x in endpoints if as_dict(x).get("cleartext")]


def signer(app: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(fingerprints, subjects, schemes) from an APK report or a firmware app summary."""
    signing = as_dict(app.get("signing"))
    if signing:
        return (
            [str(x) for x in as_list(signing.get("signer"))],
            [str(x) for x in as_list(signing.get("subjects"))],
            [str(x) for x in as_list(signing.get("schemes"))],
        )
    return (
        [str(x) for x in as_list(app.get("signer"))],
        [str(x) for x in as_list(app.get("signer_subjects"))],
        [],
    )


def signature_status(app: dict[str, Any]) -> str:
    """``verified (v1+v2+v3 required for minSdk 21)``, ``does not verify: <why>``, or ""
    when the document predates verification (phonehome.apk/1)."""
    signing = as_dict(app.get("signing"))
    verified = signing.get("verified", app.get("signature_verified"))
    if verified is None:
        return ""
    verification = as_dict(signing.get("verification"))
    if verified is False:
        why = verification.get("reason") or app.get("signature_problem") or "unknown reason"
        return f"does not verify: {why}"
    policy = as_dict(verification.get("policy"))
    required = "+".join(str(x) for x in as_list(policy.get("required")))
    if required and policy.get("min_sdk") is not None:
        return f"verified ({required} required for minSdk {policy.get('min_sdk')})"
    return "verified"


def identifier_names(ids: list[Any]) -> list[str]:
    """Display names, device and SIM identifiers first (the order verdicts use)."""
    known = sorted({str(i) for i in ids}, key=lambda i: (identifiers.static_rank(i), i))
    return [identifiers.static_name(i) for i in known]


def counts(doc: dict[str, Any]) -> dict[str, int]:
    changes = [as_dict(e) for e in as_list(doc.get("changes"))]
    return {s: sum(1 for e in changes if e.get("status") == s) for s in fw.STATUSES}


def headline(doc: dict[str, Any]) -> str:
    """One line that says what a document found: the verdict, and the history entry."""
    if kind(doc) == "firmware-diff":
        n = counts(doc)
        risky = sum(1 for i in items(doc) if i.risky)
        old, new = as_dict(doc.get("old")), as_dict(doc.get("new"))
        return (
            f"{n['added']} added, {n['removed']} removed, {n['changed']} changed, {risky} risky:"
            f" {old.get('path', '?')} → {new.get('path', '?')}"
        )
    apps = items(doc)
    if len(apps) == 1:
        i = apps[0]
        return f"{'!' if i.risky else ' '} {i.package} {fw.version_text(i.app)}: {i.verdict}"
    risky = sum(1 for i in apps if i.risky)
    return f"{wording.count(len(apps), 'app')}, {risky} risky"
