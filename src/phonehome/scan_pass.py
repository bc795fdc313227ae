"""The scan pass: messages -> fields -> matches -> findings, in one streaming pass.

Not to be confused with :mod:`phonehome.pipeline` (captures -> messages, which this pass
consumes) or with the ``scan`` command (:mod:`phonehome.cli.scan`: profile, this pass,
enrichment, store, report). Only outgoing messages are examined: data the server sent to
the device is not a leak.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phonehome import __version__
from phonehome.context import VERDICTS, Context
from phonehome.enrich.useragent import app_from_user_agent
from phonehome.findings import Aggregator, Finding
from phonehome.ingest import Capture
from phonehome.model.message import AppLabel, HttpRequest, Message, header
from phonehome.model.profile import DeviceProfile
from phonehome.pipeline import iter_messages

MAX_NOT_INSPECTED = 10_000
MAX_HELLO_FLOWS = 65_536
"""Connections whose hello is remembered, so that one read with a key log afterwards is
taken out of ``not_inspected`` again."""


@dataclass
class InputSummary:
    path: str
    sha256: str = ""
    size: int = 0
    format: str = ""
    packets: int = 0
    messages: int = 0
    anomalies: dict[str, int] = field(default_factory=dict)


@dataclass
class ScanResult:
    tool_version: str
    started: float
    finished: float
    inputs: list[InputSummary]
    device_name: str | None
    profile: DeviceProfile | None
    findings: list[Finding]
    anomalies: dict[str, int]
    stats: dict[str, int]
    first_time: float | None = None
    last_time: float | None = None
    """Time of the first and last message of the inputs (the observed span)."""
    encrypted_flows: dict[str, int] = field(default_factory=dict)
    """Destinations (host or IP) reached only through TLS/QUIC -> number of hellos: what
    was not inspected (connections decrypted with a key log are not counted)."""
    not_identifiers: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    """Placeholder values seen and dismissed: (identifier, constant or None, why) -> count
    (``phonehome.detect.placeholders``)."""
    uid_packages: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Every uid -> packages map the inputs carried (PCAPdroid pcapng blocks, package-name
    trailers): what a cut trailer label is completed from."""
    sent: dict[str, int] = field(default_factory=dict)
    """The device's outgoing messages by readability (``cleartext``, ``encrypted``,
    ``decrypted``): how much of what it sent could be inspected. Not in the scan
    document (its contract is unchanged); ``corpus`` records it per input."""
    decryption: dict[str, Any] = field(default_factory=dict)
    """What the key logs opened (:func:`coverage`): docs/scan-json.md, ``decryption``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys the enrichers added to the top of the scan JSON (``datasets``,
    ``trigger_events`` ...), in the order they added them."""

    @property
    def span(self) -> tuple[float, float] | None:
        """The first and last message time of the inputs, when there were messages."""
        if self.first_time is None or self.last_time is None:
            return None
        return (self.first_time, self.last_time)


class ScanPass:
    """The per-message body of a scan, kept apart from the loop that feeds it so that a
    live watch (:mod:`phonehome.live`) runs exactly the same steps on messages as they
    arrive: outgoing messages -> fields -> matches -> findings, encrypted destinations
    counted, the observed span kept."""

    def __init__(self, profile: DeviceProfile | None, ctx: Context) -> None:
        from phonehome.detect import Engine
        from phonehome.protocols.registry import message_fields

        self.profile = profile
        self.ctx = ctx
        ctx.received_bodies = False  # only what the device sent is searched
        self.engine = Engine(profile)
        self.agg = Aggregator()
        self.encrypted: dict[str, int] = {}
        self.hellos: OrderedDict[tuple[int, int], str] = OrderedDict()
        """(input, flow) of a counted hello -> the name it was counted under."""
        self.sent: dict[str, int] = {}
        self.first: float | None = None
        self.last: float | None = None
        self._ua_apps: dict[str, AppLabel | None] = {}
        self._extract = message_fields

    def add(self, msg: Message) -> list[Finding] | None:
        """Account one message; returns the findings it counted towards (None: none)."""
        t = msg.time
        if self.first is None or t < self.first:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t
        if msg.direction != "out":
            return None
        readability = msg.readability
        sent = self.sent
        sent[readability] = sent.get(readability, 0) + 1
        if readability == "encrypted":
            encrypted = self.encrypted
            name = msg.host or msg.dst.ip
            if name in encrypted or len(encrypted) < MAX_NOT_INSPECTED:
                encrypted[name] = encrypted.get(name, 0) + 1
                hellos = self.hellos
                if len(hellos) >= MAX_HELLO_FLOWS:
                    hellos.popitem(last=False)  # (a dict would walk its deleted slots)
                hellos[(msg.input, msg.flow_id)] = name
        elif readability == "decrypted" and self.hellos:
            # The connection of a hello was read with a key log after all: inspected.
            encrypted = self.encrypted
            name = self.hellos.pop((msg.input, msg.flow_id), "")
            left = encrypted.get(name, 0) - 1
            if left > 0:
                encrypted[name] = left
            elif left == 0:
                del encrypted[name]
        matches = self.engine.scan_many(self._extract(msg, self.ctx.anomalies))
        if not matches:
            return None
        if msg.app is None and isinstance(msg.content, HttpRequest):
            msg = _label_from_user_agent(msg, msg.content, self._ua_apps)
        return self.agg.add(msg, matches)

    def result(self, inputs: list[InputSummary], started: float, finished: float) -> ScanResult:
        """The scan so far (callable again later: a watch saves it every few seconds)."""
        ctx = self.ctx
        findings = self.agg.results()
        encrypted = dict(self.encrypted)
        # A host reached in clear as well is not "only encrypted".
        for finding in findings:
            encrypted.pop(finding.host, None)
        st = ctx.stats
        return ScanResult(
            tool_version=__version__,
            started=started,
            finished=finished,
            inputs=inputs,
            device_name=self.profile.name if self.profile else None,
            profile=self.profile,
            findings=findings,
            anomalies=dict(ctx.anomalies.counts),
            stats={
                "inputs": st.inputs,
                "frames": st.frames,
                "packets": st.packets,
                "flows": st.flows,
                "messages": st.messages,
                "bytes": st.bytes,
            },
            first_time=self.first,
            last_time=self.last,
            encrypted_flows=encrypted,
            not_identifiers={
                (k.identifier, k.value, k.why): n for k, n in self.engine.not_identifiers.items()
            },
            uid_packages=dict(ctx.uid_map),
            sent=dict(self.sent),
            decryption=coverage(ctx),
        )


