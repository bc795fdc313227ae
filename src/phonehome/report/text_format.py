"""``--format text``: what a person reads in ten seconds, then the detail.

First the verdict per destination (which identifiers, to whom, in clear or not, how
often), then one line per finding, then what was not inspected and the inputs.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from phonehome import identifiers, wording
from phonehome.enrich.jurisdiction import region_words
from phonehome.jsondoc import as_dict, as_int, map_strings, opt_number
from phonehome.report.document import (
    FindingDoc,
    ScanDocument,
    ScanView,
    coverage_sentence,
    how_sent,
    incomplete_line,
)
from phonehome.terminal import safe


def _style(color: bool) -> tuple[str, str, str, str]:
    if not color or os.environ.get("NO_COLOR"):
        return "", "", "", ""
    return "\033[1m", "\033[31m", "\033[33m", "\033[0m"


def _and_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _owner(fs: list[FindingDoc]) -> str:
    """`` — China Telecom, AS4134 Chinanet, CN (third country, outside home region)``."""
    dest = next((f.destination for f in fs if f.destination), None)
    if not dest:
        return ""
    parts = [p for p in (dest.get("entity"),) if p]
    if dest.get("asn"):
        parts.append(f"AS{dest['asn']} {dest.get('as_org') or ''}".strip())
    juris = as_dict(dest.get("jurisdiction"))
    where = dest.get("country") or ""
    notes = [region_words(str(n)) for n in (juris.get("region"),) if n]
    if juris.get("out_of_home_region"):
        notes.append("outside the home region")
    if where:
        parts.append(where + (f" ({', '.join(notes)})" if notes else ""))
    return (" — " + ", ".join(parts)) if parts else ""


def _how_often(fs: list[FindingDoc], times: int, first: str, last: str) -> str:
    per_day: dict[str, int] = {}
    for f in fs:
        for day, n in as_dict(f.timeline.get("per_day")).items():
            per_day[day] = max(per_day.get(day, 0), n)
    days = len(per_day) or 1
    interval = next(
        (opt_number(f.timeline["interval_s"]) for f in fs if f.timeline.get("interval_s")),
        None,
    )
    every = f", every {interval:.0f} s" if interval else ""
    return (
        f"{wording.count(times, 'time')} on {wording.count(days, 'day')} "
        f"({times / days:.1f}/day{every}), "
        f"{first[:16]} .. {last[:16]} UTC"
    )


def _trigger(fs: list[FindingDoc]) -> str:
    """The most significant trigger of a destination's findings, in one clause."""
    best: dict[str, Any] | None = None
    for f in fs:
        t = f.trigger
        numbers = [opt_number(t.get(k)) for k in ("p_value", "matched", "of", "baseline")]
        if not t.get("of") or None in numbers:
            continue
        if best is None or t["p_value"] < best["p_value"]:
            best = t
    if best is None:
        return ""
    strong = best["p_value"] < 0.01
    verdict = "each" if best["matched"] == best["of"] else f"{best['matched']} of {best['of']}"
    delay = opt_number(best.get("max_delay_s")) or 0.0
    text = (
        f"; {verdict} within {delay:.1f} s after {_a(str(best.get('event')))} "
        f"({best['matched']} of {best['of']} {best.get('event')}s, "
        f"chance {best['baseline']:.1%}, p = {best['p_value']:.1g})"
    )
    return text if strong else text + " — not more than chance"


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _severity(fs: list[FindingDoc]) -> str:
    levels = [f.severity.get("level") for f in fs]
    for level in ("high", "medium", "low"):
        if level in levels:
            return f"; severity {level.upper()}"
    return ""


def _tag(f: FindingDoc) -> str:
    if f.get("profile_match"):
        return "profile"
    confidence = opt_number(f.get("confidence"))
    return f"pattern {confidence:.2f}" if confidence is not None else "pattern"


FINDINGS_LEGEND = (
    "(identifier, value as redacted, times sent, where in the message [encodings], the "
    "rule that matched: 'profile' = a value from your --device profile, 'pattern 0.95' = "
    "recognised by its format alone, with that confidence out of 1)"
)
"""Said once above the finding lines, which show rule ids (``PH-IMEI``) and tags."""


def printable(node: Any) -> Any:
    """Every string of the document with control characters shown as ``\\xNN``: a host,
    path or key from a capture must not move the cursor, recolour or retitle the
    terminal, or forge a line of the report (ESC, CR, LF, OSC ...)."""
    return map_strings(node, safe)


