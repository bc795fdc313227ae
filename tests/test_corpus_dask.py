"""``phonehome corpus scan`` on real Dask processes, on loopback only.

A ``dask scheduler`` and ``dask worker`` processes are started here on 127.0.0.1 with
ports the OS chooses (``--port 0``, the address read from the scheduler file), and killed
at the end. Checked: the tables of a run through ``--scheduler`` equal those of
``--workers 2`` (a LocalCluster) and the rows of sequential ``phonehome scan`` runs; a
worker killed by its pid mid-run has its tasks retried on the other and the run
completes; an interrupted run resumes with only the missing inputs; a task over the
worker's memory limit is recorded as an error while the rest of the run is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.corpus.rows import finding_rows
from tests.builders_corpus import (
    CORPUS_MODULES,
    Corpus,
    build,
    comparable,
    part_files,
    phonehome,
    rows,
    typed,
)
from tests.needs import needs

pytestmark = needs(modules=CORPUS_MODULES)

START_TIMEOUT_S = 60


def _wait(what: str, ready: Any, timeout: float = START_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Cluster:
    """A scheduler process and the worker processes started on it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.file = root / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--dashboard-address",  # its health routes: loopback, a port the OS chooses
                "127.0.0.1:0",
                "--scheduler-file",
                str(self.file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(root / "scheduler.log").open("w"),
        )
        _wait("the scheduler file", lambda: self.file.exists() and self.file.stat().st_size)
        self.address: str = json.loads(self.file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        self.workers: list[subprocess.Popen[bytes]] = []
        from distributed import Client

        self.client = Client(self.address, timeout=START_TIMEOUT_S)

    def start_workers(self, n: int, *extra: str) -> list[subprocess.Popen[bytes]]:
        started = []
        for i in range(n):
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    self.address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--dashboard-address",
                    "127.0.0.1:0",
                    "--name",
                    f"w{len(self.workers)}-{i}",
                    *extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self.root / f"worker{len(self.workers)}.log").open("w"),
            )
            self.workers.append(proc)
            started.append(proc)
        want = len(self.workers)
        _wait("the workers", lambda: len(self.info()) >= want)
        return started

    def pids(self) -> dict[str, int]:
        """Worker address -> the pid of the process that runs its tasks."""
        pids: dict[str, int] = self.client.run(os.getpid)
        return pids

    def info(self) -> dict[str, Any]:
        workers: dict[str, Any] = self.client.scheduler_info()["workers"]
        return workers

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        self.workers = []
        _wait("the workers to leave", lambda: not self.info())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build(tmp_path_factory.mktemp("corpus"), bench=3)


def scan_args(corpus: Corpus, out: Path, *extra: str) -> list[str]:
    return [
        "corpus",
        "scan",
        *corpus.args(),
        "--out",
        str(out),
        "--device",
        str(corpus.profile),
        *extra,
    ]


def test_scheduler_equals_local_cluster_and_sequential_scans(
    cluster: Cluster, corpus: Corpus, tmp_path: Path
) -> None:
    cluster.start_workers(2)
    try:
        res = phonehome(*scan_args(corpus, tmp_path / "remote", "--scheduler", cluster.address))
        assert res.returncode == 1, res.stderr  # the three bad inputs
        assert f"on the cluster at {cluster.address}" in res.stdout
        remote = rows(tmp_path / "remote", "inputs")
        pids = {str(p) for p in cluster.pids().values()}
        assert {r["worker"].rsplit(":", 1)[1] for r in remote} <= pids
    finally:
        cluster.stop_workers()
    res = phonehome(*scan_args(corpus, tmp_path / "local", "--workers", "2"))
    assert res.returncode == 1, res.stderr
    assert "on 2 local worker process(es)" in res.stdout
    for table in ("inputs", "findings"):
        assert comparable(tmp_path / "remote", table) == comparable(tmp_path / "local", table)
    # ... and to what 'phonehome scan' says of each input, one after the other
    findings = rows(tmp_path / "remote", "findings")
    assert corpus.session is not None
    cases = [([p], corpus.profile, [], p) for p in corpus.good]
    home = ["--home-country", "NO"]
    cases.append(
        (corpus.session_members, corpus.session / "morning.device.toml", home, corpus.session)
    )
    by_path = {r["path"]: r for r in remote}
    for paths, profile, extra, key in cases:
        res = CliRunner().invoke(
            main,
            [
                "scan",
                *map(str, paths),
                "--device",
                str(profile),
                "--format",
                "json",
                "--no-store",
                *extra,
            ],
        )
        row = by_path[str(key)]
        expected = typed(
            "findings", finding_rows(json.loads(res.stdout), row["task"], row["sha256"])
        )
        got = [f for f in findings if f["task"] == row["task"]]
        assert sorted(map(repr, got)) == sorted(map(repr, expected)), key
        assert row["status"] == "done"


