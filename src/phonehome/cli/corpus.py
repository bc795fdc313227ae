"""``phonehome corpus scan|apk|query|report``: the command group (the engine is the
library package :mod:`phonehome.corpus`; this module only parses options and prints).

Exit codes: 0 = every input done (or done before); 1 = the run completed but some inputs
failed (each recorded in ``inputs`` with its error); 2 = usage error, or the optional
packages are missing (one line says how to install them).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from phonehome.cli.options import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    device_options,
    file_option,
    format_option,
    make_context,
    output_option,
)
from phonehome.cli.output import use_color, write_report
from phonehome.corpus import require

MAX_LISTED = 20


@click.group("corpus")
def corpus() -> None:
    """Many captures or APKs on a Dask cluster; results in Parquet, questions in SQL.

    'corpus scan' and 'corpus apk' write a Parquet dataset (tables inputs, findings,
    apps) into --out, one part per input, resumable; 'corpus query' answers SQL over it
    with DuckDB; 'corpus report' writes the regulator's summary. See docs/corpus.md.
    """


def _engine_options(f: Any) -> Any:
    f = click.option(
        "--force", is_flag=True, help="Redo inputs already done in --out (default: skip them)."
    )(f)
    f = click.option(
        "--memory-limit",
        metavar="SIZE",
        help="Memory per local worker, e.g. 4GB (default: the machine's memory shared "
        "equally). A task over it is recorded as an error, the run goes on.",
    )(f)
    f = click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on an existing Dask cluster (tcp://host:8786) instead of local workers. "
        "Inputs and --out must be at the same paths on every worker.",
    )(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=0),
        help="Local worker processes (default: the number of cores; 0: in this process, "
        "without Dask).",
    )(f)
    f = click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The dataset directory (created; a rerun resumes in it).",
    )(f)
    return f


@corpus.command("scan")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@_engine_options
@file_option(
    "--device",
    "device_file",
    help="Device profile (TOML) for every capture; a session marker's own profile wins.",
)
@file_option(
    "--keylog",
    "keylogs",
    multiple=True,
    help="TLS key log file (NSS format), repeatable; read by the workers, kept with the "
    "key logs of pcapng Decryption Secrets Blocks, never written out.",
)
@click.option(
    "--home-country",
    metavar="CC",
    help="ISO country code of the users' home: flags transfers out of the home region.",
)
@device_options
def corpus_scan(
    inputs: tuple[str, ...],
    out: Path,
    workers: int | None,
    scheduler: str | None,
    memory_limit: str | None,
    force: bool,
    device_file: Path | None,
    keylogs: tuple[Path, ...],
    home_country: str | None,
    device_ips: tuple[str, ...],
    device_macs: tuple[str, ...],
) -> None:
    """Scan captures (files, directories, globs): one task per capture, or per
    directory marked as one device session (a phonehome-session.toml in it).

    Rows go to OUT/inputs, OUT/findings (Parquet). Exit 0 when every input is done, 1
    when some failed (recorded with their error), 2 for usage errors.
    """
    require()
    from phonehome.corpus.options import make_options
    from phonehome.privacy import installation_key

    make_context(device_ips, device_macs)  # checks the addresses before any work
    options = make_options(
        "scan",
        installation_key(),
        device=device_file,
        device_ips=device_ips,
        device_macs=device_macs,
        home_country=home_country,
        keylogs=keylogs,
    )
    _run(inputs, out, options, workers, scheduler, memory_limit, force)


@corpus.command("apk")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@_engine_options
def corpus_apk(
    inputs: tuple[str, ...],
    out: Path,
    workers: int | None,
    scheduler: str | None,
    memory_limit: str | None,
    force: bool,
) -> None:
    """Analyse APKs (files, directories, globs): one task per APK.

    Rows go to OUT/inputs and OUT/apps (Parquet). Exit codes as for 'corpus scan'.
    """
    require()
    from phonehome.corpus.options import make_options
    from phonehome.privacy import installation_key

    options = make_options("apk", installation_key())
    _run(inputs, out, options, workers, scheduler, memory_limit, force)


def _run(
    inputs: tuple[str, ...],
    out: Path,
    options: Any,
    workers: int | None,
    scheduler: str | None,
    memory_limit: str | None,
    force: bool,
) -> None:
    from phonehome.corpus import engine
    from phonehome.corpus.inputs import expand
    from phonehome.corpus.options import bind_directory
    from phonehome.corpus.progress import RunProgress
    from phonehome.errors import UsageError

    if scheduler is not None and (workers is not None or memory_limit is not None):
        raise UsageError(
            "--scheduler runs on that cluster's workers: drop --workers/--memory-limit"
        )
    if memory_limit is not None and workers == 0:
        raise UsageError("--memory-limit needs worker processes (--workers 0 runs in this one)")
    if memory_limit is not None:
        from dask.utils import parse_bytes

        try:
            if parse_bytes(memory_limit) <= 0:
                raise ValueError
        except (ValueError, TypeError):
            raise UsageError(f"--memory-limit {memory_limit!r}: a size such as 4GB") from None
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory")
    expansion = expand(inputs, options.kind, out)
    if not expansion.tasks:
        raise UsageError("nothing to do: no input found")
    bind_directory(out, options)
    progress = RunProgress(len(expansion.tasks), sum(t.size for t in expansion.tasks))
    try:
        summary = engine.run(
            expansion.tasks,
            options,
            out,
            engine.EngineOptions(workers, scheduler, memory_limit, force),
            lambda o: progress.update(o.status, o.size, o.earlier),
            expansion.cleared,
        )
    finally:
        progress.close()
    bad = [o for o in summary.outcomes if o.status in ("failed", "error")]
    total = len(expansion.tasks)
    done = summary.count("done")
    line = (
        f"{total} input(s): {done} done, {len(bad)} failed ({summary.earlier} from an "
        f"earlier run, {total - summary.earlier} run now); {summary.findings} finding(s); "
        f"{summary.wall_s:.1f} s {summary.where} -> {out}"
    )
    click.echo(line)
    if expansion.ignored:
        click.echo(
            f"phonehome: {len(expansion.ignored)} file(s) in the directories are not "
            f"{'APKs' if options.kind == 'apk' else 'captures'} and were left alone "
            f"(e.g. {expansion.ignored[0]})",
            err=True,
        )
    for o in [o for o in bad if not o.earlier][:MAX_LISTED]:
        click.echo(f"phonehome: [{o.status}] {o.error}", err=True)
    if len(bad) > MAX_LISTED:
        click.echo(
            f"phonehome: ... and {len(bad) - MAX_LISTED} more: phonehome corpus query {out} "
            "\"select path, error from inputs where status <> 'done'\"",
            err=True,
        )
    sys.exit(EXIT_FINDINGS if bad else EXIT_CLEAN)


@corpus.command("query")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("sql")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl"]),
    help="Output format (default: a table on a terminal, CSV otherwise).",
)
@output_option
def corpus_query(directory: Path, sql: str, fmt: str | None, output: Path | None) -> None:
    """Answer SQL over a corpus directory (DuckDB; views inputs, findings, apps).

    \b
    phonehome corpus query out "select identifier, count(*) from findings group by 1"
    """
    require()
    from phonehome.corpus.query import format_result, open_dataset, run_sql

    chosen = fmt or ("table" if output is None and sys.stdout.isatty() else "csv")
    with open_dataset(directory) as con:
        columns, records = run_sql(con, sql)
    write_report(format_result(columns, records, chosen), output)


@corpus.command("report")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@format_option(
    ["text", "html", "markdown", "csv"],
    help="text for a terminal, html one self-contained page, markdown, csv one table.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1, max=1000),
    default=10,
    show_default=True,
    help="Rows per ranked section (top destinations, apps ...).",
)
@output_option
def corpus_report(directory: Path, fmt: str, top: int, output: Path | None) -> None:
    """What a regulator asks first, over a corpus directory: which identifiers went to
    which owners and countries from how many inputs and apps; cleartext leaks; transfers
    out of the EU/EEA; top destinations per identifier; per app; failed inputs."""
    require()
    from phonehome.corpus.query import open_dataset
    from phonehome.corpus.report import build_report
    from phonehome.corpus.report_formats import FORMATS

    with open_dataset(directory) as con:
        report = build_report(con, directory, top=top)
    write_report(FORMATS[fmt](report, use_color(output)), output)