def render(view: ScanView, color: bool = False) -> str:
    bold, red, yellow, reset = _style(color)
    d = ScanDocument(ScanView(printable(view.doc), view.revealed))
    out: list[str] = []
    by_dest: dict[tuple[str, int, str], list[FindingDoc]] = defaultdict(list)
    for f in d.findings:
        by_dest[f.destination_key].append(f)

    if d.revealed:
        out.append(
            f"{yellow}RAW VALUES SHOWN (--reveal): this output contains personal data.{reset}"
        )
    if not by_dest:
        out.append(f"{bold}No personal identifiers found in what the device sent.{reset}")
    else:
        ids_total = {f.identifier for f in d.findings}
        out.append(
            f"{bold}{wording.count(len(ids_total), 'kind')} of personal identifier left "
            "the device, "
            f"to {wording.count(len(by_dest), 'destination')}.{reset}"
        )

    # Verdict lines, most sensitive destinations first (cleartext, then more identifiers).
    def rank(item: tuple[tuple[str, int, str], list[FindingDoc]]) -> tuple[int, int]:
        fs = item[1]
        clear = any(f.cleartext for f in fs)
        return (0 if clear else 1, -len({f.identifier for f in fs}))

    dests = sorted(by_dest.items(), key=rank)
    for (host, port, proto), fs in dests:
        ids = sorted({f.identifier for f in fs}, key=lambda i: (identifiers.rank(i), str(i)))
        how, then = how_sent(fs)
        if how == "in clear text":
            how = f"{red}in CLEAR TEXT{reset}"
        then = f"; {then}" if then else ""
        times = max(f.count for f in fs)
        first = min(f.first_seen for f in fs)
        last = max(f.last_seen for f in fs)
        apps = sorted({p for f in fs for p in f.app_names})
        app = f" by {', '.join(apps)}" if apps else ""
        names = _and_list([identifiers.name(i) for i in ids])
        out.append(
            f"  {bold}{names}{reset} sent {how} to {bold}{host}{reset}"
            f"{_owner(fs)} ({proto}/{port}){app}{then}"
        )
        out.append(f"    {_how_often(fs, times, first, last)}{_trigger(fs)}{_severity(fs)}")
    if by_dest:
        out.append("")
        out.append(f"{bold}Findings{reset}")
        out.append(FINDINGS_LEGEND)
        for (host, port, proto), fs in dests:
            out.append(f"{host}:{port} ({proto})")
            for f in sorted(fs, key=lambda f: (f.rank, f.where)):
                enc = ">".join(f.encoding) or "plain"
                extra = as_int(f.get("more_occurrences"))
                also = ""
                if extra:
                    where = "message" if f.count == 1 else "messages"
                    also = f"  (and {extra:,} more in the same {where})"
                value = str(f.shown_value(d.revealed) or "")
                out.append(
                    f"  {f.name:<14} {value:<22} x{f.count:<5} "
                    f"{f.where}  [{enc}]  {f.text('detector')} ({_tag(f)}){also}"
                )
    dismissed = d.not_identifiers
    if dismissed:
        out.append("")
        out.append(
            "Not identifiers (seen, dismissed as placeholders): "
            + "; ".join(_placeholder(x) for x in dismissed[:8])
            + (f"; and {len(dismissed) - 8} more" if len(dismissed) > 8 else "")
        )
    coverage = coverage_sentence(d.get("decryption"))
    if coverage:
        out.append("")
        out.append(f"Decryption: {coverage}.")
    ni = d.not_inspected
    if ni:
        out.append("")
        shown = ", ".join(f"{x.get('host')} x{x.get('hellos')}" for x in ni[:8])
        more = f", and {len(ni) - 8} more" if len(ni) > 8 else ""
        out.append(
            f"Not inspected (encrypted, contents unseen): {wording.count(len(ni), 'destination')}: "
            f"{shown}{more}. Their session keys (--keylog, or a pcapng with its TLS keys) or "
            "decrypted traffic (HAR, mitmproxy flows) would show more."
        )
    out.append("")
    for i in d.inputs:
        an = sum(n for n in as_dict(i.get("anomalies")).values() if isinstance(n, int))
        out.append(
            f"Input {i.get('path')}: {i.get('format')}, "
            f"{wording.count(as_int(i.get('packets')), 'packet')}, "
            f"{wording.count(as_int(i.get('messages')), 'message')}, "
            f"{wording.count(an, 'anomaly')}, sha256 "
            f"{str(i.get('sha256') or '')[:16]}…"
        )
    if d.anomalies:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(d.anomalies.items()))
        out.append(f"Anomalies: {kinds}")
    for path, why in d.stopped_early():
        out.append(f"{yellow}{incomplete_line(path, why)}{reset}")
    return "\n".join(out) + "\n"


def _placeholder(x: dict[str, Any]) -> str:
    """``mac 02:00:00:00:00:00 x3 (Android's constant …)``."""
    value = f" {x.get('value')}" if x.get("value") else ""
    return f"{x.get('identifier')}{value} x{x.get('count')} ({x.get('why')})"
