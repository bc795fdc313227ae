"""What a worker does with one task: read, scan or analyse, write the task's parts.

:func:`run_task` is the function Dask ships to the workers (by name: every worker needs
the same phonehome installed, which it checks). It never raises for a bad input: the
outcome is a :class:`Outcome` and an ``inputs`` row with one of three statuses:

- ``done``: scanned or analysed; its rows are in the tables;
- ``failed``: the input cannot be read as what it should be (empty, not a capture, not an
  APK, unreadable): the same bytes would fail again, so a rerun skips it;
- ``error``: phonehome itself failed on it (an exception, a worker out of memory or
  killed): recorded, and retried by every rerun.

The task reads its files twice: once to hash them (the task's name depends on their
content, so a rerun can skip it before any scanning), once to scan them. The second read
comes from the page cache; hashing costs a few percent of a scan (benchmarks/README.md).
"""

from __future__ import annotations

import hashlib
import os
import resource
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phonehome import __version__
from phonehome.corpus import parts, rows
from phonehome.corpus.inputs import Task
from phonehome.corpus.options import (
    RunOptions,
    file_digest,
    path_key,
    session_digest,
    task_key,
    task_options,
)
from phonehome.errors import PhonehomeError
from phonehome.runcontext import run_context

if TYPE_CHECKING:
    pass

DONE, FAILED, ERROR = "done", "failed", "error"


@dataclass(frozen=True)
class Outcome:
    """What the driver hears back (the rows themselves stay on the worker's disk)."""

    key: str
    path: str
    status: str
    """``done``, ``failed`` or ``error``."""
    error: str | None
    findings: int
    size: int
    duration_s: float
    earlier: bool = False
    """Not run now: an earlier run recorded it with these options (resume)."""

    @classmethod
    def recorded(cls, row: dict[str, Any], size: int) -> Outcome:
        """The outcome an earlier run recorded in an ``inputs`` row."""
        findings = int(row.get("findings") or 0)
        return cls(
            str(row["task"]),
            str(row["path"]),
            str(row["status"]),
            row.get("error"),
            findings,
            size,
            0.0,
            earlier=True,
        )


def content_digest(task: Task) -> str:
    """SHA-256 of the file, or for a session of its members' names (relative to the
    session's directory, so a moved session keeps its name) and digests."""
    if task.problem is not None:
        return ""
    if task.kind != "session":
        return file_digest(task.members[0])
    h = hashlib.sha256()
    for member in task.members:
        rel = os.path.relpath(member, task.path)
        h.update(f"{rel}\0{file_digest(member)}\n".encode())
    return h.hexdigest()


def run_task(
    task: Task,
    options: RunOptions,
    out: str,
    force: bool = False,
) -> Outcome:
    """Hash, check whether the task is done already, run it, write its parts."""
    started = time.monotonic()
    cpu = time.thread_time()
    out_dir = Path(out)
    try:
        session = session_digest(options, task.session)
        sha = content_digest(task)
    except OSError as e:
        # Unreadable now: no content to name it by, so it is named by its path.
        why = _os_error(task.path, e)
        return finish(out_dir, task, options, path_key(options, task), "", FAILED, why, started)
    key = task_key(options, task, sha, session)
    done = parts.part_path(out_dir, "inputs", key)
    if not force and task.problem is None and done.exists():
        earlier = parts.read_part(done)
        if earlier and earlier[0].get("status") in (DONE, FAILED):
            return Outcome.recorded(earlier[0], task.size)

    def end(status: str, error: str | None, extra: dict[str, Any] | None = None) -> Outcome:
        spent = {"cpu_s": round(time.thread_time() - cpu, 6), **(extra or {})}
        return finish(out_dir, task, options, key, session, status, error, started, sha, spent)

    if options.version != __version__:
        why = f"{task.path}: the worker runs phonehome {__version__}, not {options.version}"
        return end(ERROR, why)
    if task.problem is not None:
        return end(FAILED, task.problem)
    try:
        if options.kind == "apk":
            extra, table_rows = _apk(task, key)
            table = "apps"
        else:
            extra, table_rows = _scan(task, options, key, sha)
            table = "findings"
    except PhonehomeError as e:
        return end(FAILED, str(e))
    except OSError as e:
        return end(FAILED, _os_error(task.path, e))
    except MemoryError:
        return end(ERROR, f"{task.path}: out of memory")
    except Exception as e:  # a bug in phonehome: recorded, the run goes on
        frame = traceback.extract_tb(e.__traceback__)[-1]
        place = f"{Path(frame.filename).name}:{frame.lineno}"
        return end(ERROR, f"{task.path}: internal error: {type(e).__name__}: {e} ({place})")
    failed = extra.pop("_failed", None)
    if failed:
        return end(FAILED, failed, extra)
    if table_rows:
        parts.write_part(out_dir, table, key, table_rows)
    return end(DONE, None, extra)


