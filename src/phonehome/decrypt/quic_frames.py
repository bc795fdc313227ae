"""QUIC frames of a decrypted packet (RFC 9000 19) and per-stream reassembly (RFC 9000 2.2).

:func:`walk_frames` reads every frame type of RFC 9000 plus DATAGRAM (RFC 9221) and keeps
what carries data: STREAM, CRYPTO, RESET_STREAM and NEW_CONNECTION_ID. An unknown frame
type ends the walk with a problem: frame lengths are type-specific, so nothing after it
can be found. :class:`Reassembly` puts one stream's (or one CRYPTO level's) pieces in
offset order: retransmitted bytes are dropped, pieces that come early wait (bounded), and
each released piece keeps the time and frame of the packet that carried it.
"""

from __future__ import annotations

from typing import Final

STREAM: Final = "stream"
CRYPTO: Final = "crypto"
RESET: Final = "reset"
NEW_CID: Final = "new_cid"

MAX_PENDING_BYTES: Final = 1 << 20
"""Out-of-order bytes held per stream while the gap before them is open."""
MAX_PENDING_PIECES: Final = 256
MAX_OFFSET: Final = 1 << 62


class FrameError(ValueError):
    """The frame walk could not go on."""


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """RFC 9000 16: (value, position after it). Raises FrameError when cut short."""
    if pos >= len(data):
        raise FrameError("truncated varint")
    first = data[pos]
    size = 1 << (first >> 6)
    end = pos + size
    if end > len(data):
        raise FrameError("truncated varint")
    value = first & 0x3F
    for i in range(pos + 1, end):
        value = (value << 8) | data[i]
    return value, end


class FrameEvent:
    """One frame that matters: ``kind`` is STREAM, CRYPTO, RESET or NEW_CID."""

    __slots__ = ("data", "fin", "kind", "offset", "stream_id")

    def __init__(self, kind: str, stream_id: int, offset: int, data: bytes, fin: bool) -> None:
        self.kind = kind
        self.stream_id = stream_id
        self.offset = offset
        """Stream/CRYPTO offset; RESET: the final size."""
        self.data = data
        """STREAM/CRYPTO bytes; NEW_CID: the connection id."""
        self.fin = fin

    def __repr__(self) -> str:
        return f"FrameEvent({self.kind}, {self.stream_id}, {self.offset}, {len(self.data)})"


def walk_frames(payload: bytes) -> tuple[list[FrameEvent], str | None]:
    """The data-carrying frames of one packet payload, and a problem if the walk stopped."""
    events: list[FrameEvent] = []
    pos = 0
    n = len(payload)
    try:
        while pos < n:
            ftype, pos = varint(payload, pos)
            if ftype == 0x00:  # PADDING: usually runs to the end
                while pos < n and payload[pos] == 0:
                    pos += 1
            elif ftype == 0x01 or ftype == 0x1E:  # PING, HANDSHAKE_DONE
                continue
            elif 0x08 <= ftype <= 0x0F:
                stream_id, pos = varint(payload, pos)
                offset = 0
                if ftype & 0x04:
                    offset, pos = varint(payload, pos)
                if ftype & 0x02:
                    length, pos = varint(payload, pos)
                else:
                    length = n - pos
                end = pos + length
                if end > n or offset + length > MAX_OFFSET:
                    raise FrameError("STREAM frame runs past the packet")
                events.append(FrameEvent(STREAM, stream_id, offset, payload[pos:end],
                                         bool(ftype & 0x01)))  # fmt: skip
                pos = end
            elif ftype == 0x02 or ftype == 0x03:  # ACK, ACK_ECN
                _, pos = varint(payload, pos)
                _, pos = varint(payload, pos)
                ranges, pos = varint(payload, pos)
                _, pos = varint(payload, pos)
                if ranges > n:
                    raise FrameError("ACK range count past the packet")
                for _ in range(2 * ranges + (3 if ftype == 0x03 else 0)):
                    _, pos = varint(payload, pos)
            elif ftype == 0x06:
                offset, pos = varint(payload, pos)
                length, pos = varint(payload, pos)
                end = pos + length
                if end > n:
                    raise FrameError("CRYPTO frame runs past the packet")
                events.append(FrameEvent(CRYPTO, 0, offset, payload[pos:end], False))
                pos = end
            elif ftype == 0x04:  # RESET_STREAM
                stream_id, pos = varint(payload, pos)
                _, pos = varint(payload, pos)
                final, pos = varint(payload, pos)
                events.append(FrameEvent(RESET, stream_id, final, b"", True))
            elif ftype == 0x18:  # NEW_CONNECTION_ID
                _, pos = varint(payload, pos)
                _, pos = varint(payload, pos)
                if pos >= n:
                    raise FrameError("truncated NEW_CONNECTION_ID")
                size = payload[pos]
                end = pos + 1 + size + 16
                if size < 1 or size > 20 or end > n:
                    raise FrameError("bad NEW_CONNECTION_ID")
                events.append(FrameEvent(NEW_CID, 0, 0, payload[pos + 1 : pos + 1 + size], False))
                pos = end
            elif ftype in (0x05, 0x11, 0x15):  # STOP_SENDING, MAX_STREAM_DATA, ..._BLOCKED
                _, pos = varint(payload, pos)
                _, pos = varint(payload, pos)
            elif ftype in (0x10, 0x12, 0x13, 0x14, 0x16, 0x17, 0x19):
                _, pos = varint(payload, pos)
            elif ftype == 0x07:  # NEW_TOKEN
                length, pos = varint(payload, pos)
                pos += length
            elif ftype == 0x1A or ftype == 0x1B:  # PATH_CHALLENGE, PATH_RESPONSE
                pos += 8
            elif ftype == 0x1C or ftype == 0x1D:  # CONNECTION_CLOSE
                _, pos = varint(payload, pos)
                if ftype == 0x1C:
                    _, pos = varint(payload, pos)
                length, pos = varint(payload, pos)
                pos += length
            elif ftype == 0x30:  # DATAGRAM to the end of the packet
                pos = n
            elif ftype == 0x31:
                length, pos = varint(payload, pos)
                pos += length
            else:
                return events, f"unknown frame type 0x{ftype:x}"
            if pos > n:
                raise FrameError(f"frame 0x{ftype:x} runs past the packet")
    except FrameError as e:
        return events, str(e)
    return events, None


