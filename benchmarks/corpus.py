"""Corpus runs: speed-up with workers, per-task overhead, peak memory, query times.

    python benchmarks/corpus.py generate            # 200 captures, 1-50 MB (once)
    python benchmarks/corpus.py scan --workers 1,2  # wall time, MB/s, peak RSS per worker
    python benchmarks/corpus.py overhead            # 200 tiny captures: cost per task
    python benchmarks/corpus.py query --rows 10000000 --parts 1000,20000
    python benchmarks/corpus.py all

Everything lives in benchmarks/_work/corpus/ (ignored by git) and is made once: the
captures by ``phonehome simulate bench`` (deterministic), the finding rows by this script
(random but seeded, with the shapes of real findings: a dozen identifiers, a few hundred
destinations, tens of owners and countries, thousands of apps). Each run is a child
process (``python -m phonehome corpus ...``), timed from outside; ``uptime`` is printed
before and after, since the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / "_work" / "corpus"
CAPS = WORK / "caps"
TINY = WORK / "tiny"
N_CAPTURES = 200
MIN_MB, MAX_MB = 1.0, 50.0


def sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def generate() -> None:
    """200 phone-mix captures, sizes log-uniform in 1-50 MB (most small, some large, as
    real corpora are), every tenth the cleartext stress mix."""
    from phonehome import simulate

    CAPS.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(14)
    total = 0
    started = time.monotonic()
    for i in range(N_CAPTURES):
        size = math.exp(rnd.uniform(math.log(MIN_MB), math.log(MAX_MB)))
        path = CAPS / f"cap{i:03d}.pcap"
        mix = "stress" if i % 10 == 9 else "phone"
        if not path.exists():
            simulate.run("bench", path, seed=100 + i, size_mb=round(size, 2), mix=mix)
            for side in (".truth.json", ".events.csv"):
                path.with_name(path.stem + side).unlink(missing_ok=True)
            if i:
                path.with_name(path.stem + ".device.toml").unlink(missing_ok=True)
        total += path.stat().st_size
    print(
        f"{N_CAPTURES} captures, {total / 1e9:.2f} GB in {CAPS} "
        f"({time.monotonic() - started:.0f} s)"
    )
    TINY.mkdir(parents=True, exist_ok=True)
    for i in range(N_CAPTURES):
        path = TINY / f"tiny{i:03d}.pcap"
        if not path.exists():
            simulate.run("encodings", path, seed=200 + i)
            for side in (".truth.json", ".events.csv", ".device.toml"):
                path.with_name(path.stem + side).unlink(missing_ok=True)
    tiny_mb = sum(p.stat().st_size for p in TINY.glob("*.pcap")) / 1e6
    print(f"{N_CAPTURES} tiny captures ({tiny_mb:.1f} MB) in {TINY}")


def run_corpus(inputs: list[str], out: Path, *extra: str) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    before = load()
    started = time.monotonic()
    children = _children_cpu()
    res = sh(
        sys.executable, "-m", "phonehome", "corpus", "scan", *inputs, "--out", str(out), *extra
    )
    wall = time.monotonic() - started
    children = _children_cpu() - children
    if res.returncode not in (0, 1):
        raise SystemExit(res.stderr)
    stats = summarize(out)
    return {
        "wall_s": round(wall, 2),
        "load_before": before,
        "load_after": load(),
        "summary": res.stdout.strip(),
        "processes_cpu_s": round(children, 2),
        **stats,
    }


def _children_cpu() -> float:
    """CPU seconds of the waited-for child processes: the run and, as its children, the
    LocalCluster's workers and nannies (all but the tasks' own time is overhead)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def summarize(out: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    glob = str(out / "inputs" / "*.parquet")
    n, size, task_s, cpu_s, findings = con.execute(
        "select count(*), sum(size), sum(duration_s), sum(cpu_s), sum(findings) "
        f"from read_parquet('{glob}')"
    ).fetchone()
    workers = con.execute(
        f"select worker, count(*), max(worker_peak_rss_mb), sum(duration_s), sum(cpu_s) "
        f"from read_parquet('{glob}') group by 1 order by 1"
    ).fetchall()
    return {
        "tasks": n,
        "bytes": int(size or 0),
        "task_s": round(task_s or 0, 2),
        "task_cpu_s": round(cpu_s or 0, 2),
        "findings": int(findings or 0),
        "workers": [
            {
                "worker": w,
                "tasks": t,
                "peak_rss_mb": rss,
                "busy_s": round(busy, 1),
                "cpu_s": round(cpu or 0, 1),
            }
            for w, t, rss, busy, cpu in workers
        ],
    }


def scan(workers: list[int]) -> dict[str, Any]:
    caps = sorted(str(p) for p in CAPS.glob("*.pcap"))
    profile = str(CAPS / "cap000.device.toml")
    results: dict[str, Any] = {}
    for n in workers:
        r = run_corpus(caps, WORK / f"out-w{n}", "--workers", str(n), "--device", profile)
        r["mb_per_s"] = round(r["bytes"] / 1e6 / r["wall_s"], 1)
        results[f"workers={n}"] = r
        print(json.dumps({f"workers={n}": r}, indent=1))
    if "workers=1" in results and "workers=2" in results:
        one, two = results["workers=1"], results["workers=2"]
        results["speedup_2_over_1"] = round(one["wall_s"] / two["wall_s"], 2)
        print("speed-up 2 workers over 1 (wall):", results["speedup_2_over_1"])
        # On a shared machine the wall figure measures the other users' load. The CPU
        # figure: one worker's CPU over the busier of two workers' CPU, i.e. the speed-up
        # when each worker has a core to itself (Dask's own scheduling is not in it; and
        # CPU time still rises with the load: benchmarks/README.md). The busy share says
        # how much of the run the workers spent in tasks.
        busiest = max(w["cpu_s"] for w in two["workers"])
        results["speedup_2_over_1_cpu"] = round(one["task_cpu_s"] / busiest, 2)
        print("speed-up 2 workers over 1 (task CPU):", results["speedup_2_over_1_cpu"])
    for label, r in results.items():
        if isinstance(r, dict) and r.get("workers"):
            busy = sum(w["busy_s"] for w in r["workers"])
            r["busy_share"] = round(busy / (len(r["workers"]) * r["wall_s"]), 2)
            print(label, "busy / (workers x wall):", r["busy_share"])
    return results


def overhead() -> dict[str, Any]:
    """200 tiny captures: (wall - start-up) / tasks - the task's own time = what a task
    costs beyond its scan (Dask scheduling, hashing, writing two part files)."""
    tiny = sorted(str(p) for p in TINY.glob("*.pcap"))
    results = {}
    for label, extra in (
        ("in-process", ["--workers", "0"]),
        ("1 worker", ["--workers", "1"]),
        ("2 workers", ["--workers", "2"]),
    ):
        start = run_corpus(tiny[:1], WORK / "out-start", *extra)
        full = run_corpus(tiny, WORK / "out-tiny", *extra)
        n = full["tasks"]
        per_task_wall = (full["wall_s"] - start["wall_s"]) / (n - 1)
        per_task_inside = full["task_s"] / n
        results[label] = {
            "startup_s": start["wall_s"],
            "wall_s": full["wall_s"],
            "per_task_wall_ms": round(1000 * per_task_wall, 1),
            "per_task_inside_ms": round(1000 * per_task_inside, 1),
            "per_task_cpu_ms": round(1000 * full["task_cpu_s"] / n, 1),
            "processes_cpu_s": full["processes_cpu_s"],
            "per_task_processes_cpu_ms": round(
                1000 * (full["processes_cpu_s"] - start["processes_cpu_s"]) / (n - 1), 1
            ),
            "load": full["load_after"],
        }
        print(label, results[label])
    return results


IDENTIFIERS = [
    "imei",
    "imsi",
    "iccid",
    "mac",
    "android_id",
    "ad_id",
    "email",
    "location",
    "cell_id",
    "serial",
    "msisdn",
    "meid",
]
COUNTRIES = ["US", "CN", "DE", "IE", "NL", "JP", "GB", "SG", "IN", None]
REGIONS = [
    "third country",
    "third country",
    "EU/EEA",
    "EU/EEA",
    "EU/EEA",
    "adequacy",
    "adequacy",
    "third country",
    "third country",
    None,
]


def _sql_list(values: list[Any]) -> str:
    return "[" + ", ".join("NULL" if v is None else f"'{v}'" for v in values) + "]"


def make_rows(n_rows: int, n_parts: int, out: Path) -> None:
    """A synthetic dataset with the real schemas: n_parts part files of n_rows / n_parts
    findings. Each part stands for 100 captures (``input_sha256``) of 10 devices (each
    device's identifiers one ``value_id`` each): 10 million rows from 1,000 parts are
    100,000 captures of 10,000 devices with 100 findings each, as a compacted corpus would
    hold them. Made by DuckDB (seeded), with skew where real corpora have it: identifiers
    exponential (IMEI most), destinations Pareto over 400 registrable domains, 60 owners,
    10 countries, 5,000 apps."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from phonehome.corpus import parts

    if (out / "done").exists():
        return
    shutil.rmtree(out, ignore_errors=True)
    (out / "findings").mkdir(parents=True)
    (out / "inputs").mkdir()
    (out / "corpus.json").write_text('{"schema": "phonehome.corpus/1", "runs": {}}')
    per = n_rows // n_parts
    con = duckdb.connect()
    con.execute("select setseed(0.14)").fetchall()
    started = time.monotonic()
    sql = f"""
    with r as (select i, i // {per} as p, random() as a, random() as b, random() as c,
                      random() as d, random() as e from range({n_parts * per}) t(i)),
    s as (select *, least(cast(floor(pow(1 - b, -1 / 1.2)) as bigint) - 1, 399) as dom
          from r)
    select printf('%032x', p) as task,
      printf('%064x', p * 100 + cast(floor(e * 100) as bigint)) as input_sha256,
      {_sql_list(IDENTIFIERS)}[1 + least(cast(floor(-ln(1 - a) / 0.4) as int), 11)]
        as identifier,
      'PH-KNOWN' as detector, true as profile_match, 1.0 as confidence,
      printf('h1:%032x', (p * 10 + cast(floor(c * 10) as bigint)) * 16
        + least(cast(floor(-ln(1 - a) / 0.4) as int), 11)) as value_id,
      '35•••••••••••60' as value_redacted, 'plain' as form, ['json'] as encoding,
      'http.body:$.imei' as "where",
      case when i % 3 = 0 then 'tls' else 'http' end as protocol,
      case when i % 5 = 0 then 'cleartext' else 'decrypted' end as readability,
      'api.tracker' || dom || '.example' as host, 443 as port, ['192.0.2.1'] as ips,
      'tracker' || dom || '.example' as registrable_domain,
      case when dom % 80 < 60 then 'Company ' || (dom % 80) end as owner,
      'third' as party, 64500 + dom % 50 as asn, 'AS org ' || (dom % 50) as as_org,
      {_sql_list(COUNTRIES)}[1 + cast(floor(d * 10) as int)] as country,
      {_sql_list(REGIONS)}[1 + cast(floor(d * 10) as int)] as jurisdiction,
      d < 0.2 as out_of_home_region,
      case when e < 0.9 then 'com.example.app' || cast(floor(e * 5555) as int) end as app,
      [] as app_packages, 'pcapdroid' as app_source,
      1 + cast(floor(c * 200) as int) as count, 'high' as severity,
      0 as first_input, i % {per} as first_frame
    from s order by i
    """
    table = con.sql(sql).to_arrow_table()
    columns = {}
    for field in parts.FINDINGS:
        if field.name in table.column_names:
            columns[field.name] = table.column(field.name).cast(field.type)
        else:
            columns[field.name] = pa.nulls(len(table), field.type)
    table = pa.table(columns, schema=parts.FINDINGS)
    print(f"  {len(table):,} rows made in {time.monotonic() - started:.0f} s", flush=True)
    for p in range(n_parts):
        task = f"{p:032x}"
        pq.write_table(
            table.slice(p * per, per), out / "findings" / f"{task}.parquet", compression="zstd"
        )
        inputs = {name: [None] for name in parts.INPUTS.names}
        inputs.update(
            task=[task],
            sha256=[f"{p:064x}"],
            path=[f"/corpus/{p}.pcap"],
            status=["done"],
            size=[10_000_000],
            findings=[per],
            kind=["capture"],
        )
        pq.write_table(pa.table(inputs, schema=parts.INPUTS), out / "inputs" / f"{task}.parquet")
        if p % 2000 == 1999:
            print(f"  {p + 1} parts, {time.monotonic() - started:.0f} s", flush=True)
    (out / "done").write_text("")


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TimedConnection:
    """A DuckDB connection that records each statement's wall and CPU seconds (the
    statement runs in ``execute``; fetching its small result costs nothing here)."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.log: list[tuple[str, float, float]] = []

    def execute(self, sql: str, params: Any = None) -> Any:
        cpu0, wall0 = _cpu(), time.monotonic()
        result = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        self.log.append(
            (" ".join(sql.split()), round(time.monotonic() - wall0, 2), round(_cpu() - cpu0, 2))
        )
        return result


