"""``--format html``: one self-contained page to read offline and hand to someone else.

Escaped by construction: markup is built with :func:`el`, which escapes every text child
and attribute value unless it is :class:`Markup` that :func:`el` made itself. There is no
template language in which one forgotten ``|e`` lets a host name from a capture run
script, and no new dependency (Jinja2 would need autoescape switched on and a templates
directory shipped as package data). The page loads nothing: CSS is inline, the timeline is
inline SVG, there is no script, and a Content-Security-Policy forbids every load in case a
string ever slips through.

The doc may carry keys added by later stages (``destination``, ``timeline``, ``trigger``,
``severity``, ``datasets``, ``methodology``); each is shown when present and skipped when
absent or malformed, so a report of an old stored scan still renders.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

from phonehome import identifiers
from phonehome.report.view import ScanView

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
MAX_EVIDENCE_SHOWN = 5
MAX_CHART_ROWS = 30
MAX_NOT_INSPECTED_SHOWN = 100
MAX_GENERIC_DEPTH = 4
"""Bounds on what one page shows, so a huge scan still gives a page a browser opens."""


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


# -- reading the doc defensively ------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _short_time(value: Any) -> str:
    t = _time(value)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else str(value or "?")


def identifier_name(f: dict[str, Any]) -> str:
    return identifiers.name(f.get("identifier"))


_rank = identifiers.rank


def _names(findings: list[dict[str, Any]]) -> list[str]:
    """Identifier names, most telling first (IMEI before cell ID), as the text view does."""
    idents = {f.get("identifier") for f in findings}
    return [
        identifier_name({"identifier": i}) for i in sorted(idents, key=lambda i: (_rank(i), str(i)))
    ]


def owner_and_country(f: dict[str, Any]) -> tuple[str | None, str | None]:
    """Who runs the destination and where, from enrichment when the scan had it."""
    dest = _dict(f.get("destination"))
    owner = dest.get("entity") or dest.get("as_org")
    country = dest.get("country")
    if not country:
        nets = _list(dest.get("networks"))
        country = next((n.get("country") for n in nets if _dict(n).get("country")), None)
    return (str(owner) if owner else None, str(country) if country else None)


def _readability(f: dict[str, Any]) -> Markup:
    r = f.get("readability")
    if r == "cleartext":
        return el("span", "CLEAR TEXT", class_="badge clear")
    if r == "decrypted":
        return el("span", "encrypted on the wire (seen decrypted)", class_="badge dec")
    return el("span", "encrypted", class_="badge enc")


def _dest_key(f: dict[str, Any]) -> tuple[str, int, str]:
    return (str(f.get("host", "?")), _int(f.get("port")), str(f.get("protocol", "?")))


# -- sections -------------------------------------------------------------------------


def _verdict(findings: list[dict[str, Any]]) -> Markup:
    if not findings:
        return el(
            "section",
            el("h2", "Verdict"),
            el("p", "No personal identifiers found in what the device sent.", class_="headline"),
            id="verdict",
        )
    by_dest: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_dest[_dest_key(f)].append(f)
    kinds = _names(findings)
    clear_dests = sum(
        1 for fs in by_dest.values() if any(f.get("readability") == "cleartext" for f in fs)
    )
    headline = (
        f"{len(kinds)} kind(s) of personal identifier left the device, to {len(by_dest)} "
        f"destination(s); {clear_dests} of them received it in clear text, readable by anyone "
        "on the path."
    )
    items = []
    for (host, port, proto), fs in sorted(by_dest.items(), key=_dest_rank):
        names = _names(fs)
        owner, country = owner_and_country(fs[0])
        who = ", ".join(x for x in (owner, country) if x)
        times = max(_int(f.get("count")) for f in fs)
        items.append(
            el(
                "li",
                el("strong", ", ".join(names)),
                " sent ",
                _readability(_worst(fs)),
                " to ",
                el("strong", host),
                f" ({who})" if who else "",
                f" over {proto}/{port}, {times} time(s), ",
                _short_time(min(str(f.get("first_seen", "")) for f in fs)),
                " … ",
                _short_time(max(str(f.get("last_seen", "")) for f in fs)),
            )
        )
    return el(
        "section",
        el("h2", "Verdict"),
        el("p", headline, class_="headline"),
        el("ul", items, class_="verdict"),
        id="verdict",
    )


def _worst(fs: list[dict[str, Any]]) -> dict[str, Any]:
    order = {"cleartext": 0, "decrypted": 1}
    return min(fs, key=lambda f: order.get(str(f.get("readability")), 2))


def _dest_rank(item: tuple[tuple[str, int, str], list[dict[str, Any]]]) -> tuple[int, int, str]:
    fs = item[1]
    clear = any(f.get("readability") == "cleartext" for f in fs)
    return (0 if clear else 1, -len({f.get("identifier") for f in fs}), item[0][0])


def row(label: str, *value: Node) -> Markup:
    """A ``<dt>label</dt><dd>value</dd>`` pair of a definition list (also used by the
    static-analysis report)."""
    return join(el("dt", label), el("dd", *value))


def _card(f: dict[str, Any], index: int, inputs: list[Any], revealed: bool) -> Markup:
    host, port, proto = _dest_key(f)
    owner, country = owner_and_country(f)
    dest = _dict(f.get("destination"))
    rows = [
        row("Value", el("code", f.get("value_redacted", "")), " ", el("small", f.get("value_id"))),
    ]
    if revealed and "value" in f:
        rows.append(row("Raw value", el("code", f.get("value"), class_="raw")))
    dest_bits: list[Node] = [el("code", host), f" port {port}, {proto}"]
    if owner or country:
        dest_bits.append(" — " + ", ".join(x for x in (owner, country) if x))
    if dest.get("registrable_domain"):
        dest_bits.append(f" (domain {dest['registrable_domain']})")
    if dest.get("party"):
        dest_bits.append(f", {dest['party']} party")
    rows.append(row("Destination", dest_bits))
    ips = [str(i) for i in _list(f.get("ips"))[:8]]
    if ips:
        rows.append(row("Addresses", ", ".join(ips)))
    nets = [_dict(n) for n in _list(dest.get("networks"))[:8]]
    if nets:
        rows.append(
            row(
                "Networks",
                el(
                    "ul",
                    [
                        el(
                            "li",
                            " ".join(
                                str(x)
                                for x in (
                                    n.get("ip"),
                                    f"AS{n['asn']}" if n.get("asn") else None,
                                    n.get("as_org"),
                                    n.get("country"),
                                )
                                if x
                            ),
                        )
                        for n in nets
                    ],
                ),
            )
        )
    juris = _dict(dest.get("jurisdiction"))
    if juris:
        outside = juris.get("out_of_home_region")
        rows.append(
            row(
                "Jurisdiction",
                str(juris.get("region", "?")),
                el("strong", " — outside the device's home region") if outside else "",
                f" ({juris['basis']})" if juris.get("basis") else "",
            )
        )
    app = _dict(f.get("app"))
    if app:
        pkgs = ", ".join(str(p) for p in _list(app.get("packages"))) or f"uid {app.get('uid')}"
        rows.append(row("App", pkgs, f" (according to {app.get('source', '?')})"))
    rows.append(
        row(
            "Sent",
            f"{_int(f.get('count'))} time(s), ",
            _short_time(f.get("first_seen")),
            " … ",
            _short_time(f.get("last_seen")),
        )
    )
    timeline = _dict(f.get("timeline"))
    if timeline.get("interval_s"):
        rows.append(row("Rhythm", f"about every {_duration(timeline['interval_s'])}"))
    per_day = _dict(f.get("per_day")) or _dict(timeline.get("per_day"))
    if len(per_day) > 1:
        rows.append(row("Per day", ", ".join(f"{d}: {n}" for d, n in list(per_day.items())[:14])))
    rows.append(row("Where", el("code", f.get("where", ""))))
    excerpt = _dict(f.get("excerpt"))
    if excerpt:
        # The decoded text around the value, the value itself marked (and redacted
        # unless the scan was revealed): what a reader checks the finding against.
        rows.append(
            row(
                "Excerpt",
                el(
                    "code",
                    "…" + str(excerpt.get("before", "")),
                    el("mark", str(excerpt.get("match", ""))),
                    str(excerpt.get("after", "")) + "…",
                    class_="excerpt",
                ),
            )
        )
    chain = [str(e) for e in _list(f.get("encoding"))]
    rows.append(
        row(
            "Encoding chain",
            " › ".join(chain) if chain else "none (as sent)",
            f"; value as {f.get('form')}"
            if f.get("form") not in (None, "plain", "pattern")
            else "",
        )
    )
    matched = (
        "the device's own value (profile)"
        if f.get("profile_match")
        else f"pattern, confidence {f.get('confidence')}"
    )
    rows.append(row("Detector", el("code", f.get("detector", "?")), f" — {matched}"))
    trigger = _dict(f.get("trigger"))
    if trigger.get("event"):
        rows.append(row("Trigger", _trigger_text(trigger)))
    evidence = [_dict(e) for e in _list(f.get("evidence"))]
    if evidence:
        frames = ", ".join(str(e.get("frame")) for e in evidence[:MAX_EVIDENCE_SHOWN])
        more = " …" if len(evidence) > MAX_EVIDENCE_SHOWN else ""
        rows.append(
            row(
                "Evidence",
                _input_name(inputs, evidence[0].get("input")),
                f" frames {frames}{more}; re-find in Wireshark with ",
                el("code", evidence[0].get("filter", "")),
            )
        )
    severity = _dict(f.get("severity"))
    sev: Node = None
    if severity.get("level"):
        sev = el("span", f"severity: {severity['level']}", class_="badge sev")
    reasons = [str(r) for r in _list(severity.get("reasons"))]
    if reasons:
        rows.append(row("Why it matters", el("ul", [el("li", r) for r in reasons])))
    clear = " clear" if f.get("readability") == "cleartext" else ""
    return el(
        "article",
        el("h3", identifier_name(f), " → ", host, " ", _readability(f), " ", sev),
        el("dl", rows),
        class_=f"card{clear}",
        id=f"leak-{index}",
    )


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return str(seconds)
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    if seconds < 10:
        return f"{seconds:.1f} s"  # "within 5 s" would be false for a 5.2 s delay
    return f"{seconds:.0f} s"


def _trigger_text(trigger: dict[str, Any]) -> str:
    """ "within 2 s after 9 of 10 unlock events (chance 4% each, p = 1e-12)"."""
    text = f"after {trigger.get('matched', '?')} of {trigger.get('of', '?')} "
    text += f"“{trigger['event']}” event(s)"
    if isinstance(trigger.get("max_delay_s"), int | float):
        text = f"within {_duration(trigger['max_delay_s'])} " + text
    baseline = trigger.get("baseline")
    if isinstance(baseline, int | float):
        # 0.1 % is not "0 %": small baselines are what make a trigger convincing.
        chance = f"{baseline:.0%}" if baseline >= 0.01 else f"{baseline * 100:.2g}%"
        text += f" (by chance {chance} each"
        p = trigger.get("p_value")
        text += f", p = {p:.2g})" if isinstance(p, int | float) else ")"
    return "sent " + text


def _input_name(inputs: list[Any], index: Any) -> str:
    if isinstance(index, int) and 0 <= index < len(inputs):
        path = str(_dict(inputs[index]).get("path", f"input {index}"))
        return path.replace("\\", "/").rsplit("/", 1)[-1]
    return f"input {index}"


def _cards(findings: list[dict[str, Any]], inputs: list[Any], revealed: bool) -> Markup:
    order = {"cleartext": 0, "decrypted": 1}
    ranked = sorted(
        findings,
        key=lambda f: (
            order.get(str(f.get("readability")), 2),
            str(f.get("host")),
            _rank(f.get("identifier")),
            str(f.get("where")),
        ),
    )
    body: Node = [_card(f, i, inputs, revealed) for i, f in enumerate(ranked)] or el("p", "None.")
    return el(
        "section",
        el("h2", f"Leaks ({len(findings)})"),
        el("div", body, class_="cards"),
        id="leaks",
    )


def _ticks(t0: float, t1: float) -> tuple[float, str]:
    span = max(t1 - t0, 1.0)
    for step in (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800):
        if span / step <= 8:
            return float(step), "%H:%M" if step < 86400 else "%m-%d"
    return 2592000.0, "%Y-%m"


def _chart(findings: list[dict[str, Any]]) -> Markup:
    """Occurrences over time, one row per destination and identifier (a raster plot)."""
    rows: dict[tuple[str, str], list[float]] = defaultdict(list)
    clear: dict[tuple[str, str], bool] = {}
    for f in findings:
        key = (str(f.get("host", "?")), identifier_name(f))
        stamps = [t.timestamp() for t in map(_time, _list(f.get("times"))) if t]
        rows[key].extend(stamps)
        clear[key] = clear.get(key, False) or f.get("readability") == "cleartext"
    rows = {k: v for k, v in rows.items() if v}
    title = "Timeline: when each identifier was sent, per destination (UTC)"
    if not rows:
        return el("section", el("h2", "Timeline"), el("p", "No occurrences to plot."))
    ranked = sorted(rows.items(), key=lambda kv: (kv[0][0], -len(kv[1]), kv[0][1]))
    shown = ranked[:MAX_CHART_ROWS]
    t0 = min(min(v) for _, v in shown)
    t1 = max(max(v) for _, v in shown)
    label_w, plot_w, row_h, top, axis_h = 300, 620, 24, 8, 34
    width = label_w + plot_w + 20
    height = top + row_h * len(shown) + axis_h

    def x(t: float) -> float:
        return label_w + (plot_w / 2 if t1 == t0 else (t - t0) / (t1 - t0) * plot_w)

    parts: list[Node] = [el("title", title)]
    for i, ((host, name), stamps) in enumerate(shown):
        y = top + i * row_h
        kind = "clear" if clear[(host, name)] else "enc"
        xs = sorted({round(x(t)) for t in stamps})
        label = f"{name} → {host}"
        if len(label) > 44:
            label = label[:43] + "…"
        parts.append(
            el(
                "g",
                el("title", f"{name} to {host}: {len(stamps)} occurrence(s)"),
                el("rect", x=label_w, y=y + 2, width=plot_w, height=row_h - 4, class_="lane"),
                el("text", label, x=label_w - 8, y=y + row_h / 2 + 4, class_="lbl"),
                [
                    el("rect", x=px - 1, y=y + 4, width=3, height=row_h - 8, class_=f"tick {kind}")
                    for px in xs
                ],
                class_="row",
            )
        )
    step, fmt = _ticks(t0, t1)
    axis_y = top + row_h * len(shown) + 4
    first = (int(t0 // step) + 1) * step if t1 > t0 else t0
    ticks: list[Node] = []
    t = first
    while t <= t1 and len(ticks) < 12:
        px = x(t)
        ticks.append(el("line", x1=px, x2=px, y1=top, y2=axis_y, class_="grid"))
        ticks.append(
            el(
                "text",
                datetime.fromtimestamp(t, UTC).strftime(fmt),
                x=px,
                y=axis_y + 14,
                class_="axis",
            )
        )
        t += step
    parts.append(ticks)
    parts.append(
        el("line", x1=label_w, x2=label_w + plot_w, y1=axis_y, y2=axis_y, class_="axisline")
    )
    day0 = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M")
    day1 = datetime.fromtimestamp(t1, UTC).strftime("%Y-%m-%d %H:%M")
    more = len(ranked) - len(shown)
    caption = (
        f"From {day0} to {day1} UTC. Each bar is one or more occurrences; red bars were sent "
        "in clear text, blue ones encrypted."
        + (f" {more} further row(s) not drawn." if more > 0 else "")
        + " Only the first 1000 occurrences of each finding carry a time."
    )
    svg = el(
        "svg",
        parts,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label=title,
        id="timeline-chart",
    )
    return el(
        "section",
        el("h2", "Timeline"),
        el("figure", svg, el("figcaption", caption)),
        id="timeline",
    )


def _destinations(findings: list[dict[str, Any]]) -> Markup:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        owner, country = owner_and_country(f)
        groups[(country or "unknown", owner or "unknown")].append(f)
    if not groups:
        return el("section", el("h2", "Destinations"), el("p", "None."), id="destinations")
    rows = []
    for (country, owner), fs in sorted(groups.items()):
        hosts = sorted({str(f.get("host")) for f in fs})
        rows.append(
            el(
                "tr",
                el("td", country),
                el("td", owner),
                el("td", ", ".join(hosts)),
                el("td", ", ".join(_names(fs))),
                el("td", sum(_int(f.get("count")) for f in fs), class_="num"),
                el("td", "yes" if any(f.get("readability") == "cleartext" for f in fs) else "no"),
            )
        )
    head = el(
        "tr",
        [
            el("th", h, scope="col")
            for h in ("Country", "Owner", "Hosts", "Identifiers", "Values sent", "Clear text")
        ],
    )
    note = (
        ""
        if any(f.get("destination") for f in findings)
        else el(
            "p",
            "Owner and country are unknown: this scan carried no destination enrichment.",
            class_="note",
        )
    )
    return el(
        "section",
        el("h2", "Destinations by country and owner"),
        note,
        el("table", el("thead", head), el("tbody", rows)),
        id="destinations",
    )


def _generic(value: Any, depth: int = 0) -> Node:
    """Free-form doc parts (methodology) as nested lists, depth-bounded."""
    if depth >= MAX_GENERIC_DEPTH:
        return "…"
    if isinstance(value, dict):
        return el(
            "dl",
            [row(str(k), _generic(v, depth + 1)) for k, v in list(value.items())[:50]],
        )
    if isinstance(value, list):
        return el("ul", [el("li", _generic(v, depth + 1)) for v in value[:50]])
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Node]]) -> Markup:
    return el(
        "table",
        el("thead", el("tr", [el("th", h, scope="col") for h in headers])),
        el("tbody", [el("tr", [el("td", c) for c in r]) for r in rows]),
    )


def _methodology(d: dict[str, Any]) -> Markup:
    tool = _dict(d.get("tool"))
    device = _dict(d.get("device"))
    facts = [
        row("Tool", f"{tool.get('name', 'phonehome')} {tool.get('version', '?')}"),
        row("Report schema", str(d.get("schema", "?"))),
        row("Scan ran", _short_time(d.get("started")), " … ", _short_time(d.get("finished"))),
        row(
            "Device profile",
            (
                join(
                    str(device.get("name") or "unnamed"), " ", el("small", device.get("profile_id"))
                )
                if device
                else "none: only pattern detectors ran (no search for the device's own values)"
            ),
        ),
        row(
            "Values",
            "shown RAW (--reveal)"
            if d.get("revealed")
            else "redacted; ids are keyed hashes that only this installation can reproduce",
        ),
    ]
    stats = _dict(d.get("stats"))
    if stats:
        facts.append(row("Totals", ", ".join(f"{v} {k}" for k, v in stats.items())))
    inputs = [_dict(i) for i in _list(d.get("inputs"))]
    parts: list[Node] = [
        el("h2", "Methodology"),
        el(
            "p",
            "Only what the device sent was examined. HTTP, DNS, MQTT and raw payloads in clear "
            "text were parsed and searched in every encoding the tool decodes; of TLS and QUIC "
            "only the handshake (server name) was visible. A value in an encrypted flow that "
            "was not decrypted cannot be seen.",
        ),
        el("dl", facts),
        el("h3", "Inputs"),
        table(
            ("File", "Format", "Bytes", "Packets", "Messages", "Anomalies", "SHA-256"),
            [
                (
                    i.get("path"),
                    i.get("format"),
                    i.get("size"),
                    i.get("packets"),
                    i.get("messages"),
                    sum(v for v in _dict(i.get("anomalies")).values() if isinstance(v, int)),
                    el("code", i.get("sha256"), class_="hash"),
                )
                for i in inputs
            ],
        ),
    ]
    ni = [_dict(x) for x in _list(d.get("not_inspected"))]
    parts.append(el("h3", "Not inspected (encrypted, contents unseen)"))
    if ni:
        more = len(ni) - MAX_NOT_INSPECTED_SHOWN
        parts.append(
            table(
                ("Destination", "TLS/QUIC handshakes"),
                [(x.get("host"), x.get("hellos")) for x in ni[:MAX_NOT_INSPECTED_SHOWN]],
            )
        )
        if more > 0:
            parts.append(el("p", f"and {more} more destination(s)."))
        parts.append(
            el(
                "p",
                "Decrypted traffic (a HAR file or mitmproxy flows of the same session) would "
                "show what these received.",
                class_="note",
            )
        )
    else:
        parts.append(el("p", "Nothing: no flow was encrypted-only."))
    anomalies = _dict(d.get("anomalies"))
    parts.append(el("h3", "Anomalies"))
    parts.append(
        table(("Kind", "Count"), sorted(anomalies.items()))
        if anomalies
        else el("p", "None: every packet decoded.")
    )
    datasets = _list(d.get("datasets"))
    if datasets:
        parts.append(el("h3", "Reference data"))
        parts.append(el("ul", [el("li", _generic(x)) for x in datasets[:50]]))
    if d.get("methodology"):
        parts.append(el("h3", "Method details"))
        parts.append(_generic(d["methodology"]))
    return el("section", parts, id="methodology")


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
overflow-wrap:anywhere}
th{background:var(--card)}td.num{text-align:right}
.hash{font-size:11px}
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


def render(view: ScanView, color: bool = False) -> str:
    d = view.doc
    findings = [_dict(f) for f in _list(d.get("findings"))]
    inputs = _list(d.get("inputs"))
    device = _dict(d.get("device")).get("name") or "the device"
    names = ", ".join(str(_dict(i).get("path")) for i in inputs) or "no input"
    revealed = bool(d.get("revealed")) or view.revealed
    warning: Node = None
    if revealed:
        warning = el(
            "p",
            "RAW VALUES SHOWN (--reveal): this report contains personal data. "
            "Do not share it as it is.",
            class_="revealed",
            role="alert",
        )
    head = el(
        "head",
        el("meta", charset="utf-8"),
        el("meta", http_equiv="Content-Security-Policy", content=CSP),
        el("meta", name="referrer", content="no-referrer"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("title", f"phonehome report: what {device} sent"),
        el("style", CSS),
    )
    body = el(
        "body",
        el(
            "header",
            el("h1", f"What {device} sent"),
            el("p", f"phonehome scan of {names}", class_="sub"),
        ),
        warning,
        el(
            "main",
            _verdict(findings),
            _cards(findings, inputs, revealed),
            _chart(findings),
            _destinations(findings),
            _methodology(d),
        ),
        el(
            "footer",
            "Made offline by phonehome. Values are redacted unless stated otherwise; this "
            "page loads nothing from the network.",
        ),
    )
    return "<!DOCTYPE html>\n" + el("html", head, body, lang="en") + "\n"
