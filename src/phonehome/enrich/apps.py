"""Naming the app behind a finding from the apps' code, when the capture could not.

A router capture or a plain tcpdump says nothing about which app sent a packet; an app's
code usually names the hosts it talks to (:mod:`phonehome.static.attribution`). This enricher
runs first, so that the destination enricher can tell a first party from a third.
"""

from __future__ import annotations

from typing import Any

from phonehome.enrich.base import Enricher, Scan
from phonehome.findings import Finding
from phonehome.ingest.pcapdroid import may_be_cut
from phonehome.model.message import AppLabel
from phonehome.static.attribution import HostIndex


class CutLabelEnricher(Enricher):
    """The full package behind a PCAPdroid trailer label that was cut at 19 bytes.

    ``com.qualcomm.qti.au`` is completed to ``com.qualcomm.qti.autoregistration`` when
    exactly one package known to this scan starts with it: one of the ``--apks``, or one
    in the capture's own uid map (a pcapng's PCAPdroid blocks). Two candidates, or none,
    leave the label as it is (cut, and said to be): a guess would be a wrong attribution.
    """

    def __init__(
        self, reports: list[dict[str, Any]], uid_packages: dict[int, tuple[str, ...]]
    ) -> None:
        self.candidates: dict[str, str] = {}
        for r in reports:
            for pkg in _report_packages(r):
                self.candidates.setdefault(pkg, "--apks")
        for pkgs in uid_packages.values():
            for pkg in pkgs:
                self.candidates.setdefault(pkg, "the capture's uid map")

    def finding(self, finding: Finding, scan: Scan) -> None:
        app = finding.app
        if app is None or app.source != "pcapdroid" or app.packages or not app.name:
            return
        if not may_be_cut(app.name):
            return
        found = [p for p in self.candidates if p.startswith(app.name) and p != app.name]
        if len(found) != 1:
            return
        finding.app = AppLabel(app.uid, (found[0],), app.source, app.name)
        finding.app_evidence = (
            f"PCAPdroid's label {app.name!r} is cut at 19 bytes; {found[0]} (from "
            f"{self.candidates[found[0]]}) is the only package that starts with it"
        )


def _report_packages(report: dict[str, Any]) -> list[str]:
    """The package(s) an APK analysis or a firmware app summary names."""
    out = [report.get("package")]
    out += list(report.get("packages") or [])
    return [p for p in out if isinstance(p, str) and p]


class AppFromCodeEnricher(Enricher):
    """``app`` (``source: apk``, with its ``evidence``) of findings that had none.

    ``reports`` are APK analyses or firmware app summaries (``phonehome scan --apks``).
    A label the capture itself carries (PCAPdroid, HAR) is never overwritten.
    """

    def __init__(self, reports: list[dict[str, Any]]) -> None:
        self.index = HostIndex(reports)

    def finding(self, finding: Finding, scan: Scan) -> None:
        if finding.app is not None:
            return
        link = self.index.lookup(finding.host, finding.identifier)
        if link is not None:
            finding.app = AppLabel(None, tuple(link["packages"]), str(link["source"]))
            finding.app_evidence = str(link["evidence"])
