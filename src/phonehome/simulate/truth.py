"""What a simulated capture contains, written beside it: ground truth, profile, events.

The ground truth is the answer key an accuracy benchmark scores a scan against, so it is
versioned (``phonehome.truth/1``, documented in docs/simulator.md) and written with
sorted keys and stable ordering: the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phonehome.model.profile import PROFILE_VALUE_KEYS, DeviceProfile
from phonehome.privacy import open_private

TRUTH_SCHEMA = "phonehome.truth/1"

EVENT_KINDS: tuple[str, ...] = (
    "boot",
    "unlock",
    "screen_on",
    "screen_off",
    "sim_change",
    "network_change",
)


def iso_time(t_us: int) -> str:
    """``2026-03-02T08:15:03.120Z``: UTC, milliseconds, the form the events CSV uses."""
    dt = datetime.fromtimestamp(t_us // 1_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(t_us // 1000) % 1000:03d}Z"


@dataclass
class Leak:
    """One identifier value at one place of one kind of message to one destination.

    Repeated sends (each unlock's POST) are one leak with several ``times``/``frames``;
    the frame is the one completing the message (last TCP segment), as tshark reports it.
    """

    identifier: str
    value: str
    host: str
    ip: str
    port: int
    protocol: str
    where: str
    encoding: tuple[str, ...] = ()
    raw: str | None = None
    """The value as it appears once the encoding chain is undone, when it differs."""
    note: str | None = None
    refs: list[int] = field(default_factory=list)
    form: str | None = None
    """How the value is spelled where it is, when that is not its plain spelling or a
    trailing digest of ``encoding``: ``urn`` (an IMEI URN), ``nai-eap-aka`` (an IMSI
    behind an EAP method digit) ... (docs/detectors.md, the forms)."""

    def key(self) -> tuple[Any, ...]:
        return (
            self.identifier,
            self.value,
            self.host,
            self.ip,
            self.port,
            self.protocol,
            self.where,
            self.encoding,
        )


@dataclass
class Decoy:
    """Something that looks like an identifier but must not be reported, and why."""

    value: str
    where: str
    reason: str
    host: str | None = None
    refs: list[int] = field(default_factory=list)


@dataclass
class Expected:
    """What the generator put on the wire, for tests that cross-check with tshark."""

    http_requests: int = 0
    dns_names: list[str] = field(default_factory=list)
    tls_snis: list[str] = field(default_factory=list)
    quic_snis: list[str] = field(default_factory=list)


@dataclass
class Generated:
    """A scenario's output besides the capture itself."""

    truth: dict[str, Any]
    profile: DeviceProfile
    events: list[tuple[int, str]]
    frames: int
    bytes: int
    expected: Expected


class Truth:
    """Collects leaks and decoys while a scenario builds frames (by frame reference)."""

    def __init__(self) -> None:
        self._leaks: dict[tuple[Any, ...], Leak] = {}
        self.decoys: list[Decoy] = []

    def leak(self, leak: Leak, ref: int) -> None:
        existing = self._leaks.setdefault(leak.key(), leak)
        existing.refs.append(ref)

    def decoy(self, decoy: Decoy, ref: int) -> None:
        decoy.refs.append(ref)
        self.decoys.append(decoy)

    @property
    def leaks(self) -> list[Leak]:
        return list(self._leaks.values())

    def to_json(
        self,
        *,
        scenario: str,
        seed: int,
        capture: str,
        device_ip: Sequence[str],
        device_mac: str,
        resolve: Callable[[int], tuple[int, int]],
    ) -> dict[str, Any]:
        """``resolve`` maps a frame reference to (frame number, timestamp in µs)."""

        def frames(refs: Iterable[int]) -> list[int]:
            return [resolve(r)[0] for r in refs]

        def times(refs: Iterable[int]) -> list[str]:
            return [iso_time(resolve(r)[1]) for r in refs]

        leaks = []
        for lk in self._leaks.values():
            entry: dict[str, Any] = {
                "identifier": lk.identifier,
                "value": lk.value,
                "host": lk.host,
                "ip": lk.ip,
                "port": lk.port,
                "protocol": lk.protocol,
                "where": lk.where,
                "encoding": list(lk.encoding),
                "times": times(lk.refs),
                "frames": frames(lk.refs),
            }
            if lk.raw is not None:
                entry["raw"] = lk.raw
            if lk.note is not None:
                entry["note"] = lk.note
            if lk.form is not None:
                entry["form"] = lk.form
            leaks.append(entry)
        leaks.sort(key=lambda e: (e["frames"][:1], e["identifier"], e["where"]))
        decoys = []
        for d in self.decoys:
            entry = {
                "value": d.value,
                "where": d.where,
                "reason": d.reason,
                "frames": frames(d.refs),
            }
            if d.host is not None:
                entry["host"] = d.host
            decoys.append(entry)
        return {
            "schema": TRUTH_SCHEMA,
            "scenario": scenario,
            "seed": seed,
            "capture": capture,
            "device_ip": list(device_ip),
            "device_mac": device_mac,
            "leaks": leaks,
            "decoys": decoys,
        }


def write_json(path: Path, doc: dict[str, Any]) -> None:
    with open_private(path, buffering=-1) as f:
        f.write((json.dumps(doc, indent=2, sort_keys=False) + "\n").encode("utf-8"))


def _toml_str(s: str) -> str:
    # JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes
    return json.dumps(s, ensure_ascii=True)


def write_profile(path: Path, profile: DeviceProfile) -> None:
    """The device profile in the TOML format ``phonehome scan --device`` reads."""
    lines = ["# Device profile written by `phonehome simulate`: the values a scan looks for."]
    if profile.name is not None:
        lines.append(f"name = {_toml_str(profile.name)}")
    if profile.home_country is not None:
        lines.append(f"home_country = {_toml_str(profile.home_country)}")
    for key in PROFILE_VALUE_KEYS:
        values = profile.get(key)
        if len(values) == 1:
            lines.append(f"{key} = {_toml_str(values[0])}")
        elif values:
            lines.append(f"{key} = [{', '.join(_toml_str(v) for v in values)}]")
    for loc in profile.locations:
        lines += [
            "",
            "[[location]]",
            f"lat = {loc.lat!r}",
            f"lon = {loc.lon!r}",
            f"radius_m = {loc.radius_m!r}",
        ]
    with open_private(path, buffering=-1) as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))


def write_events(path: Path, events: Iterable[tuple[int, str]]) -> None:
    """``time,event`` CSV, one row per device event in time order (UTC, milliseconds)."""
    rows = ["time,event"]
    for t_us, kind in sorted(events):
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        rows.append(f"{iso_time(t_us)},{kind}")
    with open_private(path, buffering=-1) as f:
        f.write(("\n".join(rows) + "\n").encode("ascii"))