def test_worker_killed_mid_run_the_run_completes(
    cluster: Cluster, corpus: Corpus, tmp_path: Path
) -> None:
    workers = cluster.start_workers(2, "--no-nanny")  # a killed worker stays dead
    out = tmp_path / "out"
    args = [str(p) for p in [*corpus.good, corpus.session]]
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "phonehome",
            "corpus",
            "scan",
            *args,
            "--out",
            str(out),
            "--device",
            str(corpus.profile),
            "--scheduler",
            cluster.address,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def busy() -> int | None:
            for address, keys in cluster.client.processing().items():
                if keys:
                    return cluster.pids()[address]
            return None

        victim = _wait("a task on a worker", busy)
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
        cluster.stop_workers()
    assert run.returncode == 0, stderr
    assert stdout.startswith(f"{len(args)} input(s): {len(args)} done, 0 failed")
    inputs = rows(out, "inputs")
    assert len(inputs) == len(args) and all(r["status"] == "done" for r in inputs)
    survivor = ({p.pid for p in workers} - {victim}).pop()
    assert any(r["worker"].endswith(f":{survivor}") for r in inputs)
    assert not list(out.rglob("*.tmp"))


def test_interrupted_run_resumes_with_the_missing_inputs(
    cluster: Cluster, corpus: Corpus, tmp_path: Path
) -> None:
    cluster.start_workers(1)
    out = tmp_path / "out"
    args = scan_args(corpus, out, "--scheduler", cluster.address)
    try:
        run = subprocess.Popen(
            [sys.executable, "-m", "phonehome", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait("the first inputs", lambda: len(part_files(out, "inputs")) >= 2, timeout=120)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 130 and "interrupted" in stderr
        # The task the worker was running when the client left still finishes and writes
        # its part (rightly: it is done); stop the worker before reading what the first
        # run left, or that part can land in between and count as "from an earlier run".
        cluster.stop_workers()
        first = {r["path"]: r for r in rows(out, "inputs")}
        total = len(corpus.args())
        assert 2 <= len(first) < total
        cluster.start_workers(1)
        res = phonehome(*args)
    finally:
        cluster.stop_workers()
    assert res.returncode == 1, res.stderr
    now = {r["path"]: r for r in rows(out, "inputs")}
    assert len(now) == total
    for path, row in first.items():
        if row["kind"] != "directory":
            assert now[path] == row  # not scanned again
    # one worker runs the tasks in the order given to Dask: the largest first
    assert min(now[p]["size"] for p in first) >= max(
        r["size"] for p, r in now.items() if p not in first
    )
    done_before = sum(1 for r in first.values() if r["kind"] != "directory")
    assert f"({done_before} from an earlier run, {total - done_before} run now)" in res.stdout


def test_task_over_the_memory_limit_is_an_error_the_run_goes_on(
    corpus: Corpus, tmp_path: Path
) -> None:
    """Memory grows with the number of distinct findings (every finding is reported):
    one body with 10,000 distinct valid IMEIs takes a worker ~100 MB over its idle
    ~100 MB, over a 200 MB limit; the nanny kills the worker, the task is retried once,
    then recorded. A small capture in the same run is done."""
    from tests.hostile.build import distinct_body

    hog = distinct_body(tmp_path)[0].path
    small = corpus.good[0]
    out = tmp_path / "out"
    res = phonehome(
        "corpus",
        "scan",
        str(small),
        str(hog),
        "--out",
        str(out),
        "--workers",
        "1",
        "--memory-limit",
        "200MB",
    )
    assert res.returncode == 1, res.stderr
    inputs = {r["path"]: r for r in rows(out, "inputs")}
    assert inputs[str(small)]["status"] == "done"
    assert inputs[str(hog)]["status"] == "error"
    assert "memory limit" in inputs[str(hog)]["error"]
    # recorded by the driver, not by a worker: no worker's name or memory is claimed
    assert inputs[str(hog)]["worker"] is None and inputs[str(hog)]["worker_peak_rss_mb"] is None
    assert inputs[str(small)]["worker"] and inputs[str(small)]["worker_peak_rss_mb"] > 0
    assert f"[error] {hog}: the worker died while running it" in res.stderr
