"""``--format html`` for ``apk`` and ``firmware-diff``: one self-contained page to read
offline and hand to a vendor or a QA team, like the scan report.

Built on the scan report's page skeleton and escaped-by-construction builder
(:mod:`phonehome.report.html`): package names, endpoints, certificate subjects and paths
come from untrusted APKs and are only ever text. The page loads nothing (inline CSS, no
script, no links) and carries the same Content-Security-Policy as the scan report. Lists
are capped so that an app naming thousands of hosts still gives a page a browser opens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from phonehome import wording
from phonehome.jsondoc import as_dict, as_int, as_list
from phonehome.report.html import Markup, Node, el, join, page, row, table
from phonehome.report.static_document import (
    Item,
    as_apks,
    counts,
    identifier_names,
    items,
    kind,
    signature_status,
    signer,
)
from phonehome.static import firmware as fw

MAX_SHOWN = 50
"""Rows of one list (endpoints, permissions, sources, problems) shown per app."""
MAX_CHAINS_SHOWN = 10

EXTRA_CSS = Markup(
    """
.badge.risky{color:var(--clear)}.badge.ok{color:var(--muted)}
.score{display:inline-block;min-width:2.2rem;font-weight:700;text-align:right}
.chains li{font:13px ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
.changes td:first-child{white-space:nowrap}
.status{text-transform:uppercase;font-size:.8rem;color:var(--muted)}
"""
)
NOTE = (
    "Static analysis says what an app's code can do — which identifiers it reads, when it "
    "runs and where it can send them — not that it did. A capture shows what was sent: "
    "'phonehome scan CAPTURE --apks DIR' names the app behind a finding."
)


def render(doc: dict[str, Any]) -> str:
    if kind(doc) == "firmware-diff":
        title = "What the firmware update changed"
        sub = (
            f"phonehome firmware-diff of {as_dict(doc.get('old')).get('path', '?')} (OLD) and "
            f"{as_dict(doc.get('new')).get('path', '?')} (NEW)"
        )
        main = el("main", _diff_verdict(doc), _diff_sections(doc), _method(doc))
    else:
        doc = as_apks(doc)
        apps = items(doc)
        title = "What these apps can read and send"
        names = ", ".join(Path(str(i.app.get("path", "?"))).name for i in apps[:10])
        sub = f"phonehome apk analysis of {names or 'no app'}" + (" …" if len(apps) > 10 else "")
        main = el("main", _apk_verdict(doc, apps), _apk_cards(apps), _method(doc))
    return page(
        f"phonehome: {title.lower()}",
        title,
        sub,
        main,
        "Made offline by phonehome; this page loads nothing from the network.",
        extra_css=EXTRA_CSS,
    )


# -- verdicts -------------------------------------------------------------------------


def _badge(item: Item) -> Markup:
    if item.risky:
        return el("span", "RISKY", class_="badge risky")
    return el("span", "not risky", class_="badge ok")


def _verdict_line(item: Item, text: str) -> Markup:
    return el("li", el("span", item.score, class_="score"), " ", _badge(item), " ", text)


def _apk_verdict(doc: dict[str, Any], apps: list[Item]) -> Markup:
    risky = sum(1 for i in apps if i.risky)
    errors = as_list(doc.get("errors"))
    headline = (
        f"{wording.count(len(apps), 'app')} analysed; {risky} risky: read a device "
        "identifier and can send it"
        + (f"; {wording.count(len(errors), 'file')} could not be read." if errors else ".")
    )
    lines = [_verdict_line(i, f"{i.package} {fw.version_text(i.app)} — {i.verdict}") for i in apps]
    parts: list[Node] = [
        el("h2", "Verdict"),
        el("p", headline, class_="headline"),
        el("ul", lines, class_="verdict"),
    ]
    if errors:
        parts.append(el("h3", "Not analysed"))
        parts.append(_errors(errors))
    return el("section", parts, id="verdict")


def _diff_verdict(doc: dict[str, Any]) -> Markup:
    n = counts(doc)
    old, new = as_dict(doc.get("old")), as_dict(doc.get("new"))
    headline = (
        f"{wording.count(n['added'], 'app')} added, {n['removed']} removed, "
        f"{n['changed']} changed, "
        f"{doc.get('unchanged', '?')} unchanged ({old.get('apps', '?')} apps in OLD, "
        f"{new.get('apps', '?')} in NEW)."
    )
    lines = [_verdict_line(i, i.verdict) for i in items(doc)]
    return el(
        "section",
        el("h2", "Verdict"),
        el("p", headline, class_="headline"),
        el("ul", lines, class_="verdict") if lines else el("p", "The builds ship the same apps."),
        id="verdict",
    )


# -- one app --------------------------------------------------------------------------


def _capped(values: list[Any], render: Callable[[Any], Node] = str) -> list[Node]:
    shown: list[Node] = [el("li", render(v)) for v in values[:MAX_SHOWN]]
    if len(values) > MAX_SHOWN:
        shown.append(el("li", f"and {len(values) - MAX_SHOWN} more (--format json lists all)"))
    return shown


def _app_rows(app: dict[str, Any]) -> list[Markup]:
    rows = [
        row("Package", el("code", app.get("package", "?"))),
        row("Version", fw.version_text(app)),
    ]
    file_bits: list[Node] = [el("code", app.get("path", "?"))]
    if app.get("sha256"):
        file_bits += [" ", el("small", f"SHA-256 {app['sha256']}", class_="hash")]
    rows.append(row("File", file_bits))
    system = "system app" if fw.is_system_app(app) else "no"
    details = [
        f"shared uid {app['shared_user_id']}" if app.get("shared_user_id") else "",
        "privileged (priv-app)" if app.get("privileged") else "",
        f"partition {app['partition']}" if app.get("partition") else "",
    ]
    shown = ", ".join(d for d in details if d)
    rows.append(row("System", system + (f" ({shown})" if shown else "")))
    prints, subjects, schemes = signer(app)
    if prints:
        rows.append(
            row(
                "Signer",
                "; ".join(subjects) or "unparsed certificate",
                f" ({'+'.join(schemes)})" if schemes else "",
                el("ul", [el("li", el("code", p, class_="hash")) for p in prints]),
            )
        )
    else:
        rows.append(row("Signer", "none (unsigned)"))
    status = signature_status(app)
    if status:
        rows.append(row("Signature", status))
    permissions = [str(p) for p in as_list(app.get("permissions"))]
    rows.append(
        row("Permissions", el("ul", _capped(permissions)) if permissions else "none requested")
    )
    triggers = ", ".join(str(t) for t in as_list(app.get("triggers")))
    rows.append(row("Runs on", triggers or "no system event (only when started)"))
    rows.append(row("Reads", _sources(app)))
    chains = [as_dict(c) for c in as_list(app.get("chains"))]
    flows = [c for c in chains if c.get("evidence") == "data-flow"]
    reach = [c for c in chains if c.get("evidence") != "data-flow"]
    for title, group in (
        ("Data flows (the value reaches the sink)", flows),
        ("Reachable only, no flow found (context)", reach),
    ):
        if group:
            more = len(group) - MAX_CHAINS_SHOWN
            rows.append(
                row(
                    title,
                    el("ol", [el("li", _chain_text(c)) for c in group[:MAX_CHAINS_SHOWN]]),
                    f"and {more} more" if more > 0 else "",
                )
            )
    rows.append(row("Endpoints", _endpoints(as_list(app.get("endpoints")))))
    trackers = [as_dict(t) for t in as_list(app.get("trackers"))]
    if trackers:
        rows.append(row("Trackers", el("ul", _capped(trackers, _tracker))))
    rows.append(row("Code", _code(app)))
    problems = [str(p) for p in as_list(app.get("problems"))]
    if problems:
        rows.append(row("Problems", el("ul", _capped(problems))))
    return rows


def _sources(app: dict[str, Any]) -> Node:
    sources = [as_dict(s) for s in as_list(app.get("sources"))]
    if sources:
        return table(
            ("Identifier", "API", "In method"),
            [
                (identifier_names([s.get("kind")])[0], el("code", s.get("api")), s.get("method"))
                for s in sources[:MAX_SHOWN]
            ],
        )
    ids = identifier_names(as_list(app.get("reads_identifiers")))
    return ", ".join(ids) if ids else "no identifier source found in the code"


def _endpoints(endpoints: list[Any]) -> Node:
    if not endpoints:
        return "none found"
    rows = []
    for e in (as_dict(x) for x in endpoints[:MAX_SHOWN]):
        clear = el("span", "CLEAR TEXT", class_="badge clear") if e.get("cleartext") else ""
        rows.append((el("code", e.get("value", "?")), e.get("where", ""), clear))
    more = len(endpoints) - MAX_SHOWN
    return join(
        table(("Endpoint", "Found in", ""), rows),
        f"and {more} more (--format json lists all)" if more > 0 else "",
    )


def _tracker(t: dict[str, Any]) -> Node:
    categories = ", ".join(str(c) for c in as_list(t.get("categories")))
    return join(t.get("name", "?"), f" ({categories})" if categories else "")


def _code(app: dict[str, Any]) -> str:
    state = str(app.get("code") or "?")
    bits = [state]
    if as_int(app.get("classes")):
        bits.append(f"{app['classes']} classes, {as_int(app.get('methods'))} methods")
    dex = ", ".join(str(d) for d in as_list(app.get("dex_files")))
    if dex:
        bits.append(dex)
    libs = ", ".join(str(n) for n in as_list(app.get("native_libs"))[:MAX_SHOWN])
    if libs:
        bits.append(f"native libraries: {libs}")
    return "; ".join(bits)


def _risk(item: Item) -> Markup:
    reasons = [el("li", f"{r.get('reason')} +{r.get('points')}") for r in item.reasons]
    rules = ", ".join(r.id for r in item.rules)
    return row(
        "Risk",
        f"score {item.score}",
        " — risky" if item.risky else "",
        el("ul", reasons) if reasons else "",
        el("small", f"rules: {rules}") if rules else "",
    )


def _card(item: Item, anchor: str, extra: list[Markup] | None = None) -> Markup:
    status = el("span", item.status, class_="status") if item.status else ""
    return el(
        "article",
        el("h3", status, " " if status else "", item.package, " ", _badge(item)),
        el("p", item.verdict),
        el("dl", _risk(item), extra or [], _app_rows(item.app)),
        class_="card clear" if item.risky else "card",
        id=anchor,
    )


def _apk_cards(apps: list[Item]) -> Markup:
    body: Node = [_card(i, f"app-{n}") for n, i in enumerate(apps)] or el("p", "None.")
    return el("section", el("h2", f"Apps ({len(apps)})"), el("div", body, class_="cards"))


# -- firmware diff --------------------------------------------------------------------

SECTION_TITLES = {
    "added": "Added in NEW",
    "changed": "Changed in NEW",
    "removed": "Removed in NEW",
}


def _diff_sections(doc: dict[str, Any]) -> Markup:
    ranked = items(doc)
    sections: list[Node] = []
    for status, title in SECTION_TITLES.items():
        group = [i for i in ranked if i.status == status]
        cards: Node = [
            _card(i, f"{status}-{n}", [row("What changed", _changes(i.changes))])
            if status == "changed"
            else _card(i, f"{status}-{n}")
            for n, i in enumerate(group)
        ] or el("p", "None.")
        sections.append(
            el(
                "section",
                el("h2", f"{title} ({len(group)})"),
                el("div", cards, class_="cards"),
                id=status,
            )
        )
    return join(*sections)


CHANGE_LABELS = {
    "reads_identifiers": "identifiers read",
    "triggers": "runs on",
    "path": "location",
}


def _changes(changes: dict[str, Any]) -> Node:
    rows: list[tuple[Node, Node, Node]] = []
    for name, change in changes.items():
        c = as_dict(change)
        if "added" in c or "removed" in c:
            show = identifier_names if name == "reads_identifiers" else _strings
            rows.append(
                (
                    name,
                    _plain_list(show(as_list(c.get("removed")))),
                    _plain_list(show(as_list(c.get("added")))),
                )
            )
        elif name == "signer":
            rows.append(
                (
                    name,
                    _signer_side(c.get("old"), c.get("old_subjects")),
                    _signer_side(c.get("new"), c.get("new_subjects")),
                )
            )
        else:
            rows.append((name, str(c.get("old")), str(c.get("new"))))
    labelled = [(CHANGE_LABELS.get(str(r[0]), r[0]), *r[1:]) for r in rows]
    return el("div", table(("What", "OLD (removed)", "NEW (added)"), labelled), class_="changes")


def _strings(values: list[Any]) -> list[str]:
    return [str(v) for v in values]


def _plain_list(values: list[str]) -> Node:
    if not values:
        return "—"
    return el("ul", _capped(values))


def _signer_side(prints: Any, subjects: Any) -> Node:
    who = "; ".join(str(s) for s in as_list(subjects)) or "unparsed certificate"
    return join(who, el("ul", [el("li", el("code", p, class_="hash")) for p in as_list(prints)]))


# -- around ---------------------------------------------------------------------------


def _errors(errors: list[Any]) -> Markup:
    rows = [(as_dict(e).get("path", "?"), as_dict(e).get("error", "?")) for e in errors]
    more = len(rows) - MAX_SHOWN
    return join(
        table(("File", "Why"), rows[:MAX_SHOWN]),
        el("p", f"and {more} more.") if more > 0 else "",
    )


def _method(doc: dict[str, Any]) -> Markup:
    tool = as_dict(doc.get("tool"))
    facts = [
        row("Tool", f"{tool.get('name', 'phonehome')} {tool.get('version', '?')}"),
        row("Report schema", str(doc.get("schema", "?"))),
    ]
    parts: list[Node] = [el("h2", "Methodology"), el("p", NOTE), el("dl", facts)]
    if kind(doc) == "firmware-diff":
        parts.append(el("h3", "Builds"))
        sides = [("OLD", as_dict(doc.get("old"))), ("NEW", as_dict(doc.get("new")))]
        parts.append(
            table(
                ("Build", "Path", "Apps", "Unreadable APKs", "Problems"),
                [
                    (
                        label,
                        el("code", s.get("path", "?")),
                        as_int(s.get("apps")),
                        len(as_list(s.get("errors"))),
                        el("ul", _capped([str(p) for p in as_list(s.get("problems"))])),
                    )
                    for label, s in sides
                ],
            )
        )
        for label, s in sides:
            errors = as_list(s.get("errors"))
            if errors:
                parts.append(el("h3", f"Not analysed in {label}"))
                parts.append(_errors(errors))
        dupes = [str(d) for d in as_list(doc.get("duplicates"))]
        if dupes:
            parts.append(el("h3", "Packages shipped twice (the first one was compared)"))
            parts.append(el("ul", _capped(dupes)))
    return el("section", parts, id="methodology")


def _chain_text(chain: dict[str, Any]) -> str:
    kind = chain.get("sink_kind")
    prefix = f"[{kind}] " if chain.get("evidence") == "data-flow" and kind else ""
    return f"{prefix}{chain.get('text', '?')}"
