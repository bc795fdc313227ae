"""From settings to a running :class:`~.watch.Watch`: shared by ``phonehome watch`` and
the mitmproxy addon (``mitmdump -s``), so both check the same things and print the same
alerts. Everything that can fail on the user's arguments fails here, before any traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from phonehome.errors import InputError, UsageError
from phonehome.live.alerts import Printer
from phonehome.live.watch import SourceCounters, Watch, WatchOptions
from phonehome.runcontext import run_context

if TYPE_CHECKING:
    from phonehome.model.profile import DeviceProfile
    from phonehome.store import Store


@dataclass
class WatchSettings:
    device_file: Path | None = None
    fmt: str = "text"
    db_path: Path | None = None
    store: bool = True
    home_country: str | None = None
    events_file: Path | None = None
    events_tz: str | None = None
    events_offset: float = 0.0
    trigger_window: float | None = None
    device_ips: tuple[str, ...] = ()
    device_macs: tuple[str, ...] = ()
    save_every: float | None = None
    wifi_keys: tuple[str, ...] = ()
    """``--wifi-key`` values (secrets: never stored or printed)."""


def load(settings: WatchSettings, warn: Printer) -> tuple[DeviceProfile | None, WatchOptions]:
    """The profile and the watch options; UsageError/InputError on bad arguments."""
    from phonehome.enrich.enrichers import DEFAULT_TRIGGER_WINDOW_S
    from phonehome.live.watch import SAVE_EVERY_S

    if settings.fmt not in ("text", "jsonl"):
        raise UsageError(f"unknown watch format {settings.fmt!r} (text or jsonl)")
    profile = None
    if settings.device_file is not None:
        from phonehome.detect.profile import load_profile

        profile, warnings = load_profile(settings.device_file)
        for w in warnings:
            warn.note(f"warning: {w}")
    home = (settings.home_country or (profile.home_country if profile else None) or "").upper()
    if home and (len(home) != 2 or not home.isalpha()):
        raise UsageError(f"--home-country must be an ISO 3166 two-letter code, not {home!r}")
    if settings.events_file is not None and not settings.events_file.is_file():
        raise InputError(str(settings.events_file), "no such events file")
    if settings.wifi_keys:
        run_context(wifi_keys=settings.wifi_keys)  # a bad key fails before a port is bound
    save_every = settings.save_every if settings.save_every is not None else SAVE_EVERY_S
    if not 0.2 <= save_every <= 3600:
        raise UsageError("--save-every must be between 0.2 and 3600 seconds")
    return profile, WatchOptions(
        home_country=home or None,
        events_file=settings.events_file,
        events_tz=settings.events_tz,
        events_offset=settings.events_offset,
        trigger_window=settings.trigger_window or DEFAULT_TRIGGER_WINDOW_S,
        save_every=save_every,
    )


def make_watch(settings: WatchSettings, source: SourceCounters, printer: Printer) -> Watch:
    """A watch for ``source``, its store opened (and the watch's first save made by
    :meth:`Watch.start`)."""
    profile, options = load(settings, printer)
    ctx = run_context(settings.device_ips, settings.device_macs, settings.wifi_keys)
    store: Store | None = None
    if settings.store:
        from phonehome.store import Store

        store = Store.open(settings.db_path)
    return Watch(profile, ctx, source, printer, store, options)


def names() -> dict[str, str]:
    """Display names of the identifiers, from the catalogue (as the text report)."""
    from phonehome import identifiers

    return {i.id: identifiers.name(i.id) for i in identifiers.CATALOGUE}
