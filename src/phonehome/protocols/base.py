"""The contract between the flow table (``phonehome.net``) and the protocol parsers.

The flow table reassembles each TCP direction and hands contiguous bytes to the flow's
:class:`Session`; for UDP it hands each datagram. A session recognises its protocol by
content (any port), parses, and returns :class:`Parsed` items. It never raises on bad
data: it records an anomaly in the context and, if it cannot go on, falls back to raw.
When ``done`` becomes True the flow table stops buffering and delivering payload for the
flow (TLS/QUIC application data past the handshake is skipped cheaply this way).
"""

from __future__ import annotations

from typing import Protocol

from phonehome.model.message import Content


class Parsed:
    """One parsed unit and where it started. Slotted: created per message on the hot path."""

    __slots__ = ("content", "frame", "from_client", "time")

    def __init__(self, from_client: bool, time: float, frame: int, content: Content) -> None:
        self.from_client = from_client
        self.time = time
        self.frame = frame
        self.content = content

    def __repr__(self) -> str:
        return f"Parsed({self.from_client}, {self.time}, {self.frame}, {self.content!r})"


class Session(Protocol):
    done: bool

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        """Contiguous stream bytes (TCP) or one datagram (UDP) of one direction."""
        ...

    def gap(self, from_client: bool, size: int) -> None:
        """``size`` bytes of this direction were never captured (already counted as
        ``tcp.gap`` by the flow table). The session resynchronises if it can."""
        ...

    def close(self) -> list[Parsed]:
        """The flow ended (FIN/RST, idle timeout, end of input): flush what is pending."""
        ...
