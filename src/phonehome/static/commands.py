"""The ``apk`` and ``firmware-diff`` commands (registered on the main group by cli.py).

Exit codes, like ``scan``: 0 = nothing risky; 1 = at least one risky app (an APK, or an
app a firmware update added or changed, that reads an identifier and scores at least
``firmware.RISKY``, or whose signer changed); 2 = usage or input error. A damaged APK in
a batch is reported on its own line and the batch goes on; ``apk`` exits 2 only when no
APK at all could be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from phonehome import __version__
from phonehome.errors import InputError
from phonehome.privacy import write_private
from phonehome.static import firmware as fw

APKS_SCHEMA = "phonehome.apks/1"
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
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people, json for tools.",
    )(f)


def _output_option(f: Any) -> Any:
    return click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the report to this file (mode 0600) instead of standard output.",
    )(f)


# --- apk ------------------------------------------------------------------------------


@click.command("apk")
@click.argument("apks", nargs=-1, required=True, metavar="APK...", type=click.Path(path_type=Path))
@_format_option
@_output_option
def apk(apks: tuple[Path, ...], fmt: str, output: Path | None) -> None:
    """What apps read, when they run and where they send it.

    For each APK: package, version, signer, identifier sources, the code paths that take
    an identifier to the network, triggers, endpoints (plain http flagged), trackers.
    Exit code 1 when an app is risky (``!``), 0 otherwise, 2 when no APK could be read.
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
    if fmt == "json":
        doc = {
            "schema": APKS_SCHEMA,
            "tool": {"name": "phonehome", "version": __version__},
            "apks": reports,
            "errors": errors,
        }
        _emit(json.dumps(doc, indent=2, sort_keys=False) + "\n", output)
    else:
        _emit("".join(apk_text(r) for r in reports), output)
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


def apk_text(r: dict[str, Any]) -> str:
    risky = r["risk"]["risky"]
    version = fw.version_text(r)
    name = r["package"]
    lines = [
        f"{'!' if risky else ' '} {name} {version}  [{Path(r['path']).name}]"
        f"  risk {r['risk']['score']}",
        f"    {r['verdict']}",
    ]
    signing = r.get("signing", {})
    if signing.get("signer"):
        who = "; ".join(signing.get("subjects", [])) or "unparsed certificate"
        prints = ", ".join(p[:16] + "…" for p in signing["signer"])
        lines.append(f"    signer: {who} ({prints}; {'+'.join(signing.get('schemes', []))})")
    else:
        lines.append("    signer: none (unsigned)")
    for chain in r.get("chains", [])[:5]:
        lines.append(f"    path: {chain['text']}")
    if len(r.get("chains", [])) > 5:
        lines.append(f"    (+{len(r['chains']) - 5} more code paths)")
    plain = [e["value"] for e in r.get("endpoints", []) if e.get("cleartext")]
    if plain:
        lines.append(f"    cleartext: {', '.join(plain[:5])}")
    trackers = sorted({t["name"] for t in r.get("trackers", [])})
    if trackers:
        lines.append(f"    trackers: {', '.join(trackers)}")
    for problem in r.get("problems", [])[:5]:
        lines.append(f"    problem: {problem}")
    if len(r.get("problems", [])) > 5:
        lines.append(f"    (+{len(r['problems']) - 5} more problems; --format json lists all)")
    return "\n".join(lines) + "\n"


# --- firmware-diff --------------------------------------------------------------------


@click.command("firmware-diff")
@click.argument("old", type=click.Path(path_type=Path), metavar="OLD")
@click.argument("new", type=click.Path(path_type=Path), metavar="NEW")
@_format_option
@_output_option
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
    old: Path, new: Path, fmt: str, output: Path | None, jobs: int | None, no_cache: bool
) -> None:
    """Apps a firmware update added, removed or changed, riskiest first.

    OLD and NEW are extracted system images (folders with system/, product/, vendor/ and
    their app/ and priv-app/), zips of such folders, folders of partition images or one
    ext4/erofs image (docs/static.md). Exit code 1 when an added or changed app is risky
    (``!``), 0 otherwise, 2 for usage or input errors.
    """
    progress = _progress_bars if sys.stderr.isatty() else None
    doc = fw.firmware_diff(old, new, jobs=jobs, cache=not no_cache, progress=progress)
    for side in ("old", "new"):
        for err in doc[side]["errors"]:
            click.echo(f"phonehome: {side.upper()}: {err['path']}: {err['error']}", err=True)
    if fmt == "json":
        _emit(json.dumps(doc, indent=2) + "\n", output)
    else:
        _emit(diff_text(doc), output)
    sys.exit(EXIT_RISKY if any(e["risky"] for e in doc["changes"]) else EXIT_CLEAN)


def _progress_bars(label: str) -> fw.Progress:
    def draw(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        end = "\n" if done >= total else ""
        click.echo(f"\r{label.upper()}: [{bar}] {done}/{total} APKs{end}", nl=False, err=True)

    return draw


def diff_text(doc: dict[str, Any]) -> str:
    counts = {s: sum(1 for e in doc["changes"] if e["status"] == s) for s in fw.STATUSES}
    head = (
        f"firmware-diff: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['changed']} changed, {doc['unchanged']} unchanged "
        f"({doc['old']['apps']} apps in OLD, {doc['new']['apps']} in NEW)"
    )
    lines = [head]
    for entry in doc["changes"]:
        mark = "!" if entry["risky"] else " "
        lines.append(f"{mark} {entry['risk']['score']:>3}  {entry['verdict']}")
        if entry["risky"]:
            why = ", ".join(f"{r['reason']} +{r['points']}" for r in entry["risk"]["reasons"])
            lines.append(f"        why: {why}")
            app = entry["new"] or {}
            for chain in app.get("chains", [])[:1]:
                lines.append(f"        path: {chain['text']}")
    for side in ("old", "new"):
        for problem in doc[side]["problems"][:10]:
            lines.append(f"  {side.upper()}: problem: {problem}")
        for err in doc[side]["errors"][:10]:
            lines.append(f"  {side.upper()}: {err['path']}: {err['error']}")
        hidden = len(doc[side]["errors"]) - 10
        if hidden > 0:
            lines.append(f"  {side.upper()}: (+{hidden} more unreadable APKs)")
    for dupe in doc.get("duplicates", [])[:5]:
        lines.append(f"  duplicate package: {dupe}")
    return "\n".join(lines) + "\n"
