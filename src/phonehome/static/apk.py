"""One APK, analysed: what it is, what it may and does read, when it runs, and where it
sends things.

:func:`analyze_apk` never raises on a damaged APK: everything that could not be read is a
line in :attr:`ApkReport.problems` and the report holds whatever could (a broken DEX still
leaves the manifest and native-library endpoints). Only a path that cannot be opened at
all raises :class:`~phonehome.errors.InputError`.

Memory stays near the largest single DEX plus the call graph's compact arrays: each DEX
is indexed and dropped before the next is inflated.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phonehome.errors import InputError
from phonehome.static import endpoints as ep
from phonehome.static.callgraph import ApiUse, CallGraph, Chain
from phonehome.static.dataflow import DataFlow, all_chains
from phonehome.static.dex import DexError, DexFile
from phonehome.static.endpoints import Endpoint
from phonehome.static.manifest import Manifest, parse_manifest
from phonehome.static.netsec import NetworkSecurity, find_config, parse_config
from phonehome.static.oat import find_oat_files, load_oat_code
from phonehome.static.sources import trigger_name
from phonehome.static.trackers import TrackerHit, find_trackers
from phonehome.static.zipsafe import SafeZip, open_zip

SCHEMA = "phonehome.apk/2"
MAX_DEX_FILES = 128
MAX_NATIVE_LIBS = 64
MAX_PROBLEMS = 200
_DEX_NAME = re.compile(r"^classes(\d*)\.dex$")
_NATIVE_NAME = re.compile(r"^lib/[^/]+/[^/]+\.so$")
_NO_FLOW: dict[str, Any] = {"complete": True, "reason": None, "analyses": 0, "flows": 0}
_BAD_DATA = (struct.error, IndexError, ValueError, UnicodeError, OverflowError, KeyError)


@dataclass(slots=True)
class ApkReport:
    path: str
    sha256: str = ""
    size: int = 0
    manifest: Manifest = field(default_factory=Manifest)
    code: str = "none"
    """``dex`` (classes*.dex in the APK), ``oat`` (DEX from an odex/vdex beside it),
    ``not analysable`` (neither could be read) or ``none`` (no code anywhere)."""
    dex_files: list[str] = field(default_factory=list)
    classes: int = 0
    methods: int = 0
    sources: list[ApiUse] = field(default_factory=list)
    sinks: list[ApiUse] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    code_actions: list[str] = field(default_factory=list)
    """Trigger actions named in code (receivers registered at run time)."""
    endpoints: list[Endpoint] = field(default_factory=list)
    trackers: list[TrackerHit] = field(default_factory=list)
    native_libs: list[str] = field(default_factory=list)
    network_security: NetworkSecurity | None = None
    """The app's network security config, when it has one (static/netsec.py)."""
    dataflow: dict[str, Any] = field(default_factory=lambda: dict(_NO_FLOW))
    """Whether the data-flow analysis ran to the end: ``complete``, ``reason`` (why
    not), and its counts (static/dataflow.py)."""
    problems: list[str] = field(default_factory=list)

    def hosts(self) -> set[str]:
        """Host names and IP literals the app's code or native libraries name."""
        return {e.host for e in self.endpoints}

    def reads_identifiers(self) -> set[str]:
        return {u.kind for u in self.sources}

    def triggers(self) -> set[str]:
        """System events that start the app: manifest receivers' actions and actions
        registered in code, by short name (``USER_PRESENT``)."""
        actions = [a for c in self.manifest.receivers() for a in c.actions]
        actions += self.code_actions
        return {t for a in actions if (t := trigger_name(a))}

    def cleartext_allowed(self) -> bool | None:
        """May the app send plain HTTP app-wide: its network security config's base, else
        the manifest (``usesCleartextTraffic``, then the default of its target API)."""
        if self.network_security is not None:
            return self.network_security.base_cleartext
        return self.manifest.cleartext_allowed

    def add_problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            **self.manifest.to_dict(),
            "cleartext_allowed": self.cleartext_allowed(),
            "network_security": self.network_security.to_dict() if self.network_security else None,
            "code": self.code,
            "dex_files": self.dex_files,
            "classes": self.classes,
            "methods": self.methods,
            "reads_identifiers": sorted(self.reads_identifiers()),
            "triggers": sorted(self.triggers()),
            "sources": [u.to_dict() for u in self.sources],
            "sinks": [u.to_dict() for u in self.sinks],
            "chains": [c.to_dict() for c in self.chains],
            "dataflow": self.dataflow,
            "code_actions": self.code_actions,
            "endpoints": [e.to_dict() for e in self.endpoints],
            "trackers": [t.to_dict() for t in self.trackers],
            "native_libs": self.native_libs,
            "problems": self.problems,
        }


def analyze_apk(path: Path, *, oat_dir: Path | None = None) -> ApkReport:
    """Analyse the APK at ``path``; ``oat_dir`` overrides where its odex/vdex are looked
    for (default: ``oat/<arch>/`` beside the APK)."""
    report = ApkReport(str(path))
    try:
        report.sha256, report.size = _digest(path)
        opened = open_zip(path)
    except IsADirectoryError as exc:
        raise InputError(str(path), "is a directory, not an APK") from exc
    except OSError as exc:
        raise InputError(str(path), exc.strerror or str(exc)) from exc
    if isinstance(opened, str):
        report.add_problem(opened)
        return report
    with opened as archive:
        _analyze(archive, path, oat_dir, report)
    return report


