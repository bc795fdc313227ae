"""Output formats of ``apk`` and ``firmware-diff``: one module each, registered in
``FORMATS`` like the scan's ``phonehome.report.FORMATS``.

A formatter takes either document (``phonehome.apks/1``, one stored ``phonehome.apk/1``
app, or ``phonehome.firmware-diff/1``) and returns the whole output. Static documents
hold no personal data (package names, paths, hosts named in code), so there is nothing
to redact here, unlike scans.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from phonehome.static import report_html, report_sarif, report_text

StaticFormatter = Callable[[dict[str, Any]], str]


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, StaticFormatter] = {
    "text": report_text.render,
    "json": _json,
    "html": report_html.render,
    "sarif": report_sarif.render,
}

__all__ = ["FORMATS", "StaticFormatter"]
