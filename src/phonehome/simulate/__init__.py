"""Traffic simulator: synthetic captures of a phone with a known answer key.

Real captures with labelled leaks are rare and cannot be shared, so the test suite and
the accuracy benchmarks run on generated ones: each scenario writes a capture plus its
ground truth (``x.truth.json``), the device profile to scan with (``x.device.toml``) and
the device's events (``x.events.csv``). Scenarios and formats: docs/simulator.md.

Scenario modules are imported when run, so that listing scenarios (``--help``) stays cheap.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path

from phonehome.simulate.truth import Expected, Generated, write_events, write_json, write_profile


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    module: str
    """Module under ``phonehome.simulate`` with ``generate(out, seed, size_mb, pcapng)``."""
    takes_size: bool = False
    variant: str | None = None
    """Passed to ``generate`` as ``variant=`` (the tunnel of a ``tunnel-*`` scenario)."""


_TUNNEL_SUMMARIES: dict[str, str] = {
    "gtpu": "GTP-U between a base station and the mobile core (TEID per direction)",
    "vxlan": "VXLAN between two hypervisors (the phone's Ethernet frames, VNI 5001)",
    "vxlan-vlan": "VXLAN with an 802.1Q tag on the inner frames",
    "geneve": "Geneve with an option (Ethernet inside, VNI 7001)",
    "gre": "GRE with key and sequence numbers (IPv4/IPv6 inside)",
    "gre-gtpu": "GTP-U carried in GRE (nested)",
    "capwap": "CAPWAP data between an access point and its controller (802.11 frames)",
    "mpls": "an MPLS L3VPN link (two labels)",
    "pppoe": "a PPPoE session",
    "ipip": "IP-in-IPv4 (protocol 4, and 41 for IPv6)",
    "ip6tnl": "IP-in-IPv6 (4in6, 6in6)",
    "teredo": "the phone's IPv6 through a Teredo relay",
}


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "nokia7plus",
            "one day of a Nokia 7 Plus: the China Telecom 'zzhc' "
            "self-registration after every unlock, among benign background traffic",
            "nokia7plus",
        ),
        Scenario(
            "encodings",
            "the phone's identifiers in many encodings and protocols, "
            "each a labelled leak, plus labelled decoys",
            "encodings",
        ),
        Scenario(
            "volte",
            "a phone's IMS signalling: VoLTE registration (IMSI, IMEI URN, cell), a call "
            "over TCP (phone number), a Wi-Fi calling re-registration (access point BSSID)",
            "volte",
        ),
        Scenario(
            "eap-aka",
            "carrier Wi-Fi with EAP-AKA on the access point: EAPOL with the phone, RADIUS "
            "with the AAA server (permanent identity, pseudonym, re-authentication)",
            "eap_aka",
        ),
        Scenario(
            "vowifi",
            "Wi-Fi calling's IKEv2 tunnel to the ePDG: IKE_SA_INIT in clear, the IMSI "
            "identity inside the encrypted IKE_AUTH (a decoy), ESP in UDP",
            "vowifi",
        ),
        Scenario(
            "bench",
            "a large mixed corpus (HTTP, DNS, TLS, QUIC) with a few leaks, "
            "for speed and memory measurements; --size sets the size",
            "bench",
            takes_size=True,
        ),
        *(
            Scenario(
                f"tunnel-{kind}",
                f"the nokia7plus day wrapped as a capture inside the network sees it: {summary}",
                "tunnels",
                variant=kind,
            )
            for kind, summary in _TUNNEL_SUMMARIES.items()
        ),
    )
}


@dataclass(frozen=True, slots=True)
class SimulationResult:
    scenario: str
    capture: Path
    truth: Path
    profile: Path
    events: Path
    frames: int
    bytes: int
    """Captured bytes (sum of frame lengths, without file headers)."""
    seconds: float
    """Wall-clock generation time (for the bench speed report; not written anywhere)."""
    expected: Expected

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.capture, self.truth, self.profile, self.events)

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def side_paths(out: Path) -> tuple[Path, Path, Path]:
    """``x.pcap`` -> ``x.truth.json``, ``x.device.toml``, ``x.events.csv``."""
    return (
        out.with_suffix(".truth.json"),
        out.with_suffix(".device.toml"),
        out.with_suffix(".events.csv"),
    )


def run(
    name: str,
    out: Path,
    *,
    seed: int = 1,
    size_mb: float | None = None,
    pcapng: bool = False,
    mix: str | None = None,
    pcapdroid: bool = False,
) -> SimulationResult:
    """Generate scenario ``name`` into ``out`` and the three files beside it.

    Deterministic: the same name, seed, size and format give byte-identical files. With
    ``pcapdroid`` the capture is written in PCAPdroid's trailer format (every packet
    labelled with its app's uid: :mod:`phonehome.simulate.pcapdroid`).
    Raises KeyError for an unknown scenario and ValueError for a size that cannot work.
    """
    scenario = SCENARIOS[name]
    if size_mb is not None and size_mb <= 0:
        raise ValueError("size must be positive")
    module = importlib.import_module(f"phonehome.simulate.{scenario.module}")
    started = time.perf_counter()
    if mix is not None:
        if name != "bench":
            raise ValueError("only the bench scenario has mixes")
        generated: Generated = module.generate(out, seed, size_mb, pcapng, mix=mix)
    elif scenario.variant is not None:
        generated = module.generate(out, seed, size_mb, pcapng, variant=scenario.variant)
    else:
        generated = module.generate(out, seed, size_mb, pcapng)
    if pcapdroid:
        if pcapng:
            raise ValueError("PCAPdroid's trailer format is a classic pcap (not --pcapng)")
        from phonehome.simulate.pcapdroid import convert

        convert(out, getattr(module, "PCAPDROID_APPS", {}))
    truth_path, profile_path, events_path = side_paths(out)
    write_json(truth_path, generated.truth)
    write_profile(profile_path, generated.profile)
    write_events(events_path, generated.events)
    return SimulationResult(
        name,
        out,
        truth_path,
        profile_path,
        events_path,
        generated.frames,
        generated.bytes,
        time.perf_counter() - started,
        generated.expected,
    )
