"""The flow table's two contracts: with whatever parses a flow, and with the readers.

The flow table (:mod:`phonehome.net.flows`) reassembles each TCP direction and hands
contiguous bytes to the flow's :class:`Session` (for UDP, each datagram), which returns
:class:`Parsed` units; the protocols (:mod:`phonehome.protocols`) implement it. The
capture readers run a :data:`ReaderFilter` the flow table gives them on each frame's bytes
before any object is made of it. Defined here, below both, so that ``net`` depends on
neither ``protocols`` nor ``ingest``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol as Structural

from phonehome.model.message import Content, Decryption


class Parsed:
    """One parsed unit and where it started. Slotted: created per message on the hot path.

    ``layer`` is set on what was read inside a decrypted TLS/QUIC connection: the pipeline
    then calls the message ``decrypted`` and records how."""

    __slots__ = ("content", "frame", "from_client", "layer", "time")

    def __init__(self, from_client: bool, time: float, frame: int, content: Content) -> None:
        self.from_client = from_client
        self.time = time
        self.frame = frame
        self.content = content
        self.layer: Decryption | None = None

    def __repr__(self) -> str:
        return f"Parsed({self.from_client}, {self.time}, {self.frame}, {self.content!r})"


class Session(Structural):
    """What the flow table drives, one per flow (tests pass structural fakes)."""

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


ReaderFilter = Callable[[bytes, int, int, float, int], bool]
"""``(buffer, start, stop, ts, frame number) -> handled``, run on a frame's bytes
(``buffer[start:stop]``) before any object is made of it; True means it has been fully
accounted for (and processed) by the flow table and is dropped: see
``FlowTable.done_filter``. Shared by the pcap and pcapng readers."""
