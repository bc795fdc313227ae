"""Adds what the destinations issue asks of each finding to a scan document.

The scan stage finds and aggregates; this stage answers "to whom, under which law, how
often, on what trigger, how bad". It works on the view document (after redaction, so it
never sees more than the reports do) plus the finding objects' raw times, and adds the
contract's optional keys: ``destination``, ``timeline``, ``trigger``, ``severity`` per
finding (``trigger_hint`` instead of ``trigger`` when there are no device events: bursts
after idle gaps, a weaker hint), ``datasets`` and ``trigger_events`` at the top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phonehome.enrich import destination, severity, timeline, triggers
from phonehome.enrich.events import Event
from phonehome.findings import Finding
from phonehome.scan import ScanResult

DEFAULT_TRIGGER_WINDOW_S = 10.0
"""A registration sent after an unlock first resolves a name and opens a connection, so
the request starts a few seconds after the event; the chance baseline grows with the
window, so a wider one does not make chance look like a trigger (docs/events.md)."""


@dataclass
class EnrichOptions:
    home_country: str | None = None
    events: list[Event] = field(default_factory=list)
    trigger_window_s: float = DEFAULT_TRIGGER_WINDOW_S


def enrich(doc: dict[str, Any], result: ScanResult, options: EnrichOptions) -> dict[str, Any]:
    """Add the destinations-issue keys to ``doc`` (in place) and return it.

    ``doc["findings"]`` must be in the order of ``result.findings`` (as ``build_view``
    makes it).
    """
    span = _span(result)
    described: dict[tuple[str, tuple[str, ...], tuple[str, ...]], dict[str, Any]] = {}
    for item, f in zip(doc["findings"], result.findings, strict=True):
        packages = tuple(f.app.packages) if f.app else ()
        host = str(item["host"])  # the view's host: any raw value in it is already masked
        key = (host, tuple(f.ips), packages)
        dest = described.get(key)
        if dest is None:
            dest = destination.describe(
                host, list(f.ips), home_country=options.home_country, app_packages=list(packages)
            )
            described[key] = dest
        item["destination"] = dest
        item["timeline"] = timeline.summarize(f.times, f.per_day)
        item["trigger"] = _trigger(f, options, span)
        if not options.events:
            hint = triggers.bursts_after_idle(f.times, start=span[0] if span else None)
            if hint:
                item["trigger_hint"] = hint
        item["severity"] = severity.assess(item)
    doc["datasets"] = destination.datasets_used()
    if options.events:
        kinds: dict[str, int] = {}
        for e in options.events:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        doc["trigger_events"] = {
            "count": len(options.events),
            "kinds": kinds,
            "window_s": options.trigger_window_s,
        }
    return doc


def _trigger(
    f: Finding, options: EnrichOptions, span: tuple[float, float] | None
) -> dict[str, Any] | None:
    if not options.events:
        return None
    return triggers.correlate(f.times, options.events, window_s=options.trigger_window_s, span=span)


def _span(result: ScanResult) -> tuple[float, float] | None:
    if result.first_time is None or result.last_time is None:
        return None
    return (result.first_time, result.last_time)
