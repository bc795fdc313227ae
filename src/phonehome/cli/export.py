"""``phonehome export``: the packets behind a scan's findings, as a small pcapng."""

from __future__ import annotations

from pathlib import Path

import click

from phonehome import wording
from phonehome.cli.options import (
    db_option,
    file_option,
    keylog_option,
    make_context,
    wifi_key_option,
)


@click.command()
@click.argument("scan_ref", metavar="SCAN")
@file_option("--pcap", "out", required=True, written=True, help="pcapng file to write (mode 0600).")
@file_option(
    "--input",
    "inputs",
    multiple=True,
    exists=True,
    help="The scan's capture files, in order, if they moved since the scan (repeatable).",
)
@db_option
@keylog_option
@wifi_key_option
def export(
    scan_ref: str,
    out: Path,
    inputs: tuple[Path, ...],
    db_path: Path | None,
    keylogs: tuple[Path, ...],
    wifi_keys: tuple[str, ...],
) -> None:
    """Write only the packets that carry findings to a small pcapng, to hand on.

    SCAN is a stored scan id or a scan JSON file. Frames are copied from the original
    captures (their SHA-256 must match the scan's); no TLS key log or other traffic is
    copied; each packet's comment says what it carries, never the value. With --keylog,
    says how many of the exported TLS/QUIC connections that key log decrypts (it is not
    copied: hand it over separately if the recipient must read them). With --wifi-key
    (the scan's), flows inside protected 802.11 frames are found, and the WPA handshakes
    are copied so the passphrase decrypts the export (the key is not copied).
    """
    from phonehome.export import export_pcap, key_coverage
    from phonehome.store.refs import load_scan

    ctx = make_context((), (), keylogs, wifi_keys)  # a bad key log or Wi-Fi key fails first
    doc, label = load_scan(scan_ref, db_path)
    n = export_pcap(doc, out, list(inputs) or None, ctx.wifi)
    click.echo(f"{out}: {wording.count(n, 'packet')} from {label}")
    if keylogs:
        opened, total = key_coverage(out, list(keylogs))
        click.echo(
            f"{out}: the key log decrypts {opened} of its "
            f"{wording.count(total, 'TLS/QUIC connection')}; "
            "no key was copied into it (hand the key log over separately if the recipient "
            "must read them)"
        )
