"""Which of phonehome's modules run compiled, and the way back to their Python sources.

The frame -> message loop (readers, link/IP decoding, the flow table, TCP reassembly,
DNS/TLS parsing, the JSON lines writer) is per-packet Python whose cost is object creation
and call overhead; measured in ``benchmarks/`` it sat at ~2.6x tshark where the target is
3x. Rather than keep a second implementation in C, the build compiles these same typed
modules with mypyc (part of mypy, made for exactly this: black and mypy itself ship so)
when a C compiler is there. TLS/QUIC decryption (``phonehome.decrypt``: record and packet
layers, handshake reading, QUIC frames and reassembly) joined the group when it was wired
into the sessions: per record and per packet it is the same kind of code (measured in
benchmarks/README.md, "Decryption"). The sources stay the single truth; the compiled copies are a
build product.

This module decides, once at import of :mod:`phonehome`, whether those compiled copies
may be used, and otherwise puts a finder first on ``sys.meta_path`` that loads every one
of them from its ``.py`` file. The choice is all-or-nothing because mypyc compiles the
modules as one group whose members call each other directly in C: half of them compiled
and half not would run the compiled half's stale copies of the other. Reasons to fall
back, each reported by ``phonehome --version``:

* ``PHONEHOME_PURE_PYTHON`` is set (to compare the two, or to debug with pdb);
* the package was installed without compiling (no compiler, or the variable was set at
  build time);
* a source changed after the build (an editable install being worked on): the build
  records a SHA-256 of each compiled module's source in ``_native.json``, and a mismatch
  means the ``.so`` beside it no longer is that source.

Extraction and detection (``phonehome.extract``, ``phonehome.detect``, the Field and
Match records, the scan pass and the aggregator) joined for issue 15: on leak-dense
cleartext, where nearly every request carries an identifier, they were more than half of
a scan, all of it per-field Python (benchmarks/README.md, "Issue 15, session 5"). A
package's ``__init__`` is not compiled, so nothing that runs per field lives in one.

The HAR reader (``phonehome.ingest.har`` and the flow ids it shares with the mitmproxy
reader) joined for issue 18: a HAR of a million small entries is a million rounds of
per-entry Python (dict lookups, URL split, four records and two messages), about two
thirds of ``phonehome flows`` on it before (benchmarks/README.md, "Hostile inputs"). So
did the tnetstring parse under the mitmproxy reader (``phonehome.ingest.tnetstring``),
which in mitmproxy is pure Python and was a third of reading a flow file.

Not compiled on purpose: enrichment and reports (per finding, not per packet; their hot
spots are already in C, hyperscan and orjson) and the mitmproxy reader itself, whose
time is mitmproxy's own flow loading (``Flow.from_state`` and its type checks), not
ours; see docs/architecture.md.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

ENV = "PHONEHOME_PURE_PYTHON"
MANIFEST = "_native.json"
GROUP = "phonehome__mypyc"

# Read by setup.py with ast (so the build never imports the package): the modules named
# one by one, and the packages all of whose modules are compiled (a protocol added to
# phonehome.protocols is compiled without being listed here).
COMPILED_SINGLE_MODULES: tuple[str, ...] = (
    "phonehome.context",
    "phonehome.findings",
    "phonehome.flowlist",
    "phonehome.ingest.flowids",
    "phonehome.ingest.har",
    "phonehome.ingest.pcap",
    "phonehome.ingest.pcapng",
    "phonehome.ingest.tnetstring",
    "phonehome.model.field",
    "phonehome.model.frame",
    "phonehome.model.message",
    "phonehome.net.addr",
    "phonehome.net.community_id",
    "phonehome.net.contracts",
    "phonehome.net.flows",
    "phonehome.net.ip",
    "phonehome.net.link",
    "phonehome.net.tcp",
    "phonehome.net.tunnel",
    "phonehome.net.wifi",
    "phonehome.pipeline",
    "phonehome.scan_pass",
)
COMPILED_PACKAGES: tuple[str, ...] = (
    "phonehome.decrypt",
    "phonehome.detect",
    "phonehome.extract",
    "phonehome.protocols",
)

_PACKAGE_DIR = Path(__file__).resolve().parent


def compiled_modules(package_dir: Path = _PACKAGE_DIR) -> tuple[str, ...]:
    """Every module of the compiled group, sorted: the single ones and each ``.py`` file
    (but ``__init__``) of the compiled packages. setup.py computes the same list."""
    names = set(COMPILED_SINGLE_MODULES)
    for package in COMPILED_PACKAGES:
        folder = package_dir.joinpath(*package.split(".")[1:])
        names.update(f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__")
    return tuple(sorted(names))


COMPILED_MODULES: tuple[str, ...] = compiled_modules()


@dataclass(frozen=True)
class Status:
    compiled: bool
    reason: str

    def describe(self) -> str:
        if self.compiled:
            return f"compiled ({len(COMPILED_MODULES)} modules, mypyc)"
        return f"interpreted ({self.reason})"


def wants_pure(environ: Mapping[str, str] = os.environ) -> bool:
    """``PHONEHOME_PURE_PYTHON`` set to anything but empty, ``0``, ``false`` or ``no``."""
    return environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no")


def source_path(module: str, package_dir: Path = _PACKAGE_DIR) -> Path:
    """The ``.py`` file of one of phonehome's modules, from its dotted name."""
    parts = module.split(".")[1:]
    return package_dir.joinpath(*parts[:-1], parts[-1] + ".py")


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _has_extension(stem: Path) -> bool:
    """A compiled module ``stem`` + one of this interpreter's extension suffixes exists."""
    return any(
        stem.with_name(stem.name + suffix).is_file()
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )


def decide(package_dir: Path = _PACKAGE_DIR, environ: Mapping[str, str] = os.environ) -> Status:
    """Whether the compiled copies in ``package_dir`` are complete and match the sources."""
    if wants_pure(environ):
        return Status(False, f"{ENV} is set")
    try:
        manifest = json.loads((package_dir / MANIFEST).read_text("utf-8"))
        built: dict[str, str] = manifest["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        return Status(False, "installed without the compiled modules")
    if sorted(built) != sorted(COMPILED_MODULES):
        return Status(False, "the compiled modules are from another version; reinstall")
    if not _has_extension(package_dir.parent / GROUP):
        return Status(False, "not compiled at install: no C compiler? (see README)")
    for module in COMPILED_MODULES:
        if not _has_extension(source_path(module, package_dir).with_suffix("")):
            return Status(False, f"{module} was not compiled")
        try:
            if source_digest(source_path(module, package_dir)) != built[module]:
                return Status(False, f"{module} changed since the build; reinstall")
        except OSError:
            return Status(False, f"{module}: source missing")
    return Status(True, "")


class SourceFinder:
    """Loads the compiled group's modules from their ``.py`` files (a meta path finder)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _NAMES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


_NAMES = frozenset(COMPILED_MODULES)
_status: Status | None = None


def activate() -> Status:
    """Decide once; when interpreted, route the group's imports to the sources."""
    global _status
    if _status is None:
        _status = decide()
        if not _status.compiled and not any(isinstance(f, SourceFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, SourceFinder())
    return _status


def status() -> Status:
    return activate()
