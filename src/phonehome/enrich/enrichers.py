"""The ordered list of enrichers, and the run that applies them to a scan.

The scan pass finds and aggregates; the enrichers answer "which app, to whom, under which
law, how often, on what trigger, how bad" for each finding, in this order (each may read
what an earlier one wrote):

1. :class:`~phonehome.enrich.apps.AppFromCodeEnricher` (only with ``--apks``): ``app``
   of findings the capture did not label;
2. :class:`~phonehome.enrich.destination.DestinationEnricher`: ``destination``, and
   ``datasets`` at the top;
3. :class:`~phonehome.enrich.timeline.TimelineEnricher`: ``timeline``;
4. :class:`~phonehome.enrich.triggers.TriggerEnricher`: ``trigger`` (``trigger_hint``
   without device events: bursts after idle gaps, a weaker hint), and
   ``trigger_events`` at the top;
5. :class:`~phonehome.enrich.severity.SeverityEnricher`: ``severity``, from all of the
   above.

They read and write the finding records (:class:`phonehome.findings.Finding`), once per
scan; :func:`phonehome.report.view.build_view` then turns the records into the redacted
document and, with ``--reveal``, the raw one: both carry the same enrichment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from phonehome.enrich.base import Enricher, Scan
from phonehome.enrich.destination import DestinationEnricher
from phonehome.enrich.events import Event
from phonehome.enrich.severity import SeverityEnricher
from phonehome.enrich.timeline import TimelineEnricher
from phonehome.enrich.triggers import TriggerEnricher

DEFAULT_TRIGGER_WINDOW_S = 10.0
"""A registration sent after an unlock first resolves a name and opens a connection, so
the request starts a few seconds after the event; the chance baseline grows with the
window, so a wider one does not make chance look like a trigger (docs/events.md)."""


@dataclass
class EnrichOptions:
    home_country: str | None = None
    events: list[Event] = field(default_factory=list)
    trigger_window_s: float = DEFAULT_TRIGGER_WINDOW_S
    app_reports: list[dict[str, Any]] | None = None
    """APK analyses or firmware app summaries (``--apks``): name apps from their code."""
    uid_packages: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """The capture's own uid -> packages map (:attr:`ScanResult.uid_packages`)."""


def default_enrichers(options: EnrichOptions) -> list[Enricher]:
    """The enrichers a scan runs, in order."""
    enrichers: list[Enricher] = []
    if options.app_reports:
        from phonehome.enrich.apps import AppFromCodeEnricher

        enrichers.append(AppFromCodeEnricher(options.app_reports))
    if options.app_reports or options.uid_packages:
        # Before the destination enricher too: a first party is told by the package.
        from phonehome.enrich.apps import CutLabelEnricher

        enrichers.append(CutLabelEnricher(options.app_reports or [], options.uid_packages))
    enrichers += [
        DestinationEnricher(options.home_country),
        TimelineEnricher(),
        TriggerEnricher(options.events, options.trigger_window_s),
        SeverityEnricher(),
    ]
    return enrichers


def enrich(scan: Scan, enrichers: Iterable[Enricher]) -> None:
    """Run ``enrichers`` over ``scan``'s findings, one enricher after the other."""
    for enricher in enrichers:
        for finding in scan.findings:
            enricher.finding(finding, scan)
        enricher.done(scan)
