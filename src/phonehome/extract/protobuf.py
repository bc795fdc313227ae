"""Protocol Buffers wire format without a schema.

SDKs (Firebase, ad networks, vendor telemetry) send protobuf; without the ``.proto`` the
wire format still tells varints from length-delimited bytes. Random bytes parse as
protobuf surprisingly often, so a buffer is only accepted when all of it parses, and
callers that must decide "is this protobuf at all" also ask for a readable string in it.
Paths are field numbers joined with dots after a ``#``: ``#1.3`` is field 3 inside field 1.
"""

from __future__ import annotations

import math
import struct

from phonehome.extract.leaf import MAX_SIBLINGS, Leaf, others, sibling_pair
from phonehome.extract.text import printable, to_text

MAX_NESTING = 8
MAX_FIELDS = 10_000
"""Fields per buffer; a parse needing more is not what a device sends in one message."""

_Wire = tuple[int, int, int | bytes]
"""(field number, wire type, value): the decoded tag and its payload."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); value -1 when the varint runs off the end or past 10 bytes."""
    result = 0
    shift = 0
    end = min(len(data), pos + 10)
    while pos < end:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    return -1, pos


def wire_fields(data: bytes) -> list[_Wire] | None:
    """All top-level fields, or None unless the whole buffer parses cleanly."""
    out: list[_Wire] = []
    pos = 0
    n = len(data)
    while pos < n:
        tag, pos = _varint(data, pos)
        number = tag >> 3
        wire = tag & 7
        if tag < 0 or number == 0 or len(out) >= MAX_FIELDS:
            return None
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
            if value < 0:
                return None
        elif wire == 2:
            size, pos = _varint(data, pos)
            if size < 0 or pos + size > n:
                return None
            value = data[pos : pos + size]
            pos += size
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > n:
                return None
            value = int.from_bytes(data[pos : pos + width], "little")
            pos += width
        else:
            return None  # groups (3, 4) are deprecated; 6 and 7 do not exist
        out.append((number, wire, value))
    return out or None


def _float_text(value: int, wire: int) -> str | None:
    """A fixed-width value read as a float, when that gives a plausible coordinate-like number."""
    f: float = (
        struct.unpack("<d", value.to_bytes(8, "little"))[0]
        if wire == 1
        else struct.unpack("<f", value.to_bytes(4, "little"))[0]
    )
    if math.isfinite(f) and 1e-6 <= abs(f) <= 1e7:
        return repr(f) if wire == 1 else f"{f:.7g}"
    return None


def leaves(data: bytes) -> tuple[list[Leaf], int] | None:
    """Leaves of a message and how many bytes of readable strings it holds; None if not
    protobuf. The string share is what tells a real message from bytes that parse by chance."""
    top = wire_fields(data)
    if top is None:
        return None
    out: list[Leaf] = []
    strings = _walk(top, "", 0, out)
    return out, strings


def _walk(fields: list[_Wire], prefix: str, depth: int, out: list[Leaf]) -> int:
    scalars: list[tuple[str, str]] = []
    pending: list[tuple[str, str, str, bytes | None, int]] = []
    nested: list[tuple[str, list[_Wire]]] = []
    strings = 0
    for number, wire, value in fields:
        path = f"{prefix}.{number}" if prefix else f"#{number}"
        key = f"#{number}"
        if isinstance(value, int):
            text = str(value)
        elif not value:
            continue
        elif printable(value):
            strings += len(value)
            text = to_text(value)
        else:
            sub = wire_fields(value) if depth + 1 < MAX_NESTING else None
            if sub is not None:
                nested.append((path, sub))
            else:
                pending.append((path, key, to_text(value), value, -1))
            continue
        index = len(scalars) if len(scalars) <= MAX_SIBLINGS else -1
        if index >= 0:
            scalars.append(sibling_pair(key, text))
        pending.append((path, key, text, value if isinstance(value, bytes) else None, index))
        if isinstance(value, int) and wire != 0:
            as_float = _float_text(value, wire)
            if as_float is not None:
                pending.append((path, key, as_float, None, index))
    for path, key, text, raw, index in pending:
        out.append((path, key, text, raw, others(scalars, index)))
    for path, sub in nested:
        strings += _walk(sub, path, depth + 1, out)
    return strings