def run_scan(
    captures: list[Capture],
    profile: DeviceProfile | None,
    ctx: Context | None = None,
    progress: Callable[[Capture | None], None] | None = None,
) -> ScanResult:
    """One streaming pass over ``captures``. ``progress`` is called with each input as it
    starts, and with None every 1024 messages (for a progress display)."""
    ctx = ctx or Context()
    scan = ScanPass(profile, ctx)
    summaries = [InputSummary(c.path, format=c.format.name) for c in captures]
    started = time.time()
    current: list[int] = [-1]
    marks: dict[int, tuple[int, int]] = {}

    def on_input(cap: Capture) -> None:
        _close_input(current[0])
        current[0] = cap.index
        marks[cap.index] = (ctx.stats.packets, ctx.stats.messages)
        if progress is not None:
            progress(cap)

    def _close_input(i: int) -> None:
        if i < 0:
            return
        p0, m0 = marks[i]
        s = summaries[i]
        s.packets = ctx.stats.packets - p0
        s.messages = ctx.stats.messages - m0

    ticks = 0
    add = scan.add
    for msg in iter_messages(captures, ctx, on_input):
        if progress is not None:
            ticks += 1
            if ticks & 0x3FF == 0:
                progress(None)
        add(msg)
    _close_input(current[0])
    for cap, s in zip(captures, summaries, strict=True):
        s.sha256 = cap.sha256
        s.size = cap.size
        if cap.damage:
            ctx.anomalies.add(cap.damage_kind, cap.index, None, cap.damage)
        s.anomalies = dict(ctx.anomalies.by_input(cap.index))
    return scan.result(summaries, started, time.time())


TOP_SERVERS = 10
"""Servers listed per coverage verdict."""


def coverage(ctx: Context) -> dict[str, Any]:
    """What was decrypted: TLS and QUIC connections (those whose ClientHello was read) by
    verdict, the servers of those not decrypted (most connections first), and what the key
    logs held — counts only, never a key."""
    cov = ctx.coverage
    doc: dict[str, Any] = {}
    for layer, counts in (("tls", cov.tls), ("quic", cov.quic)):
        entry = {"connections": sum(counts.values())}
        entry.update({verdict: counts.get(verdict, 0) for verdict in VERDICTS})
        doc[layer] = entry
    servers: dict[str, list[dict[str, Any]]] = {}
    for verdict in VERDICTS:
        hosts = cov.servers.get(verdict)
        if hosts:
            top = sorted(hosts.items(), key=lambda x: (-x[1], x[0]))[:TOP_SERVERS]
            servers[verdict] = [{"host": h, "connections": n} for h, n in top]
    doc["servers"] = servers
    keylog = ctx.keylog
    doc["key_log"] = {
        "client_randoms": len(keylog) if keylog is not None else 0,
        "sources": sorted(keylog.sources) if keylog is not None else [],
        "bad_lines": keylog.bad_lines if keylog is not None else 0,
    }
    wifi = ctx.wifi
    if wifi is not None:  # only when --wifi-key was given: other scans' documents unchanged
        doc["wifi"] = wifi.counts()
    return doc


def _label_from_user_agent(
    msg: Message, req: HttpRequest, cache: dict[str, AppLabel | None]
) -> Message:
    """A weaker source of the sending app than PCAPdroid: a User-Agent that names a
    package (``com.example.app/1.2 (Linux; Android 9)``). Looked up only for messages
    that carry findings, and cached per User-Agent string."""
    ua = header(req.headers, "user-agent")
    if not ua:
        return msg
    if ua not in cache:
        found = app_from_user_agent(ua)
        cache[ua] = AppLabel(None, tuple(found[0]), found[1]) if found else None
        if len(cache) > 10_000:
            cache.pop(next(iter(cache)))
    label = cache[ua]
    return msg.with_app(label) if label is not None else msg
