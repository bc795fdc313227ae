"""The store's commands: history, show (and its alias report), diff, delete, purge,
baseline.

Errors are ``PhonehomeError`` s, which the CLI group turns into one line on stderr and exit
code 2. Where a command takes a SCAN, it is a stored scan id or the path of a scan JSON
file (``phonehome scan --format json -o F``; :mod:`phonehome.store.refs`), so CI jobs can
diff and baseline without a store.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from phonehome import wording
from phonehome.cli.options import (
    EXIT_FINDINGS,
    db_option,
    format_option,
    output_option,
    scan_id_argument,
    written_file_option,
)
from phonehome.cli.output import announce, use_color, write_report
from phonehome.errors import UsageError

if TYPE_CHECKING:
    from phonehome.store.db import ScanRow, StaticRow, Store

EXIT_NEW = EXIT_FINDINGS
"""``diff`` exits 1 when the later scan has findings the earlier one did not (a gate)."""


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def history_text(rows: list[ScanRow], path: Path, repeats: dict[int, int] | None = None) -> str:
    """The history table; a scan that repeats an earlier one (``repeats``) says so."""
    repeats = repeats or {}
    if not rows:
        return f"No scans stored in {path}.\n"
    lines = [f"{'ID':>4}  {'STARTED (UTC)':<19}  {'FINDINGS':>8}  {'CLEAR':>5}  {'ANOM':>5}  WHAT"]
    for r in rows:
        started = (r.started or "?").replace("T", " ")[:19]
        names = ", ".join(Path(p).name for p in r.inputs) or "-"
        what = f"{r.device}: {names}" if r.device else names
        if r.id in repeats:
            what = f"(same as scan {repeats[r.id]}) {what}"
        state = r.state
        if state != "finished":
            what = f"{_short(what, 52)} ({'watching' if state == 'running' else 'watch ' + state})"
        lines.append(
            f"{r.id:>4}  {started:<19}  {r.findings:>8}  {r.cleartext:>5}  {r.anomalies:>5}  "
            f"{_short(what, 70)}"
        )
    if repeats:
        lines.append(
            f"{wording.count(len(repeats), 'scan')} "
            f"{'repeats' if len(repeats) == 1 else 'repeat'} an earlier one (same inputs, profile, "
            "options and results). Another format of a stored scan needs no rescan: "
            "phonehome show ID --format FORMAT"
        )
    return "\n".join(lines) + "\n"


def static_summaries(store: Store) -> list[tuple[StaticRow, int, str]]:
    """Each static result with its highest risk score and its one-line verdict."""
    from phonehome.report.static_document import headline, items

    out = []
    for row in store.list_static():
        doc = store.load_static(row.id)
        score = max((i.score for i in items(doc)), default=0)
        out.append((row, score, headline(doc)))
    return out


def static_history_text(rows: list[tuple[StaticRow, int, str]], path: Path) -> str:
    if not rows:
        return f"No static analysis results stored in {path}.\n"
    lines = [f"{'ID':>4}  {'SAVED (UTC)':<19}  {'KIND':<8}  {'RISK':>4}  WHAT"]
    for r, score, what in rows:
        saved = r.saved.replace("T", " ")[:19]
        lines.append(f"{r.id:>4}  {saved:<19}  {r.kind:<8}  {score:>4}  {_short(what, 110)}")
    return "\n".join(lines) + "\n"


@click.command("history")
@db_option
@format_option(["text", "json"])
@click.option(
    "--static",
    "static",
    is_flag=True,
    help="List the stored static analysis results (apk, firmware-diff) instead of scans.",
)
def history_command(db_path: Path | None, fmt: str, static: bool) -> None:
    """List the stored scans (or with --static the static analysis results), newest first."""
    from phonehome.store.db import Store, default_path

    path = db_path or default_path()
    rows: list[ScanRow] = []
    statics: list[tuple[StaticRow, int, str]] = []
    repeats: dict[int, int] = {}
    n_static = 0
    if path.exists():
        with Store.open(path, create=False) as store:
            if static:
                statics = static_summaries(store)
            else:
                rows = store.scans()
                repeats = store.repeats(rows)
                n_static = len(store.list_static())
    if static and fmt == "json":
        results = [{**asdict(r), "risk": score, "summary": what} for r, score, what in statics]
        doc = {"schema": "phonehome.history/1", "db": str(path), "static": results}
        write_report(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif static:
        write_report(static_history_text(statics, path))
    elif fmt == "json":
        scans = [{**asdict(r), "same_as": repeats.get(r.id)} for r in rows]
        doc = {"schema": "phonehome.history/1", "db": str(path), "scans": scans}
        write_report(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        more = (
            f"and {wording.count(n_static, 'static analysis result')}: phonehome history --static\n"
        )
        write_report(history_text(rows, path, repeats) + (more if n_static else ""))


@click.command("show")
@click.argument("scan_id", callback=scan_id_argument)
@db_option
@format_option(None, "Any report format of 'phonehome scan --format' (text, json, jsonl, ...).")
@output_option
@click.option(
    "--static",
    "static",
    is_flag=True,
    help="SCAN_ID is a static analysis result (phonehome history --static); formats text, "
    "json, html, sarif.",
)
def show_command(
    scan_id: int, db_path: Path | None, fmt: str, output: Path | None, static: bool
) -> None:
    """Show a stored scan in any report format, as when it was made (redacted)."""
    if static:
        _show_static(scan_id, db_path, fmt, output)
        return
    from phonehome.report import FORMATS, ScanView
    from phonehome.store.db import Store

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of: {', '.join(sorted(FORMATS))}")
    with Store.open(db_path, create=False) as store:
        doc = store.load(scan_id)
    write_report(FORMATS[fmt](ScanView(doc, revealed=False), use_color(output)), output)
    announce(output, fmt)


def _show_static(static_id: int, db_path: Path | None, fmt: str, output: Path | None) -> None:
    from phonehome.report import STATIC_FORMATS
    from phonehome.store.db import Store

    if fmt not in STATIC_FORMATS:
        choices = ", ".join(sorted(STATIC_FORMATS))
        raise UsageError(f"unknown format {fmt!r}; choose one of: {choices}")
    with Store.open(db_path, create=False) as store:
        doc = store.load_static(static_id)
    write_report(STATIC_FORMATS[fmt](doc), output)
    announce(output, fmt)


@click.command("diff")
@click.argument("scan_a", metavar="SCAN_A")
@click.argument("scan_b", metavar="SCAN_B")
@db_option
@format_option(["text", "json"])
@click.pass_context
def diff_command(
    ctx: click.Context, scan_a: str, scan_b: str, db_path: Path | None, fmt: str
) -> None:
    """What SCAN_B sends that SCAN_A did not: new, gone and changed findings.

    SCAN_A and SCAN_B are stored scan ids or scan JSON files. Exit code 1 when SCAN_B
    has new findings (so a CI job can gate an update), else 0.
    """
    from phonehome.store.diff import diff_docs, render_diff
    from phonehome.store.refs import load_scan

    a, label_a = load_scan(scan_a, db_path)
    b, label_b = load_scan(scan_b, db_path)
    d = diff_docs(a, b, (label_a, label_b))
    write_report(render_diff(d, "json" if fmt == "json" else "text"))
    ctx.exit(EXIT_NEW if d.new else 0)


@click.command("delete")
@click.argument(
    "scan_ids", nargs=-1, required=True, callback=scan_id_argument, metavar="SCAN_ID..."
)
@db_option
def delete_command(scan_ids: tuple[int, ...], db_path: Path | None) -> None:
    """Delete stored scans (their rows are overwritten in the file, not just unlinked)."""
    from phonehome.store.db import Store

    with Store.open(db_path, create=False) as store:
        missing = [i for i in scan_ids if not store.delete(i)]
        for i in scan_ids:
            if i not in missing:
                click.echo(f"deleted scan {i}")
    if missing:
        raise UsageError(f"no scan {', '.join(map(str, missing))} in {store.path}")


@click.command("purge")
@db_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_command(db_path: Path | None, yes: bool) -> None:
    """Delete every stored scan and static analysis result."""
    from phonehome.store.db import Store, default_path

    path = db_path or default_path()
    if not path.exists():
        click.echo(f"Nothing stored in {path}.")
        return
    with Store.open(path, create=False) as store:
        n_scans, n_static = len(store.scans()), len(store.list_static())
        if not yes:
            click.confirm(
                f"Delete all {wording.count(n_scans, 'scan')} and "
                f"{wording.count(n_static, 'static result')} from {path}?",
                abort=True,
            )
        store.purge()
    click.echo(
        f"Deleted {wording.count(n_scans, 'scan')} and "
        f"{wording.count(n_static, 'static result')} from {path}."
    )


@click.command("baseline")
@click.argument("scan", metavar="SCAN")
@written_file_option("Baseline file to write (rewriting one keeps its justifications).")
@click.option(
    "--justification", metavar="TEXT", help="Why these findings are accepted (every new entry)."
)
@db_option
def baseline_command(
    scan: str, output: Path, justification: str | None, db_path: Path | None
) -> None:
    """Write a baseline of SCAN's findings for 'phonehome scan --baseline FILE'.

    SCAN is a stored scan id or a scan JSON file. Findings in the baseline no longer fail
    a scan; edit each entry's "justification" to say why it is accepted.
    """
    from phonehome.store.baseline import baseline_document
    from phonehome.store.refs import load_scan

    doc, _ = load_scan(scan, db_path)
    written, text = baseline_document(doc, output, justification)
    write_report(text, output)
    click.echo(f"wrote {len(written.entries)} baseline entries to {output}")
