"""Device events (unlock, screen on, boot ...) with times, for trigger correlation.

Three formats, sniffed from the content: the simulator's CSV (``time,event``), a JSON list
of ``{"time": ..., "event": ...}`` and ``adb logcat -b events`` output. Which logcat tags
mean what, and why, is in docs/events.md.

Times end up as UTC epoch seconds on the capture's clock. A time written without a zone
(logcat's default ``MM-DD HH:MM:SS.mmm``, a naive ISO time) is only usable with the
device's time zone (``tz``) or an explicit ``clock_offset_s``; we never guess one, because
an hour's error would turn every "within 5 s after an unlock" into noise. Lines that
cannot be read are counted (``Events.unparsed``), not fatal.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from phonehome.errors import InputError, UsageError

MAX_BYTES = 64 * 1024 * 1024
MAX_EVENTS = 1_000_000
MAX_LINE = 4096
MAX_KIND = 64
# Same-kind events closer than this are one event: some Android versions log a screen
# change both as power_screen_state and screen_toggled.
MERGE_S = 1.0
# Epoch values below this (2001-09-09) are seconds since boot (`-v monotonic`), not times.
MIN_EPOCH = 1e9

KINDS = ("unlock", "screen_on", "screen_off", "boot", "sim_change", "network_change")
_ALIASES = {
    "user_present": "unlock",
    "screen_unlock": "unlock",
    "unlocked": "unlock",
    "boot_completed": "boot",
    "reboot": "boot",
    "screenon": "screen_on",
    "screenoff": "screen_off",
}
_KIND_RE = re.compile(r"[a-z0-9][a-z0-9_.\-]*")


@dataclass(frozen=True, slots=True)
class Event:
    """One device event: UTC epoch seconds and a kind (see ``KINDS``; others pass through)."""

    time: float
    kind: str


class Events(list[Event]):
    """The loaded events, in time order, plus what the reader could not use.

    A list, so callers that only want the events need nothing else; ``unparsed`` and
    ``first_unparsed`` are for the one-line "N lines could not be read" note.
    """

    def __init__(self, items: Iterable[Event] = (), *, fmt: str = "") -> None:
        super().__init__(items)
        self.format = fmt
        self.unparsed = 0
        self.first_unparsed: int | None = None
        self.truncated = False

    def bad_line(self, number: int) -> None:
        self.unparsed += 1
        if self.first_unparsed is None:
            self.first_unparsed = number


def load_events(
    path: Path,
    *,
    tz: str | None = None,
    clock_offset_s: float = 0.0,
    reference_time: float | None = None,
) -> Events:
    """Read a device events file; the result is sorted by time.

    ``clock_offset_s`` is added to every time as written (a zone-less time counts as UTC
    first), so it both corrects a drifting device clock and, without ``tz``, states the
    device's zone (``-3600`` for a device on UTC+1). ``reference_time`` (any epoch time in
    the same period, e.g. the capture's first packet) supplies the year that logcat's
    default format omits.
    """
    zone = _zone(tz)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(str(path), exc.strerror or "cannot read") from None
    if len(raw) > MAX_BYTES:
        raise InputError(str(path), f"events file larger than {MAX_BYTES >> 20} MiB")
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    clock = _Clock(zone, clock_offset_s, reference_time, str(path))
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        events = _read_json(stripped, clock, str(path))
    elif _is_csv_header(stripped.split("\n", 1)[0]):
        events = _read_csv(stripped, clock)
    elif any(_LOGCAT.match(line) for line in _head(text)):
        events = _read_logcat(text, clock)
    else:
        raise InputError(str(path), "not an events file (CSV time,event / JSON list / logcat)")
    return _finish(events)


def _zone(tz: str | None) -> tzinfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {tz!r} (use an IANA name like Europe/Oslo)") from None


def _head(text: str, lines: int = 50) -> Iterator[str]:
    for i, line in enumerate(io.StringIO(text)):
        if i >= lines:
            return
        yield line[:MAX_LINE].rstrip("\r\n")


def _finish(events: Events) -> Events:
    events.sort(key=lambda e: e.time)
    merged = Events(fmt=events.format)
    merged.unparsed, merged.first_unparsed = events.unparsed, events.first_unparsed
    merged.truncated = events.truncated
    last: dict[str, float] = {}
    for event in events:
        previous = last.get(event.kind)
        if previous is not None and event.time - previous < MERGE_S:
            continue
        last[event.kind] = event.time
        merged.append(event)
    return merged


def normalize_kind(name: str) -> str | None:
    """The event kind for a name from a file, or None when it is not a usable name."""
    kind = name.strip().lower().replace(" ", "_").replace("-", "_")
    kind = _ALIASES.get(kind, kind)
    if len(kind) > MAX_KIND or not _KIND_RE.fullmatch(kind):
        return None
    return kind


class _Clock:
    """Turns the times as written into UTC epoch seconds, refusing to guess a zone."""

    def __init__(self, zone: tzinfo | None, offset: float, reference: float | None, path: str):
        self.zone = zone
        self.offset = offset
        self.reference = reference
        self.path = path

    def absolute(self, epoch: float) -> float:
        return epoch + self.offset

    def wall(self, naive: datetime) -> float:
        """A time with no zone: the device's zone, else the stated offset, else stop."""
        if self.zone is not None:
            return naive.replace(tzinfo=self.zone).timestamp() + self.offset
        if self.offset != 0.0:
            return naive.replace(tzinfo=UTC).timestamp() + self.offset
        raise UsageError(
            f"{self.path}: event times have no time zone; give the device's zone "
            "(--events-tz, an IANA name like Europe/Oslo) or a clock offset, "
            "or record with `adb logcat -b events -v epoch`"
        )

    def year_for(self, month: int, day: int, hms: tuple[int, int, int, int]) -> int:
        """Logcat's default format has no year: take the one nearest the reference time."""
        if self.reference is None:
            raise UsageError(
                f"{self.path}: logcat times have no year; record with `-v epoch` or "
                "`-v year`, or give a reference time (the capture's)"
            )
        ref = datetime.fromtimestamp(self.reference, UTC)
        best, best_gap = ref.year, math.inf
        for year in (ref.year - 1, ref.year, ref.year + 1):
            try:
                candidate = datetime(year, month, day, *hms[:3], tzinfo=UTC)
            except ValueError:  # 29 February in a common year
                continue
            gap = abs(candidate.timestamp() - self.reference)
            if gap < best_gap:
                best, best_gap = year, gap
        return best


