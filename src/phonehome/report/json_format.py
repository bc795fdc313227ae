"""``--format json``: the document itself, for tools: the versioned scan contract
(docs/scan-json.md), or a static-analysis document (docs/static.md)."""

from __future__ import annotations

import json
from typing import Any

from phonehome.report.document import ScanView

_BATCH = 4096


def render(view: ScanView, color: bool = False) -> str:
    return render_static(view.doc)


def render_static(doc: dict[str, Any]) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False)``, joined in batches: with an
    indent the encoder yields a few pieces per value, and joining a whole scan's pieces
    at once held them all (about 5x the text: 100 MB for 10,000 findings)."""
    parts: list[str] = []
    batch: list[str] = []
    for piece in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(doc):
        batch.append(piece)
        if len(batch) >= _BATCH:
            parts.append("".join(batch))
            batch.clear()
    parts.append("".join(batch))
    parts.append("\n")
    return "".join(parts)
