"""The watch: a scan that runs while the traffic arrives, alerts, and is stored as it goes.

Every message goes through :class:`phonehome.scan_pass.ScanPass` — the scan's own per-message
steps, so a watch finds exactly what ``phonehome scan`` would find in the same traffic —
and the first time an (identifier, value, destination host, app) is seen, an alert is
printed from the finding's redacted view (:mod:`.alerts`). Repeats are counted, never
re-alerted.

The watch is a scan in the store (docs/store.md, schema v3): saved as ``running`` at the
start, re-saved every ``save_every`` seconds when something changed (or just marked alive
when nothing did), and saved ``finished`` at the end, so ``phonehome show N`` works during
and after a watch, and a kill or a crash loses at most the last few seconds. Memory stays
bounded for hours: the flow table expires flows as in a scan, findings keep the scan's
caps, and the alert table has one small entry per finding.
"""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from phonehome.context import Context
from phonehome.errors import PhonehomeError
from phonehome.findings import Finding
from phonehome.live.alerts import Alert, Printer, Status
from phonehome.model.message import Message
from phonehome.model.profile import DeviceProfile
from phonehome.scan_pass import InputSummary, ScanPass, ScanResult

if TYPE_CHECKING:
    from phonehome.enrich.events import Event
    from phonehome.report.view import Scrubber
    from phonehome.store import Store

SAVE_EVERY_S = 5.0
STATUS_EVERY_S = 0.5
UPDATE_EVERY_S = 5.0
"""jsonl: one ``status`` object this often (the terminal's status line is redrawn every
``STATUS_EVERY_S``)."""
WAKE_IDLE_S = 60.0
"""Without device events: a send within the trigger window after the device's first
message following at least this much silence is reported as unlock-like (phones wake
their network on unlock and on screen-on)."""
TRIGGER_KINDS = ("unlock", "screen_on", "boot")


class SourceCounters(Protocol):
    """What a source tells the status line."""

    name: str
    format: str
    state: str
    packets: int
    frame_bytes: int
    drops: int
    received: int


@dataclass
class WatchOptions:
    home_country: str | None = None
    events_file: Path | None = None
    events_tz: str | None = None
    events_offset: float = 0.0
    trigger_window: float = 10.0
    save_every: float = SAVE_EVERY_S
    status_every: float = STATUS_EVERY_S
    update_every: float = UPDATE_EVERY_S
    wake_idle_s: float = WAKE_IDLE_S


@dataclass(slots=True)
class _Seen:
    id: int
    sends: int


