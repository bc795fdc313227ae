"""Text from a capture on a terminal: shown, never obeyed.

A host, path, key or payload can hold ESC, CR, LF or C1 controls that would move the
cursor, recolour or retitle the terminal, or forge a line of the report. Text outputs
pass capture-derived strings through :func:`safe` (JSON outputs escape them anyway).
"""

from __future__ import annotations

CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def safe(text: str) -> str:
    return text.translate(CONTROL_ESCAPES)
