"""The driver: which tasks still need doing, and running them on Dask distributed.

Three ways to run the same tasks, with the same rows as result:

- ``--workers N`` (default: the machine's cores): a ``LocalCluster`` of N worker
  processes, one thread each (a scan is CPU-bound Python: threads would share one GIL),
  each with a memory limit (``--memory-limit``, default Dask's share of the machine);
- ``--scheduler tcp://host:port``: an existing cluster (``dask scheduler`` and ``dask
  worker`` processes, docs/corpus.md). Inputs and ``--out`` must be on storage every
  worker reaches under the same paths;
- ``--workers 0``: in this process, one task after the other, without Dask (debugging,
  and the benchmark's measure of what Dask's scheduling costs).

Faults: a task never raises for a bad input (tasks.py records it). A worker that dies
mid-task (killed, or over its memory limit: the nanny restarts it) has its task retried
on another worker by the scheduler; a task that kills
:data:`ALLOWED_FAILURES` + 1 workers is given up and recorded here as ``error``. The run
goes on either way.

Resume: before submitting, the driver reads the ``inputs`` table already in ``--out``. A
task whose recorded files (paths, sizes, modification times) and options match a
``done`` or ``failed`` row is skipped without being read; any other task goes to a worker,
which hashes its files and skips it if a part of that content and those options is
there (a moved or copied corpus). ``--force`` redoes everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from phonehome.corpus import parts
from phonehome.corpus.inputs import Task
from phonehome.corpus.options import (
    RunOptions,
    path_key,
    session_digest,
    task_key,
    task_options,
)
from phonehome.corpus.tasks import DONE, ERROR, FAILED, Outcome, run_task
from phonehome.errors import UsageError

ALLOWED_FAILURES = 1
"""Workers a task may take down before it is given up, on a local cluster: one retry, for
a worker that died of something else (Dask's default is 3, but each death costs a worker
restart, and an input that exhausts the memory limit will do it every time). An external
scheduler keeps its own setting (``distributed.scheduler.allowed-failures``)."""
LOCAL_CONFIG: dict[str, Any] = {
    "distributed.worker.memory.target": False,
    "distributed.worker.memory.spill": False,
    "distributed.worker.memory.pause": False,
    "distributed.worker.memory.terminate": 0.95,
    "distributed.worker.profile.enabled": False,
}
"""Tasks keep no data in Dask's memory (each writes its own parts), so spilling and
pausing would only stall a worker whose scan is large; the nanny still restarts a worker
that goes over 95 % of its limit. Dask's statistical profiler (a stack sample of the task
thread every 10 ms, for a dashboard a local run does not show) cost the scan ~20 % CPU
(benchmarks/README.md): off."""
CONNECT_TIMEOUT_S = 30
WORKER_WAIT_S = 60


@dataclass
class EngineOptions:
    workers: int | None = None
    """Local worker processes; None = the machine's cores; 0 = in this process."""
    scheduler: str | None = None
    memory_limit: str | None = None
    force: bool = False


@dataclass
class RunSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    """One per task: run now, or as an earlier run recorded it."""
    wall_s: float = 0.0
    workers: int = 0
    where: str = ""
    tidied: tuple[int, int] = (0, 0)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def earlier(self) -> int:
        return sum(1 for o in self.outcomes if o.earlier)

    @property
    def findings(self) -> int:
        return sum(o.findings for o in self.outcomes if o.status == DONE)


