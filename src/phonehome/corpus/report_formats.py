"""``corpus report --format text|markdown|csv|html``: one :class:`~.report.Report`, four
renderings.

- text: for a terminal (capture-derived strings pass :func:`phonehome.terminal.safe`);
- markdown: GitHub tables (``|`` and line breaks in cells escaped);
- csv: ONE table for spreadsheets and pandas: a ``section`` column, then the union of
  every section's columns in order of first use (cells of other sections' columns are
  empty); formula-looking cells get a leading ``'``;
- html: one self-contained page like the scan report: inline CSS, no script, no image
  file, a Content-Security-Policy that forbids every load, every string escaped by
  construction, on the scan report's page skeleton (:mod:`phonehome.report.html`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from phonehome.corpus.query import csv_cell, table_text, text_cell
from phonehome.corpus.report import Report, Section


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def overview_lines(report: Report) -> list[str]:
    o = report.overview
    lines = [
        f"{o['inputs']} input(s): {o['done']} done, {o['failed']} not done; "
        f"{_mb(o['bytes'])}, {o['packets']:,} packets, {o['messages']:,} messages",
        f"{o['findings']} finding(s) in {o['inputs_with_findings']} input(s): "
        f"{o['identifiers']} kind(s) of identifier, {o['values']} distinct value(s), "
        f"{o['sends']:,} send(s), {o['sending_apps']} app(s) named",
        f"inspectable share of what the devices sent (clear text or decrypted): "
        f"{_pct(o['coverage'])}",
    ]
    if o["apks_analysed"]:
        lines.append(f"{o['apks_analysed']} APK(s) analysed")
    if o["first_time"] is not None:
        lines.append(f"traffic from {text_cell(o['first_time'])} to {text_cell(o['last_time'])}")
    return lines


def headline(report: Report) -> str:
    if not report.identifiers:
        return "No identifier found in the corpus."
    from phonehome import identifiers

    ranked = sorted(report.identifiers, key=lambda item: (-item[1], identifiers.rank(item[0])))
    parts = [f"{identifiers.name(i)} in {n} input(s)" for i, n in ranked[:6]]
    return "Sent: " + ", ".join(parts) + "."


def _note(section: Section) -> str:
    more = " (more rows than shown: use 'corpus query')" if section.truncated else ""
    return section.note + more


def render_text(report: Report, color: bool = False) -> str:
    from phonehome.terminal import safe

    bold, reset = ("\033[1m", "\033[0m") if color else ("", "")
    out = [f"{bold}phonehome corpus report{reset}: {safe(report.directory)}", ""]
    out += [headline(report), ""]
    out += overview_lines(report)
    for section in report.sections:
        out += ["", f"{bold}{section.title}{reset}", _note(section)]
        if section.rows:
            out.append(table_text(section.columns, section.rows).rstrip("\n"))
        else:
            out.append("(none)")
    return "\n".join(out) + "\n"


def _md(value: Any) -> str:
    text = text_cell(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def render_markdown(report: Report, color: bool = False) -> str:
    out = [f"# phonehome corpus report: {_md(report.directory)}", "", headline(report), ""]
    out += [f"- {line}" for line in overview_lines(report)]
    for section in report.sections:
        out += ["", f"## {section.title}", "", _note(section), ""]
        if not section.rows:
            out.append("(none)")
            continue
        out.append("| " + " | ".join(section.columns) + " |")
        out.append("|" + "---|" * len(section.columns))
        out += ["| " + " | ".join(_md(v) for v in row) + " |" for row in section.rows]
    return "\n".join(out) + "\n"


def render_csv(report: Report, color: bool = False) -> str:
    columns: list[str] = []
    for section in report.sections:
        columns += [c for c in section.columns if c not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", *columns])
    for section in report.sections:
        for row in section.rows:
            values = dict(zip(section.columns, row, strict=True))
            writer.writerow([section.id, *(csv_cell(values.get(c)) for c in columns)])
    return out.getvalue()


CSS = """
ul.overview{background:var(--card);border:1px solid var(--line);border-radius:.4rem;
padding:.6rem .6rem .6rem 1.8rem}
section{margin:1.2rem 0}
section p.note{margin:0 0 .4rem;font-size:13px}
th{position:sticky;top:0}
td.bar{width:120px}
div.bar{background:var(--clear);height:10px;border-radius:2px}
"""
"""What the corpus page adds to the shared report style (:data:`phonehome.report.html.CSS`):
the overview list, the sections, the share bars."""


def _cells(section: Section, row: tuple[Any, ...], widest: dict[int, float]) -> list[Any]:
    from phonehome.report.html import el

    out = []
    for value in row:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        out.append(el("td", text_cell(value), class_="num" if numeric else None))
    if "inputs" in section.columns:
        i = section.columns.index("inputs")
        share = (row[i] or 0) / widest[i] if widest.get(i) else 0
        bar = el("div", class_="bar", style=f"width:{100 * share:.0f}%")
        out.append(el("td", bar, class_="bar"))
    return out


def render_html(report: Report, color: bool = False) -> str:
    """The page on the scan report's skeleton (:func:`phonehome.report.html.page`: CSP,
    inline style, no script)."""
    from phonehome.report.html import el, join, page

    sections = []
    for section in report.sections:
        widest: dict[int, float] = {}
        if "inputs" in section.columns and section.rows:
            i = section.columns.index("inputs")
            widest[i] = max(float(r[i] or 0) for r in section.rows) or 1.0
        header = [el("th", c, scope="col") for c in section.columns]
        if widest:
            header.append(el("th", "share", scope="col"))
        body = (
            el(
                "table",
                el("thead", el("tr", header)),
                el("tbody", [el("tr", _cells(section, r, widest)) for r in section.rows]),
            )
            if section.rows
            else el("p", "(none)")
        )
        sections.append(
            el(
                "section",
                el("h2", section.title),
                el("p", _note(section), class_="note"),
                body,
                id=section.id,
            )
        )
    main = el(
        "main",
        join(
            el("p", headline(report), id="headline", class_="headline"),
            el("ul", [el("li", line) for line in overview_lines(report)], class_="overview"),
            sections,
        ),
    )
    return page(
        f"phonehome corpus report: {report.directory}",
        "phonehome corpus report",
        f"{report.directory} — generated {report.generated}",
        main,
        "Made offline by phonehome. Identifier values are never in a corpus dataset: "
        "only keyed hashes and redacted forms. This page loads nothing from the network.",
        extra_css=CSS,
    )


FORMATS: dict[str, Callable[[Report, bool], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "csv": render_csv,
    "html": render_html,
}
