"""A corpus run's options, their keyed digest, and the dataset manifest that binds an
``--out`` directory to one set of options.

Resuming is only sound when the parts already in ``--out`` were made the way this run
would make them. So the directory records, per run kind (``scan``, ``apk``), a digest of
everything that changes the rows: phonehome's version, the row schema, the device
profile's content, device addresses, home country, key logs' content, and the value-id
key. A rerun with other options is refused (a dataset mixing two profiles or two
versions answers no question correctly); a rerun with the same options skips what is
done.

The digest is an HMAC under the installation key: it is a function of the profile's
identifier values and of key logs, and a plain hash of those could be searched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phonehome import __version__
from phonehome.corpus.inputs import RunKind, Session, Task
from phonehome.errors import UsageError
from phonehome.privacy import private_files, write_private

ROWS_VERSION = 1
"""Bumped when a table's columns or their meaning change (docs/corpus.md)."""
MANIFEST = "corpus.json"
MANIFEST_SCHEMA = "phonehome.corpus/1"


class SecretKey:
    """The installation's value-id key on its way to the workers. Its repr never shows
    the bytes, so a log line, a traceback or Dask's task display cannot print it."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return "SecretKey(<hidden>)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SecretKey, (self.data,))


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class RunOptions:
    """What every task of a run is given (small: it travels with each task)."""

    kind: RunKind
    key: SecretKey
    digest: str
    """Keyed digest of the options below; see the module docstring."""
    device: str | None = None
    device_ips: tuple[str, ...] = ()
    device_macs: tuple[str, ...] = ()
    home_country: str | None = None
    keylogs: tuple[str, ...] = ()
    """Key log files (NSS format), read by the worker; never copied into any output."""
    version: str = __version__
    summary: dict[str, Any] = field(default_factory=dict, compare=False)
    """What the manifest shows of the options (no values, no key material)."""


def make_options(
    kind: RunKind,
    key: bytes,
    *,
    device: Path | None = None,
    device_ips: tuple[str, ...] = (),
    device_macs: tuple[str, ...] = (),
    home_country: str | None = None,
    keylogs: tuple[Path, ...] = (),
) -> RunOptions:
    """Check the options and compute their digest. Files are read here, once, so that a
    missing profile or key log stops the run before any work."""
    for p in (device, *keylogs):
        if p is not None and not p.is_file():
            raise UsageError(f"{p}: no such file")
    home = (home_country or "").upper() or None
    if home is not None and (len(home) != 2 or not home.isalpha()):
        raise UsageError(f"--home-country must be an ISO 3166 two-letter code, not {home!r}")
    device_name = None
    if device is not None:
        from phonehome.detect.profile import load_profile

        profile, _ = load_profile(device)  # a broken profile is a usage error now
        device_name = profile.name
    canonical = {
        "phonehome": __version__,
        "rows": ROWS_VERSION,
        "kind": kind,
        "device": file_digest(str(device)) if device is not None else None,
        "device_ips": sorted(device_ips),
        "device_macs": sorted(m.lower() for m in device_macs),
        "home_country": home,
        "keylogs": sorted(file_digest(str(k)) for k in keylogs),
    }
    digest = keyed(key, "options", json.dumps(canonical, sort_keys=True))
    summary = {
        "phonehome": __version__,
        "rows": ROWS_VERSION,
        "device": str(device.resolve()) if device is not None else None,
        "device_name": device_name,
        "device_ip": list(device_ips),
        "device_mac": list(device_macs),
        "home_country": home,
        "keylogs": len(keylogs),
    }
    return RunOptions(
        kind,
        SecretKey(key),
        digest,
        device=str(device.resolve()) if device is not None else None,
        device_ips=tuple(device_ips),
        device_macs=tuple(device_macs),
        home_country=home,
        keylogs=tuple(str(k.resolve()) for k in keylogs),
        summary=summary,
    )


def keyed(key: bytes, purpose: str, text: str) -> str:
    """HMAC-SHA256 (128 bits, hex) of ``text`` for one ``purpose`` under ``key``."""
    mac = hmac.new(key, f"phonehome.corpus.{purpose}\0{text}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def session_digest(options: RunOptions, session: Session | None) -> str:
    """The part of a task's options that comes from its session marker ("" without)."""
    if session is None:
        return ""
    device = file_digest(session.device) if session.device else ""
    return keyed(options.key.data, "session", session.canonical() + "\0" + device)


def task_options(options: RunOptions, session: str) -> str:
    """The options a task was made with, as recorded in its ``inputs`` row: the run's
    digest, combined with its session's when it has one."""
    if not session:
        return options.digest
    return keyed(options.key.data, "task-options", f"{options.digest}\0{session}")


def task_key(options: RunOptions, task: Task, content_sha256: str, session: str) -> str:
    """The name of a task's parts: the run's options, the task's own (session) options
    and the content of what it reads, never its path, so a moved corpus resumes and the
    same APK found twice is analysed once. Without content (a directory without inputs,
    a file that could not be read) the path stands in."""
    what = content_sha256 or "path:" + task.path
    return keyed(options.key.data, "task", f"{options.digest}\0{session}\0{task.kind}\0{what}")


def path_key(options: RunOptions, task: Task) -> str:
    """The part name of a task that has no content to be named by."""
    return task_key(options, task, "", "")


def bind_directory(out: Path, options: RunOptions) -> None:
    """Create ``out`` (mode 0700) with its manifest, or check that the manifest there was
    written with the same options for this run kind."""
    with private_files():
        out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    manifest: dict[str, Any] = {"schema": MANIFEST_SCHEMA, "runs": {}}
    if path.exists():
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UsageError(f"{path}: not a readable corpus manifest: {e}") from None
        if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
            raise UsageError(f"{out}: not a phonehome corpus directory ({MANIFEST} differs)")
    elif any(out.iterdir()):
        raise UsageError(f"{out}: exists and is not a phonehome corpus directory")
    runs = manifest.setdefault("runs", {})
    earlier = runs.get(options.kind)
    if isinstance(earlier, dict):
        if earlier.get("options") != options.digest:
            raise UsageError(
                f"{out} holds a corpus {options.kind} made with other options "
                f"({_differences(earlier, options.summary)}): use another --out"
            )
        return
    runs[options.kind] = {"options": options.digest, "created": _now(), **options.summary}
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    write_private(tmp, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    os.replace(tmp, path)


def _differences(earlier: dict[str, Any], now: dict[str, Any]) -> str:
    changed = [k for k, v in now.items() if earlier.get(k) != v]
    if not changed:
        return "same settings; the profile's or a key log's content, or the key, changed"
    return "; ".join(f"{k}: {earlier.get(k)!r} then, {now[k]!r} now" for k in changed)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of a corpus directory (a usage error if it is none)."""
    path = out / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{out}: not a phonehome corpus directory (no {MANIFEST})") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable corpus manifest: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
        raise UsageError(f"{out}: not a phonehome corpus directory ({MANIFEST} differs)")
    return manifest
