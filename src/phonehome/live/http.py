"""``--http URL``: PCAPdroid's "HTTP server" dump mode (the phone serves the capture).

PCAPdroid (``pcap_dump/HTTPServer.java``) answers ``GET /`` with a ``302`` to
``/<file name>.pcap`` (or ``.pcapng``), and that with ``200``, ``Connection: close`` and
a chunked body: the pcap header, then the records as they are captured, for as long as
the capture runs. The response is parsed by h11 (a sans-I/O HTTP/1.1 implementation:
status line, headers, chunked decoding), fed from a socket the watch reads with short
timeouts, so the status line keeps moving between chunks. A lost connection is retried
with backoff, like ``--tcp-connect``.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import h11

from phonehome.errors import UsageError
from phonehome.live.source import BACKOFF_S, LiveCapture, Source
from phonehome.live.stream import Fill

MAX_REDIRECTS = 5
RECV = 1 << 18


class HttpError(Exception):
    """The server answered, but not with a capture (shown on the status line)."""


class HttpSource(Source):
    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        url = spec if "://" in spec else f"http://{spec}"
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise UsageError(f"--http {spec!r}: expected http://HOST[:PORT][/PATH]")
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise UsageError(f"--http {spec!r}: bad port") from None
        self.url = url
        self.name = f"http {url}"
        self.connections = 0

    def segments(self) -> Iterator[LiveCapture]:
        failures = 0
        while not self.stopping:
            self.state = "connecting"
            try:
                sock, conn, url = self._open(self.url)
            except (OSError, HttpError) as e:
                why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                self.state = f"cannot get the capture ({why}); retrying in {wait:g} s"
                self._note()
                if not self.wait(wait):
                    return
                continue
            failures = 0
            self.connections += 1
            self.state = f"receiving {url}"
            with sock:
                cap = self.capture(self.stream(_body_fill(self, sock, conn)), f"http {url}")
                if cap is not None:
                    yield cap
            if self.stopping:
                return
            self.state = f"capture stream ended; reconnecting in {BACKOFF_S[0]:g} s"
            self._note()
            if not self.wait(BACKOFF_S[0]):
                return

    def _note(self) -> None:
        if self.watch is not None:
            self.watch.printer.note(f"{self.name}: {self.state}")

    def _open(self, url: str) -> tuple[socket.socket, h11.Connection, str]:
        """GET ``url`` following redirects; the socket and h11 connection positioned at
        the start of a 200 response's body."""
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or 80
            sock = socket.create_connection((host, port), timeout=10)
            try:
                conn = h11.Connection(our_role=h11.CLIENT)
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                authority = parts.netloc
                request = h11.Request(
                    method="GET",
                    target=target,
                    headers=[("Host", authority), ("User-Agent", "phonehome"), ("Accept", "*/*")],
                )
                sock.sendall((conn.send(request) or b"") + (conn.send(h11.EndOfMessage()) or b""))
                response = _next_response(sock, conn)
                if response.status_code in (301, 302, 303, 307, 308):
                    location = dict(response.headers).get(b"location")
                    if not location:
                        raise HttpError(f"HTTP {response.status_code} without a Location")
                    url = urljoin(url, location.decode("latin-1"))
                    sock.close()
                    continue
                if response.status_code != 200:
                    raise HttpError(f"HTTP {response.status_code}")
                sock.settimeout(None)
                return sock, conn, url
            except BaseException:
                sock.close()
                raise
        raise HttpError(f"more than {MAX_REDIRECTS} redirects")


def _next_response(sock: socket.socket, conn: h11.Connection) -> h11.Response:
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            raise HttpError(f"not an HTTP response ({e})") from None
        if event is h11.NEED_DATA:
            data = sock.recv(RECV)
            conn.receive_data(data)
            if not data:
                # h11 reports the close as ConnectionClosed or an error on next_event.
                continue
        elif isinstance(event, h11.Response):
            return event
        elif isinstance(event, h11.ConnectionClosed):
            raise HttpError("the server closed the connection before answering")


def _body_fill(source: Source, sock: socket.socket, conn: h11.Connection) -> Fill:
    def fill(timeout: float) -> bytes | None:
        while not source.stopping:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as e:
                if source.watch is not None:
                    source.watch.ctx.anomalies.add("live.http.bad_chunk", 0, None, str(e))
                return None
            if isinstance(event, h11.Data):
                source.arrived(len(event.data))
                return bytes(event.data)
            if event is not h11.NEED_DATA:
                return None  # EndOfMessage, ConnectionClosed: the stream is over
            ready, _, _ = select.select([sock], [], [], timeout)
            if not ready:
                return b""
            try:
                data = sock.recv(RECV)
            except OSError:
                return None
            conn.receive_data(data)
        return None

    return fill
