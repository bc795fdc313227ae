"""Reassembly of one direction of a TCP connection.

Policy (see docs/net.md):

* Sequence numbers are compared modulo 2**32 against the next expected byte, and kept as
  unbounded offsets inside, so streams longer than 4 GiB and ISNs near the wrap work.
* In-order data is handed over at once; the common case is one comparison and no copy.
* Out-of-order segments wait in a heap, bounded by ``cap`` bytes, until the hole fills.
* Retransmissions are dropped. Overlaps: the first data wins — bytes already delivered
  are never changed, and among waiting segments the lower offset (then the earlier
  arrival) wins. When overlapping bytes can be compared (against the last delivered
  segment or a waiting one) and differ, ``tcp.overlap_mismatch`` is counted: a sign of
  damage or of an evasion attempt.
* A hole is given up — reported as a gap so delivery continues after it — when the peer
  acknowledges bytes beyond it, when the buffer cap is hit, or when the stream ends.
"""

from __future__ import annotations

import heapq
from typing import Final

from phonehome.model.anomaly import Anomalies

MASK: Final = 0xFFFFFFFF
HALF: Final = 0x80000000

Event = tuple[bytes | int, float, int]
"""``(data, time, frame)`` for delivered bytes, ``(size, time, frame)`` for a gap."""

_NOTHING: Final[list[Event]] = []


class Stream:
    """One direction's reassembly state. ``add``/``acked``/``finish`` return events in
    stream order; the caller must not mutate the returned list."""

    __slots__ = (
        "_anomalies",
        "_arrivals",
        "buffered",
        "cap",
        "fin",
        "heap",
        "input",
        "nxt",
        "retransmitted",
        "seq",
        "started",
        "tail",
        "tail_at",
    )

    def __init__(self, cap: int, anomalies: Anomalies, input: int = 0) -> None:
        self.cap = cap
        self._anomalies = anomalies
        self.input = input
        self.started = False
        self.seq = 0  # sequence number of the next byte to deliver (mod 2**32)
        self.nxt = 0  # its offset from the stream start
        self.heap: list[tuple[int, int, bytes, float, int]] = []
        self._arrivals = 0
        self.buffered = 0
        self.fin = -1  # offset of the FIN, once seen
        self.tail = b""  # last delivered segment, kept to compare retransmitted bytes
        self.tail_at = 0
        self.retransmitted = 0

    def start(self, seq: int) -> None:
        """The first byte of the stream has sequence number ``seq`` (ISN + 1 after SYN)."""
        self.started = True
        self.seq = seq & MASK

    def offset(self, seq: int) -> int:
        """Stream offset of ``seq``: nearest to the next expected byte, either side."""
        return self.nxt + (((seq - self.seq + HALF) & MASK) - HALF)

    def add(self, seq: int, data: bytes, time: float, frame: int) -> list[Event]:
        nxt = self.nxt
        off = nxt + (((seq - self.seq + HALF) & MASK) - HALF)
        if off == nxt and not self.heap:
            n = len(data)
            self.nxt = nxt + n
            self.seq = (seq + n) & MASK
            self.tail = data
            self.tail_at = nxt
            return [(data, time, frame)]
        end = off + len(data)
        if end <= nxt:
            self.retransmitted += 1
            self._compare(off, data, frame)
            return _NOTHING
        if off < nxt:
            self._compare(off, data[: nxt - off], frame)
            data = data[nxt - off :]
            off = nxt
        if off == nxt:
            out: list[Event] = [(data, time, frame)]
            self.advance(data)
            self._drain(out)
            return out
        self._arrivals += 1
        heapq.heappush(self.heap, (off, self._arrivals, data, time, frame))
        self.buffered += len(data)
        if self.buffered > self.cap:
            out = []
            self._skip_holes(out, None, time, frame)
            return out
        return _NOTHING

    def acked(self, ack: int, time: float, frame: int) -> list[Event]:
        """The peer acknowledged up to ``ack``: holes before it will never fill."""
        if not self.started:
            return _NOTHING
        limit = self.offset(ack)
        if limit <= self.nxt:
            return _NOTHING
        out: list[Event] = []
        self._skip_holes(out, limit, time, frame)
        if not self.heap and 0 <= self.fin < limit and self.fin > self.nxt:
            self._gap(out, self.fin - self.nxt, time, frame)
        return out

    def set_fin(self, seq: int) -> None:
        """A FIN at ``seq`` (sequence number just after the segment's data)."""
        if self.started and self.fin < 0:
            self.fin = self.offset(seq)

    @property
    def complete(self) -> bool:
        """FIN seen and every byte before it delivered."""
        return self.fin >= 0 and self.nxt >= self.fin and not self.heap

    def finish(self, time: float, frame: int) -> list[Event]:
        """The stream ends: give up every hole (and missing bytes before a seen FIN)."""
        if not self.heap and not (self.fin > self.nxt):
            return _NOTHING
        out: list[Event] = []
        self._skip_holes(out, None, time, frame)
        if self.fin > self.nxt:
            self._gap(out, self.fin - self.nxt, time, frame)
        return out

    def discard(self) -> None:
        """Nobody wants the bytes any more (session done): free the buffer."""
        self.heap.clear()
        self.buffered = 0
        self.tail = b""

    def advance(self, data: bytes) -> None:
        """In-order ``data`` was handed over by the caller itself (its fast path)."""
        n = len(data)
        self.tail = data
        self.tail_at = self.nxt
        self.nxt += n
        self.seq = (self.seq + n) & MASK

    def _gap(self, out: list[Event], size: int, time: float, frame: int) -> None:
        out.append((size, time, frame))
        self.nxt += size
        self.seq = (self.seq + size) & MASK
        self.tail = b""

    def _drain(self, out: list[Event]) -> None:
        heap = self.heap
        while heap and heap[0][0] <= self.nxt:
            off, _, data, time, frame = heapq.heappop(heap)
            self.buffered -= len(data)
            nxt = self.nxt
            if off + len(data) <= nxt:
                self._compare(off, data, frame)
                continue
            if off < nxt:
                self._compare(off, data[: nxt - off], frame)
                data = data[nxt - off :]
            out.append((data, time, frame))
            self.advance(data)

    def _skip_holes(self, out: list[Event], limit: int | None, time: float, frame: int) -> None:
        heap = self.heap
        while heap and (limit is None or heap[0][0] <= limit):
            first = heap[0]
            if first[0] > self.nxt:
                self._gap(out, first[0] - self.nxt, first[3], first[4])
            self._drain(out)

    def _compare(self, off: int, data: bytes, frame: int) -> None:
        tail = self.tail
        lo = max(off, self.tail_at)
        hi = min(off + len(data), self.tail_at + len(tail))
        if lo < hi and data[lo - off : hi - off] != tail[lo - self.tail_at : hi - self.tail_at]:
            self._anomalies.add(
                "tcp.overlap_mismatch",
                self.input,
                frame,
                f"{hi - lo} retransmitted bytes differ from the first copy; first kept",
            )
