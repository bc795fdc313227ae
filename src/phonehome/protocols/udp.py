"""The UDP session: one per UDP flow, recognising its protocol by content, not port.

Each datagram is offered to the registry's per-datagram parsers (DNS: unicast, mDNS,
LLMNR), then to the protocols that follow a whole flow (QUIC: its client Initial opens
the flow, and the flow is followed until the ClientHello is read, then marked done so
the flow table drops the encrypted rest cheaply). Anything else is kept as raw payload,
bounded per direction, because identifiers often travel in home-made UDP protocols.
"""

from __future__ import annotations

from typing import Final

from phonehome.context import Context
from phonehome.model.message import RawPayload
from phonehome.protocols.base import Parsed, UdpApp, UdpHost
from phonehome.protocols.registry import UDP

RAW_LIMIT: Final = 65536
"""Raw payload bytes kept per direction of a flow."""


class UdpSession(UdpHost):
    """Implements :class:`phonehome.protocols.base.Session` for UDP flows."""

    def __init__(
        self, ctx: Context, input: int, client_port: int, server_port: int, client: str = "",
        server: str = "",
    ) -> None:  # fmt: skip
        self.ctx = ctx
        self.input = input
        self.client_port = client_port
        self.server_port = server_port
        self.client = client
        self.server = server
        self.done = False
        self._app: UdpApp | None = None
        self._raw_left = [RAW_LIMIT, RAW_LIMIT]  # [from server, from client]

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        if self.done or not data:
            return []
        app = self._app
        if app is None:
            for proto in UDP:
                got = proto.udp_datagram(self, from_client, data, time, frame)
                if got is not None:
                    return got
            for proto in UDP:
                if proto.udp_start(data, from_client):
                    app = self._app = proto.udp_app(self)
                    break
            else:
                return self.raw(from_client, data, time, frame)
        out = app.datagram(from_client, data, time, frame)
        if app.done:
            self.done = True
        elif app.released:
            self._app = None
        return out

    def gap(self, from_client: bool, size: int) -> None:
        """Datagrams stand alone: a lost one leaves nothing to resynchronise."""

    def close(self) -> list[Parsed]:
        app = self._app
        if app is None:
            return []
        self._app = None
        return app.close()

    def raw(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        left = self._raw_left[from_client]
        if left <= 0:
            return []
        kept = data[:left]
        self._raw_left[from_client] = left - len(data)
        if self._raw_left[0] <= 0 and self._raw_left[1] <= 0:
            self.done = True
        return [Parsed(from_client, time, frame, RawPayload(kept, len(kept) < len(data)))]
