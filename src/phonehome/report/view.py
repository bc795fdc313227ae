"""The redacted, serialisable view of a scan that every output format renders.

Built once per output. With ``reveal=False`` (the default) no raw identifier value
survives into the view: values are redacted, and any raw value that happens to appear
inside a host name or another free-text field is masked too.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from phonehome.androiduids import describe as describe_uid
from phonehome.detect.profile import profile_hash
from phonehome.findings import Finding
from phonehome.ingest.pcapdroid import may_be_cut
from phonehome.jsondoc import map_strings
from phonehome.privacy import ValueIds, redact
from phonehome.report.document import ScanView
from phonehome.scan_pass import ScanResult

SCHEMA = "phonehome.scan/1"


def iso(t: float) -> str:
    """ISO-8601 UTC with milliseconds; a time no calendar holds (a damaged capture's
    year 75095) is shown as its epoch seconds rather than stopping the report.

    A report formats every kept occurrence time (up to ``findings.KEEP`` per finding):
    the calendar part is made once per second, and the milliseconds are those
    ``datetime.fromtimestamp`` gives (microseconds rounded half to even, then cut)."""
    try:
        frac, whole = math.modf(t)
        us = round(frac * 1e6)
        second = int(whole)
        if us >= 1_000_000:
            second, us = second + 1, us - 1_000_000
        elif us < 0:
            second, us = second - 1, us + 1_000_000
        return f"{_iso_second(second)}.{us // 1000:03d}Z"
    except (OverflowError, ValueError, OSError):
        return f"epoch:{t:.3f}"


@lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds").replace("+00:00", "")


MIN_SCRUB_LEN = 6


class Scrubber:
    """Masks raw values wherever they stand in free text: a host label, a JSON key in a
    ``where`` path, an app name from a User-Agent, the context of an excerpt.

    It knows every value of every finding in its plain spelling, the exact text each
    match covered, their hex and Base64, and — with a profile — every form the
    known-value detector searches for (case variants, URL encoding, hex, Base64 at each
    alignment, MD5/SHA of each variant). Values shorter than six characters are left:
    they would mask ordinary words.
    """

    def __init__(self, result: ScanResult) -> None:
        caseless: dict[str, str] = {}
        exact: dict[str, str] = {}
        for f in result.findings:
            shown = redact(f.value, f.identifier)
            spellings = {f.value, f.excerpt[1] if f.excerpt else ""}
            for v in list(spellings):
                data = v.encode()
                caseless[data.hex()] = shown
                b64 = base64.b64encode(data).decode().rstrip("=")
                exact[b64] = shown
                exact[b64.replace("+", "-").replace("/", "_")] = shown
            for v in spellings:
                caseless[v] = shown
        if result.profile is not None:
            from phonehome.detect.known import targets

            loose, strict = targets(result.profile)
            for spelling, target in loose:
                caseless.setdefault(spelling, redact(target.value, target.identifier))
            for spelling, target in strict:
                exact.setdefault(spelling, redact(target.value, target.identifier))
        self._caseless = _Replacer(
            {k.lower(): v for k, v in caseless.items() if len(k) >= MIN_SCRUB_LEN}, True
        )
        self._exact = _Replacer({k: v for k, v in exact.items() if len(k) >= MIN_SCRUB_LEN}, False)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        return self._exact(self._caseless(text))

    def tree(self, node: Any) -> Any:
        """Every string of a JSON-like document, scrubbed (keys too); the fields that are
        redacted or hashed by construction are left as they are."""
        return map_strings(node, self, skip=_SAFE_KEYS)


class LayeredScrubber(Scrubber):
    """Scrubbers applied one after the other. A live watch masks each alert with the
    profile's spellings (compiled once: every form of every profile value is a large
    pattern) and then with those of the alert's own finding, instead of compiling both
    into one pattern per alert."""

    def __init__(self, *layers: Scrubber) -> None:
        self._layers = layers

    def __call__(self, text: str) -> str:
        for layer in self._layers:
            text = layer(text)
        return text


_SAFE_KEYS = frozenset(
    {
        "value_redacted",
        "value_id",
        "times",
        "per_day",
        "evidence",
        "sha256",
        "excerpt",
        "first_seen",
        "last_seen",
        "started",
        "finished",
        "profile_id",
    }
)


class _Replacer:
    """Every occurrence of the spellings, leftmost first and the longest at a position,
    replaced by its mask: what a regular expression alternation of the spellings (longest
    first) does, but through the detect stage's multi-pattern matcher, so the cost does
    not grow with the number of spellings times the text (a scan with 10,000 distinct
    values took minutes in this class alone). Spellings that are not ASCII, which the
    matcher would not fold the way ``str.lower`` does, make it a regular expression as
    before (all of them: the longest must win across both kinds)."""

    def __init__(self, values: dict[str, str], caseless: bool) -> None:
        from phonehome.detect.matcher import Backend, Matcher, available_backends

        self._values = values
        self._caseless = caseless
        self._regex: re.Pattern[str] | None = None
        self._matcher = Matcher[str]([])
        if all(k.isascii() for k in values):
            # A report scrubs a few hundred short texts once: pyahocorasick builds the
            # ~1,000 spellings of a profile in ~2 ms where hyperscan compiles them in
            # ~25 ms, and the texts are too short for hyperscan's scan speed to win it back.
            backend: Backend | None = (
                "ahocorasick" if "ahocorasick" in available_backends() else None
            )
            self._matcher = Matcher(list(values.items()), caseless=caseless, backend=backend)
        else:
            ordered = sorted(values, key=len, reverse=True)
            flags = re.IGNORECASE if caseless else 0
            self._regex = re.compile("|".join(map(re.escape, ordered)), flags)

    def __call__(self, text: str) -> str:
        hits = self._matcher.scan(text)
        if hits:
            out: list[str] = []
            pos = 0
            # hits are sorted by start, then end: the last hit at a start is the longest
            for i, (start, end, mask) in enumerate(hits):
                if start < pos or (i + 1 < len(hits) and hits[i + 1][0] == start):
                    continue
                out += (text[pos:start], mask)
                pos = end
            out.append(text[pos:])
            text = "".join(out)
        if self._regex is not None:
            key = str.lower if self._caseless else str
            text = self._regex.sub(lambda m: self._values[key(m.group(0))], text)
        return text


# A run of letters and digits, joined by - : . (MAC and UUID groups, decimals).
_RUN = re.compile(r"[0-9A-Za-z]+(?:[-:.][0-9A-Za-z]+)*")
_HEX = frozenset("0123456789abcdefABCDEF-:.")


def _mask_numbers(text: str, cut_left: bool, cut_right: bool) -> str:
    """Context around a match may hold values no detector reported, whole or cut at the
    window's edge. Mask every run of 6+ characters that is mostly digits or all hex
    (IMEI halves, hashes, ids, coordinates like ``59.9139``, MACs with any separator),
    and any run with a digit that the window cut; keep words and keys (``SIM1ICCID``)."""

    def mask(m: re.Match[str]) -> str:
        run = m.group(0)
        digits = sum(c.isdigit() for c in run)
        alnum = sum(c.isalnum() for c in run)
        cut = (cut_left and m.start() == 0) or (cut_right and m.end() == len(text))
        if digits and cut:
            return "•" * len(run)
        if len(run) < MIN_SCRUB_LEN:
            return run
        hexy = digits > 0 and all(c in _HEX for c in run)
        return "•" * len(run) if digits * 2 >= alnum or hexy else run

    return _RUN.sub(mask, text)


EXCERPT_SHOWN = 32


def _excerpt(
    excerpt: tuple[str, str, str], identifier: str, scrub: Scrubber | None
) -> dict[str, str]:
    """Where the value sat in the decoded text, with the matching part marked: the
    redacted value in its context (``"IMEI1":"35•••••••••••83","IMEI2":``).

    The stored context is wider than what is shown, so values that straddle the shown
    window are masked whole before the window is cut."""
    before, match, after = excerpt
    if scrub is None:
        return {"before": before[-EXCERPT_SHOWN:], "match": match, "after": after[:EXCERPT_SHOWN]}
    before, after = scrub(before), scrub(after)
    before = _mask_numbers(before, cut_left=True, cut_right=False)[-EXCERPT_SHOWN:]
    after = _mask_numbers(after, cut_left=False, cut_right=True)[:EXCERPT_SHOWN]
    # Re-check the newly cut edges: a run the cut split is now partial.
    before = _mask_numbers(before, cut_left=True, cut_right=False)
    after = _mask_numbers(after, cut_left=False, cut_right=True)
    return {"before": before, "match": redact(match, identifier), "after": after}


def _app(f: Finding) -> dict[str, Any] | None:
    if f.app is None:
        return None
    app: dict[str, Any] = {"uid": f.app.uid, "packages": list(f.app.packages)}
    app["source"] = f.app.source
    name = f.app.name
    cut = name is not None and f.app.source == "pcapdroid" and may_be_cut(name)
    if name and (cut or not f.app.packages):
        # PCAPdroid's label when no package is known (a display name, or a package name
        # cut at 19 bytes), and a cut one even when completed, to show what was completed.
        # A display name beside packages is left out: a shared uid has several apps and
        # one label, which may name another of them.
        app["label"] = name + ("…" if cut else "")
        if cut:
            app["label_truncated"] = True
    system = describe_uid(f.app.uid)
    if system is not None:
        app["uid_name"] = system
    if f.app_evidence is not None:
        app["evidence"] = f.app_evidence
    return app


def build_view(
    result: ScanResult,
    value_ids: ValueIds,
    reveal: bool = False,
    scrubber: Scrubber | None = None,
) -> ScanView:
    """The scan document of ``result`` (with whatever the enrichers added), redacted unless
    ``reveal``: everything after the scan pass reads and writes the finding records, and
    this is the one place they become the document. ``scrubber`` (default
    ``Scrubber(result)``) masks raw values in free text unless ``reveal``."""
    if reveal:
        scrubber = None
    elif scrubber is None:
        scrubber = Scrubber(result)

    def scrub(text: str) -> str:
        return scrubber(text) if scrubber is not None else text

    findings = []
    for f in result.findings:
        item: dict[str, Any] = {
            "detector": f.detector,
            "identifier": f.identifier,
            "profile_match": f.profile_match,
            "confidence": round(f.confidence, 2),
            "value_redacted": redact(f.value, f.identifier),
            "value_id": value_ids(f.identifier, f.value),
            "encoding": list(f.encoding),
            "form": f.form,
            "where": scrub(f.where),
            "protocol": f.protocol,
            "readability": f.readability,
            "host": scrub(f.host),
            "ips": f.ips,
            "port": f.port,
            "app": _app(f),
            "count": f.count,
            "first_seen": iso(f.first_seen),
            "last_seen": iso(f.last_seen),
            "times": [iso(t) for t in f.times],
            "per_day": dict(sorted(f.per_day.items())),
            "evidence": [
                {
                    "input": e.input,
                    "frame": e.frame,
                    "community_id": e.community_id,
                    "filter": e.filter,
                }
                for e in f.evidence
            ],
        }
        if f.capped:
            item["more_occurrences"] = f.more_occurrences
        if f.decryption is not None:
            item["decrypted"] = dict(f.decryption)
        if f.excerpt is not None:
            item["excerpt"] = _excerpt(f.excerpt, f.identifier, scrubber)
        if reveal:
            item["value"] = f.value
        item.update(f.extra)
        findings.append(item)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "phonehome", "version": result.tool_version},
        "revealed": reveal,
        "started": iso(result.started),
        "finished": iso(result.finished),
        "inputs": [
            {
                "path": i.path,
                "sha256": i.sha256,
                "size": i.size,
                "format": i.format,
                "packets": i.packets,
                "messages": i.messages,
                "anomalies": i.anomalies,
            }
            for i in result.inputs
        ],
        "device": (
            # Keyed like value ids: a plain hash of a profile could confirm a guessed IMEI.
            {
                "name": result.device_name,
                "profile_id": value_ids("profile", profile_hash(result.profile)),
            }
            if result.profile is not None
            else None
        ),
        "findings": findings,
        "not_inspected": [
            {"host": scrub(h), "hellos": n}
            for h, n in sorted(result.encrypted_flows.items(), key=lambda x: -x[1])
        ],
        "not_identifiers": [
            {"identifier": ident, "value": value, "why": why, "count": n}
            for (ident, value, why), n in sorted(
                result.not_identifiers.items(), key=lambda x: (-x[1], x[0][0], x[0][2])
            )
        ],
        "decryption": result.decryption,
        "stats": result.stats,
        "anomalies": result.anomalies,
        **result.extra,
    }
    if scrubber is not None:
        # One pass over every string, whatever field it came in by (an app name taken
        # from a User-Agent, a JSON key in a path, a not-inspected host).
        doc = scrubber.tree(doc)
    return ScanView(doc, reveal)
