"""``phonehome demo``: the 2018 Nokia 7 Plus case, simulated and scanned in one command."""

from __future__ import annotations

from pathlib import Path

import click

from phonehome.cli.options import dir_option


@click.command()
@dir_option(
    "--dir",
    "workdir",
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
    from phonehome.cli.scan import ScanRequest, render_to, run_scan_command

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