# --- CSV and JSON ---------------------------------------------------------------------


def _is_csv_header(line: str) -> bool:
    cells = [c.strip().strip('"').lower() for c in line.strip().split(",")]
    return "time" in cells and "event" in cells


def _read_csv(text: str, clock: _Clock) -> Events:
    """One row per line (event files need no quoted line breaks), so a damaged row
    costs only itself."""
    events = Events(fmt="csv")
    lines = io.StringIO(text)
    header = [c.strip().lower() for c in _csv_row(next(lines)) or []]
    t_col, e_col = header.index("time"), header.index("event")
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        if len(events) >= MAX_EVENTS:
            events.truncated = True
            break
        row = _csv_row(line)
        event = None
        if row is not None and len(row) > max(t_col, e_col):
            event = _event(row[t_col], row[e_col], clock)
        if event is None:
            events.bad_line(number)
        else:
            events.append(event)
    return events


def _csv_row(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line[:MAX_LINE]]), [])
    except csv.Error:  # NUL bytes, a field beyond csv's own size limit
        return None


def _read_json(text: str, clock: _Clock, path: str) -> Events:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(path, f"events JSON does not parse: {str(exc)[:80]}") from None
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        data = data["events"]
    if not isinstance(data, list):
        raise InputError(path, 'events JSON must be a list of {"time": ..., "event": ...}')
    events = Events(fmt="json")
    for number, item in enumerate(data, start=1):
        if len(events) >= MAX_EVENTS:
            events.truncated = True
            break
        event = None
        if isinstance(item, dict):
            event = _event(item.get("time"), item.get("event"), clock)
        if event is None:
            events.bad_line(number)
        else:
            events.append(event)
    return events


def _event(time: object, name: object, clock: _Clock) -> Event | None:
    if not isinstance(name, str):
        return None
    kind = normalize_kind(name)
    when = _parse_time(time, clock)
    if kind is None or when is None:
        return None
    return Event(when, kind)


