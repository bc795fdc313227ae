"""The ``apk`` and ``firmware-diff`` commands (registered on the main group by cli.py).

Reports in the formats of :data:`phonehome.static.reports.FORMATS` (text, json, html,
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
from typing import Any

import click

from phonehome import __version__
from phonehome.cli import db_option, output_option
from phonehome.errors import InputError
from phonehome.privacy import write_private
from phonehome.static import firmware as fw
from phonehome.static.report_doc import APKS_SCHEMA
from phonehome.static.reports import FORMATS

EXIT_CLEAN, EXIT_RISKY, EXIT_ERROR = 0, 1, 2
BAR_WIDTH = 30


def _emit(text: str, output: Path | None) -> None:
    if output is not None:
        write_private(output, text.encode())
    else:
        click.echo(text, nl=False)


def _format_option(f: Any) -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(FORMATS)),
        default="text",
        show_default=True,
        help="text for people, json for tools, html for a page to read offline and share, "
        "sarif (2.1.0) for CI and code-scanning dashboards.",
    )(f)


def _store_options(f: Any) -> Any:
    f = click.option("--no-store", is_flag=True, help="Do not record this analysis in the store.")(
        f
    )
    return db_option(f)


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
    reports: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for path in apks:
        try:
            report = analyse_one(path)
        except InputError as exc:
            errors.append({"path": str(path), "error": exc.reason})
            click.echo(f"phonehome: {path}: {exc.reason}", err=True)
            continue
        if not report.get("package"):
            why = "; ".join(report.get("problems", [])[:2]) or "no manifest"
            errors.append({"path": str(path), "error": f"not an APK: {why}"})
            click.echo(f"phonehome: {path}: not an APK: {why}", err=True)
            continue
        reports.append(report)
    reports.sort(key=lambda r: -int(r["risk"]["score"]))
    tool = {"name": "phonehome", "version": __version__}
    doc = {"schema": APKS_SCHEMA, "tool": tool, "apks": reports, "errors": errors}
    _emit(FORMATS[fmt](doc), output)
    if reports and not no_store:
        _record("app", [{**r, "tool": tool} for r in reports], db_path)
    if not reports:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_RISKY if any(r["risk"]["risky"] for r in reports) else EXIT_CLEAN)


def analyse_one(path: Path) -> dict[str, Any]:
    """The APK's full analysis plus signer, risk and a one-line verdict."""
    from phonehome.static.apk import analyze_apk
    from phonehome.static.signing import read_signing

    report = analyze_apk(path).to_dict()
    try:
        signing = read_signing(path).to_dict()
    except OSError as exc:
        signing = {"problems": [f"signature not read: {exc}"]}
    summary = fw.summary(report, signing)
    report["signing"] = signing
    report["risk"] = fw.risk(summary)
    report["verdict"] = fw.describe(summary)
    return report


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
    progress = _progress_bars if sys.stderr.isatty() else None
    doc = fw.firmware_diff(old, new, jobs=jobs, cache=not no_cache, progress=progress)
    for side in ("old", "new"):
        for err in doc[side]["errors"]:
            click.echo(f"phonehome: {side.upper()}: {err['path']}: {err['error']}", err=True)
    _emit(FORMATS[fmt](doc), output)
    if not no_store:  # after the report: a busy store does not cost a long analysis
        _record("firmware", [doc], db_path)
    sys.exit(EXIT_RISKY if any(e["risky"] for e in doc["changes"]) else EXIT_CLEAN)


def _progress_bars(label: str) -> fw.Progress:
    def draw(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        end = "\n" if done >= total else ""
        click.echo(f"\r{label.upper()}: [{bar}] {done}/{total} APKs{end}", nl=False, err=True)

    return draw
