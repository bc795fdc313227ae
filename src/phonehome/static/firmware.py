"""Two builds of a firmware, compared app by app: what an update added, removed or changed,
ranked by how much it could leak.

The Nokia 7 Plus leak arrived with a security update that added one system app. Diffing
the two builds' app folders, analysing each APK and ranking the differences is how a QA
team or a researcher sees that in seconds instead of days.

Inputs are extracted system images (directories with ``system/``, ``product/``,
``vendor/``, ``system_ext/`` and their ``app/``/``priv-app/``), zip archives of such trees,
a directory of partition images, or one ext4/erofs image (read with Debian's
``debugfs``/``fsck.erofs`` when installed). See docs/static.md.

Each APK is analysed once per content: results are cached by the SHA-256 of the APK and
of its oat files under ``home_dir()/cache`` (files 0600), and a process pool spreads the
work over the cores. Only a compact summary of each app travels back to the parent, so
memory stays bounded by the pool's workers, not by the number of APKs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phonehome import __version__, identifiers
from phonehome.errors import InputError, UsageError
from phonehome.privacy import home_dir, private_files, write_private

SCHEMA = "phonehome.firmware-diff/2"
CACHE_VERSION = "2"
PARTITIONS = ("system", "system_ext", "product", "vendor", "odm", "oem")
APP_DIRS = ("app", "priv-app")
CODE_SUFFIXES = (".apk", ".odex", ".vdex")
MAX_APKS = 20_000
MAX_TREE_BYTES = 8 * 1024**3
"""What may be written to the temporary directory for one firmware: app code (APK/odex/
vdex) taken out of a zip archive, or everything an ext4/erofs image extracts to. Whole
system images are 2-6 GB, so a real one stays below; a small zip that claims or inflates
to more is refused (InputError) before it can fill the disk, and an image whose
extraction passes it is stopped (``_run_capped``), rather than half extracted, which
would show every app not reached as removed."""
MAX_CHAINS = 20
MAX_ENDPOINTS = 200
IMAGE_TIMEOUT = 3600
POLL_S = 0.2

SYSTEM_UIDS = frozenset(
    {"android.uid.system", "android.uid.phone", "android.uid.nfc", "android.uid.bluetooth"}
)
"""Shared user ids that run an app inside a platform process, with its privileges."""

IDENTIFIER_NAMES = {i: identifiers.static_name(i) for i in identifiers.STATIC_ORDER}
"""Display names, in the order a verdict lists them (device and SIM ids first)."""
DEVICE_IDS = frozenset(i.id for i in identifiers.CATALOGUE if i.device_bound)
"""Identifiers of the device or SIM themselves: they follow the user across resets."""

STATUSES = ("added", "changed", "removed")
RISKY = 5
"""Score from which an app that reads an identifier and has a way to send it (a code path
to the network, an endpoint or INTERNET), or whose signer changed, is flagged ``!`` and
the command exits 1. A system app with a boot trigger and an http URL but no identifier
read ranks high, yet is not flagged; nor is one that reads the IMEI only to log it."""

_EXT4_MAGIC_AT, _EXT4_MAGIC = 1080, b"\x53\xef"
_EROFS_MAGIC_AT, _EROFS_MAGIC = 1024, struct.pack("<I", 0xE0F5E1E2)
_SPARSE_MAGIC = struct.pack("<I", 0xED26FF3A)
_PAYLOAD_MAGIC = b"CrAU"
_ZIP_MAGIC = b"PK\x03\x04"
_APP_PATH = re.compile(r"(?:^|/)(?:app|priv-app)/", re.I)


# --- finding the apps of a tree -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoundApk:
    path: Path
    rel: str
    """Path inside the tree, ``system/priv-app/AutoReg/AutoReg.apk``."""
    partition: str
    privileged: bool
    """Under ``priv-app/``: granted signature|privileged permissions."""


def find_apks(root: Path) -> list[FoundApk]:
    """The APKs in the app folders of every partition under ``root``.

    Understands the layouts real extractions produce: ``<root>/system/app``,
    system-as-root (``<root>/system/system/app``), older nested partitions
    (``<root>/system/product/app``) and a partition image's own root (``<root>/app``).
    Symbolic links are never followed: an image's links point into the analyst's machine.
    """
    bases: list[tuple[str, Path]] = []
    for part in PARTITIONS:
        bases.append((part, root / part))
        bases.append((part, root / "system" / part))
    bases.append(("system", root))
    found: dict[str, FoundApk] = {}
    seen_dirs: set[Path] = set()
    for part, base in bases:
        for kind in APP_DIRS:
            apps = base / kind
            if apps.is_symlink() or not apps.is_dir():
                continue
            key = apps.resolve()
            if key in seen_dirs:
                continue
            seen_dirs.add(key)
            for apk in _apks_below(apps):
                rel = apk.relative_to(root).as_posix()
                found.setdefault(rel, FoundApk(apk, rel, part, kind == "priv-app"))
                if len(found) >= MAX_APKS:
                    return sorted(found.values(), key=lambda f: f.rel)
    return sorted(found.values(), key=lambda f: f.rel)


def _apks_below(apps: Path) -> Iterator[Path]:
    """``app/<Name>/<Name>.apk`` (and split APKs beside it), or ``app/<Name>.apk``."""
    for entry in sorted(apps.iterdir()):
        if entry.is_symlink():
            continue
        if entry.is_file() and entry.suffix.lower() == ".apk":
            yield entry
        elif entry.is_dir():
            for inner in sorted(entry.iterdir()):
                if not inner.is_symlink() and inner.is_file() and inner.suffix.lower() == ".apk":
                    yield inner


# --- opening an input as a tree -------------------------------------------------------


@contextlib.contextmanager
def open_firmware(path: Path) -> Iterator[tuple[Path, list[str]]]:
    """``path`` as a directory tree, and the problems met making it one.

    Zip archives and filesystem images are extracted to a private temporary directory
    that is removed afterwards. Raises InputError for what cannot be read at all.
    """
    if not path.exists():
        raise InputError(str(path), "no such file or directory")
    if path.is_dir():
        images = _partition_images(path)
        if images and not find_apks(path):
            with _temp_dir() as tmp:
                problems: list[str] = []
                for part, image in images:
                    _extract_image(image, tmp / part)
                yield tmp, problems
            return
        yield path, []
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(_EXT4_MAGIC_AT + 2)
    except OSError as exc:
        raise InputError(str(path), exc.strerror or str(exc)) from exc
    # Content decides, and only the start of it: a filesystem image whose last file is an
    # APK ends in a zip directory too.
    if head.startswith(_ZIP_MAGIC):
        with _temp_dir() as tmp:
            yield tmp, _extract_zip(path, tmp)
        return
    kind = _image_kind(head)
    if kind is None:
        raise InputError(
            str(path),
            "not a firmware tree: expected a directory, a zip archive, or an ext4/erofs "
            "image (see docs/static.md)",
        )
    with _temp_dir() as tmp:
        part = path.stem if path.stem in PARTITIONS else "system"
        _extract_image(path, tmp / part, kind)
        yield tmp, []


@contextlib.contextmanager
def _temp_dir() -> Iterator[Path]:
    with private_files():
        tmp = Path(tempfile.mkdtemp(prefix="phonehome-fw-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _image_kind(head: bytes) -> str | None:
    if head[:4] == _SPARSE_MAGIC:
        return "sparse"
    if head[:4] == _PAYLOAD_MAGIC:
        return "payload"
    if head[_EROFS_MAGIC_AT : _EROFS_MAGIC_AT + 4] == _EROFS_MAGIC:
        return "erofs"
    if head[_EXT4_MAGIC_AT : _EXT4_MAGIC_AT + 2] == _EXT4_MAGIC:
        return "ext4"
    return None


def _partition_images(path: Path) -> list[tuple[str, Path]]:
    return [(p, path / f"{p}.img") for p in PARTITIONS if (path / f"{p}.img").is_file()]


def _extract_image(image: Path, dest: Path, kind: str | None = None) -> None:
    if kind is None:
        with image.open("rb") as fh:
            kind = _image_kind(fh.read(_EXT4_MAGIC_AT + 2))
    if kind == "sparse":
        raise InputError(
            str(image),
            "Android sparse image: convert it first with simg2img "
            "(Debian android-sdk-libsparse-utils), see docs/static.md",
        )
    if kind == "payload":
        raise InputError(
            str(image),
            "OTA payload.bin: extract the partition images first, see docs/static.md",
        )
    if kind == "ext4":
        tool = "debugfs"
        cmd = [tool, "-R", f"rdump / {dest}", str(image)]
        dest.mkdir(parents=True, exist_ok=True)
        package = "e2fsprogs"
    elif kind == "erofs":
        tool = "fsck.erofs"
        cmd = [tool, f"--extract={dest}", str(image)]
        package = "erofs-utils"
    else:
        raise InputError(str(image), "not an ext4 or erofs image")
    if shutil.which(tool) is None:
        raise InputError(
            str(image),
            f"{kind} image: install {tool} (Debian {package}) to read it, "
            "or extract it yourself (docs/static.md)",
        )
    _run_capped(cmd, dest, image, tool)


# debugfs exits 0 even when it could not open the image (it reports the error and then
# runs the request on nothing): these lines on its stderr mean it failed.
_TOOL_FAILED = ("while trying to open", "Filesystem not open")


def _run_capped(cmd: list[str], dest: Path, image: Path, tool: str) -> None:
    """Run an image extraction tool, stopping it once it has written ``MAX_TREE_BYTES``.

    A file system image can hold (or claim, with sparse or compressed files) far more
    than its own size, and the tools extract everything: without a watch, a hostile
    image fills the disk. The tree is measured every ``POLL_S`` while the tool runs and
    once after it exits; stderr goes to a file, so a chatty tool never blocks on a pipe.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        deadline = time.monotonic() + IMAGE_TIMEOUT
        try:
            while True:
                try:
                    returncode = proc.wait(timeout=POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if _tree_bytes(dest) > MAX_TREE_BYTES:
                    raise InputError(str(image), _image_too_big(tool))
                if time.monotonic() > deadline:
                    raise InputError(str(image), f"{tool} took over {IMAGE_TIMEOUT} s")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if _tree_bytes(dest) > MAX_TREE_BYTES:
            raise InputError(str(image), _image_too_big(tool))
        err.seek(0)
        lines = err.read()[-16384:].decode("utf-8", "replace").strip().splitlines()
        failed = [line for line in lines if any(m in line for m in _TOOL_FAILED)]
        if returncode != 0 or not dest.is_dir() or failed:
            last = (failed or lines or ["failed"])[0 if failed else -1]
            raise InputError(str(image), f"{tool}: {last.removeprefix(tool + ': ')}")


def _tree_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root`` (apparent sizes: sparse files count in
    full, as they would when read), stopping early once over the limit."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:  # removed or unreadable while the tool runs
                        continue
                    if total > MAX_TREE_BYTES:
                        return total
        except OSError:
            continue
    return total


def _image_too_big(tool: str) -> str:
    return (
        f"{tool} wrote more than the {MAX_TREE_BYTES}-byte limit; stopped (extract the "
        "app folders yourself and pass the directory, see docs/static.md)"
    )


def _extract_zip(path: Path, dest: Path) -> list[str]:
    """Take the app folders' APK/odex/vdex files out of a zip, within bounds."""
    from phonehome.static.zipsafe import open_zip

    opened = open_zip(path)
    if isinstance(opened, str):
        raise InputError(str(path), opened)
    problems: list[str] = []
    with opened as archive:
        names = [
            name
            for name in archive.names()
            if not name.endswith("/")
            and name.lower().endswith(CODE_SUFFIXES)
            and _APP_PATH.search(name)
        ]
        total = sum(archive.entries[name].size for name in names)  # as declared
        if total > MAX_TREE_BYTES:
            raise InputError(str(path), _too_big(total))
        total = 0
        for name in names:
            data = archive.read(name)
            if data is None:
                continue
            total += len(data)  # as inflated: declared sizes can lie
            if total > MAX_TREE_BYTES:
                raise InputError(str(path), _too_big(total))
            try:
                _write_entry(dest / name, data)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise InputError(str(path), f"extracting to {dest}: {exc.strerror}") from exc
                # e.g. both "A/A.apk" and "A/A.apk/B.apk": one of them cannot be a file.
                problems.append(f"{name[:200]}: not extracted ({exc.strerror or exc})")
        return [*archive.problems, *problems]


def _write_entry(target: Path, data: bytes) -> None:
    with private_files():
        target.parent.mkdir(parents=True, exist_ok=True)
    write_private(target, data)


def _too_big(total: int) -> str:
    return (
        f"over {total} bytes of app files, more than the {MAX_TREE_BYTES}-byte limit "
        "for a zip archive (extract it yourself and pass the directory, see docs/static.md)"
    )


# --- analysing every app --------------------------------------------------------------


Progress = Callable[[int, int], None]
"""Called with (done, total) after each APK."""


def analyze_tree(
    root: Path,
    *,
    jobs: int | None = None,
    cache: bool = True,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Summaries of every app in ``root`` and the per-file errors (path, error)."""
    found = find_apks(root)
    tasks = [(str(f.path), f.rel, f.partition, f.privileged, cache) for f in found]
    apps: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise UsageError("--jobs must be at least 1")

    def collect(result: dict[str, Any]) -> None:
        if "error" in result:
            errors.append({"path": result["path"], "error": result["error"]})
        else:
            apps.append(result)
        if progress is not None:
            progress(len(apps) + len(errors), len(tasks))

    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            collect(summarize_apk(*task))
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            futures = [pool.submit(summarize_apk, *task) for task in tasks]
            for future in as_completed(futures):
                collect(future.result())
    apps.sort(key=lambda a: a["path"])
    errors.sort(key=lambda e: e["path"])
    return apps, errors


def summarize_apk(
    path: str, rel: str, partition: str, privileged: bool, cache: bool = True
) -> dict[str, Any]:
    """One app's summary (see :func:`summary`), from the cache when its bytes were seen.

    Runs in a worker process: never raises, a failure is ``{"path", "error"}``.
    """
    apk = Path(path)
    try:
        key = _cache_key(apk)
        record = _cache_load(key) if cache else None
        if record is None:
            record = _analyse(apk)
            if cache:
                _cache_store(key, record)
    except InputError as exc:
        return {"path": rel, "error": exc.reason}
    except OSError as exc:
        return {"path": rel, "error": exc.strerror or str(exc)}
    except Exception as exc:  # one app's analyser bug must not end a batch of thousands
        return {"path": rel, "error": f"analysis failed: {type(exc).__name__}: {exc}"}
    if not record.get("package"):
        why = "; ".join(record.get("problems", [])[:2]) or "no package name"
        return {"path": rel, "error": f"not an APK: {why}"}
    record.update(path=rel, partition=partition, privileged=privileged)
    return record


def _analyse(apk: Path) -> dict[str, Any]:
    from phonehome.static.apk import analyze_apk
    from phonehome.static.verify import signing_report

    report = analyze_apk(apk).to_dict()
    return summary(report, signing_report(apk, report.get("min_sdk"), report.get("target_sdk")))


def summary(report: dict[str, Any], signing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields a diff, a verdict and a link to traffic need, from an analysis dict."""
    signing = signing or {}
    return {
        "package": report.get("package") or "",
        "version_code": report.get("version_code"),
        "version_name": report.get("version_name"),
        "shared_user_id": report.get("shared_user_id"),
        "sha256": report.get("sha256", ""),
        "signer": list(signing.get("signer", [])),
        "signer_subjects": list(signing.get("subjects", [])),
        "signature_verified": signing.get("verified"),
        "signer_lineage": _lineage(signing),
        "signature_problem": (signing.get("verification") or {}).get("reason"),
        "permissions": sorted(report.get("permissions", [])),
        "triggers": sorted(report.get("triggers", [])),
        "reads_identifiers": sorted(report.get("reads_identifiers", [])),
        "endpoints": list(report.get("endpoints", []))[:MAX_ENDPOINTS],
        "chains": list(report.get("chains", []))[:MAX_CHAINS],
        "dataflow": report.get("dataflow"),
        "trackers": sorted({t.get("name", "") for t in report.get("trackers", [])}),
        "code": report.get("code", ""),
        "problems": list(report.get("problems", []))[:20] + list(signing.get("problems", []))[:5],
    }


def _lineage(signing: dict[str, Any]) -> list[str]:
    """Fingerprints of the v3.1/v3 proof-of-rotation lineage, oldest first ([] if none)."""
    schemes = (signing.get("verification") or {}).get("schemes") or {}
    for scheme in ("v3.1", "v3"):
        lineage = (schemes.get(scheme) or {}).get("lineage")
        if lineage:
            return list(lineage)
    return []


def _cache_dir() -> Path:
    return home_dir() / "cache" / "apk"


def _cache_key(apk: Path) -> str:
    """SHA-256 over the APK, its oat files and the analyser's version: a rebuilt analyser
    or a changed vdex beside an unchanged APK must not reuse an old result."""
    from phonehome.static.apk import SCHEMA as APK_SCHEMA
    from phonehome.static.oat import find_oat_files

    key = hashlib.sha256(f"{CACHE_VERSION}\0{APK_SCHEMA}\0{__version__}\0".encode())
    key.update(_file_sha256(apk).encode())
    for oat in find_oat_files(apk):
        key.update(f"\0{oat.name}\0{_file_sha256(oat)}".encode())
    return key.hexdigest()


def _file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _cache_load(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads((_cache_dir() / f"{key}.json").read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "package" in data else None


def _cache_store(key: str, record: dict[str, Any]) -> None:
    folder = _cache_dir()
    try:
        with private_files():
            folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{key}.{os.getpid()}.tmp"
        write_private(tmp, json.dumps(record, sort_keys=True).encode())
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a cache that cannot be written only costs time


# --- risk and verdicts ----------------------------------------------------------------


def flow_chains(app: dict[str, Any], kind: str = "network") -> list[dict[str, Any]]:
    """The chains along which an identifier's value reaches a sink of ``kind`` (data
    flow). Reachability chains (and chains stored before phonehome.apk/2, which were all
    reachability) are context: they never count as sending."""
    return [
        c
        for c in app.get("chains", [])
        if isinstance(c, dict)
        and c.get("evidence") == "data-flow"
        and c.get("sink_kind", "network") == kind
    ]


def sent_identifiers(app: dict[str, Any]) -> list[str]:
    """Identifiers whose value flows to the network, in verdict order."""
    return _order({str(c.get("identifier")) for c in flow_chains(app)})


def _order(ids: set[str]) -> list[str]:
    order = list(IDENTIFIER_NAMES)
    return sorted(ids, key=lambda i: (order.index(i) if i in order else len(order), i))


def is_system_app(app: dict[str, Any]) -> bool:
    return bool(app.get("privileged")) or app.get("shared_user_id") in SYSTEM_UIDS


def cleartext_endpoints(app: dict[str, Any]) -> list[str]:
    return sorted({_origin(e) for e in app.get("endpoints", []) if e.get("cleartext")})


def _origin(endpoint: dict[str, Any]) -> str:
    scheme = endpoint.get("scheme")
    return f"{scheme}://{endpoint.get('host', '')}" if scheme else str(endpoint.get("host"))


def risk(app: dict[str, Any], *, signer_changed: bool = False) -> dict[str, Any]:
    """An explainable score: every point comes with the reason that earned it.

    For a changed app, pass only what the update added (see :func:`diff_trees`).
    """
    reasons: list[tuple[int, str]] = []
    if is_system_app(app):
        reasons.append((3, "system app"))
    ids = app.get("reads_identifiers", [])
    device = [i for i in ids if i in DEVICE_IDS]
    other = [i for i in ids if i not in DEVICE_IDS]
    if device:
        reasons.append((min(2 * len(device), 6), "reads " + _names(device)))
    if other:
        reasons.append((min(len(other), 3), "reads " + _names(other)))
    if flow_chains(app):
        reasons.append((4, "identifier flows to the network in code (data flow)"))
    if app.get("triggers"):
        reasons.append((2, "runs on " + ", ".join(app["triggers"])))
    if cleartext_endpoints(app):
        reasons.append((2, "cleartext endpoint"))
    if app.get("code") == "not analysable":
        reasons.append((1, "code not analysable"))
    if signer_changed:
        reasons.append((3 if is_system_app(app) else 2, "signer changed"))
    if app.get("signature_verified") is False:
        reasons.append((3 if is_system_app(app) else 2, "signature does not verify"))
    score = sum(p for p, _ in reasons)
    return {
        "score": score,
        "risky": score >= RISKY
        and (
            signer_changed or app.get("signature_verified") is False or bool(ids and _can_send(app))
        ),
        "reasons": [{"points": p, "reason": r} for p, r in reasons],
    }


def _can_send(app: dict[str, Any]) -> bool:
    """A code path to the network, or at least a way out: an endpoint or INTERNET."""
    return bool(
        flow_chains(app)
        or app.get("endpoints")
        or "android.permission.INTERNET" in app.get("permissions", [])
    )


def _names(ids: list[str]) -> str:
    order = list(IDENTIFIER_NAMES)
    known = sorted(ids, key=lambda i: order.index(i) if i in order else len(order))
    return ", ".join(IDENTIFIER_NAMES.get(i, i) for i in known)


def describe(app: dict[str, Any]) -> str:
    """``system app; reads IMEI, ICCID; runs on USER_PRESENT; posts to http://host``."""
    kind = "preinstalled app" if app.get("partition") else "app"
    parts = ["system app" if is_system_app(app) else kind]
    if app.get("reads_identifiers"):
        parts.append("reads " + _names(app["reads_identifiers"]))
    if app.get("triggers"):
        parts.append("runs on " + ", ".join(app["triggers"]))
    endpoints = cleartext_endpoints(app) or sorted({_origin(e) for e in app.get("endpoints", [])})
    sent = sent_identifiers(app)
    if endpoints:
        verb = f"posts {_names(sent)} to" if sent else "names"
        more = f" (+{len(endpoints) - 3})" if len(endpoints) > 3 else ""
        parts.append(f"{verb} {', '.join(endpoints[:3])}{more}")
    elif sent:
        parts.append(f"sends {_names(sent)} to the network")
    if app.get("code") == "not analysable":
        parts.append("code not analysable")
    if app.get("signature_verified") is False:
        parts.append("signature does not verify")
    return "; ".join(parts)


# --- the diff -------------------------------------------------------------------------

_SET_FIELDS = ("permissions", "triggers", "reads_identifiers")


def diff_trees(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Added, removed and changed apps (paired by package name), riskiest first."""
    old_by, old_dupes = _by_package(old)
    new_by, new_dupes = _by_package(new)
    entries: list[dict[str, Any]] = []
    unchanged = 0
    for package in sorted(set(old_by) | set(new_by)):
        a, b = old_by.get(package), new_by.get(package)
        if a is None and b is not None:
            entries.append(_entry("added", package, None, b, {}, risk(b)))
        elif b is None and a is not None:
            nothing = {"score": 0, "risky": False, "reasons": []}
            entries.append(_entry("removed", package, a, None, {}, nothing))
        elif a is not None and b is not None:
            changes = _changes(a, b)
            if not changes:
                unchanged += 1
                continue
            entries.append(_entry("changed", package, a, b, changes, _change_risk(b, changes)))
    order = {status: i for i, status in enumerate(STATUSES)}
    entries.sort(key=lambda e: (-e["risk"]["score"], order[e["status"]], e["package"]))
    return {
        "changes": entries,
        "unchanged": unchanged,
        "duplicates": old_dupes + new_dupes,
    }


def _by_package(apps: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    out: dict[str, dict[str, Any]] = {}
    dupes: list[str] = []
    for app in apps:
        package = app.get("package") or f"(unnamed) {app.get('path')}"
        if package in out:
            dupes.append(f"{package}: {app.get('path')} beside {out[package].get('path')}")
            continue
        out[package] = app
    return out, dupes


def _changes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    va = (a.get("version_name"), a.get("version_code"))
    vb = (b.get("version_name"), b.get("version_code"))
    if va != vb:
        changes["version"] = {"old": version_text(a), "new": version_text(b)}
    if a.get("signer") and b.get("signer") and a["signer"] != b["signer"]:
        changes["signer"] = {
            "old": a["signer"],
            "new": b["signer"],
            "old_subjects": a.get("signer_subjects", []),
            "new_subjects": b.get("signer_subjects", []),
            "old_verified": a.get("signature_verified"),
            "new_verified": b.get("signature_verified"),
            # the old key signed the hand-over to the new one (APK Signature Scheme v3)
            "rotated": bool(
                b.get("signature_verified")
                and set(a["signer"]) <= set(b.get("signer_lineage") or [])
            ),
        }
    if b.get("signature_verified") is False and a.get("signature_verified") is not False:
        changes["signature"] = {
            "old": "verifies" if a.get("signature_verified") else "not checked",
            "new": "does not verify",
            "reason": b.get("signature_problem"),
        }
    for name in _SET_FIELDS:
        added, removed = _set_diff(a.get(name, []), b.get(name, []))
        if added or removed:
            changes[name] = {"added": added, "removed": removed}
    added, removed = _set_diff(
        [e.get("value") for e in a.get("endpoints", [])],
        [e.get("value") for e in b.get("endpoints", [])],
    )
    if added or removed:
        changes["endpoints"] = {"added": added, "removed": removed}
    if a.get("code") != b.get("code"):
        changes["code"] = {"old": a.get("code"), "new": b.get("code")}
    if a.get("path") != b.get("path"):
        changes["path"] = {"old": a.get("path"), "new": b.get("path")}
    return changes


def _set_diff(old: list[Any], new: list[Any]) -> tuple[list[Any], list[Any]]:
    so, sn = set(old), set(new)
    return sorted(sn - so), sorted(so - sn)


def _change_risk(b: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Score what the update brought: new identifier reads, triggers and endpoints, and
    a new signer; what the app already did is in the old build's baseline."""
    added = dict(b)
    for name in _SET_FIELDS:
        added[name] = changes.get(name, {}).get("added", [])
    new_values = set(changes.get("endpoints", {}).get("added", []))
    added["endpoints"] = [e for e in b.get("endpoints", []) if e.get("value") in new_values]
    new_ids = set(added["reads_identifiers"])
    added["chains"] = [c for c in flow_chains(b) if c.get("identifier") in new_ids]
    if "code" not in changes:
        added["code"] = ""
    if "signature" not in changes:
        added["signature_verified"] = None  # it did not verify before either: not new
    if not (
        new_ids
        or added["triggers"]
        or added["endpoints"]
        or "signer" in changes
        or "signature" in changes
    ):
        return {"score": 0, "risky": False, "reasons": []}  # version, permissions, code
    changed = "signer" in changes and not changes["signer"].get("rotated")
    return risk(added, signer_changed=changed)


def version_text(app: dict[str, Any]) -> str:
    name, code = app.get("version_name"), app.get("version_code")
    if name and code is not None:
        return f"{name} ({code})"
    return str(name or code or "?")


def _entry(
    status: str,
    package: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    changes: dict[str, Any],
    scored: dict[str, Any],
) -> dict[str, Any]:
    app = new if new is not None else old
    assert app is not None
    entry = {
        "status": status,
        "package": package,
        "risky": bool(scored["risky"]),
        "risk": scored,
        "verdict": _verdict(status, package, old, new, changes),
        "changes": changes,
        "old": old,
        "new": new,
    }
    return entry


def _verdict(
    status: str,
    package: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    changes: dict[str, Any],
) -> str:
    if status == "added" and new is not None:
        return f"added in NEW: {package} — {describe(new)}"
    if status == "removed" and old is not None:
        return f"removed in NEW: {package} — was {describe(old)}"
    parts: list[str] = []
    if "signer" in changes:
        c = changes["signer"]
        what = (
            "signer rotated, proof of rotation verified" if c.get("rotated") else "signer changed"
        )
        parts.append(f"{what} ({_short(c['old'])} → {_short(c['new'])})")
    if "signature" in changes:
        why = changes["signature"].get("reason")
        parts.append("signature does not verify" + (f" ({why})" if why else ""))
    if "version" in changes:
        parts.append(f"version {changes['version']['old']} → {changes['version']['new']}")
    labels = {
        "reads_identifiers": ("now reads", "no longer reads"),
        "triggers": ("now runs on", "no longer runs on"),
        "permissions": ("new permissions", "dropped permissions"),
        "endpoints": ("new endpoints", "dropped endpoints"),
    }
    for name, (plus, minus) in labels.items():
        if name not in changes:
            continue
        added, removed = changes[name]["added"], changes[name]["removed"]
        show = _names if name == "reads_identifiers" else _short_list
        if added:
            parts.append(f"{plus} {show(added)}")
        if removed:
            parts.append(f"{minus} {show(removed)}")
    if "code" in changes:
        parts.append(f"code {changes['code']['old']} → {changes['code']['new']}")
    return f"changed in NEW: {package} — " + "; ".join(parts or ["moved"])


def _short(prints: list[str]) -> str:
    return ",".join(p[:12] + "…" for p in prints) or "unsigned"


def _short_list(items: list[str]) -> str:
    names = [i.rsplit(".", 1)[-1] if i.startswith("android.permission.") else i for i in items]
    more = f" (+{len(names) - 4})" if len(names) > 4 else ""
    return ", ".join(names[:4]) + more


# --- the whole job --------------------------------------------------------------------


def firmware_diff(
    old: Path,
    new: Path,
    *,
    jobs: int | None = None,
    cache: bool = True,
    progress: Callable[[str], Progress] | None = None,
) -> dict[str, Any]:
    """Compare two builds; the document ``phonehome firmware-diff --format json`` writes.

    ``progress(label)`` returns the per-tree progress callback (the CLI draws bars).
    """
    sides: dict[str, dict[str, Any]] = {}
    apps: dict[str, list[dict[str, Any]]] = {}
    for label, path in (("old", old), ("new", new)):
        with open_firmware(path) as (root, problems):
            found, errors = analyze_tree(
                root, jobs=jobs, cache=cache, progress=progress(label) if progress else None
            )
        if not found and not errors:
            problems.append("no app/ or priv-app/ folder with APKs found")
        apps[label] = found
        sides[label] = {
            "path": str(path),
            "apps": len(found),
            "errors": errors,
            "problems": problems,
        }
    result = diff_trees(apps["old"], apps["new"])
    return {
        "schema": SCHEMA,
        "tool": {"name": "phonehome", "version": __version__},
        "old": sides["old"],
        "new": sides["new"],
        **result,
    }