Listener = Callable[[Outcome], None]


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """One run at a time per ``--out``: a second is refused at once (not queued)."""
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fh: IO[str] = os.fdopen(fd, "r+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(f"{out}: another corpus run is writing there") from None
        yield
    finally:
        fh.close()


_RECORD_COLUMNS = ["task", "path", "stat_sig", "options", "status", "error", "findings"]


def _recorded(out: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(path, stat signature, options) -> row, of every task recorded done or failed."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in parts.read_table_rows(out, "inputs", _RECORD_COLUMNS):
        if row["status"] in (DONE, FAILED):
            seen[(row["path"], row["stat_sig"] or "", row["options"] or "")] = row
    return seen


def plan(
    tasks: list[Task], options: RunOptions, out: Path, force: bool
) -> tuple[list[Task], list[Outcome]]:
    """The tasks that need a worker (all with ``force``), and the outcomes recorded for
    the others (see the module docstring). A directory without inputs is always looked
    at again: it costs nothing and may have changed."""
    if force:
        return list(tasks), []
    recorded = _recorded(out)
    sessions: dict[str, str] = {}
    todo: list[Task] = []
    earlier: list[Outcome] = []
    for task in tasks:
        if task.problem is not None:
            todo.append(task)
            continue
        session = ""
        if task.session is not None:
            if task.path not in sessions:
                sessions[task.path] = session_digest(options, task.session)
            session = sessions[task.path]
        row = recorded.get((task.path, task.stat_sig, task_options(options, session)))
        if row is None:
            todo.append(task)
        else:
            earlier.append(Outcome.recorded(row, task.size))
    return todo, earlier


def run(
    tasks: list[Task],
    options: RunOptions,
    out: Path,
    engine: EngineOptions,
    listener: Listener | None = None,
    cleared: list[str] | None = None,
) -> RunSummary:
    """Run ``tasks`` into ``out`` (already bound to ``options``, see options.py)."""
    started = time.monotonic()
    summary = RunSummary()
    with locked(out):
        summary.tidied = parts.tidy(out)
        for directory in cleared or []:
            stale = Task("directory", directory, (), 0, "", problem="-")
            for table in ("inputs", "findings", "apps"):
                parts.remove_part(out, table, path_key(options, stale))
        todo, earlier = plan(tasks, options, out, engine.force)

        def note(outcome: Outcome) -> None:
            summary.outcomes.append(outcome)
            if listener is not None:
                listener(outcome)

        for outcome in earlier:
            note(outcome)

        if engine.scheduler is None and engine.workers == 0:
            summary.workers, summary.where = 1, "in this process"
            for task in todo:
                note(run_task(task, options, str(out), force=engine.force))
        else:
            # Largest first (the longest-processing-time rule): the run ends on small tasks
            # that fill the workers' last gaps, not on one 50 MB capture started last.
            # Dask starts tasks in the order they were submitted.
            todo.sort(key=lambda t: -t.size)
            _run_dask(todo, options, out, engine, note, summary)
    summary.wall_s = time.monotonic() - started
    return summary


def worker_version() -> str:
    """Run on each worker before any task: which phonehome it imports."""
    from phonehome import __version__

    return __version__


def _client(engine: EngineOptions) -> tuple[Any, Any, str]:
    """A Dask client (and the LocalCluster it owns, or None) for ``engine``."""
    import dask
    from distributed import Client, LocalCluster

    if engine.scheduler is not None:
        try:
            client = Client(engine.scheduler, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as e:
            raise UsageError(f"cannot reach the scheduler {engine.scheduler}: {e}") from None
        return client, None, f"on the cluster at {engine.scheduler}"
    workers = engine.workers or os.cpu_count() or 1
    import logging

    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES, **LOCAL_CONFIG})

    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # Without a dashboard the scheduler still serves its health routes, by default on
        # port 8787 of every interface: here on a port the OS chooses, on loopback.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        memory_limit=engine.memory_limit or "auto",
        # Every task Dask gives up on is reported by the run itself (one line each).
        silence_logs=logging.CRITICAL,
    )
    client = Client(cluster)  # type: ignore[no-untyped-call]
    return client, cluster, f"on {workers} local worker process(es)"


def _check_workers(client: Any, engine: EngineOptions) -> int:
    from phonehome import __version__

    if engine.scheduler is not None:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise UsageError(
                f"the scheduler {engine.scheduler} has no worker (waited {WORKER_WAIT_S} s)"
            ) from None
    try:
        versions = client.run(worker_version)
    except Exception as e:  # a worker without phonehome cannot even unpickle the call
        raise UsageError(f"a worker cannot run phonehome: {type(e).__name__}: {e}") from None
    wrong = {w: v for w, v in versions.items() if v != __version__}
    if wrong:
        listed = ", ".join(f"{w} has {v}" for w, v in sorted(wrong.items()))
        raise UsageError(f"workers must run phonehome {__version__}: {listed}")
    return len(versions)


def _run_dask(
    todo: list[Task],
    options: RunOptions,
    out: Path,
    engine: EngineOptions,
    note: Listener,
    summary: RunSummary,
) -> None:
    from distributed import as_completed

    client, cluster, where = _client(engine)
    summary.where = where
    submitted: list[Any] = []
    try:
        summary.workers = _check_workers(client, engine)
        if not todo:
            return
        tasks = {}
        for i, task in enumerate(todo):
            future = client.submit(
                run_task,
                task,
                options,
                str(out),
                force=engine.force,
                key=f"phonehome-{options.kind}-{os.getpid()}-{time.time_ns()}-{i}",
                pure=False,
            )
            submitted.append(future)
            tasks[future.key] = task
        for future in as_completed(submitted):  # type: ignore[no-untyped-call]
            task = tasks[future.key]
            if future.status == "finished":
                note(future.result())
            else:
                note(record_lost(task, options, out, future.exception()))
            future.release()
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(submitted)
        raise
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


def record_lost(task: Task, options: RunOptions, out: Path, exc: BaseException | None) -> Outcome:
    """A task Dask gave up on (every worker it ran on died) or could not run: recorded by
    the driver as ``error``, under the name the task would have had."""
    from distributed import KilledWorker

    from phonehome.corpus.tasks import content_digest, finish

    if isinstance(exc, KilledWorker):
        why = (
            f"{task.path}: the worker died while running it, on every try: over the "
            "worker's memory limit, or killed"
        )
    else:
        why = f"{task.path}: not run: {type(exc).__name__}: {exc}"
    try:
        session = session_digest(options, task.session)
        key = task_key(options, task, content_digest(task), session)
    except OSError:
        session, key = "", path_key(options, task)
    return finish(out, task, options, key, session, ERROR, why)