def _parse_time(value: object, clock: _Clock) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        epoch = float(value)
        if epoch > 1e11:  # milliseconds, as JavaScript writes them
            epoch /= 1000.0
        return clock.absolute(epoch) if math.isfinite(epoch) and epoch >= MIN_EPOCH else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return clock.wall(parsed)
    return clock.absolute(parsed.timestamp())


# --- adb logcat -b events -------------------------------------------------------------

# The time, as any `-v` time modifier writes it: epoch seconds, or [YYYY-]MM-DD time with
# an optional numeric zone (`-v zone`). Then either the `time`/`brief` layout
# `I/tag( pid): msg` or the threadtime layout `[uid] pid tid I tag: msg`.
_LOGCAT = re.compile(
    r"\s*(?:(?P<epoch>\d{1,12}\.\d{1,9})"
    r"|(?:(?P<year>\d{4})-)?(?P<month>\d\d)-(?P<day>\d\d)\s+"
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,9}))?"
    r"(?:\s+(?P<zone>[+-]\d{4}))?)"
    r"\s+(?:[VDIWEFS]/(?P<tag1>[^\s(:]+)\s*\(\s*[\w-]+\s*\)"
    r"|(?:[\w-]+\s+){1,3}[VDIWEFS]\s+(?P<tag2>[^\s:]+)\s*)"
    r":\s?(?P<msg>.*)$"
)


def _read_logcat(text: str, clock: _Clock) -> Events:
    events = Events(fmt="logcat")
    for number, raw in enumerate(io.StringIO(text), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("--------- "):
            continue  # blank, or "--------- beginning of events"
        if len(events) >= MAX_EVENTS:
            events.truncated = True
            break
        match = _LOGCAT.match(line[:MAX_LINE])
        if match is None:
            events.bad_line(number)
            continue
        tag = match["tag1"] or match["tag2"]
        kind = logcat_kind(tag, match["msg"])
        if kind is None:
            continue  # a tag that says nothing about unlocks, screens, boot or networks
        when = _logcat_time(match, clock)
        if when is None:
            events.bad_line(number)
        else:
            events.append(Event(when, kind))
    return events


def _logcat_time(match: re.Match[str], clock: _Clock) -> float | None:
    if match["epoch"]:
        epoch = float(match["epoch"])
        if epoch < MIN_EPOCH:
            raise UsageError(
                f"{clock.path}: logcat times are seconds since boot (-v monotonic); "
                "record with `adb logcat -b events -v epoch`"
            )
        return clock.absolute(epoch)
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    hms = (int(match["h"]), int(match["m"]), int(match["s"]), int(frac))
    month, day = int(match["month"]), int(match["day"])
    year = int(match["year"]) if match["year"] else clock.year_for(month, day, hms)
    try:
        naive = datetime(year, month, day, *hms)
    except ValueError:
        return None
    if match["zone"]:
        sign = -1 if match["zone"][0] == "-" else 1
        minutes = int(match["zone"][1:3]) * 60 + int(match["zone"][3:5])
        aware = naive.replace(tzinfo=UTC) - sign * timedelta(minutes=minutes)
        return clock.absolute(aware.timestamp())
    return clock.wall(naive)


def _values(msg: str) -> list[str]:
    """An events-buffer payload: a scalar, or a ``[a,b,...]`` list (no nesting needed)."""
    text = msg.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip() for part in text.split(",")]


def logcat_kind(tag: str, msg: str) -> str | None:
    """The event a logcat events-buffer line stands for; docs/events.md says why."""
    values = _values(msg)
    first = values[0] if values else ""
    if tag == "screen_toggled":  # 70000, PhoneWindowManager / KeyguardViewMediator
        return {"0": "screen_off", "1": "screen_on", "2": "unlock"}.get(first)
    if tag == "power_screen_state":  # 2728, PowerManagerService: offOrOn first
        return {"0": "screen_off", "1": "screen_on"}.get(first)
    if tag == "boot_progress_enable_screen":  # 3050, end of boot, BOOT_COMPLETED follows
        return "boot"
    if tag == "connectivity_state_changed":  # 50020, older ConnectivityService
        return "network_change"
    return None
