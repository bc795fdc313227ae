"""``--proxy [HOST:]PORT [--mode regular|transparent|wireguard]``: mitmproxy in-process
with phonehome as its addon (:mod:`.mitm_addon`).

mitmproxy's own addons do the proxying (and create the CA in ``--confdir``, default
``~/.mitmproxy``, the one the phone must trust); ours turns each decrypted request into a
message for the watch. Its terminal log is off: the watch's alerts and status are the
output, and mitmproxy's warnings (a client that does not trust the CA, an upstream that
cannot be reached) are passed on as notes. Startup errors — a port in use, a bad mode —
are one line and exit 2, as for every source.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from phonehome.errors import UsageError
from phonehome.live.mitm_addon import PhonehomeWatch, listening, private_wireguard_keys
from phonehome.live.source import Source, bind_error, family_of, parse_address

if TYPE_CHECKING:
    from phonehome.live.watch import Watch

MODES = ("regular", "transparent", "wireguard")
DEFAULT_PORTS = {"regular": 8080, "transparent": 8080, "wireguard": 51820}


class _Relay(logging.Handler):
    """mitmproxy's log: errors during startup stop the watch; warnings become notes."""

    def __init__(self, source: ProxySource) -> None:
        super().__init__(logging.WARNING)
        self.source = source
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().splitlines()[0] if record.getMessage() else ""
        if record.levelno >= logging.ERROR and not self.source.running:
            self.errors.append(text)
            return
        watch = self.source.watch
        if watch is not None and text:
            watch.printer.note(f"mitmproxy: {text[:300]}")


class ProxySource(Source):
    kind = "messages"

    def __init__(
        self,
        spec: str,
        mode: str = "regular",
        confdir: Path | None = None,
        upstream_ca: Path | None = None,
    ) -> None:
        super().__init__(spec)
        if mode not in MODES:
            raise UsageError(f"--mode {mode!r}: one of {', '.join(MODES)}")
        self.host, self.port = parse_address(spec, "0.0.0.0", "--proxy")
        self.mode = mode
        self.confdir = confdir
        self.upstream_ca = upstream_ca
        self.format = "mitmproxy"
        self.name = f"mitmproxy {mode} {self.host}:{self.port}"
        self.running = False
        self._master: object | None = None

    def open(self) -> None:
        try:
            import mitmproxy  # noqa: F401
        except ImportError:
            raise UsageError("--proxy needs mitmproxy: pip install 'phonehome[mitm]'") from None
        # Find a port in use now, with one clear line (mitmproxy would only log it).
        kind = socket.SOCK_DGRAM if self.mode == "wireguard" else socket.SOCK_STREAM
        probe = socket.socket(family_of(self.host), kind)
        try:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((self.host, self.port))
        except OSError as e:
            raise bind_error("--proxy", self.host, self.port, e) from None
        finally:
            probe.close()

    def stop(self) -> None:
        super().stop()
        master = self._master
        if master is not None:
            master.shutdown()  # type: ignore[attr-defined]

    def run(self, watch: Watch) -> None:
        self.watch = watch
        relay = _Relay(self)
        logger = logging.getLogger("mitmproxy")
        logger.addHandler(relay)
        logger.propagate = False
        try:
            asyncio.run(self._main(watch))
        finally:
            logger.removeHandler(relay)
        if relay.errors:
            raise UsageError(f"--proxy: mitmproxy could not start: {relay.errors[0]}")

    async def _main(self, watch: Watch) -> None:
        from mitmproxy import options
        from mitmproxy.addons import default_addons
        from mitmproxy.master import Master

        opts = options.Options()
        master = Master(opts)
        master.addons.add(*default_addons())  # type: ignore[no-untyped-call]
        addon = PhonehomeWatch(watch, self)
        update: dict[str, object] = {
            "listen_host": self.host,
            "listen_port": self.port,
            "mode": [self.mode],
        }
        if self.confdir is not None:
            update["confdir"] = str(self.confdir)
        if self.upstream_ca is not None:
            update["ssl_verify_upstream_trusted_ca"] = str(self.upstream_ca)
        opts.update(**update)  # type: ignore[no-untyped-call]
        master.addons.add(addon)  # type: ignore[no-untyped-call]
        self._master = master
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        master.addons.add(_StartupCheck(self))  # type: ignore[no-untyped-call]
        await master.run()


class _StartupCheck:
    """Runs after mitmproxy brought its servers up: stop at once when that failed."""

    def __init__(self, source: ProxySource) -> None:
        self.source = source

    def running(self) -> None:
        handler = next(
            (h for h in logging.getLogger("mitmproxy").handlers if isinstance(h, _Relay)), None
        )
        if handler is not None and handler.errors:
            self.source.stop()
            return
        self.source.running = True
        self.source.state = "proxying"
        from mitmproxy import ctx

        if self.source.mode == "wireguard":
            private_wireguard_keys(ctx.options.confdir)
        shown = listening(self.source.mode)
        if shown and self.source.watch is not None:
            self.source.name = f"mitmproxy {self.source.mode} {shown}"
            self.source.watch.printer.note(
                f"mitmproxy {self.source.mode} proxy listening on {shown}"
            )
