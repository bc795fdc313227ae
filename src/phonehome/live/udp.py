"""``--udp [HOST:]PORT``: PCAPdroid's UDP exporter (its default port is 1234).

Datagrams are read in batches (everything queued, up to :data:`BATCH`) and reframed by
:class:`~.framing.DatagramFramer` into a pcap/pcapng byte stream for the file readers.
The socket asks for a large receive buffer (``SO_RCVBUFFORCE`` as root, else
``SO_RCVBUF`` up to the system's ``net.core.rmem_max``), so the kernel holds the phone's
bursts while a store save runs; datagrams the kernel still had to drop are counted from
``SO_RXQ_OVFL`` and shown as drops.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
from collections import deque
from collections.abc import Iterator

from phonehome.live.framing import DatagramFramer, Output
from phonehome.live.source import LiveCapture, Source, bind_error, family_of, parse_address
from phonehome.live.stream import Fill

DEFAULT_PORT = 1234
RCVBUF = 16 << 20
BATCH = 256
MAX_DATAGRAM = 65535
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
"""Linux: every datagram carries the socket's count of drops so far (a uint32)."""
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


class UdpSource(Source):
    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.host, self.port = parse_address(spec, "0.0.0.0", "--udp")
        self.name = f"udp {self.host}:{self.port}"
        self.sock: socket.socket | None = None
        self.framer = DatagramFramer(self._bad)
        self._pending: deque[Output] = deque()
        self.datagrams = 0
        self.rcvbuf = 0
        # One receive buffer for every datagram: recvmsg(65535) would allocate 64 KiB per
        # datagram and shrink it, which fragments the heap (RSS crept ~2 MB per 28k
        # datagrams over a long watch, benchmarks/watch.py --soak).
        self._buffer = bytearray(MAX_DATAGRAM)
        self._view = memoryview(self._buffer)

    def _bad(self, kind: str, detail: str) -> None:
        if self.watch is not None:
            self.watch.ctx.anomalies.add(kind, 0, None, detail)

    def open(self) -> None:
        sock = socket.socket(family_of(self.host), socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise bind_error("--udp", self.host, self.port, e) from None
        for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, RCVBUF)
                break
            except OSError:
                continue
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        with contextlib.suppress(OSError):  # not Linux: no drop count
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.name = f"udp {self.host}:{self.port}"
        self.sock = sock
        self.state = "waiting for datagrams"

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _receive(self, timeout: float) -> bool:
        """Queue what arrived (waiting up to ``timeout``); False when the source is
        stopping and nothing more is queued."""
        sock = self.sock
        if sock is None or self.drained():
            return False
        stopping = self.stopping
        # Stopping: what the kernel already holds is still read (it arrived before the
        # Ctrl-C), without waiting for more.
        ready, _, _ = select.select([sock], [], [], 0 if stopping else timeout)
        if not ready:
            return not stopping
        space = socket.CMSG_SPACE(4)
        got = 0
        for _ in range(BATCH):
            try:
                size, ancillary, flags, _addr = sock.recvmsg_into([self._buffer], space)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno in (errno.EINTR, errno.ECONNREFUSED):
                    continue
                raise
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                    self.drops = struct.unpack("=I", value[:4])[0]
            data = bytes(self._view[:size])
            self.datagrams += 1
            got += 1
            self.arrived(size)
            if flags & socket.MSG_TRUNC:
                self._bad("live.udp.bad_datagram", f"datagram over {MAX_DATAGRAM} bytes, cut")
                continue
            out = self.framer.feed(data)
            if out.header or out.data:
                self._pending.append(out)
        if got:
            self.state = "receiving"
        return bool(got) or not stopping

    def segments(self) -> Iterator[LiveCapture]:
        while not self.stopping:
            # A segment starts with a header (sent by the phone or inferred).
            while not any(o.header for o in self._pending):
                self._pending.clear()  # data without a header cannot be read
                if not self._receive(0.25):
                    return
                self.tick()
            while not self._pending[0].header:
                self._pending.popleft()
            first = self._pending.popleft()
            self.format = (
                "pcapng"
                if self.framer.framing and (self.framer.framing.format == "pcapng")
                else "pcap"
            )
            cap = self.capture(self.stream(self._segment_fill(first)))
            if cap is not None:
                yield cap

    def _segment_fill(self, first: Output) -> Fill:
        started = [False]

        def fill(timeout: float) -> bytes | None:
            if not started[0]:
                started[0] = True
                return first.header + first.data
            if not self._pending and not self._receive(timeout):
                return None
            parts: list[bytes] = []
            while self._pending:
                if self._pending[0].header:
                    # A new header: this segment ends here (the phone restarted its
                    # capture or changed format); the next one starts with it.
                    if parts:
                        break
                    return None
                parts.append(self._pending.popleft().data)
            return b"".join(parts)

        return fill
