"""HTML pages built escaped by construction, and the one page skeleton every report uses.

Markup is built with :func:`el`, which escapes every text child and attribute value
unless it is :class:`Markup` that :func:`el` made itself. There is no template language
in which one forgotten ``|e`` lets a host name from a capture or a package name from an
APK run script, and no new dependency (Jinja2 would need autoescape switched on and a
templates directory shipped as package data).

:func:`page` is the skeleton of the scan report and of the static-analysis report: the
page loads nothing (CSS is inline, charts are inline SVG, there is no script) and a
Content-Security-Policy forbids every load in case a string ever slips through.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import TypeAlias

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


class Markup(str):
    """Markup built by this module; any other string is text and gets escaped."""

    __slots__ = ()


Node: TypeAlias = "Markup | str | int | float | Sequence[Node] | None"
AttrValue: TypeAlias = "str | int | float | bool | None"

_TAG = re.compile(r"[a-zA-Z][a-zA-Z0-9]*")
_VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr"})


def _flatten(node: Node) -> Iterable[str]:
    if node is None:
        return
    if isinstance(node, Markup):
        yield node
    elif isinstance(node, str | int | float):
        yield html.escape(str(node), quote=True)
    else:
        for child in node:
            yield from _flatten(child)


def join(*nodes: Node) -> Markup:
    return Markup("".join(_flatten(list(nodes))))


def el(tag: str, *children: Node, **attrs: AttrValue) -> Markup:
    """``el("a", "x", class_="y")`` -> ``<a class="y">x</a>``; ``_`` in names -> ``-``."""
    if not _TAG.fullmatch(tag):
        raise ValueError(f"bad tag name {tag!r}")
    parts = [tag]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(name)
        else:
            parts.append(f'{name}="{html.escape(str(value), quote=True)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in _VOID:
        return Markup(opening)
    return Markup(f"{opening}{join(*children)}</{tag}>")


def row(label: str, *value: Node) -> Markup:
    """A ``<dt>label</dt><dd>value</dd>`` pair of a definition list (also used by the
    static-analysis report)."""
    return join(el("dt", label), el("dd", *value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Node]]) -> Markup:
    """A table in a box that scrolls sideways when the page is narrower than the table:
    headers and numbers keep their words whole ("Format", "929766") instead of being cut
    to fit a phone's width."""
    return el(
        "div",
        el(
            "table",
            el("thead", el("tr", [el("th", h, scope="col") for h in headers])),
            el("tbody", [el("tr", [el("td", c) for c in r]) for r in rows]),
        ),
        class_="tablewrap",
    )


CSS = Markup(
    """
:root{--fg:#1b1b1f;--muted:#5a5a66;--bg:#fff;--card:#f6f6f9;--line:#d5d5de;--clear:#b3261e;
--enc:#1f5fa8;--warn:#8a5a00}
*{box-sizing:border-box}
code.excerpt{white-space:pre-wrap;word-break:break-all}
code.excerpt mark{background:#ffe08a;color:inherit;font-weight:600;padding:0 .1em}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1000px;padding:1.5rem}
h1{font-size:1.6rem;margin:.2rem 0}h2{margin-top:2rem;border-bottom:2px solid var(--line)}
h3{margin:.2rem 0 .6rem;font-size:1.05rem}
.sub{color:var(--muted);margin:0}
.headline{font-size:1.2rem;font-weight:600}
.verdict li{margin:.3rem 0}
.revealed{border:3px solid var(--clear);background:#fdecea;padding:.8rem;font-weight:700}
.incomplete{border:3px solid var(--warn);padding:.8rem;font-weight:600}
.badge{display:inline-block;padding:0 .45rem;border-radius:.3rem;font-size:.8rem;
font-weight:700;border:1px solid currentColor;vertical-align:middle}
.badge.clear{color:var(--clear)}.badge.enc,.badge.dec{color:var(--enc)}
.badge.sev{color:var(--warn)}
.cards{display:grid;gap:1rem}
.card{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--enc);
border-radius:.4rem;padding:.8rem 1rem}
.card.clear{border-left-color:var(--clear)}
dl{display:grid;grid-template-columns:11rem 1fr;gap:.2rem .8rem;margin:0}
dt{font-weight:600;color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
dd ul{margin:0;padding-left:1.1rem}
code{font:13px ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:var(--card)}td.num{text-align:right}
.tablewrap{overflow-x:auto}
.hash{font-size:11px;overflow-wrap:anywhere}
.what{margin:0 0 .4rem;font-weight:600}
table.idents{background:var(--bg);font-size:.92rem}
table.idents td code,table.idents small{overflow-wrap:anywhere}
table.idents small{display:block;color:var(--muted)}
table.idents code.value{white-space:nowrap;overflow-wrap:normal}
@media (max-width:640px){
body{padding:.8rem}
dl{grid-template-columns:1fr}dt{margin-top:.35rem}
table.idents thead{display:none}
table.idents,table.idents tbody,table.idents tr,table.idents td{display:block;width:100%}
table.idents tr{border:1px solid var(--line);margin-bottom:.5rem}
table.idents td{border:0;border-top:1px solid var(--line)}
table.idents td::before{content:attr(data-label);display:block;font-weight:600;
color:var(--muted);font-size:.8rem}
}
.note{color:var(--muted)}
figure{margin:0;overflow-x:auto}
svg .lane{fill:var(--card)}svg .lbl{text-anchor:end;font-size:12px;fill:var(--fg)}
svg .tick.clear{fill:var(--clear)}svg .tick.enc{fill:var(--enc)}
svg .grid{stroke:var(--line);stroke-dasharray:2 3}svg .axisline{stroke:var(--muted)}
svg .axis{text-anchor:middle;font-size:11px;fill:var(--muted)}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
@media print{.card{break-inside:avoid}}
"""
)


def page(
    title: str,
    heading: str,
    sub: str,
    main: Markup,
    footer: str,
    *,
    alert: Node = None,
    extra_css: str = "",
) -> str:
    """A whole self-contained page: ``<head>`` with the CSP and the inline style, then a
    header (``heading`` and the ``sub`` line), ``alert`` (a warning shown above
    everything), ``main`` and the footer."""
    head = el(
        "head",
        el("meta", charset="utf-8"),
        el("meta", http_equiv="Content-Security-Policy", content=CSP),
        el("meta", name="referrer", content="no-referrer"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("title", title),
        el("style", Markup(CSS + extra_css)),
    )
    body = el(
        "body",
        el("header", el("h1", heading), el("p", sub, class_="sub")),
        alert,
        main,
        el("footer", footer),
    )
    return "<!DOCTYPE html>\n" + el("html", head, body, lang="en") + "\n"
