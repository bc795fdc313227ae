"""``--format text``: what a person reads in ten seconds, riskiest app first.

One block per APK (verdict, signer, code paths, cleartext endpoints, trackers, problems)
or, for a firmware diff, one line per added, changed or removed app with the reasons for
its score. The full detail is in ``--format json`` and ``html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phonehome import wording
from phonehome.jsondoc import as_dict, as_list
from phonehome.report.static_document import as_apks, counts, items, kind, signature_status
from phonehome.static import firmware as fw

RISK_LEGEND = (
    "risk: points for the identifiers an app reads, the events it runs on and the ways it "
    "can send them (docs/static.md); '!' = risky: it reads an identifier and can send it, "
    "or its signer changed\n"
)
"""Said once under the apps: a bare ``risk 18`` or ``!`` means nothing to a new reader."""


def render(doc: dict[str, Any]) -> str:
    if kind(doc) == "firmware-diff":
        return diff_text(doc) + RISK_LEGEND
    apks = [apk_text(as_dict(r)) for r in as_list(as_apks(doc).get("apks"))]
    return "".join(apks) + (RISK_LEGEND if apks else "")


def apk_text(r: dict[str, Any]) -> str:
    risk = as_dict(r.get("risk"))
    lines = [
        f"{'!' if risk.get('risky') else ' '} {r.get('package')} {fw.version_text(r)}"
        f"  [{Path(str(r.get('path', '?'))).name}]  risk {risk.get('score', '?')}",
        f"    {r.get('verdict', '')}",
    ]
    signing = as_dict(r.get("signing"))
    if signing.get("signer"):
        who = "; ".join(map(str, as_list(signing.get("subjects")))) or "unparsed certificate"
        prints = ", ".join(str(p)[:16] + "…" for p in as_list(signing["signer"]))
        schemes = "+".join(map(str, as_list(signing.get("schemes"))))
        lines.append(f"    signer: {who} ({prints}; {schemes})")
    else:
        lines.append("    signer: none (unsigned)")
    status = signature_status(r)
    if status:
        lines.append(f"    signature: {status}")
    chains = [as_dict(c) for c in as_list(r.get("chains"))]
    for chain in chains[:5]:
        lines.append(f"    {_chain_label(chain)}: {chain.get('text')}")
    if len(chains) > 5:
        lines.append(f"    (+{len(chains) - 5} more code paths)")
    flow = as_dict(r.get("dataflow"))
    if flow and flow.get("complete") is False:
        lines.append(f"    data flow incomplete: {flow.get('reason')}")
    endpoints = [as_dict(e) for e in as_list(r.get("endpoints"))]
    plain = [str(e.get("value")) for e in endpoints if e.get("cleartext")]
    if plain:
        lines.append(f"    cleartext: {', '.join(plain[:5])}")
    netsec = network_security_line(as_dict(r.get("network_security")))
    if netsec:
        lines.append(f"    network security: {netsec}")
    trackers = sorted({str(as_dict(t).get("name")) for t in as_list(r.get("trackers"))})
    if trackers:
        lines.append(f"    trackers: {', '.join(trackers)}")
    problems = [str(p) for p in as_list(r.get("problems"))]
    for problem in problems[:5]:
        lines.append(f"    problem: {problem}")
    if len(problems) > 5:
        lines.append(f"    (+{len(problems) - 5} more problems; --format json lists all)")
    return "\n".join(lines) + "\n"


def _chain_label(chain: dict[str, Any]) -> str:
    """``flow`` when the value reaches the sink (with the sink's kind when it is not the
    network); ``reachable`` when only the code does (context, not a leak)."""
    if chain.get("evidence") == "data-flow":
        kind = chain.get("sink_kind", "network")
        return "flow" if kind == "network" else f"flow ({kind})"
    return "reachable, no flow found"


def network_security_line(ns: dict[str, Any]) -> str:
    """What the app's network security config permits, in one line ("" without one)."""
    if not ns:
        return ""
    parts = ["cleartext allowed" if ns.get("cleartext_permitted") else "cleartext blocked"]
    domains = [str(d) for d in as_list(ns.get("cleartext_domains"))]
    if domains and not ns.get("cleartext_permitted"):
        more = f" (+{len(domains) - 5})" if len(domains) > 5 else ""
        parts[0] += f" except {', '.join(domains[:5])}{more}"
    if ns.get("user_cas_trusted"):
        parts.append("trusts user-installed CAs (a proxy CA reads its TLS)")
    elif as_list(ns.get("user_ca_domains")):
        parts.append(
            "trusts user CAs for "
            + wording.count(len(as_list(ns.get("user_ca_domains"))), "domain")
        )
    if as_list(ns.get("pinned_domains")):
        parts.append(f"pins {wording.count(len(as_list(ns.get('pinned_domains'))), 'domain')}")
    return "; ".join(parts)


def diff_text(doc: dict[str, Any]) -> str:
    n = counts(doc)
    old, new = as_dict(doc.get("old")), as_dict(doc.get("new"))
    lines = [
        f"firmware-diff: {n['added']} added, {n['removed']} removed, {n['changed']} changed, "
        f"{doc.get('unchanged', '?')} unchanged "
        f"({old.get('apps', '?')} apps in OLD, {new.get('apps', '?')} in NEW)"
    ]
    for item in items(doc):
        lines.append(f"{'!' if item.risky else ' '} {item.score:>3}  {item.verdict}")
        if item.risky:
            why = ", ".join(f"{r.get('reason')} +{r.get('points')}" for r in item.reasons)
            lines.append(f"        why: {why}")
            for chain in fw.flow_chains(item.app)[:1]:
                lines.append(f"        flow: {chain.get('text')}")
    for label, side in (("OLD", old), ("NEW", new)):
        for problem in as_list(side.get("problems"))[:10]:
            lines.append(f"  {label}: problem: {problem}")
        errors = [as_dict(e) for e in as_list(side.get("errors"))]
        for err in errors[:10]:
            lines.append(f"  {label}: {err.get('path')}: {err.get('error')}")
        if len(errors) > 10:
            lines.append(f"  {label}: (+{len(errors) - 10} more unreadable APKs)")
    for dupe in as_list(doc.get("duplicates"))[:5]:
        lines.append(f"  duplicate package: {dupe}")
    return "\n".join(lines) + "\n"
