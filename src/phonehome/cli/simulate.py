"""``phonehome simulate``: byte-valid captures with their ground truth."""

from __future__ import annotations

from pathlib import Path

import click

from phonehome.cli.options import written_file_option
from phonehome.errors import UsageError


@click.command()
@click.argument("scenario", metavar="SCENARIO")
@written_file_option("Capture file to write; ground truth, profile and events go beside it.")
@click.option("--size", "size_mb", type=float, help="Target size in MB (bench scenario).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--pcapng", is_flag=True, help="Write pcapng instead of classic pcap.")
@click.option(
    "--mix",
    type=click.Choice(["phone", "stress", "leaky", "tls", "tls-many"]),
    help="bench only: a phone's realistic mix (default), the cleartext parsers' worst case, "
    "the identifier search's (nearly every request leaks), or TLS 1.3 + HTTP/2 only, with "
    "its key log in FILE.keys (and DSBs with --pcapng); tls-many: small connections.",
)
@click.option(
    "--pcapdroid",
    is_flag=True,
    help="Write PCAPdroid's trailer format (each packet labelled with its app's uid), "
    "as its UDP exporter sends it with 'PCAPdroid metadata' on.",
)
def simulate(
    scenario: str,
    output: Path,
    size_mb: float | None,
    seed: int,
    pcapng: bool,
    mix: str | None,
    pcapdroid: bool,
) -> None:
    """Write a byte-valid simulated capture (nokia7plus, encodings, bench, and
    tunnel-gtpu, tunnel-vxlan ... tunnel-teredo: the Nokia day inside a tunnel).

    Beside FILE, named after it without its extension (-o sim/x.pcap: sim/x.truth.json
    ...): NAME.truth.json (every leak and decoy), NAME.device.toml (the device profile)
    and NAME.events.csv (unlocks, screen on, boot ...).
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
    if pcapdroid and pcapng:
        raise UsageError("--pcapdroid writes a classic pcap (PCAPdroid's trailer format)")
    res = sim.run(
        scenario, output, seed=seed, size_mb=size_mb, pcapng=pcapng, mix=mix, pcapdroid=pcapdroid
    )
    for p in res.paths:
        click.echo(str(p))
