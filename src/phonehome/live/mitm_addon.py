"""phonehome as a mitmproxy addon: the alerts of ``phonehome watch`` for what mitmproxy
decrypts.

Two ways in, the same code:

* ``phonehome watch --proxy [HOST:]PORT`` runs mitmproxy in-process with this addon
  (:mod:`phonehome.live.proxy`);
* mitmproxy users load this file into their own mitmdump/mitmweb:
  ``mitmdump -s "$(phonehome watch --print-addon-path)" --set phonehome_device=phone.toml``
  (options: ``phonehome_device``, ``phonehome_format`` text|jsonl, ``phonehome_db``,
  ``phonehome_no_store``, ``phonehome_home_country``, ``phonehome_events``).

Each request becomes a decrypted HTTP message the moment mitmproxy has read it — through
the same conversion as a ``.mitm`` flow file (:func:`phonehome.ingest.mitm.request_message`)
— and goes through the watch's scan; the response follows when it arrives. The watch is
stored and alerts exactly as with any other source (docs/watch.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from phonehome.ingest.flowids import FlowIds

if TYPE_CHECKING:
    from mitmproxy import http

    from phonehome.live.watch import SourceCounters, Watch

OPTIONAL_STR = Optional[str]  # noqa: UP045 - the spelling mitmproxy's option checker reads
TICK_S = 0.25
MAX_WAITING = 10_000
"""Connections whose requests wait for mitmproxy to connect upstream; beyond this the
oldest are scanned without the server's address (memory stays bounded)."""


