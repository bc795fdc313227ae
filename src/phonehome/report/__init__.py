"""Reports: one module per output format, one registry for scan and static documents.

Like bandit's formatters, each format is a name and the functions that render a
document in it: :data:`REGISTRY` lists them, and :data:`FORMATS` (scan documents) and
:data:`STATIC_FORMATS` (``apk`` and ``firmware-diff`` documents) are its two views. A
format module is imported the first time it renders, so the CLI can list the names
(``--format`` choices, ``--help``) without loading any of them.

Redaction happens where a scan's view is built (:func:`phonehome.report.view.build_view`)
and nowhere earlier: a scan formatter receives a :class:`ScanView`, which holds only
redacted values unless the user asked for ``--reveal``. Static documents hold no
personal data (packages, paths, hosts named in code), so there is nothing to redact.

Adding a format is one module with a ``render`` function and one :class:`ReportFormat`
line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from phonehome.report.document import ScanView

Formatter = Callable[[ScanView, bool], str]
"""(view, color) -> the whole output as text."""
StaticFormatter = Callable[[dict[str, Any]], str]
"""A static-analysis document -> the whole output as text."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReportFormat:
    name: str
    """The ``--format`` name."""
    scan: tuple[str, str] | None
    """(module, function) rendering a scan view, or None."""
    static: tuple[str, str] | None = None
    """(module, function) rendering a static-analysis document, or None."""


REGISTRY: tuple[ReportFormat, ...] = (
    ReportFormat(
        "text",
        ("phonehome.report.text_format", "render"),
        ("phonehome.report.static_text", "render"),
    ),
    ReportFormat(
        "json",
        ("phonehome.report.json_format", "render"),
        ("phonehome.report.json_format", "render_static"),
    ),
    ReportFormat("jsonl", ("phonehome.report.jsonl_format", "render")),
    ReportFormat(
        "html",
        ("phonehome.report.html_format", "render"),
        ("phonehome.report.static_html", "render"),
    ),
    ReportFormat("csv", ("phonehome.report.csv_format", "render")),
    ReportFormat("markdown", ("phonehome.report.markdown_format", "render")),
    ReportFormat(
        "sarif",
        ("phonehome.report.sarif_format", "render"),
        ("phonehome.report.static_sarif", "render"),
    ),
)
"""Every format, in the order ``--format`` lists them."""


class _Renderers(Mapping[str, T], Generic[T]):
    """Format name -> render function, importing the format's module on first use."""

    def __init__(self, refs: dict[str, tuple[str, str]]) -> None:
        self._refs = refs

    def __getitem__(self, name: str) -> T:
        module, function = self._refs[name]
        render: T = getattr(importlib.import_module(module), function)
        return render

    def __contains__(self, name: object) -> bool:
        return name in self._refs

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)


FORMATS: Mapping[str, Formatter] = _Renderers(
    {f.name: f.scan for f in REGISTRY if f.scan is not None}
)
"""The formats of a scan document (``scan``, ``show``, ``demo``)."""
STATIC_FORMATS: Mapping[str, StaticFormatter] = _Renderers(
    {f.name: f.static for f in REGISTRY if f.static is not None}
)
"""The formats of a static-analysis document (``apk``, ``firmware-diff``, ``show --static``)."""

__all__ = [
    "FORMATS",
    "REGISTRY",
    "STATIC_FORMATS",
    "Formatter",
    "ReportFormat",
    "ScanView",
    "StaticFormatter",
]
