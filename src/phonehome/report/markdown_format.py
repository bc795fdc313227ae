"""``--format markdown``: a summary and a table to paste into an issue tracker.

GitHub/GitLab-flavoured Markdown. Every string from the scan is escaped so that it stays
text: Markdown punctuation gets a backslash, ``<``/``>``/``&`` become entities (a host named
``<img src=…>`` would otherwise make the tracker page load it) and line breaks become
spaces (they would end the table row).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from phonehome import identifiers, wording
from phonehome.report.document import (
    FindingDoc,
    ScanDocument,
    ScanView,
    coverage_sentence,
    how_sent,
    incomplete_line,
)

MAX_ROWS = 500
"""Trackers cap issue bodies (GitHub at 65536 characters); the rest is counted, not shown."""

_SPECIAL = re.compile(r"([\\`*_\[\]#+!|~$])")
HEADER = "| Identifier | Value | Destination | Clear text | Count | Where | Encoding | Detector |"


def md(value: Any) -> str:
    text = str(value if value is not None else "")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"[\r\n\t]+", " ", text)
    return _SPECIAL.sub(r"\\\1", text)


def _how(findings: list[FindingDoc]) -> str:
    how, then = how_sent(findings)
    if how == "in clear text":
        return "**in clear text**"
    return f"{how} ({then})" if then else how


def _owner(f: FindingDoc) -> str:
    dest = f.destination
    parts = [dest.get("entity") or dest.get("as_org"), dest.get("country")]
    return ", ".join(str(p) for p in parts if p)


def render(view: ScanView, color: bool = False) -> str:
    d = ScanDocument(view)
    findings = d.findings
    out = [f"## phonehome: what {md(d.device_name)} sent", ""]
    if d.revealed:
        out += ["> **RAW VALUES SHOWN (--reveal): this report contains personal data.**", ""]
    for path, why in d.stopped_early():
        out += [f"> **{md(incomplete_line(path, why))}**", ""]
    by_dest: dict[tuple[str, str, str], list[FindingDoc]] = defaultdict(list)
    for f in findings:
        by_dest[(f.host, str(f.port), f.protocol)].append(f)
    if not findings:
        out.append("No personal identifiers found in what the device sent.")
    else:
        kinds = {f.identifier for f in findings}
        out.append(
            f"**{wording.count(len(kinds), 'kind')} of personal identifier left the device, "
            f"to {wording.count(len(by_dest), 'destination')}.**"
        )
        out.append("")
        for (host, port, proto), fs in sorted(
            by_dest.items(),
            key=lambda kv: (not any(f.cleartext for f in kv[1]), kv[0]),
        ):
            idents = sorted({f.identifier for f in fs}, key=lambda i: (identifiers.rank(i), str(i)))
            owner = _owner(fs[0])
            count = max(f.count for f in fs)
            out.append(
                f"- {md(', '.join(identifiers.name(i) for i in idents))} sent "
                f"{_how(fs)} to `{_code(host)}`"
                + (f" ({md(owner)})" if owner else "")
                + f" over {md(proto)}/{md(port)}, {wording.count(count, 'time')}"
            )
        out += ["", HEADER]
        out.append("|---|---|---|---|---:|---|---|---|")
        ranked = sorted(
            findings,
            key=lambda f: (
                not f.cleartext,
                f.host,
                f.rank,
            ),
        )
        for f in ranked[:MAX_ROWS]:
            enc = " > ".join(f.encoding) or "none"
            value = f.shown_value(d.revealed)
            out.append(
                "| "
                + " | ".join(
                    [
                        md(f.name),
                        f"`{_code(value)}`",
                        f"`{_code(f.get('host'))}:{_code(f.get('port'))}` {md(f.get('protocol'))}",
                        "yes" if f.cleartext else "no",
                        md(f.get("count")),
                        f"`{_code(f.get('where'))}`",
                        md(enc),
                        md(f.get("detector")),
                    ]
                )
                + " |"
            )
        if len(ranked) > MAX_ROWS:
            out += ["", f"… and {len(ranked) - MAX_ROWS} more (see the JSON report)."]
    dismissed = d.not_identifiers
    if dismissed:
        n = sum(x.get("count", 0) for x in dismissed if isinstance(x.get("count"), int))
        out += [
            "",
            f"Not identifiers (placeholders seen and dismissed): {wording.count(n, 'value')}.",
        ]
    coverage = coverage_sentence(d.get("decryption"))
    if coverage:
        out += ["", f"Decryption: {md(coverage)}."]
    ni = d.not_inspected
    if ni:
        out += [
            "",
            f"Not inspected (encrypted, contents unseen): {wording.count(len(ni), 'destination')}.",
        ]
    out.append("")
    inputs = d.inputs
    tool = d.tool
    out.append(
        f"<sub>phonehome {md(tool.get('version', '?'))}; inputs: "
        + ", ".join(f"{md(i.get('path'))} (sha256 `{_code(i.get('sha256'))}`)" for i in inputs)
        + ". Values redacted unless stated.</sub>"
    )
    return "\n".join(out) + "\n"


def _code(value: Any) -> str:
    """Text for a code span in a table cell: no backticks (they end the span); pipes escaped
    (GFM ends the cell at a bare pipe even inside a span)."""
    text = re.sub(r"[\r\n\t]+", " ", str(value if value is not None else ""))
    return text.replace("`", "'").replace("|", "\\|")
