"""The one explicit, size-bounded piece of shared state a run carries.

Stages that need to know something learnt elsewhere in the capture (which side is the
device, what a DNS answer said, which uid belongs to which package, TLS key logs) read it
from here instead of from globals. Every map is capped so memory is bounded by what is
live, not by the size of the capture.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from phonehome.model.anomaly import Anomalies

if TYPE_CHECKING:
    from phonehome.decrypt.keylog import KeyLog
    from phonehome.decrypt.wpa import WifiKeys

PASSIVE_DNS_CAP: Final = 200_000
UID_MAP_CAP: Final = 100_000
COVERAGE_HOSTS_CAP: Final = 10_000
"""Servers remembered per coverage verdict (the report shows the top ones)."""

# Verdicts of a TLS or QUIC connection, for the coverage line of a report.
DECRYPTED: Final = "decrypted"
KEYS_MISSING: Final = "keys_missing"
WRONG_KEY: Final = "wrong_key"
UNSUPPORTED: Final = "unsupported"
INCOMPLETE: Final = "incomplete"
VERDICTS: Final = (DECRYPTED, KEYS_MISSING, WRONG_KEY, UNSUPPORTED, INCOMPLETE)


@dataclass
class DeviceSelector:
    """Which end of the traffic is the device under study.

    With neither ``ips`` nor ``macs`` set, the device is inferred per flow: the side that
    opens connections / sends DNS queries from a private or local address. With either
    set, flows of other hosts are dropped and counted (``device.other_host``).
    """

    ips: frozenset[bytes] = frozenset()
    macs: frozenset[bytes] = frozenset()

    @property
    def explicit(self) -> bool:
        return bool(self.ips or self.macs)


class PassiveDns:
    """Time-aware IP -> names map from the capture's own DNS answers.

    ``lookup(ip, t)`` returns the names whose answer was seen at or before ``t`` (the one in
    force when a connection opened), most recent first; answers after ``t`` are used only
    when nothing earlier exists (captures often start mid-session).
    """

    def __init__(self, cap: int = PASSIVE_DNS_CAP) -> None:
        self._cap = cap
        self._map: OrderedDict[str, list[tuple[float, str]]] = OrderedDict()

    def add(self, ip: str, name: str, t: float) -> None:
        entries = self._map.get(ip)
        if entries is None:
            entries = []
            self._map[ip] = entries
            if len(self._map) > self._cap:
                self._map.popitem(last=False)
        else:
            self._map.move_to_end(ip)
        for i, (_, n) in enumerate(entries):
            if n == name:
                del entries[i]
                break
        bisect.insort(entries, (t, name))
        if len(entries) > 16:
            del entries[0]

    def lookup(self, ip: str, t: float | None = None) -> list[str]:
        entries = self._map.get(ip)
        if not entries:
            return []
        if t is None:
            return [n for _, n in reversed(entries)]
        before = [n for ts, n in reversed(entries) if ts <= t]
        return before or [n for _, n in entries]

    def __len__(self) -> int:
        return len(self._map)


class Coverage:
    """What the key logs opened: each TLS and QUIC connection whose ClientHello was read,
    counted once by its verdict (:data:`VERDICTS`), and the servers behind each verdict
    but ``decrypted`` (bounded), so a report can say what was not read and where to."""

    def __init__(self) -> None:
        self.tls: dict[str, int] = {}
        self.quic: dict[str, int] = {}
        self.servers: dict[str, dict[str, int]] = {}
        """verdict -> server (SNI, else address) -> connections."""
        self.decrypted_servers: dict[str, int] = {}

    def add(self, layer: str, verdict: str, server: str) -> None:
        counts = self.tls if layer == "tls" else self.quic
        counts[verdict] = counts.get(verdict, 0) + 1
        hosts = self.decrypted_servers
        if verdict != DECRYPTED:
            found = self.servers.get(verdict)
            if found is None:
                found = self.servers[verdict] = {}
            hosts = found
        if server in hosts or len(hosts) < COVERAGE_HOSTS_CAP:
            hosts[server] = hosts.get(server, 0) + 1

    def connections(self, layer: str) -> int:
        return sum((self.tls if layer == "tls" else self.quic).values())


@dataclass
class Stats:
    inputs: int = 0
    frames: int = 0
    packets: int = 0
    flows: int = 0
    messages: int = 0
    bytes: int = 0


@dataclass
class Context:
    """Shared state of one run. Create one per scan/flows invocation."""

    anomalies: Anomalies = field(default_factory=Anomalies)
    device: DeviceSelector = field(default_factory=DeviceSelector)
    dns: PassiveDns = field(default_factory=PassiveDns)
    uid_map: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """PCAPdroid uid -> package names (a shared uid maps to several)."""
    uid_names: dict[int, str] = field(default_factory=dict)
    """PCAPdroid uid -> app display name, where known."""
    keylogs: list[bytes] = field(default_factory=list)
    """TLS key log lines from pcapng Decryption Secrets Blocks of inputs whose DSBs were
    not read ahead into :attr:`keylog` (bounded by the reader). Secret: never written out."""
    keylog: KeyLog | None = None
    """The run's session keys (``--keylog`` files, pcapng DSBs), looked up by client
    random when a TLS or QUIC connection starts; None or empty: nothing is decrypted and
    TLS/QUIC cost what they did before decryption existed. Secret: never written out."""
    wifi: WifiKeys | None = None
    """The run's WPA keys (``--wifi-key``) and the stations' handshakes; None: protected
    802.11 frames are counted, not read. Secret: never written out."""
    keylog_final: bool = True
    """No key can be added while the run goes on: every input's DSBs were read ahead. Else
    (a pcapng on standard input) a connection whose keys are not there at its ClientHello
    is followed until its first protected record, where a DSB may have given them."""
    received_bodies: bool = True
    """HTTP/1 bodies the device receives are kept. A scan sets False: it searches only
    what the device sent (docs/detectors.md), and responses are most of a capture's bytes,
    so their bodies are skipped unread (``body=b""``, ``body_truncated``) instead of
    copied and decompressed for nothing."""
    dsb_read_ahead: set[int] = field(default_factory=set)
    """Inputs whose DSBs are in :attr:`keylog` already (read in a first pass)."""
    coverage: Coverage = field(default_factory=Coverage)
    stats: Stats = field(default_factory=Stats)

    def add_secrets(self, data: bytes, input: int, frame: int | None, number: int) -> bool:
        """A Decryption Secrets Block's key log (the ``number``-th of its input) met while
        reading: into :attr:`keylog` when its input was not read ahead (standard input),
        for the connections after it. False: the reader should keep the bytes
        (:attr:`keylogs`) instead, as it always did."""
        if input in self.dsb_read_ahead:
            return True
        keylog = self.keylog
        if keylog is None:
            return False
        keylog.add_text(data, "dsb", f"DSB {number}", input, frame)
        return True

    def add_uid(self, uid: int, packages: tuple[str, ...], name: str | None = None) -> None:
        if uid not in self.uid_map and len(self.uid_map) >= UID_MAP_CAP:
            return
        merged = tuple(dict.fromkeys(self.uid_map.get(uid, ()) + packages))
        self.uid_map[uid] = merged
        if name:
            self.uid_names[uid] = name
