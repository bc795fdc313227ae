"""``phonehome scan``: the command, and what it (and ``demo``) do between the arguments
and the output.

The sequence reads in one place (:func:`run_scan_command`): load the profile, run the
scan pass, enrich, store the redacted document, apply the baseline, then render the
document the user asked for. The stored document is always the redacted one, even with
``--reveal``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from phonehome import wording
from phonehome.cli.options import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    REPORT_FORMATS,
    db_option,
    device_options,
    event_timing_options,
    file_option,
    format_option,
    keylog_option,
    make_context,
    output_option,
    wifi_key_option,
)
from phonehome.cli.output import announce, use_color, write_report
from phonehome.errors import InputError, UsageError


@click.command()
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@file_option(
    "--device",
    "device_file",
    help="Device profile (TOML) with the values to look for (docs/profile.md).",
)
@format_option(
    REPORT_FORMATS,
    "Report format (text for people, json is the versioned contract, html is one "
    "self-contained file, sarif for CI gates).",
)
@output_option
@click.option(
    "--reveal",
    is_flag=True,
    help="Show raw identifier values instead of redacted ones (the output says so; the "
    "store still keeps redacted values only).",
)
@file_option(
    "--events",
    "events_file",
    help="Device events (unlock, screen on, boot ...): the simulator's CSV, JSON, or "
    "'adb logcat -b events -v epoch' output (docs/events.md).",
)
@event_timing_options
@click.option(
    "--home-country",
    metavar="CC",
    help="ISO country code of the user's home (default: the profile's home_country); "
    "flags transfers out of the home region.",
)
@db_option
@click.option("--no-store", is_flag=True, help="Do not record this scan in the store.")
@click.option(
    "--apks",
    "apks",
    type=click.Path(exists=True, path_type=Path),
    help="APK file, folder of APKs or extracted firmware tree: destinations found in an "
    "app's code name the app of findings the capture did not label.",
)
@file_option(
    "--baseline",
    "baseline_file",
    help="Findings already in this baseline (see 'phonehome baseline') do not fail the run.",
)
@device_options
@keylog_option
@wifi_key_option
def scan(fmt: str, output: Path | None, no_store: bool, **request: Any) -> None:
    """Find the device's personal identifiers in what it sent, and where they went.

    Exit code 0 when nothing was found (or everything found is in --baseline), 1 when
    findings were reported, 2 for usage or input errors, so it can gate a CI pipeline.
    Every scan is recorded in the store (redacted values only) unless --no-store.
    """
    # Every other option is a field of ScanRequest, under the same name.
    outcome = run_scan_command(ScanRequest(store=not no_store, **request))
    render_to(outcome, fmt, output)
    _warn_incomplete(outcome)
    announce(output, fmt, outcome.scan_id)
    sys.exit(EXIT_FINDINGS if outcome.failing else EXIT_CLEAN)


def _warn_incomplete(outcome: ScanOutcome) -> None:
    """An input not read to its end says so on stderr too, whatever the format: a JSON
    report read by a script, or a scan that found nothing, would otherwise exit as if the
    whole capture had been searched."""
    from phonehome.report.document import ScanDocument, ScanView, incomplete_line

    for path, why in ScanDocument(ScanView(outcome.doc, outcome.revealed)).stopped_early():
        click.echo(f"phonehome: warning: {incomplete_line(path, why)}", err=True)


@dataclass
class ScanRequest:
    captures: tuple[str, ...]
    device_file: Path | None = None
    device_ips: tuple[str, ...] = ()
    device_macs: tuple[str, ...] = ()
    events_file: Path | None = None
    events_tz: str | None = None
    events_offset: float = 0.0
    trigger_window: float | None = None
    """Seconds; None = :data:`phonehome.enrich.enrichers.DEFAULT_TRIGGER_WINDOW_S`."""
    home_country: str | None = None
    db_path: Path | None = None
    store: bool = True
    baseline_file: Path | None = None
    apks: Path | None = None
    reveal: bool = False
    keylogs: tuple[Path, ...] = ()
    """``--keylog`` files (NSS key log format)."""
    wifi_keys: tuple[str, ...] = ()
    """``--wifi-key`` values (secrets: never stored or printed)."""


@dataclass
class ScanOutcome:
    doc: dict[str, Any]
    """The document to render: redacted, or raw values with ``--reveal``."""
    revealed: bool
    scan_id: int | None
    failing: int
    """Findings that fail the run: all of them, or those not in the baseline."""


def run_scan_command(req: ScanRequest) -> ScanOutcome:
    from phonehome.enrich.enrichers import (
        DEFAULT_TRIGGER_WINDOW_S,
        EnrichOptions,
        default_enrichers,
        enrich,
    )
    from phonehome.pipeline import open_all
    from phonehome.privacy import ValueIds, installation_key
    from phonehome.report.view import build_view
    from phonehome.scan_pass import run_scan

    profile = None
    if req.device_file is not None:
        from phonehome.detect.profile import load_profile

        profile, warnings = load_profile(req.device_file)
        for w in warnings:
            click.echo(f"phonehome: warning: {w}", err=True)
    baseline = None
    if req.baseline_file is not None:
        from phonehome.store.baseline import load_baseline

        baseline = load_baseline(req.baseline_file)
    home = ""
    if req.home_country is not None:
        from phonehome.refdata import check_country

        try:
            home = check_country(req.home_country)
        except UsageError as e:
            raise UsageError(f"--home-country: {e}") from None
    elif profile is not None and profile.home_country:
        home = profile.home_country  # checked by load_profile
    # Everything that can fail on the user's arguments fails before a long scan starts.
    if req.events_file is not None and not req.events_file.is_file():
        raise InputError(str(req.events_file), "no such events file")
    app_reports = _app_reports(req.apks) if req.apks is not None else None
    ctx = make_context(req.device_ips, req.device_macs, req.keylogs, req.wifi_keys)
    caps = open_all(list(req.captures))
    from phonehome.progress import Progress

    progress = Progress()
    try:
        result = run_scan(caps, profile, ctx, progress)
    finally:
        progress.close()
    events: list[Any] = []
    if req.events_file is not None:
        from phonehome.enrich.events import load_events

        events = load_events(
            req.events_file,
            tz=req.events_tz,
            clock_offset_s=req.events_offset,
            reference_time=result.first_time,
        )
        unparsed = getattr(events, "unparsed", 0)
        if unparsed:
            click.echo(
                f"phonehome: warning: {req.events_file}: "
                f"{wording.count(unparsed, 'line')} not understood",
                err=True,
            )
    options = EnrichOptions(
        home_country=home or None,
        events=list(events),
        trigger_window_s=req.trigger_window or DEFAULT_TRIGGER_WINDOW_S,
        app_reports=app_reports,
        uid_packages=result.uid_packages,
    )
    enrich(result, default_enrichers(options))
    ids = ValueIds(installation_key())
    doc = build_view(result, ids, reveal=False).doc
    scan_id = None
    if req.store:
        from phonehome.store import Store

        with Store.open(req.db_path) as store:
            scan_id = store.save_scan(doc)
    failing = len(doc["findings"])
    if baseline is not None:
        from phonehome.store.baseline import filter_new

        failing = len(filter_new(doc, baseline))
    shown = doc
    if req.reveal:  # the same enriched records, shown raw
        shown = build_view(result, ids, reveal=True).doc
    if scan_id is not None:
        shown = {**shown, "scan_id": scan_id}
    return ScanOutcome(shown, req.reveal, scan_id, failing)


def _app_reports(path: Path) -> list[dict[str, Any]]:
    """Analyse the APKs behind ``--apks``: one APK, a folder of APKs, or a firmware tree."""
    from phonehome.static.apk import analyze_apk
    from phonehome.static.firmware import analyze_tree

    if path.is_file():
        return [analyze_apk(path).to_dict()]
    if any((path / part).is_dir() for part in ("system", "product", "vendor", "system_ext")):
        apps, errors = analyze_tree(path)
        for e in errors:
            click.echo(f"phonehome: warning: {e}", err=True)
        return apps
    reports = [analyze_apk(p).to_dict() for p in sorted(path.rglob("*.apk"))]
    if not reports:
        raise UsageError(f"--apks {path}: no APK found there")
    return reports


def render_to(outcome: ScanOutcome, fmt: str, output: Path | None) -> None:
    from phonehome.report import FORMATS, ScanView

    text = FORMATS[fmt](ScanView(outcome.doc, outcome.revealed), use_color(output))
    write_report(text, output)
