"""What every live source shares: its counters, its stop, and the loop that hands its
captures to the pipeline the file readers feed.

A frame source (UDP, TCP, HTTP, standard input, an interface) turns what it receives
into one or more *segments*: a :class:`LiveCapture` over a :class:`~.stream.LiveStream`
of pcap or pcapng bytes (a new one per TCP connection, per PCAPdroid restart). Each
segment goes through :func:`phonehome.pipeline.iter_messages` like a file, with one
difference: the flow table's reader-side shortcut (``FlowTable.done_filter``) is off,
because it holds the messages of the frames it consumes until the reader yields its
next frame — harmless in a file, but on a quiet live link that next frame may be
minutes away, and the alert with it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phonehome.errors import InputError, UsageError
from phonehome.ingest import Capture, open_live_stream
from phonehome.live.stream import Fill, LiveStream
from phonehome.model import Frame

if TYPE_CHECKING:
    from phonehome.context import Context
    from phonehome.live.watch import Watch
    from phonehome.net.contracts import Session
    from phonehome.net.flows import Flow, FlowTable

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
DRAIN_S = 1.0
"""After a stop, how long a source keeps reading what is already queued for it."""
"""Waits between attempts to reach a lost TCP/HTTP source (the last one repeats)."""


@dataclass
class LiveCapture(Capture):
    """A capture whose frames are counted as they are read (the pipeline adds its own
    frame counts only when an input ends, and a live input ends when the watch does)."""

    source: Any = None

    def frames(self, ctx: Context, filter_for: Any = None) -> Iterator[Frame]:
        src = self.source
        for frame in super().frames(ctx, filter_for):
            src.packets += 1
            src.frame_bytes += frame.caplen
            yield frame


def live_table(ctx: Context, factory: Callable[[Flow], Session]) -> FlowTable:
    """The flow table of a live segment: as a scan's, without the done filter (see the
    module docstring)."""
    from phonehome.net.flows import FlowTable

    return FlowTable(ctx, factory, use_done_filter=False)


class Source:
    """Base of the live sources; see the module docstring."""

    kind = "frames"

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.name = spec
        self.format = "pcap"
        self.state = "starting"
        self.packets = 0
        self.frame_bytes = 0
        self.drops = 0
        self.received = 0
        self.stopping = False
        self._drain_until = 0.0
        self.watch: Watch | None = None
        self.failure: str | None = None
        """Why the source ended without being asked to (a capture tool that died): the
        watch saves what it saw, then ends with this error (exit 2)."""

    def open(self) -> None:
        """Bind or connect what can be checked before the watch starts; a port in use or
        an unusable argument is a :class:`UsageError` here (one line, exit 2)."""

    def segments(self) -> Iterator[LiveCapture]:
        raise NotImplementedError

    def stop(self) -> None:
        """Ask the source to end (Ctrl-C, SIGTERM): what has already arrived is still read
        (for at most :data:`DRAIN_S`), then its stream ends, the pipeline flushes what the
        flows still hold, and the watch saves."""
        if not self.stopping:
            self.stopping = True
            self._drain_until = time.monotonic() + DRAIN_S

    def drained(self) -> bool:
        """True once a stopping source should read nothing more."""
        return self.stopping and time.monotonic() >= self._drain_until

    def close(self) -> None:
        """Release sockets and processes (after the watch has saved)."""

    def run(self, watch: Watch) -> None:
        """Feed every message of every segment to ``watch``."""
        from phonehome.pipeline import iter_messages

        self.watch = watch
        feed = watch.feed
        for cap in self.segments():
            self.format = cap.format.name
            for msg in iter_messages([cap], watch.ctx, table_factory=live_table):
                feed(msg)

    # -- helpers for the sources ----------------------------------------------------------

    def tick(self) -> None:
        if self.watch is not None:
            self.watch.tick()

    def arrived(self, n: int) -> None:
        self.received += n
        if self.watch is not None:
            self.watch.last_arrival = time.monotonic()

    def stream(self, fill: Fill) -> LiveStream:
        return LiveStream(fill, self.tick)

    def capture(self, stream: LiveStream, label: str | None = None) -> LiveCapture | None:
        """The segment over ``stream``, or None (counted) when it does not start as a
        pcap/pcapng capture or ends before its first bytes."""
        try:
            cap = open_live_stream(stream, label or self.name)  # type: ignore[arg-type]
        except InputError as e:
            if self.watch is not None and not self.stopping:
                self.watch.ctx.anomalies.add("live.bad_stream", 0, None, str(e))
            return None
        return LiveCapture(cap.path, 0, cap.format, cap.stream, cap.hasher, cap.gz, source=self)

    def wait(self, seconds: float) -> bool:
        """Sleep in short steps (the status line keeps moving); False when stopping."""
        end = time.monotonic() + seconds
        while not self.stopping:
            left = end - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.25))
            self.tick()
        return False


def parse_address(
    text: str, default_host: str, option: str, *, listen: bool = True
) -> tuple[str, int]:
    """``[HOST:]PORT`` (``[::1]:8080`` for IPv6) -> (host, port); a bad one is a usage
    error naming the option. A listening source takes port 0 (the system picks one, and
    the watch prints it)."""
    host, port_text = default_host, text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise UsageError(f"{option} {text!r}: expected [IPV6]:PORT")
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    lowest = 0 if listen else 1
    if not port_text.isdigit() or not lowest <= int(port_text) < 65536:
        raise UsageError(f"{option} {text!r}: the port must be a number from {lowest} to 65535")
    if not host:
        raise UsageError(f"{option} {text!r}: empty host")
    return host, int(port_text)


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bind_error(option: str, host: str, port: int, e: OSError) -> UsageError:
    import errno

    if e.errno == errno.EADDRINUSE:
        return UsageError(f"{option}: {host} port {port} is already in use by another program")
    if e.errno == errno.EACCES:
        return UsageError(f"{option}: port {port} needs root (ports below 1024 are privileged)")
    if e.errno == errno.EADDRNOTAVAIL:
        return UsageError(f"{option}: {host} is not an address of this machine")
    return UsageError(f"{option}: cannot listen on {host} port {port}: {e.strerror or e}")
