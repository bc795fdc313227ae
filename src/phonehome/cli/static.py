"""The static-analysis commands: ``apk`` and ``firmware-diff``.

Reports in the formats of :data:`phonehome.report.STATIC_FORMATS` (text, json, html,
sarif). Like scans, every run is recorded in the store unless ``--no-store``: one static
result of kind ``app`` per analysed APK, one of kind ``firmware`` per diff (see
``phonehome history --static``). They hold no personal data: packages, versions,
certificate fingerprints, paths and the hosts the code names.

Exit codes, like ``scan``: 0 = nothing risky; 1 = at least one risky app (an APK, or an
app a firmware update added or changed, that reads an identifier and scores at least
``firmware.RISKY``, or whose signer changed); 2 = usage or input error. A damaged APK in
a batch is reported on its own line and the batch goes on; ``apk`` exits 2 only when no
APK at all could be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from phonehome.cli.options import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    STATIC_REPORT_FORMATS,
    db_option,
    format_option,
    no_store_option,
    output_option,
)
from phonehome.cli.output import announce, write_report
from phonehome.errors import InputError
from phonehome.report import STATIC_FORMATS

if TYPE_CHECKING:
    from phonehome.static.firmware import Progress

EXIT_RISKY = EXIT_FINDINGS
BAR_WIDTH = 30

_format_option = format_option(
    STATIC_REPORT_FORMATS,
    "text for people, json for tools, html for a page to read offline and share, "
    "sarif (2.1.0) for CI and code-scanning dashboards.",
)


def _store_options(f: Any) -> Any:
    return db_option(no_store_option(f))


def _record(kind: str, docs: list[dict[str, Any]], db_path: Path | None) -> None:
    """Save each document as a static result; one stderr line says where, so that the
    result can be found again (``phonehome history --static``)."""
    from phonehome.store import Store

    with Store.open(db_path) as store:
        ids = [store.save_static(kind, doc) for doc in docs]
        where = store.path
    if ids:
        shown = str(ids[0]) if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"
        click.echo(
            f"phonehome: recorded as static result {shown} in {where} (phonehome history --static)",
            err=True,
        )


# --- apk ------------------------------------------------------------------------------


@click.command("apk")
@click.argument("apks", nargs=-1, required=True, metavar="APK...", type=click.Path(path_type=Path))
@_format_option
@output_option
@_store_options
def apk(
    apks: tuple[Path, ...], fmt: str, output: Path | None, db_path: Path | None, no_store: bool
) -> None:
    """What apps read, when they run and where they send it.

    For each APK: package, version, signer, identifier sources, the code paths that take
    an identifier to the network, triggers, endpoints (plain http flagged), trackers.
    Each analysed APK is recorded in the store unless --no-store (phonehome history
    --static). Exit code 1 when an app is risky (``!``), 0 otherwise, 2 when no APK
    could be read.
    """
    from phonehome import __version__
    from phonehome.report.static_document import APKS_SCHEMA
    from phonehome.static.verdict import analyse_one

    reports: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for path in apks:
        try:
            report = analyse_one(path)
        except InputError as exc:
            errors.append({"path": str(path), "error": exc.reason})
            click.echo(f"phonehome: error: {path}: {exc.reason}", err=True)
            continue
        if not report.get("package"):
            why = "; ".join(report.get("problems", [])[:2]) or "no manifest"
            errors.append({"path": str(path), "error": f"not an APK: {why}"})
            click.echo(f"phonehome: error: {path}: not an APK: {why}", err=True)
            continue
        reports.append(report)
    reports.sort(key=lambda r: -int(r["risk"]["score"]))
    tool = {"name": "phonehome", "version": __version__}
    doc = {"schema": APKS_SCHEMA, "tool": tool, "apks": reports, "errors": errors}
    write_report(STATIC_FORMATS[fmt](doc), output)
    announce(output, fmt)
    if reports and not no_store:
        _record("app", [{**r, "tool": tool} for r in reports], db_path)
    if not reports:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_RISKY if any(r["risk"]["risky"] for r in reports) else EXIT_CLEAN)


# --- firmware-diff --------------------------------------------------------------------


@click.command("firmware-diff")
@click.argument("old", type=click.Path(path_type=Path), metavar="OLD")
@click.argument("new", type=click.Path(path_type=Path), metavar="NEW")
@_format_option
@output_option
@_store_options
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Worker processes for the analysis. Default: one per core.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Analyse every APK again instead of reusing results cached by APK hash.",
)
def firmware_diff(
    old: Path,
    new: Path,
    fmt: str,
    output: Path | None,
    db_path: Path | None,
    no_store: bool,
    jobs: int | None,
    no_cache: bool,
) -> None:
    """Apps a firmware update added, removed or changed, riskiest first.

    OLD and NEW are extracted system images (folders with system/, product/, vendor/ and
    their app/ and priv-app/), zips of such folders, folders of partition images or one
    ext4/erofs image (docs/static.md). The diff is recorded in the store unless
    --no-store. Exit code 1 when an added or changed app is risky (``!``), 0 otherwise, 2
    for usage or input errors.
    """
    from phonehome.static import firmware as fw

    progress = _progress_bars if sys.stderr.isatty() else None
    doc = fw.firmware_diff(old, new, jobs=jobs, cache=not no_cache, progress=progress)
    for side in ("old", "new"):
        for err in doc[side]["errors"]:
            click.echo(f"phonehome: error: {side.upper()}: {err['path']}: {err['error']}", err=True)
    write_report(STATIC_FORMATS[fmt](doc), output)
    announce(output, fmt)
    if not no_store:  # after the report: a busy store does not cost a long analysis
        _record("firmware", [doc], db_path)
    sys.exit(EXIT_RISKY if any(e["risky"] for e in doc["changes"]) else EXIT_CLEAN)


def _progress_bars(label: str) -> Progress:
    def draw(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        end = "\n" if done >= total else ""
        click.echo(f"\r{label.upper()}: [{bar}] {done}/{total} APKs{end}", nl=False, err=True)

    return draw