class ProxyCounters:
    """What the status line shows for a proxy: requests stand for packets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.format = "mitmproxy"
        self.state = "starting"
        self.packets = 0
        self.frame_bytes = 0
        self.drops = 0
        self.received = 0


class PhonehomeWatch:
    """The addon. Given a ``watch`` (``phonehome watch --proxy``) it feeds it; loaded by
    mitmdump on its own, it makes one from its ``phonehome_*`` options when mitmproxy is
    running."""

    def __init__(self, watch: Watch | None = None, counters: SourceCounters | None = None) -> None:
        self.watch = watch
        self.counters = counters
        self._own = watch is None
        self._flows = FlowIds()  # bounded: the oldest connection is forgotten first
        self._index = 0
        self._ticker: asyncio.Task[None] | None = None
        self._waiting: dict[str, list[http.HTTPFlow]] = {}
        """Requests waiting for their server connection, by server connection id."""
        self._arrived: dict[str, float] = {}

    def load(self, loader: Any) -> None:
        if not self._own:
            return
        loader.add_option(
            "phonehome_device",
            OPTIONAL_STR,
            None,
            "phonehome: device profile (TOML).",
        )
        loader.add_option("phonehome_format", str, "text", "phonehome: alerts as text or jsonl.")
        loader.add_option(
            "phonehome_db",
            OPTIONAL_STR,
            None,
            "phonehome: the store file.",
        )
        loader.add_option(
            "phonehome_no_store", bool, False, "phonehome: do not record the watch in the store."
        )
        loader.add_option(
            "phonehome_home_country",
            OPTIONAL_STR,
            None,
            "phonehome: ISO code of home.",
        )
        loader.add_option(
            "phonehome_events",
            OPTIONAL_STR,
            None,
            "phonehome: device events file.",
        )

    def running(self) -> None:
        if self.watch is None:
            self.watch = self._make_watch()
            self.watch.start()
            self._say_where()
        if self.counters is not None:
            self.counters.state = "proxying"
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def _make_watch(self) -> Watch:
        from mitmproxy import ctx

        from phonehome.live.alerts import Printer
        from phonehome.live.setup import WatchSettings, make_watch, names

        opts = ctx.options
        settings = WatchSettings(
            device_file=Path(opts.phonehome_device) if opts.phonehome_device else None,
            fmt=opts.phonehome_format,
            db_path=Path(opts.phonehome_db) if opts.phonehome_db else None,
            store=not opts.phonehome_no_store,
            home_country=opts.phonehome_home_country,
            events_file=Path(opts.phonehome_events) if opts.phonehome_events else None,
        )
        modes = ",".join(str(m) for m in opts.mode)
        listen = listening(modes) or f"{opts.listen_host or '*'}:{opts.listen_port or 8080}"
        self.counters = ProxyCounters(f"mitmproxy {modes} {listen}")
        return make_watch(settings, self.counters, Printer(settings.fmt, names()))

    def _say_where(self) -> None:
        """Loaded into mitmdump/mitmweb: say where the proxy listens (``-p 0`` lets the
        system choose; ``mitmdump -q`` prints nothing), and keep WireGuard keys private."""
        from mitmproxy import ctx

        modes = [str(m) for m in ctx.options.mode]
        if any(m.startswith("wireguard") for m in modes):
            private_wireguard_keys(ctx.options.confdir)
        shown = listening(",".join(modes))
        if shown and self.watch is not None:
            self.watch.printer.note(f"mitmproxy {','.join(modes)} proxy listening on {shown}")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            if self.watch is not None:
                self.watch.tick()

    def _flow_ids(self, flow: http.HTTPFlow) -> None:
        """Count a connection pair the first time it is seen (the status line's flows)."""
        key = (flow.client_conn.id, flow.server_conn.id)
        if key not in self._flows:
            self._flows.get(key)
            if self.watch is not None:
                self.watch.ctx.stats.flows += 1

    def request(self, flow: http.HTTPFlow) -> None:
        """A complete request. Scanned now when its server's address is known (HTTPS, a
        reused connection); a plain HTTP request on a new connection waits the moment
        mitmproxy takes to connect (``server_connected``), so that the finding says which
        address, network and country received it."""
        if self.watch is None:
            return
        self._index += 1
        flow.metadata["phonehome_index"] = self._index
        self._arrived[flow.id] = time.monotonic()
        if flow.server_conn.peername is None:
            waiting = self._waiting.setdefault(flow.server_conn.id, [])
            waiting.append(flow)
            if len(self._waiting) > MAX_WAITING:
                for early in self._waiting.pop(next(iter(self._waiting))):
                    self._feed_request(early)
            return
        self._feed_request(flow)

    def server_connected(self, data: Any) -> None:
        for flow in self._waiting.pop(data.server.id, []):
            self._feed_request(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        """The request was sent by the app even if no server answered: scan it."""
        for waiting in self._waiting.pop(flow.server_conn.id, []):
            self._feed_request(waiting)

    def _feed_request(self, flow: http.HTTPFlow) -> None:
        from phonehome.ingest.mitm import request_message

        watch = self.watch
        index = flow.metadata.get("phonehome_index")
        if watch is None or not isinstance(index, int) or flow.metadata.get("phonehome_fed"):
            return
        flow.metadata["phonehome_fed"] = True
        self._flow_ids(flow)
        watch.last_arrival = self._arrived.pop(flow.id, time.monotonic())
        msg = request_message(flow, index, 0, self._flows)
        if self.counters is not None:
            self.counters.packets += 1
            self.counters.received += len(flow.request.raw_content or b"")
        watch.ctx.stats.messages += 1
        watch.feed(msg)

    def response(self, flow: http.HTTPFlow) -> None:
        from phonehome.ingest.mitm import response_message

        watch = self.watch
        index = flow.metadata.get("phonehome_index")
        if watch is None or not isinstance(index, int) or flow.response is None:
            return
        if not flow.metadata.get("phonehome_fed"):
            for waiting in self._waiting.pop(flow.server_conn.id, []):
                self._feed_request(waiting)  # in order; each is fed once
            self._feed_request(flow)
        self._flow_ids(flow)
        msg = response_message(flow, index, 0, self._flows, watch.ctx.received_bodies)
        if msg is None:
            return
        if self.counters is not None:
            self.counters.received += len(flow.response.raw_content or b"")
        watch.ctx.stats.messages += 1
        watch.feed(msg)

    def done(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for flows in self._waiting.values():
            for flow in flows:
                self._feed_request(flow)
        self._waiting.clear()
        if self._own and self.watch is not None:
            self.watch.finish()
            if self.watch.store is not None:
                with contextlib.suppress(Exception):
                    self.watch.store.close()


def listening(mode: str) -> str:
    """The addresses mitmproxy's servers are bound to ("" before they are): with port 0
    the system chose the port, and the person needs to know it."""
    from mitmproxy import ctx

    server = ctx.master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
    addrs = server.listen_addrs() if server is not None else []
    proto = "udp " if mode.startswith("wireguard") else ""
    return ", ".join(f"{proto}{a[0]}:{a[1]}" for a in addrs)


def private_wireguard_keys(confdir: str) -> None:
    """mitmproxy writes ``wireguard.conf`` (the server's and the client's private keys)
    with the default umask, readable by every user; its CA keys it writes 0600. Key
    material gets the same: 0600."""
    path = Path(confdir).expanduser() / "wireguard.conf"
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


addons = [PhonehomeWatch()]
"""What ``mitmdump -s <this file>`` loads."""
