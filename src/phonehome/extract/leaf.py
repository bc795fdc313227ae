"""The unit the structure walkers hand to the expansion engine.

A leaf is a plain tuple, not a dataclass: walkers produce one per JSON value, form pair
or protobuf field of every outgoing message, so they stay as cheap as possible.
"""

from __future__ import annotations

Siblings = tuple[tuple[str, str], ...]

Leaf = tuple[str, str | None, str, bytes | None, Siblings]
"""(path segment, key, text, raw bytes or None, siblings). The segment is this leaf's
path inside its own structure (``$.a[0]``, ``imei``, ``#1.3``); the engine joins it to the
outer path with ``>``."""

MAX_SIBLINGS = 32
SIBLING_VALUE_MAX = 256
"""Siblings are context for detectors (lat beside lon), not data to search: keep them short."""


def sibling_pair(key: str, value: str) -> tuple[str, str]:
    return key.lower(), value[:SIBLING_VALUE_MAX]


def others(pairs: list[tuple[str, str]], index: int) -> Siblings:
    """All pairs but the one at ``index`` (-1: none excluded), bounded."""
    if index < 0:
        return tuple(pairs[:MAX_SIBLINGS])
    if index >= MAX_SIBLINGS + 1:
        return tuple(pairs[:MAX_SIBLINGS])
    return tuple((pairs[:index] + pairs[index + 1 :])[:MAX_SIBLINGS])


def escape_segment(name: str) -> str:
    """Keep ``>`` unambiguous as the layer separator in ``where`` paths."""
    return name.replace(">", "%3E") if ">" in name else name
