"""Command-line entry point.

Exit codes (documented in docs/cli.md): 0 = ran, nothing found; 1 = ``scan`` reported
findings; 2 = usage or input error (one line on stderr, no traceback).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from phonehome import __version__, native
from phonehome.errors import PhonehomeError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
REPORT_FORMATS = ["text", "json", "jsonl", "html", "csv", "markdown", "sarif"]
"""The names in ``phonehome.report.FORMATS`` (listed here so ``--help`` stays fast;
tests/test_cli_docs.py checks the two agree)."""


def fail(message: str) -> None:
    click.echo(f"phonehome: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The store file (default: phonehome.db in the phonehome data directory, "
    "$PHONEHOME_HOME when set).",
)
"""``--db``, for every command that reads or records in the findings store."""

output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file (mode 0600) instead of standard output.",
)
"""``--output``/``-o`` of the commands that print a report."""


def device_options(f: F) -> F:
    f = click.option(
        "--device-mac",
        "device_macs",
        multiple=True,
        metavar="MAC",
        help="The device's MAC address (repeatable). Flows of other hosts are dropped and "
        "counted. Survives DHCP and IPv6 privacy addresses, unlike --device-ip.",
    )(f)
    f = click.option(
        "--device-ip",
        "device_ips",
        multiple=True,
        metavar="IP",
        help="The device's IP address (repeatable). Flows of other hosts are dropped and "
        "counted. Default: the side that opens connections from a private address.",
    )(f)
    return f


LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "history": ("phonehome.store.commands", "history_command"),
    "show": ("phonehome.store.commands", "show_command"),
    "report": ("phonehome.store.commands", "show_command"),
    "diff": ("phonehome.store.commands", "diff_command"),
    "delete": ("phonehome.store.commands", "delete_command"),
    "purge": ("phonehome.store.commands", "purge_command"),
    "baseline": ("phonehome.store.commands", "baseline_command"),
    "apk": ("phonehome.static.commands", "apk"),
    "firmware-diff": ("phonehome.static.commands", "firmware_diff"),
}
"""Commands whose modules are imported only when used: ``flows`` on a big capture should
not pay for the store, the reports and the APK analyser at start-up."""


class Group(click.Group):
    """Turns PhonehomeError anywhere below into one line on stderr and exit code 2, and
    loads the commands of :data:`LAZY_COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, attr = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PhonehomeError as e:
            fail(str(e))
        except KeyboardInterrupt:
            click.echo("phonehome: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(EXIT_CLEAN)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__,
    prog_name="phonehome",
    message=f"%(prog)s, version %(version)s\npacket core: {native.status().describe()}",
)
def main() -> None:
    """Find out what a phone or IoT device tells the world.

    Reads captures (pcap, pcapng incl. PCAPdroid, HAR, mitmproxy flows), finds the
    device's personal identifiers in what it sent, and says where they went.
    """


@main.command()
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    show_default=True,
    help="One line per message, or one JSON object per line.",
)
@device_options
def flows(
    captures: tuple[str, ...], fmt: str, device_ips: tuple[str, ...], device_macs: tuple[str, ...]
) -> None:
    """List the application messages in captures, like a small tshark.

    CAPTURE may be '-' for a classic pcap on standard input
    (tcpdump -w - | phonehome flows -). Ends with counts of packets, flows, messages
    and anomalies by kind (on stderr for jsonl, so stdout stays pure JSON lines).
    """
    from phonehome.flowlist import to_json, to_text, write_lines
    from phonehome.pipeline import iter_messages, open_all
    from phonehome.scancmd import make_context

    ctx = make_context(device_ips, device_macs)
    # No input hashes here: flows never prints them, and hashing costs a copy per block.
    caps = open_all(list(captures), hash_inputs=False)
    render = to_json if fmt == "jsonl" else to_text
    write = sys.stdout.write
    lines = map(render, iter_messages(caps, ctx))
    if sys.stdout.isatty():
        for line in lines:  # a person watching a live capture sees each line at once
            write(line + "\n")
    else:
        write_lines(lines, write)  # pipes and files: one write per 128 lines
    for cap in caps:
        if cap.damage:
            ctx.anomalies.add("gzip.damaged", cap.index, None, cap.damage)
    s = ctx.stats
    line = (
        f"{s.inputs} input(s), {s.frames} frames, {s.packets} packets, {s.flows} flows, "
        f"{s.messages} messages, {ctx.anomalies.total()} anomalies"
    )
    kinds = ", ".join(f"{k}={v}" for k, v in sorted(ctx.anomalies.counts.items()))
    summary = line + (f" ({kinds})" if kinds else "")
    if fmt == "jsonl":
        click.echo(summary, err=True)
    else:
        write(summary + "\n")


@main.command()
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option(
    "--device",
    "device_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Device profile (TOML) with the values to look for (docs/profile.md).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="text",
    show_default=True,
    help="Report format (text for people, json is the versioned contract, html is one "
    "self-contained file, sarif for CI gates).",
)
@output_option
@click.option(
    "--reveal",
    is_flag=True,
    help="Show raw identifier values instead of redacted ones (the output says so; the "
    "store still keeps redacted values only).",
)
@click.option(
    "--events",
    "events_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Device events (unlock, screen on, boot ...): the simulator's CSV, JSON, or "
    "'adb logcat -b events -v epoch' output (docs/events.md).",
)
@click.option(
    "--events-tz",
    metavar="ZONE",
    help="Time zone (IANA name) of an events log without epoch times.",
)
@click.option(
    "--events-offset",
    type=float,
    default=0.0,
    metavar="SECONDS",
    help="Seconds to add to every event time (the device clock's offset).",
)
@click.option(
    "--trigger-window",
    type=click.FloatRange(min=0.1, max=3600),
    metavar="SECONDS",
    help="A send within this many seconds after an event counts as triggered by it (default 10).",
)
@click.option(
    "--home-country",
    metavar="CC",
    help="ISO country code of the user's home (default: the profile's home_country); "
    "flags transfers out of the home region.",
)
@db_option
@click.option("--no-store", is_flag=True, help="Do not record this scan in the store.")
@click.option(
    "--apks",
    "apks",
    type=click.Path(exists=True, path_type=Path),
    help="APK file, folder of APKs or extracted firmware tree: destinations found in an "
    "app's code name the app of findings the capture did not label.",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Findings already in this baseline (see 'phonehome baseline') do not fail the run.",
)
@device_options
def scan(
    captures: tuple[str, ...],
    device_file: Path | None,
    fmt: str,
    output: Path | None,
    reveal: bool,
    events_file: Path | None,
    events_tz: str | None,
    events_offset: float,
    trigger_window: float | None,
    home_country: str | None,
    db_path: Path | None,
    no_store: bool,
    baseline_file: Path | None,
    apks: Path | None,
    device_ips: tuple[str, ...],
    device_macs: tuple[str, ...],
) -> None:
    """Find the device's personal identifiers in what it sent, and where they went.

    Exit code 0 when nothing was found (or everything found is in --baseline), 1 when
    findings were reported, 2 for usage or input errors, so it can gate a CI pipeline.
    Every scan is recorded in the store (redacted values only) unless --no-store.
    """
    from phonehome.scancmd import ScanRequest, render_to, run_scan_command

    outcome = run_scan_command(
        ScanRequest(
            captures=captures,
            device_file=device_file,
            device_ips=device_ips,
            device_macs=device_macs,
            events_file=events_file,
            events_tz=events_tz,
            events_offset=events_offset,
            trigger_window=trigger_window,
            home_country=home_country,
            db_path=db_path,
            store=not no_store,
            baseline_file=baseline_file,
            apks=apks,
            reveal=reveal,
        )
    )
    render_to(outcome, fmt, output)
    sys.exit(EXIT_FINDINGS if outcome.failing else EXIT_CLEAN)


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Capture file to write; ground truth, profile and events go beside it.",
)
@click.option("--size", "size_mb", type=float, help="Target size in MB (bench scenario).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--pcapng", is_flag=True, help="Write pcapng instead of classic pcap.")
@click.option(
    "--mix",
    type=click.Choice(["phone", "stress", "leaky"]),
    help="bench only: a phone's realistic mix (default), the cleartext parsers' worst case, "
    "or the identifier search's (nearly every request leaks).",
)
def simulate(
    scenario: str, output: Path, size_mb: float | None, seed: int, pcapng: bool, mix: str | None
) -> None:
    """Write a byte-valid simulated capture (nokia7plus, encodings, bench).

    Beside FILE: FILE.truth.json (every leak and decoy), FILE.device.toml (the device
    profile) and FILE.events.csv (unlocks, screen on, boot ...).
    """
    from phonehome import simulate as sim

    if scenario not in sim.SCENARIOS:
        raise UsageError(
            f"unknown scenario {scenario!r}; choose one of: {', '.join(sorted(sim.SCENARIOS))}"
        )
    if mix is not None and scenario != "bench":
        raise UsageError("--mix applies to the bench scenario only")
    if size_mb is not None and size_mb <= 0:
        raise UsageError("--size must be a positive number of MB")
    res = sim.run(scenario, output, seed=seed, size_mb=size_mb, pcapng=pcapng, mix=mix)
    for p in res.paths:
        click.echo(str(p))


@main.group(invoke_without_command=True)
@click.pass_context
def data(ctx: click.Context) -> None:
    """Show the bundled reference data sets (date, source, licence)."""
    if ctx.invoked_subcommand is not None:
        return
    from phonehome.refdata import datasets

    for d in datasets():
        click.echo(f"{d.name:<18} {d.rows:>8} rows  {d.date:<12} {d.licence:<16} {d.source}")


@data.command("update")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write to (default: the installed package's data directory).",
)
@click.option(
    "--shared-data",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder with the Osmocom TAC and Exodus tracker copies (default: ../shared/data).",
)
@click.option(
    "--ip-tarball",
    "ip_tarballs",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
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

    target = dest or Path(__file__).resolve().parent / "data"
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


@main.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the sample and reports (default: the phonehome data dir).",
)
def demo(workdir: Path | None) -> None:
    """Simulate a Nokia 7 Plus day and scan it: the 2018 China Telecom case in one command."""
    from phonehome import simulate as sim
    from phonehome.privacy import home_dir, private_files

    workdir = workdir or home_dir() / "demo"
    with private_files():
        workdir.mkdir(parents=True, exist_ok=True)
    capture = workdir / "nokia7plus.pcap"
    res = sim.run("nokia7plus", capture, seed=1)
    profile = capture.with_name("nokia7plus.device.toml")
    report = workdir / "nokia7plus.report.json"
    html = workdir / "nokia7plus.report.html"
    events = capture.with_name("nokia7plus.events.csv")
    click.echo(f"Simulated a day of a Nokia 7 Plus's traffic: {capture}")
    click.echo("")
    from phonehome.scancmd import ScanRequest, render_to, run_scan_command

    outcome = run_scan_command(
        ScanRequest(captures=(str(capture),), device_file=profile, events_file=events)
    )
    render_to(outcome, "text", None)
    render_to(outcome, "json", report)
    render_to(outcome, "html", html)
    click.echo(f"HTML report (open it in a browser, works offline): {html}")
    click.echo(f"JSON report: {report}")
    if outcome.scan_id is not None:
        click.echo(
            f"Stored as scan {outcome.scan_id}: phonehome history, phonehome show {outcome.scan_id}"
        )
    click.echo(f"Ground truth of the simulation: {res.paths[1]}")
    click.echo("")
    click.echo("Scan your own capture (pcap, pcapng, PCAPdroid, HAR, mitmproxy):")
    click.echo("  phonehome scan YOUR.pcap --device your-phone.toml")
    click.echo(f"  (profile format: see {profile})")


@main.command()
@click.argument("scan_ref", metavar="SCAN")
@click.option(
    "--pcap",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="pcapng file to write (mode 0600).",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The scan's capture files, in order, if they moved since the scan (repeatable).",
)
@db_option
def export(scan_ref: str, out: Path, inputs: tuple[Path, ...], db_path: Path | None) -> None:
    """Write only the packets that carry findings to a small pcapng, to hand on.

    SCAN is a stored scan id or a scan JSON file. Frames are copied from the original
    captures (their SHA-256 must match the scan's); no TLS key log or other traffic is
    copied; each packet's comment says what it carries, never the value.
    """
    from phonehome.export import export_pcap
    from phonehome.store.commands import load_scan

    doc, label = load_scan(scan_ref, db_path)
    n = export_pcap(doc, out, list(inputs) or None)
    click.echo(f"{out}: {n} packet(s) from {label}")


if __name__ == "__main__":
    main()