def query(n_rows: int, layouts: list[int]) -> dict[str, Any]:
    from phonehome.corpus.query import open_dataset
    from phonehome.corpus.report import build_report

    results: dict[str, Any] = {}
    for n_parts in layouts:
        out = WORK / f"rows-{n_rows}-{n_parts}"
        make_rows(n_rows, n_parts, out)
        size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
        timings: dict[str, tuple[float, float]] = {}
        """label -> (wall s, CPU s of this process: DuckDB's threads included). On a
        shared machine the CPU time depends far less on the load than the wall time."""

        def timed(label: str, run: Any, timings: dict[str, Any] = timings) -> Any:
            cpu0, wall0 = _cpu(), time.monotonic()
            value = run()
            timings[label] = (round(time.monotonic() - wall0, 2), round(_cpu() - cpu0, 2))
            return value

        with open_dataset(out) as con:
            spent = TimedConnection(con)
            report = timed(
                "report (all sections)",
                lambda spent=spent, out=out: build_report(spent, out, top=10),
            )
            slowest = sorted(spent.log, key=lambda e: -e[2])[:6]
            timings.update({f"report: {sql[:110]}": (w, c) for sql, w, c in slowest})
            for sql in (
                "select count(*) from findings",
                "select identifier, count(distinct input_sha256) from findings group by 1",
                "select app, count(*) from findings where identifier = 'imei' and "
                "jurisdiction = 'third country' group by 1 order by 2 desc limit 10",
            ):
                timed(sql, lambda sql=sql, con=con: con.execute(sql).fetchall())
        results[f"{n_parts} parts"] = {
            "bytes": size,
            "timings_s": timings,
            "sections": len(report.sections),
            "load": load(),
        }
        print(json.dumps({f"{n_parts} parts": results[f"{n_parts} parts"]}, indent=1))
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["generate", "scan", "overhead", "query", "all"])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--parts", default="1000,20000")
    args = ap.parse_args()
    print("load average before:", load(), "cores:", os.cpu_count())
    results: dict[str, Any] = {}
    if args.what in ("generate", "all"):
        generate()
    if args.what in ("scan", "all"):
        results["scan"] = scan([int(w) for w in args.workers.split(",")])
    if args.what in ("overhead", "all"):
        results["overhead"] = overhead()
    if args.what in ("query", "all"):
        results["query"] = query(args.rows, [int(p) for p in args.parts.split(",")])
    if results:
        path = WORK / f"results-{args.what}-{int(time.time())}.json"
        path.write_text(json.dumps(results, indent=1, default=str))
        print("results:", path)


if __name__ == "__main__":
    main()
