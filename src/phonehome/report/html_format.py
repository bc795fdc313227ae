"""``--format html``: one self-contained page to read offline and hand to someone else.

Escaped by construction and loading nothing, on the skeleton every report page shares
(:mod:`phonehome.report.html`); the timeline is inline SVG.

The doc may carry keys added by later stages (``destination``, ``timeline``, ``trigger``,
``severity``, ``datasets``, ``methodology``); each is shown when present and skipped when
absent or malformed, so a report of an old stored scan still renders.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from phonehome import identifiers, wording
from phonehome.enrich.jurisdiction import region_words
from phonehome.enrich.severity import REASON_OUTSIDE_HOME, REASON_THIRD_COUNTRY, REASON_TRIGGER
from phonehome.jsondoc import as_dict, as_int, as_list
from phonehome.report.document import (
    FindingDoc,
    ScanDocument,
    ScanView,
    coverage_sentence,
    how_sent,
    incomplete_line,
)
from phonehome.report.html import Markup, Node, el, join, page, row, table

MAX_EVIDENCE_SHOWN = 5
MAX_CHART_ROWS = 30
MAX_NOT_INSPECTED_SHOWN = 100
MAX_GENERIC_DEPTH = 4
"""Bounds on what one page shows, so a huge scan still gives a page a browser opens."""


# -- reading the doc ------------------------------------------------------------------


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


def _names(findings: list[FindingDoc]) -> list[str]:
    """Identifier names, most telling first (IMEI before cell ID), as the text view does."""
    idents = {f.identifier for f in findings}
    ranked = sorted(idents, key=lambda i: (identifiers.rank(i), str(i)))
    return [identifiers.name(i) for i in ranked]


def owner_and_country(f: FindingDoc) -> tuple[str | None, str | None]:
    """Who runs the destination and where, from enrichment when the scan had it."""
    dest = f.destination
    owner = dest.get("entity") or dest.get("as_org")
    country = dest.get("country")
    if not country:
        nets = as_list(dest.get("networks"))
        country = next((n.get("country") for n in nets if as_dict(n).get("country")), None)
    return (str(owner) if owner else None, str(country) if country else None)


def _readability(f: FindingDoc) -> Markup:
    r = f.get("readability")
    if r == "cleartext":
        return el("span", "CLEAR TEXT", class_="badge clear")
    if r == "decrypted":
        how, then = how_sent([f])
        text = f"{how}; {then}" if then else how
        return el("span", text, class_="badge dec")
    return el("span", "encrypted", class_="badge enc")


# -- sections -------------------------------------------------------------------------


def _verdict(findings: list[FindingDoc]) -> Markup:
    if not findings:
        return el(
            "section",
            el("h2", "Verdict"),
            el("p", "No personal identifiers found in what the device sent.", class_="headline"),
            id="verdict",
        )
    by_dest: dict[tuple[str, int, str], list[FindingDoc]] = defaultdict(list)
    for f in findings:
        by_dest[f.destination_key].append(f)
    kinds = _names(findings)
    clear_dests = sum(
        1 for fs in by_dest.values() if any(f.get("readability") == "cleartext" for f in fs)
    )
    headline = (
        f"{wording.count(len(kinds), 'kind')} of personal identifier left the device, to "
        f"{wording.count(len(by_dest), 'destination')}; {clear_dests} of them received it "
        "in clear text, readable by anyone on the path."
    )
    items = []
    for (host, port, proto), fs in sorted(by_dest.items(), key=_dest_rank):
        names = _names(fs)
        owner, country = owner_and_country(fs[0])
        who = ", ".join(x for x in (owner, country) if x)
        times = max(as_int(f.get("count")) for f in fs)
        items.append(
            el(
                "li",
                el("strong", ", ".join(names)),
                " sent ",
                _readability(_worst(fs)),
                " to ",
                el("strong", host),
                f" ({who})" if who else "",
                f" over {proto}/{port}, {wording.count(times, 'time')}, ",
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


def _worst(fs: list[FindingDoc]) -> FindingDoc:
    order = {"cleartext": 0, "decrypted": 1}
    return min(fs, key=lambda f: order.get(str(f.get("readability")), 2))


def _dest_rank(item: tuple[tuple[str, int, str], list[FindingDoc]]) -> tuple[int, int, str]:
    fs = item[1]
    clear = any(f.get("readability") == "cleartext" for f in fs)
    return (0 if clear else 1, -len({f.identifier for f in fs}), item[0][0])


def _party(dest: dict[str, Any], owner: str | None, has_app: bool) -> str:
    """What is known, and what is not, about who receives it (said once per card)."""
    who = f"operated by {owner}" if owner else "the operator is not known (no bundled entry)"
    party = dest.get("party")
    if party == "first":
        return f"{who}; the sending app's own company (first party)"
    if party == "third":
        return f"{who}; a third party to the app that sent it"
    if not has_app:
        return (
            f"{who}. Not known: whether that is the sending app's own company or a third "
            "party, because no app was named for this traffic (PCAPdroid labels, a HAR or "
            "--apks name one)"
        )
    return f"{who}. Not known: whether that is the sending app's own company or a third party"


def _why(reasons: list[str]) -> list[str]:
    """The severity reasons of a card's findings, each said once; those that restate the
    Jurisdiction or Trigger row point to it instead of repeating its figures."""
    out: list[str] = []
    for r in reasons:
        if r.startswith(REASON_TRIGGER):
            r = "sent right after the device's events more often than chance (see Trigger)"
        elif r.startswith(REASON_OUTSIDE_HOME):
            r = f"{REASON_OUTSIDE_HOME} (see Jurisdiction)"
        elif r.startswith(REASON_THIRD_COUNTRY):
            r = f"{REASON_THIRD_COUNTRY} (see Jurisdiction)"
        if r not in out:
            out.append(r)
    return out


def _identifier_rows(fs: list[FindingDoc], revealed: bool) -> Markup:
    """One row per identifier value: what was sent, how often, where and how encoded."""
    rows = []
    for f in sorted(fs, key=lambda f: (f.rank, f.where)):
        value: list[Node] = [
            el("code", f.get("value_redacted", ""), class_="value"),
            " ",
            el("small", f.get("value_id")),
        ]
        if revealed and "value" in f.raw:
            value += [" raw: ", el("code", f.get("value"), class_="raw")]
        chain = [str(e) for e in as_list(f.get("encoding"))]
        form = f.get("form")
        encoding = (" › ".join(chain) if chain else "none (as sent)") + (
            f"; value as {form}" if form not in (None, "plain", "pattern") else ""
        )
        matched = (
            "your device profile"
            if f.get("profile_match")
            else f"pattern, confidence {f.get('confidence')}"
        )
        excerpt = f.excerpt
        shown: Node = "—"
        if excerpt:
            # The decoded text around the value, the value itself marked (and redacted
            # unless the scan was revealed): what a reader checks the finding against.
            shown = el(
                "code",
                "…" + str(excerpt.get("before", "")),
                el("mark", str(excerpt.get("match", ""))),
                str(excerpt.get("after", "")) + "…",
                class_="excerpt",
            )
        cells = [
            ("Identifier", f.name),
            ("Value", value),
            ("Sent", wording.count(as_int(f.get("count")), "time")),
            ("Where", el("code", f.get("where", ""))),
            ("Encoding chain", encoding),
            ("Detector", [el("code", f.get("detector", "?")), f" — {matched}"]),
            ("Excerpt", shown),
        ]
        rows.append(el("tr", [el("td", v, data_label=k) for k, v in cells], class_="ident"))
    return el(
        "table",
        el("thead", el("tr", [el("th", h, scope="col") for h in IDENT_COLUMNS])),
        el("tbody", rows),
        class_="idents",
    )


IDENT_COLUMNS = ("Identifier", "Value", "Sent", "Where", "Encoding chain", "Detector", "Excerpt")


def _card(fs: list[FindingDoc], index: int, inputs: list[Any], revealed: bool) -> Markup:
    """One destination (host, port, protocol) and sending app: the facts they share said
    once, the identifiers as rows."""
    f = _worst(fs)
    host, port, proto = f.destination_key
    owner, country = owner_and_country(f)
    dest = f.destination
    apps = sorted({a for x in fs for a in x.app_names})
    rows: list[Markup] = []
    dest_bits: list[Node] = [el("code", host), f" port {port}, {proto}"]
    if dest.get("registrable_domain"):
        dest_bits.append(f" (domain {dest['registrable_domain']})")
    if country:
        dest_bits.append(f", {country}")
    dest_bits.append(" — " + _party(dest, owner, bool(apps)))
    rows.append(row("Destination", dest_bits))
    ips = sorted({str(i) for x in fs for i in as_list(x.get("ips"))})[:8]
    if ips:
        rows.append(row("Addresses", ", ".join(ips)))
    nets = [as_dict(n) for n in as_list(dest.get("networks"))[:8]]
    if nets:
        items = [
            " ".join(
                str(x)
                for x in (
                    n.get("ip"),
                    f"AS{n['asn']}" if n.get("asn") else None,
                    n.get("as_org"),
                    n.get("country"),
                )
                if x
            )
            for n in nets
        ]
        rows.append(row("Networks", el("ul", [el("li", i) for i in items])))
    juris = as_dict(dest.get("jurisdiction"))
    if juris:
        outside = juris.get("out_of_home_region")
        rows.append(
            row(
                "Jurisdiction",
                region_words(str(juris.get("region", "?"))),
                el("strong", " — outside the device's home region") if outside else "",
                f" ({juris['basis']})" if juris.get("basis") else "",
            )
        )
    app = f.app
    if apps:
        rows.append(row("App", ", ".join(apps), f" (according to {app.get('source', '?')})"))
        evidence_app = sorted({str(x.app.get("evidence")) for x in fs if x.app.get("evidence")})
        if evidence_app:
            rows.append(row("How the app is known", "; ".join(evidence_app)))
    firsts = [str(x.get("first_seen", "")) for x in fs if x.get("first_seen")]
    lasts = [str(x.get("last_seen", "")) for x in fs if x.get("last_seen")]
    times = max(as_int(x.get("count")) for x in fs)
    rows.append(
        row(
            "Sent",
            f"up to {wording.count(times, 'time')} per identifier, "
            if len(fs) > 1
            else f"{wording.count(times, 'time')}, ",
            _short_time(min(firsts)) if firsts else "?",
            " … ",
            _short_time(max(lasts)) if lasts else "?",
        )
    )
    timeline = next((x.timeline for x in fs if x.timeline.get("interval_s")), f.timeline)
    if timeline.get("interval_s"):
        rows.append(row("Rhythm", f"about every {_duration(timeline['interval_s'])}"))
    per_day = as_dict(f.get("per_day")) or as_dict(timeline.get("per_day"))
    if len(per_day) > 1:
        rows.append(row("Per day", ", ".join(f"{d}: {n}" for d, n in list(per_day.items())[:14])))
    triggers = [x.trigger for x in fs if x.trigger.get("event")]
    if triggers:
        best = min(
            triggers, key=lambda t: t["p_value"] if isinstance(t.get("p_value"), int | float) else 2
        )
        rows.append(row("Trigger", _trigger_text(best)))
    frames = sorted({n for x in fs for e in x.evidence if isinstance(n := e.get("frame"), int)})
    evidence = next((x.evidence for x in fs if x.evidence), [])
    if evidence:
        shown = ", ".join(str(n) for n in frames[:MAX_EVIDENCE_SHOWN])
        more = " …" if len(frames) > MAX_EVIDENCE_SHOWN else ""
        rows.append(
            row(
                "Evidence",
                _input_name(inputs, evidence[0].get("input")),
                f" frames {shown}{more}; re-find in Wireshark with ",
                el("code", evidence[0].get("filter", "")),
            )
        )
    levels = [str(x.severity.get("level")) for x in fs if x.severity.get("level")]
    sev: Node = None
    for level in ("high", "medium", "low", "info"):
        if level in levels:
            sev = el("span", f"severity: {level}", class_="badge sev")
            break
    if sev is None and levels:
        sev = el("span", f"severity: {levels[0]}", class_="badge sev")
    reasons = _why([str(r) for x in fs for r in as_list(x.severity.get("reasons"))])
    if reasons:
        rows.append(row("Why it matters", el("ul", [el("li", r) for r in reasons])))
    clear = " clear" if f.get("readability") == "cleartext" else ""
    names = ", ".join(_names(fs))
    return el(
        "article",
        el("h3", host, f" ({proto}/{port}) ", _readability(f), " ", sev),
        el("p", names, f" sent by {', '.join(apps)}" if apps else "", class_="what"),
        _identifier_rows(fs, revealed),
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
    text += f"“{trigger['event']}” events"
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
        path = str(as_dict(inputs[index]).get("path", f"input {index}"))
        return path.replace("\\", "/").rsplit("/", 1)[-1]
    return f"input {index}"


def _cards(findings: list[FindingDoc], inputs: list[Any], revealed: bool) -> Markup:
    """One card per destination and sending app, cleartext and most identifiers first."""
    groups: dict[tuple[tuple[str, int, str], tuple[str, ...]], list[FindingDoc]] = defaultdict(list)
    for f in findings:
        groups[(f.destination_key, f.app_names)].append(f)

    def rank(item: tuple[tuple[tuple[str, int, str], tuple[str, ...]], list[FindingDoc]]) -> Any:
        return (*_dest_rank((item[0][0], item[1])), item[0][1])

    ranked = sorted(groups.items(), key=rank)
    body: Node = [_card(fs, i, inputs, revealed) for i, (_, fs) in enumerate(ranked)] or el(
        "p", "None."
    )
    what = wording.count(len(findings), "value")
    return el(
        "section",
        el("h2", f"Leaks ({what} to {wording.count(len(ranked), 'destination')})"),
        el("div", body, class_="cards"),
        id="leaks",
    )


def _ticks(t0: float, t1: float) -> tuple[float, str]:
    span = max(t1 - t0, 1.0)
    for step in (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800):
        if span / step <= 8:
            return float(step), "%H:%M" if step < 86400 else "%m-%d"
    return 2592000.0, "%Y-%m"


def _chart(findings: list[FindingDoc]) -> Markup:
    """Occurrences over time, one row per destination and identifier (a raster plot)."""
    rows: dict[tuple[str, str], list[float]] = defaultdict(list)
    clear: dict[tuple[str, str], bool] = {}
    for f in findings:
        key = (str(f.get("host", "?")), f.name)
        stamps = [t.timestamp() for t in map(_time, as_list(f.get("times"))) if t]
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
                el("title", f"{name} to {host}: {wording.count(len(stamps), 'occurrence')}"),
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
        + (f" {wording.count(more, 'further row')} not drawn." if more > 0 else "")
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


def _destinations(findings: list[FindingDoc]) -> Markup:
    groups: dict[tuple[str, str], list[FindingDoc]] = defaultdict(list)
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
                el("td", sum(as_int(f.get("count")) for f in fs), class_="num"),
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
        el("div", el("table", el("thead", head), el("tbody", rows)), class_="tablewrap"),
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


def _methodology(d: ScanDocument) -> Markup:
    tool = as_dict(d.get("tool"))
    device = as_dict(d.get("device"))
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
    stats = as_dict(d.get("stats"))
    if stats:
        facts.append(
            row(
                "Totals",
                ", ".join(
                    wording.count(v, k[:-1])
                    if isinstance(v, int) and k.endswith("s")
                    else f"{v} {k}"
                    for k, v in stats.items()
                ),
            )
        )
    inputs = [as_dict(i) for i in as_list(d.get("inputs"))]
    parts: list[Node] = [
        el("h2", "Methodology"),
        el(
            "p",
            "Only what the device sent was examined. HTTP, DNS, MQTT and raw payloads in clear "
            "text were parsed and searched in every encoding the tool decodes; of TLS and QUIC "
            "only the handshake (server name) was visible, unless a key log gave the session "
            "keys (see Decryption). A value in an encrypted flow that was not decrypted cannot "
            "be seen.",
        ),
        el("dl", facts),
        el("h3", "Inputs"),
        table(
            ("File", "Format", "Bytes", "Packets", "Messages", "Anomalies", "SHA\u2011256"),
            [
                (
                    i.get("path"),
                    i.get("format"),
                    i.get("size"),
                    i.get("packets"),
                    i.get("messages"),
                    sum(v for v in as_dict(i.get("anomalies")).values() if isinstance(v, int)),
                    el("code", i.get("sha256"), class_="hash"),
                )
                for i in inputs
            ],
        ),
    ]
    coverage = coverage_sentence(d.get("decryption"))
    if coverage:
        parts.append(el("h3", "Decryption"))
        parts.append(el("p", coverage[:1].upper() + coverage[1:] + ".", id="decryption"))
        servers = as_dict(as_dict(d.get("decryption")).get("servers"))
        rows = [
            (as_dict(x).get("host"), verdict.replace("_", " "), as_dict(x).get("connections"))
            for verdict, hosts in servers.items()
            for x in as_list(hosts)
        ]
        if rows:
            parts.append(table(("Server", "Not decrypted because", "Connections"), rows))
    ni = [as_dict(x) for x in as_list(d.get("not_inspected"))]
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
            parts.append(el("p", f"and {wording.count(more, 'more destination')}."))
        parts.append(
            el(
                "p",
                "The session keys (phonehome scan --keylog FILE, or a pcapng with its TLS keys "
                "embedded) or decrypted traffic (a HAR file or mitmproxy flows of the same "
                "session) would show what these received.",
                class_="note",
            )
        )
    else:
        parts.append(el("p", "Nothing: no flow was encrypted-only."))
    dismissed = [as_dict(x) for x in as_list(d.get("not_identifiers"))]
    if dismissed:
        parts.append(el("h3", "Not identifiers (placeholders seen and dismissed)"))
        parts.append(
            table(
                ("Identifier", "Value", "Why", "Count"),
                [
                    (x.get("identifier"), x.get("value") or "", x.get("why"), x.get("count"))
                    for x in dismissed[:50]
                ],
            )
        )
    anomalies = as_dict(d.get("anomalies"))
    parts.append(el("h3", "Anomalies"))
    parts.append(
        table(("Kind", "Count"), sorted(anomalies.items()))
        if anomalies
        else el("p", "None: every packet decoded.")
    )
    datasets = as_list(d.get("datasets"))
    if datasets:
        parts.append(el("h3", "Reference data"))
        parts.append(el("ul", [el("li", _generic(x)) for x in datasets[:50]]))
    if d.get("methodology"):
        parts.append(el("h3", "Method details"))
        parts.append(_generic(d.get("methodology")))
    return el("section", parts, id="methodology")


def render(view: ScanView, color: bool = False) -> str:
    d = ScanDocument(view)
    device = d.device_name
    names = ", ".join(str(i.get("path")) for i in d.inputs) or "no input"
    alert: list[Node] = [
        el("p", incomplete_line(path, why), class_="incomplete", role="alert")
        for path, why in d.stopped_early()
    ]
    if d.revealed:
        alert.insert(
            0,
            el(
                "p",
                "RAW VALUES SHOWN (--reveal): this report contains personal data. "
                "Do not share it as it is.",
                class_="revealed",
                role="alert",
            ),
        )
    main = el(
        "main",
        _verdict(d.findings),
        _cards(d.findings, d.inputs, d.revealed),
        _chart(d.findings),
        _destinations(d.findings),
        _methodology(d),
    )
    return page(
        f"phonehome report: what {device} sent",
        f"What {device} sent",
        f"phonehome scan of {names}",
        main,
        "Made offline by phonehome. Values are redacted unless stated otherwise; this "
        "page loads nothing from the network.",
        alert=alert or None,
    )
