"""Attribution: which app sent a finding, from the app whose code names its destination.

A capture from a router or a plain tcpdump says nothing about which app sent a packet.
An app's code usually names the hosts it talks to, so a host seen in a finding and a host
hard-coded in exactly one APK of the device's firmware is strong evidence for who sent it
(this is how the Nokia leak was pinned on its system app). The link is only evidence: the
finding's ``app.source`` says ``apk`` so nobody mistakes it for a per-packet label, and a
label the capture itself carries (PCAPdroid, HAR) is never overwritten.

Matching, strongest first: the same host (or IP literal); else the same registrable
domain (``a.vnet.cn`` in traffic, ``zzhc.vnet.cn`` in code). Only the strongest level
that matches any app is used.
"""

from __future__ import annotations

import copy
from typing import Any

from phonehome.refdata import registrable_domain

MAX_PACKAGES = 20


def attribute(doc: dict[str, Any], reports: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of the scan document ``doc`` with ``app`` filled for findings that had none.

    ``reports`` are APK analyses (``ApkReport.to_dict()``) or firmware-diff app summaries:
    anything with ``package``, ``endpoints`` (``value``, ``host``) and optionally
    ``chains`` (``identifier``, ``text``).
    """
    index = HostIndex(reports)
    out = copy.deepcopy(doc)
    for finding in out.get("findings", []):
        if finding.get("app") is not None:
            continue
        link = index.lookup(str(finding.get("host") or ""), str(finding.get("identifier", "")))
        if link is not None:
            finding["app"] = link
    return out


class HostIndex:
    """Endpoints of all reports by exact host and by registrable domain."""

    def __init__(self, reports: list[dict[str, Any]]) -> None:
        self.by_host: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        self.by_domain: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for report in reports:
            if not report.get("package"):
                continue
            for endpoint in report.get("endpoints", []):
                host = _norm(str(endpoint.get("host") or ""))
                if not host:
                    continue
                self.by_host.setdefault(host, []).append((report, endpoint))
                domain = registrable_domain(host)
                if domain:
                    self.by_domain.setdefault(domain, []).append((report, endpoint))

    def lookup(self, host: str, identifier: str) -> dict[str, Any] | None:
        host = _norm(host)
        if not host:
            return None
        hits, how = self.by_host.get(host, []), "host"
        if not hits:
            domain = registrable_domain(host)
            hits, how = (self.by_domain.get(domain, []), "domain") if domain else ([], "")
        if not hits:
            return None
        packages: list[str] = []
        first: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for report, endpoint in hits:
            package = str(report["package"])
            if package not in first:
                first[package] = (report, endpoint)
                packages.append(package)
        packages.sort()
        report, endpoint = first[packages[0]]
        evidence = _evidence(how, host, packages[0], report, endpoint, identifier)
        if len(packages) > 1:
            evidence += f"; also named by {len(packages) - 1} other app(s)"
        return {
            "uid": None,
            "packages": packages[:MAX_PACKAGES],
            "source": "apk",
            "evidence": evidence,
        }


def _evidence(
    how: str,
    host: str,
    package: str,
    report: dict[str, Any],
    endpoint: dict[str, Any],
    identifier: str,
) -> str:
    where = endpoint.get("where") or "code"
    place = "dex string" if where == "dex" else f"string in {where}"
    text = f"{how} {host} in {package}: {place} {endpoint.get('value')}"
    chains = report.get("chains", [])
    flows = [c for c in chains if c.get("evidence") == "data-flow"]
    chain = next((c for c in flows if c.get("identifier") == identifier), None)
    if chain is not None and chain.get("text"):
        text += f"; data flow: {chain['text']}"
    else:
        reach = next((c for c in chains if c.get("identifier") == identifier), None)
        if reach is not None and reach.get("text"):
            text += f"; code path (reachability, no flow found): {reach['text']}"
    return text


def _norm(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and "]" in host:
        return host[1 : host.index("]")]
    return host
