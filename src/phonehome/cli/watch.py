"""``phonehome watch``: the command. The work is in :mod:`phonehome.live`.

Exactly one source; the watch runs until the source ends (standard input) or the user
stops it (Ctrl-C or SIGTERM: the source's stream ends, the flows still held are flushed,
the scan is saved ``finished``). A second Ctrl-C stops at once (exit 130; the store keeps
the last periodic save). Exit codes as ``scan``: 0 nothing found, 1 findings, 2 usage or
input error — a port in use and a missing capture permission included.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from phonehome.cli.options import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    db_option,
    device_options,
    event_timing_options,
    wifi_key_option,
)
from phonehome.errors import PhonehomeError, UsageError

SOURCE_OPTIONS = ("udp", "tcp_listen", "tcp_connect", "http", "interface", "proxy")


@click.command("watch")
@click.argument("stdin", required=False, metavar="[-]")
@click.option(
    "--udp",
    metavar="[HOST:]PORT",
    help="PCAPdroid's UDP exporter: listen for its datagrams (PCAPdroid's default port is "
    "1234; HOST defaults to every address).",
)
@click.option(
    "--tcp-listen",
    metavar="[HOST:]PORT",
    help="Listen for a pcap/pcapng stream over TCP (PCAPdroid's TCP exporter, "
    "tcpdump -U -w - | nc HOST PORT).",
)
@click.option(
    "--tcp-connect",
    metavar="HOST:PORT",
    help="Connect to a server that streams pcap/pcapng (pcap-over-IP); reconnects with backoff.",
)
@click.option(
    "--http",
    metavar="URL",
    help="PCAPdroid's HTTP server mode (http://PHONE:8080/): a chunked pcap/pcapng stream.",
)
@click.option(
    "--interface",
    metavar="IFACE",
    help="Capture on a local interface (a laptop as the phone's hotspot, a router); needs "
    "root or CAP_NET_RAW (through dumpcap, or tcpdump).",
)
@click.option("--bpf", metavar="FILTER", help="With --interface: a capture filter.")
@click.option(
    "--proxy",
    metavar="[HOST:]PORT",
    help="Run mitmproxy in-process with phonehome as its addon: decrypted HTTP(S) live.",
)
@click.option(
    "--mode",
    type=click.Choice(["regular", "transparent", "wireguard"]),
    default="regular",
    show_default=True,
    help="With --proxy: mitmproxy's mode.",
)
@click.option(
    "--confdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --proxy: mitmproxy's configuration directory, where its CA is (default "
    "~/.mitmproxy).",
)
@click.option(
    "--upstream-ca",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="With --proxy: also trust this CA (PEM) for the servers mitmproxy connects to "
    "(a lab or company server with its own CA).",
)
@click.option(
    "--device",
    "device_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Device profile (TOML) with the values to look for (docs/profile.md).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    show_default=True,
    help="Alerts for people (and a status line on a terminal), or one JSON object per "
    "alert and per update, for scripts.",
)
@db_option
@click.option("--no-store", is_flag=True, help="Do not record the watch in the store.")
@click.option(
    "--save-every",
    type=float,
    metavar="SECONDS",
    help="How often the watch is saved to the store (default 5).",
)
@click.option(
    "--home-country",
    metavar="CC",
    help="ISO country code of the user's home (default: the profile's home_country).",
)
@click.option(
    "--events",
    "events_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Device events (CSV, JSON, or 'adb logcat -b events -v epoch' output, which may "
    "keep growing): alerts say '2 s after unlock'.",
)
@event_timing_options
@device_options
@wifi_key_option
@click.option(
    "--print-addon-path",
    is_flag=True,
    help="Print the path of phonehome's mitmproxy addon (mitmdump -s PATH) and exit.",
)
def watch_command(stdin: str | None, print_addon_path: bool, **kw: Any) -> None:
    """Watch a phone's traffic live and alert the moment an identifier leaves.

    \b
    phonehome watch --udp 1234 --device phone.toml        # PCAPdroid UDP exporter
    phonehome watch --proxy 8080 --device phone.toml      # mitmproxy, decrypted HTTPS
    tcpdump -i wlan0 -U -w - | phonehome watch - --device phone.toml

    The watch is recorded as a scan while it runs (phonehome show N works during and
    after). Stop it with Ctrl-C. See docs/watch.md for PCAPdroid and mitmproxy set-ups.
    """
    if print_addon_path:
        from phonehome.live import mitm_addon

        click.echo(str(Path(mitm_addon.__file__).resolve()))
        return
    sys.exit(run_watch(stdin, kw))


def _source(stdin: str | None, kw: dict[str, Any]) -> Any:
    from phonehome.live import make_source

    chosen = [(name, kw[name]) for name in SOURCE_OPTIONS if kw.get(name) is not None]
    if stdin is not None:
        if stdin != "-":
            raise UsageError(f"watch takes '-' (standard input) or a source option, not {stdin!r}")
        chosen.append(("stdin", "-"))
    if len(chosen) != 1:
        raise UsageError(
            "watch needs exactly one source: --udp, --tcp-listen, --tcp-connect, --http, "
            "--interface, --proxy or '-'"
        )
    name, spec = chosen[0]
    if kw.get("bpf") and name != "interface":
        raise UsageError("--bpf goes with --interface")
    proxy_only = kw.get("confdir") is not None or kw.get("upstream_ca") is not None
    if name != "proxy" and (kw.get("mode") != "regular" or proxy_only):
        raise UsageError("--mode, --confdir and --upstream-ca go with --proxy")
    options: dict[str, Any] = {}
    if name == "interface":
        options["bpf"] = kw.get("bpf")
    elif name == "proxy":
        options = {
            "mode": kw["mode"],
            "confdir": kw.get("confdir"),
            "upstream_ca": kw.get("upstream_ca"),
        }
    return make_source(name.replace("_", "-"), str(spec), **options)


def run_watch(stdin: str | None, kw: dict[str, Any]) -> int:
    from phonehome.live.alerts import Printer
    from phonehome.live.setup import WatchSettings, load, make_watch, names

    settings = WatchSettings(
        device_file=kw.get("device_file"),
        fmt=kw["fmt"],
        db_path=kw.get("db_path"),
        store=not kw.get("no_store"),
        home_country=kw.get("home_country"),
        events_file=kw.get("events_file"),
        events_tz=kw.get("events_tz"),
        events_offset=kw.get("events_offset") or 0.0,
        trigger_window=kw.get("trigger_window"),
        device_ips=kw.get("device_ips") or (),
        device_macs=kw.get("device_macs") or (),
        save_every=kw.get("save_every"),
        wifi_keys=kw.get("wifi_keys") or (),
    )
    printer = Printer(settings.fmt, names())
    source = _source(stdin, kw)
    load(settings, printer)  # the arguments fail before a port is bound
    previous = _install_stop(source)  # from here a Ctrl-C ends the watch cleanly
    interrupted = False
    try:
        source.open()
        watch = make_watch(settings, source, printer)
        source.watch = watch
        watch.start()
        try:
            if not source.stopping:
                source.run(watch)
        except KeyboardInterrupt:
            interrupted = True
        except PhonehomeError:
            _forget_empty(watch)
            raise
        finally:
            source.close()
        status = watch.finish()
        if watch.store is not None:
            watch.store.close()
    finally:
        _restore(previous)
        source.close()
    if interrupted:
        click.echo("phonehome: interrupted", err=True)
        return 130
    if source.failure is not None:
        raise PhonehomeError(source.failure)  # (after the save: nothing seen is lost)
    return EXIT_FINDINGS if status.findings else EXIT_CLEAN


def _forget_empty(watch: Any) -> None:
    """A watch that failed before seeing anything leaves no empty scan behind."""
    if watch.store is not None and watch.scan_id is not None and not watch.ctx.stats.messages:
        watch.store.delete(watch.scan_id)
        watch.scan_id = None


Handlers = dict[int, Any]


def _install_stop(source: Any) -> Handlers:
    """First Ctrl-C/SIGTERM: end the source's stream (clean finish); second: stop now."""
    presses = [0]

    def handler(signum: int, frame: FrameType | None) -> None:
        presses[0] += 1
        if presses[0] > 1:
            raise KeyboardInterrupt
        source.stop()

    previous: Handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore(previous: Handlers) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
