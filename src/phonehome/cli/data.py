"""``phonehome data`` and ``data update``: the bundled reference data and its rebuild."""

from __future__ import annotations

from pathlib import Path

import click

from phonehome.cli.options import dir_option, file_option
from phonehome.errors import UsageError


@click.group(invoke_without_command=True)
@click.pass_context
def data(ctx: click.Context) -> None:
    """Show the bundled reference data sets (date, source, licence)."""
    if ctx.invoked_subcommand is not None:
        return
    from phonehome.refdata import datasets

    sets = datasets()
    table = [("NAME", "ROWS", "DATE", "LICENCE")]
    table += [(d.name, str(d.rows), d.date, d.licence) for d in sets]
    # Columns as wide as their widest cell; the source (up to 120 characters) goes on a
    # line of its own under its data set, so that no line wraps in an 80-column terminal
    # more than it must.
    widths = [max(len(r[c]) for r in table) for c in range(3)]
    for i, r in enumerate(table):
        line = f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}"
        click.echo(line.rstrip())
        if i:
            click.echo(f"    source: {sets[i - 1].source}")


@data.command("update")
@dir_option(
    "--dest",
    help="Directory to write to (default: the installed package's data directory).",
)
@dir_option(
    "--shared-data",
    exists=True,
    help="Folder with the Osmocom TAC and Exodus tracker copies (default: ../shared/data).",
)
@file_option(
    "--ip-tarball",
    "ip_tarballs",
    multiple=True,
    exists=True,
    help="npm tarballs of @ip-location-db/asn and @ip-location-db/geo-whois-asn-country "
    "(from 'npm pack'); rebuilds the IP -> AS/country table from them.",
)
@click.option(
    "--fetch-ip",
    is_flag=True,
    help="Run 'npm pack' to fetch the two IP packages first. The only phonehome action "
    "that uses the network, and only when you ask for it.",
)
def data_update(
    dest: Path | None,
    shared_data: Path | None,
    ip_tarballs: tuple[Path, ...],
    fetch_ip: bool,
) -> None:
    """Rebuild the data files from the installed Debian packages and bundled copies.

    MCC/MNC come from Debian's mobile-broadband-provider-info, MAC OUIs from ieee-data,
    TACs and trackers from the copies in ../shared; the IP table only with --ip-tarball
    or --fetch-ip. Provenance is written to SOURCES.md and datasets.json.
    """
    import tempfile

    from phonehome import databuild

    target = dest or Path(databuild.__file__).resolve().parent / "data"
    try:
        written = databuild.rebuild(target, shared_data)
        tarballs = list(ip_tarballs)
        with tempfile.TemporaryDirectory() as tmp:
            if fetch_ip:
                tarballs += databuild.fetch_ip_packages(Path(tmp))
            if tarballs:
                written += databuild.rebuild_ipdb(target, tarballs)
    except databuild.SourceMissing as e:
        raise UsageError(str(e)) from None
    for p in written:
        click.echo(str(p))