class Released:
    """Bytes a reassembly released, with where their packet was."""

    __slots__ = ("data", "fin", "frame", "offset", "time")

    def __init__(self, offset: int, data: bytes, fin: bool, time: float, frame: int) -> None:
        self.offset = offset
        self.data = data
        self.fin = fin
        self.time = time
        self.frame = frame


class Reassembly:
    """One stream's bytes in offset order. ``add`` returns what became contiguous."""

    __slots__ = ("delivered", "fin_at", "finished", "overflow", "pending", "pending_bytes")

    def __init__(self) -> None:
        self.delivered = 0
        self.fin_at = -1
        self.finished = False
        self.overflow = False
        """Pieces were dropped for the pending bound: the stream has a hole for good."""
        self.pending: dict[int, tuple[bytes, float, int]] = {}
        self.pending_bytes = 0

    def add(self, offset: int, data: bytes, fin: bool, time: float, frame: int) -> list[Released]:
        out: list[Released] = []
        if self.finished:
            return out
        if fin:
            self.fin_at = offset + len(data)
        end = offset + len(data)
        if end > self.delivered or (fin and end == self.delivered):
            if offset > self.delivered:
                self._hold(offset, data, time, frame)
            else:
                self._release(data[self.delivered - offset :], time, frame, out)
                self._drain(out)
        self._check_fin(time, frame, out)
        return out

    def _hold(self, offset: int, data: bytes, time: float, frame: int) -> None:
        have = self.pending.get(offset)
        if have is not None and len(have[0]) >= len(data):
            return
        if (
            len(self.pending) >= MAX_PENDING_PIECES
            or self.pending_bytes + len(data) > MAX_PENDING_BYTES
        ):
            self.overflow = True
            return
        if have is not None:
            self.pending_bytes -= len(have[0])
        self.pending[offset] = (data, time, frame)
        self.pending_bytes += len(data)

    def _release(self, data: bytes, time: float, frame: int, out: list[Released]) -> None:
        if data:
            out.append(Released(self.delivered, data, False, time, frame))
            self.delivered += len(data)

    def _drain(self, out: list[Released]) -> None:
        while self.pending:
            start = min(self.pending)
            if start > self.delivered:
                return
            data, time, frame = self.pending.pop(start)
            self.pending_bytes -= len(data)
            if start + len(data) > self.delivered:
                self._release(data[self.delivered - start :], time, frame, out)

    def _check_fin(self, time: float, frame: int, out: list[Released]) -> None:
        if self.fin_at >= 0 and self.delivered >= self.fin_at:
            self.finished = True
            self.pending.clear()
            self.pending_bytes = 0
            if out:
                out[-1].fin = True
            else:
                out.append(Released(self.delivered, b"", True, time, frame))
