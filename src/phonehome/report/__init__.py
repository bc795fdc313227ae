"""Output formats: one module each, registered in ``FORMATS``.

Redaction happens here, where output is written, and nowhere earlier in the pipeline:
every formatter receives a :class:`~phonehome.report.view.ScanView`, which holds only
redacted values unless the user asked for ``--reveal``.
"""

from __future__ import annotations

from collections.abc import Callable

from phonehome.report import (
    csv_format,
    html_format,
    json_format,
    jsonl_format,
    markdown_format,
    sarif_format,
    text_format,
)
from phonehome.report.view import ScanView

Formatter = Callable[[ScanView, bool], str]
"""(view, color) -> the whole output as text."""

FORMATS: dict[str, Formatter] = {
    "text": text_format.render,
    "json": json_format.render,
    "jsonl": jsonl_format.render,
    "csv": csv_format.render,
    "markdown": markdown_format.render,
    "sarif": sarif_format.render,
    "html": html_format.render,
}

__all__ = ["FORMATS", "Formatter", "ScanView"]
