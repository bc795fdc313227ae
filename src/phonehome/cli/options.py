"""The options several commands share, defined once so their names and help agree.

Every command module imports its options from here; nothing here imports more than click
at module level, so ``phonehome --help`` (which loads every command to list it) stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from phonehome.report import REGISTRY

if TYPE_CHECKING:
    from phonehome.context import Context

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
"""Exit codes (docs/cli.md): nothing found; findings (``scan``), a risky app (``apk``,
``firmware-diff``) or new findings (``diff``); usage or input error."""

REPORT_FORMATS = [f.name for f in REGISTRY if f.scan is not None]
"""The formats of a scan document, in ``--format`` order (from the report registry, which
lists them without importing them)."""
STATIC_REPORT_FORMATS = [f.name for f in REGISTRY if f.static is not None]
"""The formats of a static-analysis document."""


def file_option(
    *decls: str,
    help: str,
    required: bool = False,
    exists: bool = False,
    multiple: bool = False,
    written: bool = False,
) -> Callable[[F], F]:
    """An option naming a file (never a directory), as a :class:`~pathlib.Path`.

    ``written``: phonehome writes it, so its folder must exist; checked when the arguments
    are read, before a long scan, so a typo costs one error line (exit 2), not a
    traceback at the end (exit 1 would read as "findings" to a CI job)."""
    option: Callable[[F], F] = click.option(
        *decls,
        type=click.Path(dir_okay=False, exists=exists, path_type=Path),
        required=required,
        multiple=multiple,
        callback=check_written_path if written else None,
        help=help,
    )
    return option


def check_written_path(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback: the folder of a file to write exists (a :class:`UsageError` if not)."""
    from phonehome.errors import UsageError

    if value is None or str(value) == "-":
        return value
    folder = Path(value).parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"{param.opts[-1] if param.opts else 'output'} {value}: {folder} {what}")
    return value


def dir_option(*decls: str, help: str, exists: bool = False) -> Callable[[F], F]:
    """An option naming a directory, as a :class:`~pathlib.Path`."""
    option: Callable[[F], F] = click.option(
        *decls, type=click.Path(file_okay=False, exists=exists, path_type=Path), help=help
    )
    return option


db_option = file_option(
    "--db",
    "db_path",
    help="The store file (default: phonehome.db in the phonehome data directory, "
    "$PHONEHOME_HOME when set).",
)
"""``--db``, for every command that reads or records in the findings store."""


def written_file_option(help: str) -> Callable[[F], F]:
    """``--output``/``-o`` of the commands whose output is a file, never standard output."""
    return file_option("--output", "-o", required=True, written=True, help=help)


output_option = file_option(
    "--output",
    "-o",
    written=True,
    help="Write the report to this file (mode 0600) instead of standard output.",
)
"""``--output``/``-o`` of the commands that print a report."""

no_store_option = click.option(
    "--no-store", is_flag=True, help="Do not record this analysis in the store."
)
"""``--no-store`` of the commands that record what they found (``scan`` words its help
for scans)."""


def format_option(
    choices: Sequence[str] | None, help: str | None = None, default: str = "text"
) -> Callable[[F], F]:
    """``--format``: a choice among ``choices``, or any name (checked by the command)
    when None."""
    option: Callable[[F], F] = click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)) if choices is not None else None,
        default=default,
        show_default=True,
        metavar=None if choices is not None else "FORMAT",
        help=help,
    )
    return option


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


def event_timing_options(f: F) -> F:
    """How device events line up with the capture (``scan`` and ``watch``)."""
    f = click.option(
        "--trigger-window",
        type=click.FloatRange(min=0.1, max=3600),
        metavar="SECONDS",
        help="A send within this many seconds after an event counts as triggered by it "
        "(default 10).",
    )(f)
    f = click.option(
        "--events-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Seconds to add to every event time (the device clock's offset).",
    )(f)
    f = click.option(
        "--events-tz",
        metavar="ZONE",
        help="Time zone (IANA name) of an events log without epoch times.",
    )(f)
    return f


keylog_option = click.option(
    "--keylog",
    "keylogs",
    multiple=True,
    type=click.Path(path_type=Path),  # checked when read: one "phonehome: error:" line
    metavar="FILE",
    help="TLS key log (NSS format: SSLKEYLOGFILE, PCAPdroid's SSLKEYLOG.txt, friTap ...) "
    "to decrypt TLS and QUIC with (repeatable; a pcapng's own Decryption Secrets Blocks are "
    "always used). Keys never appear in any output.",
)
"""``--keylog``, for every command that reads captures (docs/decrypt.md)."""

wifi_key_option = click.option(
    "--wifi-key",
    "wifi_keys",
    multiple=True,
    metavar="PASSPHRASE[:SSID]|PSK",
    help="WPA2-Personal key of a monitor-mode (802.11) capture's network: the passphrase "
    "and the network name (without it, the name comes from the capture's beacons), or the "
    "64-hex-digit PSK (also a WPA3-SAE/OWE PMK) (repeatable; as Wireshark's "
    "wpa-pwd/wpa-psk). Frames of stations whose 4-way handshake is in the capture are "
    "decrypted. Never appears in any output.",
)
"""``--wifi-key``, for the commands that read captures' messages (docs/net.md)."""


def make_context(
    device_ips: tuple[str, ...],
    device_macs: tuple[str, ...],
    keylogs: tuple[Path, ...] = (),
    wifi_keys: tuple[str, ...] = (),
) -> Context:
    """The run's context (:func:`phonehome.runcontext.run_context`: the device that
    :func:`device_options` selected, the ``--wifi-key`` keys) with the ``--keylog`` files,
    read now, so a missing one fails before any capture is read."""
    from phonehome.runcontext import run_context

    ctx = run_context(device_ips, device_macs, wifi_keys)
    if keylogs:
        from phonehome.decrypt.keylog import load_files

        ctx.keylog = load_files([str(p) for p in keylogs], ctx.anomalies)
    return ctx


def scan_id_argument(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback turning SCAN_ID argument(s) into ints, so a bad id is a usage error."""
    from phonehome.store.refs import parse_scan_id

    texts = value if isinstance(value, tuple) else (value,)
    ids: list[int] = []
    for text in texts:
        scan_id = parse_scan_id(str(text))
        if scan_id is None:
            raise click.BadParameter(
                f"{str(text)[:40]!r} is not a scan id (a number from the ID column of "
                "'phonehome history')"
            )
        ids.append(scan_id)
    return tuple(ids) if isinstance(value, tuple) else ids[0]
