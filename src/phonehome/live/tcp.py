"""pcap/pcapng byte streams over TCP.

``--tcp-listen [HOST:]PORT``: the watch listens and the exporter connects — PCAPdroid's
TCP exporter, or ``tcpdump -U -w - | nc HOST PORT`` on a router. One connection at a
time; when it closes, the watch waits for the next one (a new segment: the flows of the
old connection are flushed).

``--tcp-connect HOST:PORT``: the watch connects to a server that sends a capture to
whoever connects (pcap-over-IP, ``tcpdump -U -w - | nc -l PORT``). A lost or refused
connection is retried with backoff (1, 2, 4 … 30 s), and the status line says so.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

from phonehome.errors import UsageError
from phonehome.live.source import (
    BACKOFF_S,
    LiveCapture,
    Source,
    bind_error,
    family_of,
    parse_address,
)
from phonehome.live.stream import Fill

RECV = 1 << 18


def socket_fill(source: Source, sock: socket.socket) -> Fill:
    """Read a connected socket: what arrived within the timeout, None when it closes."""

    def fill(timeout: float) -> bytes | None:
        # Stopping: bytes already here are still read, without waiting for more.
        if source.drained():
            return None
        ready, _, _ = select.select([sock], [], [], 0 if source.stopping else timeout)
        if not ready:
            return None if source.stopping else b""
        try:
            data = sock.recv(RECV)
        except OSError:
            return None
        if not data:
            return None
        source.arrived(len(data))
        return data

    return fill


class TcpListenSource(Source):
    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.host, self.port = parse_address(spec, "0.0.0.0", "--tcp-listen")
        self.server: socket.socket | None = None
        self.connections = 0

    def open(self) -> None:
        server = socket.socket(family_of(self.host), socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind((self.host, self.port))
            server.listen(1)
        except OSError as e:
            server.close()
            raise bind_error("--tcp-listen", self.host, self.port, e) from None
        self.port = server.getsockname()[1]
        self.name = f"tcp-listen {self.host}:{self.port}"
        self.server = server
        self.state = "waiting for the exporter to connect"

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def segments(self) -> Iterator[LiveCapture]:
        server = self.server
        assert server is not None
        while not self.stopping:
            ready, _, _ = select.select([server], [], [], 0.25)
            self.tick()
            if not ready:
                continue
            try:
                conn, peer = server.accept()
            except OSError:
                continue
            self.connections += 1
            self.state = f"connected from {peer[0]}"
            with conn:
                cap = self.capture(self.stream(socket_fill(self, conn)))
                if cap is not None:
                    yield cap
            if not self.stopping:
                self.state = "connection closed; waiting for the exporter to reconnect"
                if self.watch is not None:
                    self.watch.printer.note(f"{self.name}: {self.state}")


class TcpConnectSource(Source):
    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        if ":" not in spec:
            raise UsageError(f"--tcp-connect {spec!r}: expected HOST:PORT")
        self.host, self.port = parse_address(spec, "", "--tcp-connect", listen=False)
        self.name = f"tcp-connect {self.host}:{self.port}"
        self.connections = 0

    def segments(self) -> Iterator[LiveCapture]:
        failures = 0
        while not self.stopping:
            self.state = "connecting"
            try:
                sock = socket.create_connection((self.host, self.port), timeout=5)
            except OSError as e:
                wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                self.state = f"cannot connect ({e.strerror or e}); retrying in {wait:g} s"
                self._note()
                if not self.wait(wait):
                    return
                continue
            failures = 0
            self.connections += 1
            self.state = "connected"
            with sock:
                cap = self.capture(self.stream(socket_fill(self, sock)))
                if cap is not None:
                    yield cap
            if self.stopping:
                return
            wait = BACKOFF_S[0]
            self.state = f"connection lost; reconnecting in {wait:g} s"
            self._note()
            if not self.wait(wait):
                return

    def _note(self) -> None:
        if self.watch is not None:
            self.watch.printer.note(f"{self.name}: {self.state}")
