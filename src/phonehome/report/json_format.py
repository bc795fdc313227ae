"""``--format json``: the versioned scan contract, documented in docs/scan-json.md."""

from __future__ import annotations

import json

from phonehome.report.view import ScanView


def render(view: ScanView, color: bool = False) -> str:
    return json.dumps(view.doc, indent=2, ensure_ascii=False) + "\n"
