"""The enricher interface: what every step after the scan pass implements.

An enricher answers one question about each finding ("to whom", "how often", "after
what", "how bad") and writes the answer into the finding record (``finding.extra``, the
keys it adds to the finding's JSON object) or into the scan (``scan.extra``, keys at the
top of the document). Enrichers run in the order of
:func:`phonehome.enrich.enrichers.default_enrichers`, like mitmproxy's addons; a later
one reads what an earlier one wrote (severity reads destination, timeline and trigger).
They run once per scan, before the document is built, so the redacted document that is
stored and the ``--reveal`` one carry the same enrichment.
"""

from __future__ import annotations

from typing import Any, Protocol

from phonehome.findings import Finding


class Scan(Protocol):
    """What an enricher sees of a scan (a :class:`phonehome.scan_pass.ScanResult`)."""

    findings: list[Finding]
    extra: dict[str, Any]

    @property
    def span(self) -> tuple[float, float] | None:
        """First and last message time of the inputs, or None when there were none."""


class Enricher:
    """One enrichment step. Subclasses implement one or both hooks."""

    def finding(self, finding: Finding, scan: Scan) -> None:
        """Add this step's keys to one finding (called for every finding, in order)."""

    def done(self, scan: Scan) -> None:
        """Add this step's document-level keys, after every finding was seen."""
