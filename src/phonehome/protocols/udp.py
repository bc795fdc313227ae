"""The UDP session: one per UDP flow, recognising its protocol by content, not port.

DNS (unicast, mDNS, LLMNR) is parsed per datagram. A flow whose client opens with a
QUIC Initial is followed until its ClientHello is read, then marked done so the flow
table drops the encrypted rest cheaply. Anything else is kept as raw payload, bounded
per direction, because identifiers often travel in home-made UDP protocols.
"""

from __future__ import annotations

from typing import Final

from phonehome.context import Context
from phonehome.model.message import RawPayload
from phonehome.protocols import dns
from phonehome.protocols.base import Parsed
from phonehome.protocols.quic import QuicInitialTracker, looks_like_quic_initial

RAW_LIMIT: Final = 65536
"""Raw payload bytes kept per direction of a flow."""


class UdpSession:
    """Implements :class:`phonehome.protocols.base.Session` for UDP flows."""

    __slots__ = ("_ctx", "_input", "_quic", "_raw_left", "client_port", "done", "server_port")

    def __init__(self, ctx: Context, input: int, client_port: int, server_port: int) -> None:
        self._ctx = ctx
        self._input = input
        self.client_port = client_port
        self.server_port = server_port
        self.done = False
        self._quic: QuicInitialTracker | None = None
        self._raw_left = [RAW_LIMIT, RAW_LIMIT]  # [from server, from client]

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        if self.done or not data:
            return []
        if self._quic is not None:
            return self._quic_datagram(from_client, data, time, frame)
        try:
            parsed = dns.parse_if_dns(data)
        except dns.DnsError as exc:
            self._ctx.anomalies.add("dns.malformed", self._input, frame, str(exc))
            return self._raw(from_client, data, time, frame)
        if parsed is not None:
            message, problem = parsed
            if problem is not None:
                self._ctx.anomalies.add("dns.truncated_answers", self._input, frame, problem)
            return [Parsed(from_client, time, frame, message)]
        if from_client and looks_like_quic_initial(data):
            self._quic = QuicInitialTracker()
            return self._quic_datagram(from_client, data, time, frame)
        return self._raw(from_client, data, time, frame)

    def gap(self, from_client: bool, size: int) -> None:
        """Datagrams stand alone: a lost one leaves nothing to resynchronise."""

    def close(self) -> list[Parsed]:
        return []

    def _quic_datagram(
        self, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed]:
        tracker = self._quic
        assert tracker is not None
        if not from_client:
            return []  # server Initial/Handshake packets: nothing the device sent
        initial = tracker.feed(data)
        if tracker.problem is not None:
            kind, detail = tracker.problem
            self._ctx.anomalies.add(kind, self._input, frame, detail)
        if initial is not None:
            self.done = True
            return [Parsed(from_client, time, frame, initial)]
        if tracker.decrypted == 0:
            # It looked like QUIC but nothing opened: keep the bytes as any UDP payload,
            # and once the tracker gives up, treat the flow as ordinary UDP again.
            if tracker.done:
                self._quic = None
            return self._raw(from_client, data, time, frame)
        return []

    def _raw(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        left = self._raw_left[from_client]
        if left <= 0:
            return []
        kept = data[:left]
        self._raw_left[from_client] = left - len(data)
        if self._raw_left[0] <= 0 and self._raw_left[1] <= 0:
            self.done = True
        return [Parsed(from_client, time, frame, RawPayload(kept, len(kept) < len(data)))]
