"""What a watch prints: one alert per new (identifier, destination, app), a status line.

Alerts are made from the *redacted view* of the finding (``report.view.build_view`` with
the scan's own Scrubber), so a value never reaches the terminal or a script in any other
form than ``phonehome scan`` would show it. ``text`` is for a person: one line per alert
on standard output and, on a terminal only, a status line on standard error that is
redrawn in place. ``jsonl`` is for scripts: one JSON object per line on standard output,
``{"type": "alert", ...}`` per new finding, ``{"type": "status", ...}`` per periodic
update and ``{"type": "end", ...}`` when the watch stops (docs/watch.md).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from phonehome.terminal import safe

READABILITY = {
    "cleartext": "in CLEAR TEXT",
    "decrypted": "over TLS (read through the proxy)",
    "encrypted": "encrypted",
}


@dataclass
class Alert:
    """One new (identifier, value, destination host, app): its finding as the redacted
    view shows it, plus what the watch knows about the moment it was sent."""

    id: int
    finding: dict[str, Any]
    """The finding's redacted view item (scan JSON contract), with ``destination``."""
    time: float
    """When the device sent it (capture clock)."""
    trigger: str | None = None
    """``2.1 s after unlock`` (device events) or the unlock-like pattern, when known."""
    trigger_detail: dict[str, Any] | None = None
    latency_s: float | None = None
    """Seconds from the arrival of the bytes that completed the message to the alert."""


@dataclass
class Status:
    source: str
    state: str
    packets: int = 0
    flows: int = 0
    messages: int = 0
    findings: int = 0
    alerts: int = 0
    sends: int = 0
    drops: int = 0
    anomalies: int = 0
    scan_id: int | None = None
    elapsed_s: float = 0.0
    repeats: dict[int, int] = field(default_factory=dict)
    """Alert id -> total sends, for alerts that were sent again since the last update."""


def _app(app: Any) -> str:
    if not isinstance(app, dict):
        return ""
    packages = [str(p) for p in app.get("packages") or []]
    name = packages[0] if packages else app.get("name")
    uid = app.get("uid")
    if name and uid is not None:
        return f"{name} (uid {uid})"
    if name:
        return name
    return f"app uid {uid}" if uid is not None else ""


def _owner(dest: Any) -> str:
    if not isinstance(dest, dict):
        return ""
    parts = [str(p) for p in (dest.get("entity") or dest.get("as_org"), dest.get("country")) if p]
    juris = dest.get("jurisdiction") or {}
    if isinstance(juris, dict) and juris.get("out_of_home_region"):
        parts.append("outside the home region")
    return ", ".join(parts)


def alert_line(alert: Alert, names: dict[str, str], color: bool) -> str:
    """``06:31:05Z IMEI 35•••••••••••83 sent in CLEAR TEXT to zzhc.vnet.cn (China Telecom,
    CN) by com.qualcomm.qti.autoregistration (uid 1000), 2.1 s after unlock``.

    Every capture-derived part is shown, never obeyed (:func:`~phonehome.terminal.safe`);
    only the colour codes added here reach the terminal as codes."""
    f = alert.finding
    bold, red, reset = ("\033[1m", "\033[31m", "\033[0m") if color else ("", "", "")
    ident = safe(names.get(str(f.get("identifier")), str(f.get("identifier"))))
    how = READABILITY.get(str(f.get("readability")), safe(str(f.get("readability"))))
    if f.get("readability") == "cleartext":
        how = f"{red}{how}{reset}"
    port = f.get("port")
    host = safe(str(f.get("host")))
    where = f"{host}:{port}" if port not in (None, 80, 443, 53) else host
    line = (
        f"{time.strftime('%H:%M:%S', time.gmtime(alert.time))}Z {bold}{ident} "
        f"{safe(str(f.get('value_redacted')))}{reset} sent {how} to {bold}{where}{reset}"
    )
    owner = _owner(f.get("destination"))
    if owner:
        line += f" ({safe(owner)})"
    app = _app(f.get("app"))
    if app:
        line += f" by {safe(app)}"
    if alert.trigger:
        line += f", {safe(alert.trigger)}"
    enc = " > ".join(str(e) for e in f.get("encoding") or [])
    detail = f"{f.get('protocol')} {f.get('where')}" + (f" via {enc}" if enc else "")
    return line + "\n    " + safe(detail) + "\n"


def status_line(s: Status) -> str:
    drops = f", {s.drops} DROPPED" if s.drops else ", 0 drops"
    saved = f", scan {s.scan_id}" if s.scan_id is not None else ""
    return safe(
        f"{s.source} [{s.state}] {s.packets} packets, {s.flows} flows, {s.messages} messages, "
        f"{s.findings} findings ({s.alerts} alerts, {s.sends} sends){drops}, "
        f"{s.anomalies} anomalies{saved}"
    )


class Printer:
    """Writes alerts and status in the chosen format (see the module docstring)."""

    def __init__(
        self,
        fmt: str,
        names: dict[str, str],
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.fmt = fmt
        self.names = names
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.tty = fmt == "text" and self.err.isatty()
        self.color = fmt == "text" and self.out.isatty() and not os.environ.get("NO_COLOR")
        self._status_shown = False

    def _clear_status(self) -> None:
        if self._status_shown:
            self.err.write("\r\033[K")
            self.err.flush()
            self._status_shown = False

    def alert(self, alert: Alert) -> None:
        if self.fmt == "jsonl":
            obj: dict[str, Any] = {
                "type": "alert",
                "alert": alert.id,
                "time": _iso(alert.time),
                "trigger": alert.trigger,
                "trigger_detail": alert.trigger_detail,
                "finding": alert.finding,
            }
            if alert.latency_s is not None:
                obj["latency_s"] = round(alert.latency_s, 4)
            self._json(obj)
            return
        self._clear_status()
        self.out.write(alert_line(alert, self.names, self.color))
        self.out.flush()

    def status(self, s: Status, *, final: bool = False) -> None:
        if self.fmt == "jsonl":
            self._json({"type": "end" if final else "status", **_status_dict(s)})
            return
        if final:
            self._clear_status()
            self.err.write("phonehome: watch ended: " + status_line(s) + "\n")
            self.err.flush()
            return
        if not self.tty:
            return
        width = _columns(self.err)
        self.err.write("\r" + status_line(s)[: width - 1] + "\033[K")
        self.err.flush()
        self._status_shown = True

    def note(self, text: str) -> None:
        """A one-off message for the person (source state changes, the scan id)."""
        if self.fmt == "jsonl":
            self.err.write(f"phonehome: {safe(text)}\n")
            self.err.flush()
            return
        self._clear_status()
        self.err.write(f"phonehome: {safe(text)}\n")
        self.err.flush()

    def _json(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.out.flush()


def _status_dict(s: Status) -> dict[str, Any]:
    return {
        "source": s.source,
        "state": s.state,
        "packets": s.packets,
        "flows": s.flows,
        "messages": s.messages,
        "findings": s.findings,
        "alerts": s.alerts,
        "sends": s.sends,
        "drops": s.drops,
        "anomalies": s.anomalies,
        "scan_id": s.scan_id,
        "elapsed_s": round(s.elapsed_s, 3),
        "repeats": [{"alert": k, "sends": v} for k, v in sorted(s.repeats.items())],
    }


def _iso(t: float) -> str:
    from phonehome.report.view import iso

    return iso(t)


def _columns(stream: TextIO) -> int:
    """The terminal's width; a terminal that does not know its size (a pseudo-terminal
    nobody sized, a serial console) says 0 columns: 80 then, as the convention goes."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 120
    return columns if columns > 0 else 80