def _digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def _analyze(archive: SafeZip, path: Path, oat_dir: Path | None, report: ApkReport) -> None:
    manifest_bytes = archive.read("AndroidManifest.xml", limit=16 * 1024 * 1024)
    if manifest_bytes is None:
        report.add_problem("AndroidManifest.xml missing or unreadable")
    else:
        report.manifest = parse_manifest(manifest_bytes)
        for p in report.manifest.problems:
            report.add_problem(p)
    found = find_config(archive)
    if found is not None:
        report.network_security = parse_config(*found, report.manifest.target_sdk)
        for p in report.network_security.problems:
            report.add_problem(f"{found[0]}: {p}")
    elif report.manifest.network_security_config is not None:
        report.add_problem("networkSecurityConfig declared but no such config under res/")
    graph = CallGraph()
    endpoints: dict[str, Endpoint] = {}
    _analyze_code(archive, path, oat_dir, graph, endpoints, report)
    _native_endpoints(archive, endpoints, report)
    report.endpoints = sorted(endpoints.values(), key=lambda e: (e.host, e.value))
    for p in archive.problems:
        report.add_problem(p)


def _analyze_code(
    archive: SafeZip,
    path: Path,
    oat_dir: Path | None,
    graph: CallGraph,
    endpoints: dict[str, Endpoint],
    report: ApkReport,
) -> None:
    names = sorted(
        (n for n in archive.names() if _DEX_NAME.match(n)),
        key=lambda n: int(_DEX_NAME.match(n).group(1) or 1),  # type: ignore[union-attr]
    )[:MAX_DEX_FILES]
    blobs: list[tuple[str, bytes | None]] = [(n, None) for n in names]
    if not names:
        oat = load_oat_code(find_oat_files(path, oat_dir))
        for p in oat.problems:
            report.add_problem(p)
        if oat.dex_files:
            report.code = "oat"
            blobs = [(n, d) for n, d in oat.dex_files]
        else:
            report.code = "not analysable" if oat.files else "none"
            if not oat.files:
                report.add_problem(
                    "no classes.dex and no oat/<arch>/*.vdex|odex beside the APK: "
                    "code not analysable"
                )
            return
    else:
        report.code = "dex"
    for name, data in blobs:
        if data is None:
            data = archive.read(name)
            if data is None:
                continue
        _index_dex(name, data, graph, endpoints, report)
        del data
    if not report.dex_files:
        report.code = "not analysable"
        return
    try:
        graph.resolve()
        report.sources = graph.sources_found()
        report.sinks = graph.sinks_found()
    except _BAD_DATA as exc:
        report.add_problem(f"call graph: {exc}")
    else:
        _flows(graph, report)
    for host in sorted(graph.host_uses):
        endpoints.setdefault(host, ep.host_endpoint(host))
    report.code_actions = sorted(graph.code_actions)
    report.classes = len(graph.supers)
    report.trackers = find_trackers(graph.classes)
    for p in graph.problems[:50]:
        report.add_problem(p)


def _flows(graph: CallGraph, report: ApkReport) -> None:
    """Data-flow chains, then reachability chains as context (static/dataflow.py)."""
    flow = DataFlow(graph)
    try:
        flow.run()
        report.chains = all_chains(graph, report.manifest, flow)
    except _BAD_DATA as exc:
        flow.complete, flow.reason = False, f"stopped on damaged code: {exc}"
        report.add_problem(f"data flow: {exc}")
        report.chains = graph.chains(report.manifest)
    report.dataflow = {
        "complete": flow.complete,
        "reason": flow.reason,
        "analyses": flow.analyses,
        "flows": len(flow.flows),
    }


def _index_dex(
    name: str,
    data: bytes,
    graph: CallGraph,
    endpoints: dict[str, Endpoint],
    report: ApkReport,
) -> None:
    try:
        dex = DexFile(data, name)
    except DexError as exc:
        report.add_problem(f"{name}: {exc}")
        return
    try:
        hosts: dict[int, str] = {}
        prefixes: set[int] = set()
        urls: list[str] = []
        for i in range(dex.string_count):
            raw = dex.raw_string(i)
            if b"." not in raw and not raw.endswith(b"://"):
                continue
            text = raw.decode("utf-8", "replace")
            if "://" in text:
                if ep.is_scheme_prefix(text):
                    prefixes.add(i)
                else:
                    urls.append(text)
            elif (host := ep.bare_host(text)) is not None:
                hosts[i] = host
        graph.add_dex(dex, hosts, prefixes)
        for e in ep.from_strings(urls, "dex"):
            endpoints.setdefault(e.value, e)
        report.dex_files.append(name)
        report.methods += dex.method_count
    except _BAD_DATA as exc:
        report.add_problem(f"{name}: unreadable ({exc})")
    for p in dex.problems:
        report.add_problem(p)


def _native_endpoints(archive: SafeZip, endpoints: dict[str, Endpoint], report: ApkReport) -> None:
    libs = [n for n in archive.names() if _NATIVE_NAME.match(n)]
    report.native_libs = sorted(libs)
    for name in report.native_libs[:MAX_NATIVE_LIBS]:
        data = archive.read(name, limit=ep.MAX_NATIVE_BYTES)
        if data is None:
            continue
        for e in ep.from_native(data, name):
            endpoints.setdefault(e.value, e)
