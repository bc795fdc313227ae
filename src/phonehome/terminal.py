"""Text from a capture on a terminal: shown, never obeyed.

A host, path, key or payload can hold ESC, CR, LF or C1 controls that would move the
cursor, recolour or retitle the terminal, or forge a line of the report. Text outputs
pass capture-derived strings through :func:`safe` (JSON outputs escape them anyway).
"""

from __future__ import annotations

import re

CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe(text: str) -> str:
    # Almost every line has no control character: one C scan instead of a translate
    # that looks every character up in a dict (~5 us a line of `phonehome flows`).
    if _CONTROL.search(text) is None:
        return text
    return text.translate(CONTROL_ESCAPES)
