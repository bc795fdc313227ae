"""The command line: the ``phonehome`` group and where each of its commands lives.

One module per command or family of commands (``cli/scan.py``, ``cli/store.py`` ...), each
importing its shared options from :mod:`.options` and writing through :mod:`.output`;
library code never imports this package. Commands are loaded on first use
(:data:`COMMANDS`), so ``flows`` on a big capture does not pay for the store, the reports
and the APK analyser at start-up.

Exit codes (documented in docs/cli.md): 0 = ran, nothing found; 1 = ``scan`` reported
findings; 2 = usage or input error (one line on stderr, no traceback).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from phonehome import __version__, native
from phonehome.cli.options import EXIT_CLEAN, EXIT_ERROR, REPORT_FORMATS
from phonehome.errors import PhonehomeError

__all__ = ["COMMANDS", "REPORT_FORMATS", "Group", "main"]


COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("phonehome.cli.scan", "scan"),
    "flows": ("phonehome.cli.flows", "flows"),
    "demo": ("phonehome.cli.demo", "demo"),
    "simulate": ("phonehome.cli.simulate", "simulate"),
    "data": ("phonehome.cli.data", "data"),
    "export": ("phonehome.cli.export", "export"),
    "history": ("phonehome.cli.store", "history_command"),
    "show": ("phonehome.cli.store", "show_command"),
    "report": ("phonehome.cli.store", "show_command"),
    "diff": ("phonehome.cli.store", "diff_command"),
    "delete": ("phonehome.cli.store", "delete_command"),
    "purge": ("phonehome.cli.store", "purge_command"),
    "baseline": ("phonehome.cli.store", "baseline_command"),
    "apk": ("phonehome.cli.static", "apk"),
    "firmware-diff": ("phonehome.cli.static", "firmware_diff"),
    "corpus": ("phonehome.cli.corpus", "corpus"),
    "watch": ("phonehome.cli.watch", "watch_command"),
}
"""Every command: name -> (module, attribute). Adding a command is a module in this
package and one line here."""


class Group(click.Group):
    """Turns PhonehomeError anywhere below into one line on stderr and exit code 2, and
    loads the commands of :data:`COMMANDS` on first use.

    ``lazy`` names the commands to load on demand; a group built with explicit
    ``commands`` (the tests) has only those."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attr = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PhonehomeError as e:
            click.echo(f"phonehome: error: {e}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("phonehome: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(EXIT_CLEAN)


def version_lines() -> list[str]:
    """What ``--version`` prints: the version, then which fast paths this install has.

    Worked out when asked (not at import: finding the matcher imports hyperscan, which
    every other command would pay for at start-up)."""
    from phonehome.detect.matcher import available_backends

    return [
        f"phonehome, version {__version__}",
        f"packet core: {native.status().describe()}",
        f"matcher: {available_backends()[0]}",
        f"JSON writer: {json_writer()}",
    ]


def json_writer() -> str:
    """The serialiser of ``flows --format jsonl`` (``flowlist``): orjson when installed."""
    try:
        import orjson
    except ImportError:
        return "stdlib json"
    return f"orjson {orjson.__version__}"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo("\n".join(version_lines()))
    ctx.exit()


@click.group(cls=Group, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and which packet core, matcher and JSON writer are in use.",
)
def main() -> None:
    """Find out what a phone or IoT device tells the world.

    Reads captures (pcap, pcapng incl. PCAPdroid, HAR, mitmproxy flows), finds the
    device's personal identifiers in what it sent, and says where they went.
    """


if __name__ == "__main__":
    main()