def _os_error(path: str, e: OSError) -> str:
    return f"{e.filename or path}: {e.strerror or e}"


def finish(
    out: Path,
    task: Task,
    options: RunOptions,
    key: str,
    session: str,
    status: str,
    error: str | None,
    started: float | None = None,
    sha: str = "",
    extra: dict[str, Any] | None = None,
) -> Outcome:
    """Write the task's ``inputs`` row (its commit mark) and say how it went. A task that
    did not end ``done`` has no other rows: parts of an earlier run are removed."""
    duration = time.monotonic() - started if started is not None else 0.0
    # Without a start, the driver records a task Dask lost (engine.record_lost): its
    # process is not the worker's, so neither its name nor its memory is given.
    on_worker = started is not None
    row = {
        "task": key,
        "kind": task.kind,
        "path": task.path,
        "files": len(task.members),
        "sha256": sha or None,
        "size": task.size,
        "session": task.session.name if task.session else None,
        **(extra or {}),
        "status": status,
        "error": error,
        "duration_s": round(duration, 6),
        "worker": f"{socket.gethostname()}:{os.getpid()}" if on_worker else None,
        "worker_peak_rss_mb": (
            round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            if on_worker
            else None
        ),
        "phonehome": __version__,
        "options": task_options(options, session),
        "stat_sig": task.stat_sig,
        "finished_at": rows.epoch(time.time()),
    }
    table = "apps" if options.kind == "apk" else "findings"
    if status != DONE or (table == "findings" and not row.get("findings")):
        parts.remove_part(out, table, key)
    parts.write_part(out, "inputs", key, [row])
    found = int(row.get("findings") or 0)
    return Outcome(key, task.path, status, error, found, task.size, duration)


def _scan(
    task: Task, options: RunOptions, key: str, sha: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sequence of ``phonehome scan`` (:func:`phonehome.cli.scan.run_scan_command`)
    without the store, events or ``--apks``: captures -> scan pass -> the default
    enrichers -> the redacted view."""
    from phonehome.enrich.enrichers import EnrichOptions, default_enrichers, enrich
    from phonehome.pipeline import open_all
    from phonehome.privacy import ValueIds
    from phonehome.report.view import build_view
    from phonehome.scan_pass import run_scan

    session = task.session
    device = (session.device if session else None) or options.device
    profile = None
    if device is not None:
        from phonehome.detect.profile import load_profile

        profile, _ = load_profile(Path(device))
    ips = (session.device_ips if session else ()) or options.device_ips
    macs = (session.device_macs if session else ()) or options.device_macs
    home = (
        (session.home_country if session else None)
        or options.home_country
        or (profile.home_country if profile else None)
    )
    ctx = run_context(ips, macs)
    for keylog in options.keylogs:
        with open(keylog, "rb") as fh:
            ctx.keylogs.append(fh.read())
    caps = open_all(list(task.members))
    try:
        result = run_scan(caps, profile, ctx, None)
    finally:
        for cap in caps:
            cap.close()
    enrich(result, default_enrichers(EnrichOptions(home_country=(home or "").upper() or None)))
    doc = build_view(result, ValueIds(options.key.data), reveal=False).doc
    extra = {
        **rows.scan_counts(doc),
        **rows.coverage(result.sent),
        "first_time": rows.epoch(result.first_time),
        "last_time": rows.epoch(result.last_time),
    }
    return extra, rows.finding_rows(doc, key, sha)


def _apk(task: Task, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from phonehome.static.verdict import analyse_one

    report = analyse_one(Path(task.members[0]))
    extra: dict[str, Any] = {"format": "apk", "findings": 0}
    if not report.get("package"):
        why = "; ".join(report.get("problems", [])[:2]) or "no manifest"
        extra["_failed"] = f"{task.path}: not an APK: {why}"
        return extra, []
    row = rows.app_row(report, key)
    row["path"] = task.path
    return extra, [row]
