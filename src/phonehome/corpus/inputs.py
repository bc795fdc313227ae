"""INPUT arguments -> tasks: files, directories (recursive) and globs.

One task per capture, per APK, or per *capture set*: a directory holding a file named
:data:`SESSION_MARKER` is one device session, and every capture under it is scanned
together in one task (one flow table per file, one aggregation: a finding sent in three
files of the session is one finding with the three files' count). The marker is TOML and
may name the session's own device profile and device addresses::

    name = "Pixel 7, March 2026"
    device = "pixel7.toml"          # relative to the marker's directory
    device_ip = ["192.168.1.23"]
    device_mac = ["20:39:56:5c:7a:13"]
    home_country = "NO"

Which files of a directory are inputs is decided by their content, as everywhere in
phonehome, never by their name: a capture is a file one of the capture readers recognises
(gzip undone), an APK a zip archive with an ``AndroidManifest.xml``. Other files in a
directory (the simulator's ``.truth.json``, notes, ...) are counted and left alone. A file
named on the command line is always an input, so a damaged one is recorded as failed
instead of skipped; so is a named directory in which nothing qualifies.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tomllib
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from phonehome.errors import UsageError

SESSION_MARKER = "phonehome-session.toml"
SNIFF_BYTES = 4096
SNIFF_THREADS = 16
"""Sniffing is a few kB read per file: threads hide the latency of network storage."""

TaskKind = Literal["capture", "session", "apk", "directory"]
RunKind = Literal["scan", "apk"]


@dataclass(frozen=True)
class Session:
    """What a session marker says (paths already made absolute)."""

    marker: str
    name: str | None = None
    device: str | None = None
    device_ips: tuple[str, ...] = ()
    device_macs: tuple[str, ...] = ()
    home_country: str | None = None

    def canonical(self) -> str:
        """The marker's settings as text, for the task's options digest (the device
        profile's content is hashed separately: a changed profile redoes the session)."""
        return repr((self.name, self.device, self.device_ips, self.device_macs, self.home_country))


@dataclass(frozen=True)
class Task:
    """One unit of work: what a worker scans or analyses, and what the driver knows of it
    before it runs (sizes and modification times, for the progress bar and resume)."""

    kind: TaskKind
    path: str
    """The file, or the session's directory, as an absolute path."""
    members: tuple[str, ...]
    """The files read: one for a capture or an APK, the captures of a session."""
    size: int
    stat_sig: str
    """Digest of each member's path, size and modification time: a rerun whose recorded
    signature matches skips the task without reading the files again."""
    session: Session | None = None
    problem: str | None = None
    """Set when the input cannot be worked on at all (a directory without inputs): the
    task only records the failure."""


@dataclass
class Expansion:
    tasks: list[Task] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Files inside directories that are neither captures nor APKs (not tasks)."""
    cleared: list[str] = field(default_factory=list)
    """Named directories that now hold inputs: an earlier 'no input here' record of
    theirs is stale."""


def _stat_sig(paths: Sequence[str]) -> tuple[int, str]:
    h = hashlib.sha256()
    total = 0
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            h.update(f"{p}\0missing\n".encode())
            continue
        total += st.st_size
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return total, h.hexdigest()[:32]


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return b""
    if head[:2] == b"\x1f\x8b":
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
        except zlib.error:
            return b""
    return head


def is_capture(path: str) -> bool:
    """True when a capture reader recognises the file's first bytes (gzip undone)."""
    from phonehome.ingest import sniff_format

    head = _head(path)
    return bool(head) and sniff_format(head) is not None


def is_apk(path: str) -> bool:
    """A zip archive with an Android manifest at its root (only the central directory is
    read)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(path) as archive:
            return any(i.filename == "AndroidManifest.xml" for i in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def _has_glob(arg: str) -> bool:
    return any(c in arg for c in "*?[")


def load_session(directory: Path) -> Session:
    """Read a session marker; a bad one stops the run before any work (it is the user's
    configuration, not data)."""
    marker = directory / SESSION_MARKER
    try:
        data = tomllib.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"{marker}: not a readable session marker: {e}") from None
    known = {"name", "device", "device_ip", "device_mac", "home_country"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"{marker}: unknown key(s) {', '.join(unknown)}")

    def strings(key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{marker}: {key} must be a string or a list of strings")
        return tuple(value)

    device = data.get("device")
    if device is not None:
        if not isinstance(device, str):
            raise UsageError(f"{marker}: device must be a path")
        device_path = (directory / device).resolve()
        if not device_path.is_file():
            raise UsageError(f"{marker}: device profile {device_path} not found")
        device = str(device_path)
    name = data.get("name")
    home = data.get("home_country")
    for key, value in (("name", name), ("home_country", home)):
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{marker}: {key} must be a string")
    return Session(
        str(marker),
        name=name,
        device=device,
        device_ips=strings("device_ip"),
        device_macs=strings("device_mac"),
        home_country=home.upper() if isinstance(home, str) else None,
    )


def _walk(root: Path, skip: set[Path]) -> Iterable[Path]:
    """Every regular file under ``root``, sorted, without following symbolic links to
    directories (no cycles) and without entering ``skip``."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if (here / d).resolve() not in skip)
        for name in sorted(filenames):
            path = here / name
            if name != SESSION_MARKER and path.is_file():
                yield path


def expand(args: Sequence[str], kind: RunKind, out: Path) -> Expansion:
    """Tasks for ``args``, in the order given (directories in name order).

    A path that does not exist, or a glob that matches nothing, is a usage error: a typo
    should not turn into a quietly smaller corpus.
    """
    skip = {out.resolve()}
    exp = Expansion()
    seen: set[str] = set()
    for arg in args:
        if os.path.lexists(arg) or not _has_glob(arg):
            if not os.path.exists(arg):
                raise UsageError(f"{arg}: no such file or directory")
            targets = [arg]
        else:
            targets = sorted(glob.glob(arg, recursive=True))
            if not targets:
                raise UsageError(f"{arg}: no file matches")
        for target in targets:
            path = Path(target).resolve()
            if path.is_dir():
                _expand_dir(path, kind, skip, exp, seen, named=True)
            elif str(path) not in seen:
                seen.add(str(path))
                exp.tasks.append(_file_task(kind, str(path)))
    return exp


def _file_task(kind: RunKind, path: str) -> Task:
    size, sig = _stat_sig([path])
    return Task("apk" if kind == "apk" else "capture", path, (path,), size, sig)


def _sniff_all(paths: list[Path], kind: RunKind) -> list[bool]:
    test = is_apk if kind == "apk" else is_capture
    if len(paths) < 8:
        return [test(str(p)) for p in paths]
    with ThreadPoolExecutor(SNIFF_THREADS) as pool:
        return list(pool.map(lambda p: test(str(p)), paths))


def _expand_dir(
    root: Path, kind: RunKind, skip: set[Path], exp: Expansion, seen: set[str], named: bool
) -> None:
    if kind == "scan" and (root / SESSION_MARKER).is_file():
        session = load_session(root)
        inside = sorted(_walk(root, skip), key=lambda p: p.relative_to(root).as_posix())
        members = [str(p) for p, ok in zip(inside, _sniff_all(inside, kind), strict=True) if ok]
        exp.ignored += [str(p) for p in inside if str(p) not in set(members)]
        if not members:
            why = f"{root}: session without captures ({len(inside)} other file(s))"
            exp.tasks.append(_problem(root, why))
            return
        if str(root) in seen:
            return
        seen.add(str(root))
        size, sig = _stat_sig(members)
        exp.tasks.append(Task("session", str(root), tuple(members), size, sig, session))
        exp.cleared.append(str(root))
        return
    files: list[Path] = []
    sessions: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if sub.resolve() in skip:
                continue
            if kind == "scan" and (sub / SESSION_MARKER).is_file():
                sessions.append(sub)
            else:
                keep.append(d)
        dirnames[:] = keep
        files += [here / n for n in sorted(filenames) if (here / n).is_file()]
    found = 0
    for path, ok in zip(files, _sniff_all(files, kind), strict=True):
        if not ok:
            exp.ignored.append(str(path))
            continue
        found += 1
        if str(path) not in seen:
            seen.add(str(path))
            exp.tasks.append(_file_task(kind, str(path)))
    for sub in sorted(sessions):
        before = len(exp.tasks)
        _expand_dir(sub.resolve(), kind, skip, exp, seen, named=False)
        found += sum(1 for t in exp.tasks[before:] if t.problem is None)
    what = "capture" if kind == "scan" else "APK"
    if named and found == 0:
        why = f"{root}: no {what} in this directory ({len(files)} other file(s))"
        exp.tasks.append(_problem(root, why))
    elif named:
        exp.cleared.append(str(root))


def _problem(root: Path, why: str) -> Task:
    return Task("directory", str(root), (), 0, "", problem=why)
