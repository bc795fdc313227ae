"""Naming the app behind a finding from the apps' code, when the capture could not.

A router capture or a plain tcpdump says nothing about which app sent a packet; an app's
code usually names the hosts it talks to (:mod:`phonehome.static.attribution`). This enricher
runs first, so that the destination enricher can tell a first party from a third.
"""

from __future__ import annotations

from typing import Any

from phonehome.enrich.base import Enricher, Scan
from phonehome.findings import Finding
from phonehome.model.message import AppLabel
from phonehome.static.attribution import HostIndex


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
