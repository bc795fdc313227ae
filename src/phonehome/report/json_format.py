"""``--format json``: the document itself, for tools: the versioned scan contract
(docs/scan-json.md), or a static-analysis document (docs/static.md)."""

from __future__ import annotations

import json
from typing import Any

from phonehome.report.document import ScanView


def render(view: ScanView, color: bool = False) -> str:
    return render_static(view.doc)


def render_static(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
