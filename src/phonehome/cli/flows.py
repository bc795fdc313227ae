"""``phonehome flows``: the application messages of captures, like a small tshark."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from phonehome import wording
from phonehome.cli.options import device_options, keylog_option, make_context, wifi_key_option


@click.command()
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
@keylog_option
@wifi_key_option
def flows(
    captures: tuple[str, ...],
    fmt: str,
    device_ips: tuple[str, ...],
    device_macs: tuple[str, ...],
    keylogs: tuple[Path, ...],
    wifi_keys: tuple[str, ...],
) -> None:
    """List the application messages in captures, like a small tshark.

    CAPTURE may be '-' for a classic pcap on standard input
    (tcpdump -w - | phonehome flows -). Ends with counts of packets, flows, messages
    and anomalies by kind (on stderr for jsonl, so stdout stays pure JSON lines).
    """
    from phonehome.flowlist import to_json, to_text, write_lines
    from phonehome.pipeline import iter_messages, open_all

    ctx = make_context(device_ips, device_macs, keylogs, wifi_keys)
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
            ctx.anomalies.add(cap.damage_kind, cap.index, None, cap.damage)
    s = ctx.stats
    line = (
        f"{wording.count(s.inputs, 'input')}, {wording.count(s.frames, 'frame')}, "
        f"{wording.count(s.packets, 'packet')}, {wording.count(s.flows, 'flow')}, "
        f"{wording.count(s.messages, 'message')}, "
        f"{wording.count(ctx.anomalies.total(), 'anomaly')}"
    )
    kinds = ", ".join(f"{k}={v}" for k, v in sorted(ctx.anomalies.counts.items()))
    summary = line + (f" ({kinds})" if kinds else "")
    if ctx.wifi is not None:  # --wifi-key: did it open anything?
        from phonehome.report.document import wifi_words

        summary += f"; {wifi_words(ctx.wifi.counts())}"
    if fmt == "jsonl":
        click.echo(summary, err=True)
    else:
        write(summary + "\n")