class Watch:
    """Feed it messages (:meth:`feed`), call :meth:`tick` now and then, :meth:`finish`
    at the end. Single-threaded: every call from the thread that reads the source."""

    def __init__(
        self,
        profile: DeviceProfile | None,
        ctx: Context,
        source: SourceCounters,
        printer: Printer,
        store: Store | None,
        options: WatchOptions | None = None,
    ) -> None:
        from phonehome.privacy import ValueIds, installation_key

        self.profile = profile
        self.ctx = ctx
        self.source = source
        self.printer = printer
        self.store = store
        self.options = options or WatchOptions()
        self.scan = ScanPass(profile, ctx)
        self.ids = ValueIds(installation_key())
        self.started = time.time()
        self._clock0 = time.monotonic()
        self.scan_id: int | None = None
        self.seen: dict[tuple[object, ...], _Seen] = {}
        self.sends = 0
        self._repeats: dict[int, int] = {}
        self._dirty = True
        now = time.monotonic()
        self._next_save = now + self.options.save_every
        self._next_status = now
        self._next_update = now + self.options.update_every
        self._last_out: float | None = None
        self._burst_start: float | None = None
        self._burst_silence = 0.0
        self.events: list[Event] = []
        self._events_stamp: tuple[float, int] | None = None
        self._profile_scrubber: Scrubber | None = None
        self.last_arrival: float | None = None
        """Monotonic time the source last delivered bytes (alert latency is measured from
        it); sources set it."""
        self._reload_events()

    # -- per message --------------------------------------------------------------------

    def feed(self, msg: Message) -> None:
        if msg.direction == "out":
            self._track_wake(msg.time)
        touched = self.scan.add(msg)
        self._dirty = True
        if not touched:
            return
        done: set[tuple[object, ...]] = set()
        for f in touched:
            key = (f.identifier, f.value, f.host, (f.app.uid, f.app.packages) if f.app else None)
            if key in done:
                continue
            done.add(key)
            self.sends += 1
            seen = self.seen.get(key)
            if seen is None:
                seen = self.seen[key] = _Seen(len(self.seen) + 1, 1)
                self._alert(f, msg, seen.id)
            else:
                seen.sends += 1
                self._repeats[seen.id] = seen.sends

    def _track_wake(self, t: float) -> None:
        last = self._last_out
        if last is not None and t - last >= self.options.wake_idle_s:
            self._burst_start = t
            self._burst_silence = t - last
        if last is None or t > last:
            self._last_out = t

    def _alert(self, f: Finding, msg: Message, alert_id: int) -> None:
        item = self._view(f)
        trigger, detail = self._trigger(msg.time)
        latency = None
        if self.last_arrival is not None:
            latency = time.monotonic() - self.last_arrival
        self.printer.alert(Alert(alert_id, item, msg.time, trigger, detail, latency))

    def _view(self, f: Finding) -> dict[str, Any]:
        """The finding as the scan's redacted view shows it, with its destination."""
        from phonehome.enrich import destination
        from phonehome.report.view import build_view

        result = ScanResult(
            tool_version="",
            started=self.started,
            finished=self.started,
            inputs=[],
            device_name=None,
            profile=self.profile,
            findings=[f],
            anomalies={},
            stats={},
        )
        # The scan's own destination enricher (it writes the record's ``extra``, which the
        # next save's enrichment refreshes), then the scan's redacted view of the record.
        destination.DestinationEnricher(self.options.home_country).finding(f, result)
        scrub = self._scrubber(result)
        item: dict[str, Any] = build_view(result, self.ids, scrubber=scrub).doc["findings"][0]
        app = item.get("app")
        if f.app is not None and f.app.name and isinstance(app, dict):
            # PCAPdroid's label of the uid ("AutoRegistration"): the alert names the app
            # by it when no package is known; masked like every capture-derived text.
            app["name"] = scrub(f.app.name)
        for key in ("timeline", "trigger", "trigger_hint", "severity"):
            item.pop(key, None)  # from an earlier save's enrichment of other sends
        # What the alert is about, not the running totals (those are in the store).
        for key in ("times", "per_day", "evidence", "count", "last_seen"):
            item.pop(key, None)
        item["evidence"] = [{"input": f.evidence[0].input, "frame": f.evidence[0].frame}]
        return item

    def _scrubber(self, result: ScanResult) -> Scrubber:
        """The scan's Scrubber for one finding: its profile layer made once per watch."""
        from phonehome.report.view import LayeredScrubber, Scrubber

        if self._profile_scrubber is None:
            empty = ScanResult("", 0.0, 0.0, [], None, self.profile, [], {}, {})
            self._profile_scrubber = Scrubber(empty)
        own = ScanResult("", 0.0, 0.0, [], None, None, result.findings, {}, {})
        return LayeredScrubber(Scrubber(own), self._profile_scrubber)

    def warm_up(self) -> None:
        """Load what the first alert needs (reference data, the profile's scrubber)
        before traffic arrives, so that alert is not a second late."""
        from phonehome.enrich import destination

        destination.describe(
            "warm-up.example", ["192.0.2.1"], home_country=self.options.home_country,
            app_packages=[],
        )  # fmt: skip
        self._scrubber(ScanResult("", 0.0, 0.0, [], None, self.profile, [], {}, {}))

    def _trigger(self, t: float) -> tuple[str | None, dict[str, Any] | None]:
        window = self.options.trigger_window
        if self.events:
            i = bisect.bisect_right([e.time for e in self.events], t)
            while i > 0:
                i -= 1
                e = self.events[i]
                if t - e.time > window:
                    break
                if e.kind in TRIGGER_KINDS:
                    delay = t - e.time
                    text = f"{delay:.1f} s after {e.kind.replace('_', ' ')}"
                    return text, {"event": e.kind, "delay_s": round(delay, 3), "from": "events"}
            return None, None
        start = self._burst_start
        if start is not None and 0 <= t - start <= window:
            delay = t - start
            silence = self._burst_silence
            text = (
                f"{delay:.1f} s after the device woke from {_duration(silence)} of silence "
                "(unlock-like)"
            )
            return text, {
                "event": "wake",
                "delay_s": round(delay, 3),
                "silence_s": round(silence, 3),
                "from": "traffic",
            }
        return None, None

    # -- periodic -----------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + self.options.status_every
            if self.printer.fmt == "text":
                self.printer.status(self.status())
        if self.printer.fmt == "jsonl" and now >= self._next_update:
            self._next_update = now + self.options.update_every
            self.printer.status(self.status())
            self._repeats.clear()
        if now >= self._next_save:
            self._next_save = now + self.options.save_every
            self._reload_events()
            self.save()

    def status(self) -> Status:
        ctx = self.ctx
        src = self.source
        return Status(
            source=src.name,
            state=src.state,
            packets=src.packets,
            flows=ctx.stats.flows,
            messages=ctx.stats.messages,
            findings=len(self.scan.agg.findings),
            alerts=len(self.seen),
            sends=self.sends,
            drops=src.drops,
            anomalies=ctx.anomalies.total(),
            scan_id=self.scan_id,
            elapsed_s=time.monotonic() - self._clock0,
            repeats=dict(self._repeats),
        )

    def start(self) -> None:
        """The first save: the watch is in the store (``running``) before any traffic."""
        self.warm_up()
        self.save()
        if self.scan_id is not None:
            self.printer.note(
                f"watching {self.source.name}; recorded as scan {self.scan_id} "
                f"(phonehome show {self.scan_id}), saved every {self.options.save_every:g} s"
            )
        else:
            self.printer.note(f"watching {self.source.name} (not stored: --no-store)")

    def save(self, *, final: bool = False) -> None:
        """Write the scan as it stands (only a liveness mark when nothing changed). A
        busy or failing store is reported and tried again at the next save: the watch
        goes on."""
        if self.store is None:
            return
        from phonehome.store.db import StoreError

        status = "finished" if final else "running"
        try:
            if self.scan_id is None:
                self.scan_id = self.store.save_scan(self.document(final), status=status)
            elif self._dirty or final:
                if not self.store.update_scan(self.scan_id, self.document(final), status=status):
                    old = self.scan_id
                    self.scan_id = self.store.save_scan(self.document(final), status=status)
                    self.printer.note(
                        f"scan {old} was deleted from the store during the watch; "
                        f"continuing as scan {self.scan_id}"
                    )
            else:
                self.store.touch_scan(self.scan_id)
            self._dirty = False
        except StoreError as e:
            self.printer.note(f"warning: could not save the watch this time: {e}")

    def document(self, final: bool = False) -> dict[str, Any]:
        """The redacted scan document of everything seen so far (what the store keeps)."""
        from phonehome.enrich.enrichers import EnrichOptions, default_enrichers, enrich
        from phonehome.report.view import build_view, iso

        ctx = self.ctx
        src = self.source
        summary = InputSummary(
            path=src.name,
            sha256="",
            size=src.received,
            format=src.format,
            packets=src.packets,
            messages=ctx.stats.messages,
            anomalies=dict(ctx.anomalies.by_input(0)),
        )
        result = self.scan.result([summary], self.started, time.time())
        # The pipeline adds frame/packet/byte counts when an input ends; while the source
        # runs, the source's own counts are the live ones.
        stats = result.stats
        if src.packets > stats["frames"]:
            stats["frames"] = stats["packets"] = src.packets
            stats["bytes"] = max(stats["bytes"], src.frame_bytes)
        options = EnrichOptions(
            home_country=self.options.home_country,
            events=list(self.events),
            trigger_window_s=self.options.trigger_window,
        )
        enrich(result, default_enrichers(options))
        doc = build_view(result, self.ids).doc
        doc["watch"] = {
            "source": src.name,
            "status": "finished" if final else "running",
            "updated": iso(time.time()),
            "alerts": len(self.seen),
            "sends": self.sends,
            "drops": src.drops,
        }
        return doc

    def finish(self) -> Status:
        """The last status and the final save (``finished``)."""
        self._reload_events()
        self.save(final=True)
        status = self.status()
        self.printer.status(status, final=True)
        if self.scan_id is not None:
            self.printer.note(f"saved as scan {self.scan_id}: phonehome show {self.scan_id}")
        return status

    # -- device events ------------------------------------------------------------------

    def _reload_events(self) -> None:
        """Read the events file again when it changed: ``adb logcat ... > events.log``
        keeps growing while the watch runs."""
        path = self.options.events_file
        if path is None:
            return
        try:
            st = os.stat(path)
        except OSError:
            return
        stamp = (st.st_mtime, st.st_size)
        if stamp == self._events_stamp:
            return
        self._events_stamp = stamp
        from phonehome.enrich.events import load_events

        try:
            self.events = sorted(
                load_events(
                    path,
                    tz=self.options.events_tz,
                    clock_offset_s=self.options.events_offset,
                    reference_time=self.scan.first,
                ),
                key=lambda e: e.time,
            )
        except PhonehomeError as e:
            self.printer.note(f"warning: events not read this time: {e}")


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
