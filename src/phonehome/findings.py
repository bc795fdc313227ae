"""Occurrences -> findings: aggregation, identity and the per-message dedupe.

A finding aggregates the occurrences of one value of one identifier sent by one app to
one destination (host, port, protocol) at one place (``where``) in one encoding chain.
That tuple is its identity across scans (diffs, baselines). Counts and time statistics
cover every occurrence; ``times`` and ``evidence`` keep at most ``KEEP`` entries so
memory does not grow with the capture.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from phonehome.detect import spans
from phonehome.model.field import Match
from phonehome.model.message import AppLabel, FlowKey, HttpResponse, Message, decryption_of
from phonehome.net.community_id import community_id

KEEP = 1000
MAX_FLOW_IDS = 4096


@dataclass(frozen=True, slots=True)
class Evidence:
    input: int
    frame: int
    community_id: str
    filter: str


@dataclass
class Finding:
    detector: str
    identifier: str
    value: str
    """Raw value: kept in memory only; outputs redact it (see :mod:`phonehome.privacy`)."""
    profile_match: bool
    confidence: float
    encoding: tuple[str, ...]
    where: str
    protocol: str
    readability: str
    host: str
    port: int
    app: AppLabel | None
    form: str
    ips: list[str] = field(default_factory=list)
    count: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    times: list[float] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    per_day: dict[str, int] = field(default_factory=dict)
    more_occurrences: int = 0
    """Occurrences beyond one per message at this place (the value repeated in one field,
    or in several fields of the same place, as the repeated keys of a form); counted, not
    kept (see :func:`best_matches`)."""
    capped: bool = False
    """Some message carried the value more than :data:`~phonehome.detect.spans.MAX_PER_VALUE`
    times at this place: only then do outputs show :attr:`more_occurrences` (a value
    repeated a few times, as a SIP message repeats a number, is not worth a line)."""
    excerpt: tuple[str, str, str] | None = None
    """(before, match, after) from the first occurrence's decoded text: raw here, redacted
    where output is written (see :func:`phonehome.report.view.build_view`)."""
    app_evidence: str | None = None
    """Why :attr:`app` names the app when the capture did not (an enricher linked the
    destination to an app's code), for the ``app.evidence`` of the scan JSON."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys the enrichers added to this finding's JSON object (``destination``,
    ``timeline``, ``trigger``, ``severity`` ...), in the order they added them."""
    decryption: dict[str, str] | None = None
    """How the first occurrence was read when it came out of TLS/QUIC decrypted with a key
    log: ``{via, suite, keys, alpn}`` (:func:`phonehome.model.message.decryption_of`)."""

    @property
    def identity(self) -> tuple[object, ...]:
        app = (self.app.uid, self.app.packages) if self.app else None
        return (
            self.identifier,
            self.value,
            app,
            self.host,
            self.port,
            self.protocol,
            self.where,
            self.encoding,
        )


def destination_host(msg: Message, match: Match) -> str:
    """Who received the data. For a DNS query name, the registrable domain of the name:
    its authoritative servers receive the data, not the resolver. For what a device that
    is the server sent (an HTTP response), the client's address: the message's host is
    the device's own name then."""
    if msg.protocol == "dns" and match.field.where.startswith("dns.qname"):
        from phonehome.refdata import registrable_domain

        name = msg.host or ""
        return registrable_domain(name) or name
    if isinstance(msg.content, HttpResponse):
        return msg.dst.ip
    return msg.host or msg.dst.ip


def best_matches(matches: list[Match]) -> list[Match]:
    """Keep, per (identifier, value), the matches found in the most decoded fields.

    The raw body and its decoded JSON are both scanned (a value split by Base64 line
    breaks is only whole after decoding), so one value is often found at several depths
    of the same place; the deepest, most specific one is the evidence worth reporting.
    Then one match per (identifier, value, where, encoding): the others are counted in
    its ``more`` (the same value twice in one field, or in two fields of one place, as
    the repeated keys of a form).

    Time O(n log n) in the number of matches: a body repeating a value thousands of
    times must not cost the square of that (see :mod:`phonehome.detect.spans`).
    """
    if len(matches) < 2:
        return matches
    matches = _not_the_access_point(matches)
    matches = _prefer_exact(matches)
    first = matches[0]
    if len(matches) <= SMALL and _one_value(matches, first.identifier, first.value):
        # the common message: one value, found at a few depths of one place
        out = _deepest(matches)
        if len(out) == 1:
            return out
    else:
        groups: dict[tuple[str, str], list[Match]] = {}
        for m in matches:
            groups.setdefault((m.identifier, m.value), []).append(m)
        out = []
        for group in groups.values():
            if len(group) == 1:
                out.extend(group)
            else:
                out.extend(_deepest(group))
    # One match per (identifier, value, where, encoding); the rest counted on it.
    seen: dict[tuple[str, str, str, tuple[str, ...]], int] = {}
    uniq: list[Match] = []
    more: list[int] = []
    for m in out:
        k = (m.identifier, m.value, m.field.where, m.field.encoding)
        i = seen.get(k)
        if i is None:
            seen[k] = len(uniq)
            uniq.append(m)
            more.append(m.more)
        else:
            more[i] += 1 + m.more
    return [m if n == m.more else m.with_more(n) for m, n in zip(uniq, more, strict=True)]


def _not_the_access_point(matches: list[Match]) -> list[Match]:
    """A MAC address the message names as its access point's BSSID (under a ``bssid``
    key) is not also the device's MAC where the message is searched whole (the raw body
    holds the same text without its key). The profile's own MAC is never dropped."""
    bssids: set[str] | None = None
    for m in matches:
        if m.identifier == "bssid":
            if bssids is None:
                bssids = set()
            bssids.add(m.value)
    if bssids is None:
        return matches
    return [
        m
        for m in matches
        if not (m.identifier == "mac" and not m.profile_match and m.value in bssids)
    ]


def _one_value(matches: list[Match], identifier: str, value: str) -> bool:
    for m in matches:  # noqa: SIM110 (compiled, a loop makes no generator object)
        if m.identifier != identifier or m.value != value:
            return False
    return True


def _all_plain(matches: list[Match]) -> bool:
    for m in matches:  # noqa: SIM110 (compiled, a loop makes no generator object)
        if m.form != "plain":
            return False
    return True


def _prefer_exact(matches: list[Match]) -> list[Match]:
    """One span, one identifier.

    When the profile's own value matches a span exactly, a derived form of another value
    on the same span is not reported (the MEID field of the self-registration request is
    the profile's ``meid``, not also "the IMEI's body"). A match inside a longer match of
    the same field is part of that value, not a value of its own: the hex or Base64 of an
    MEID is a prefix of the hex or Base64 of the IMEI it was cut from. Except a profile
    value inside a pattern detector's wider match: the known value is what it is.
    """
    if not _all_plain(matches):  # (only a derived form can give way to an exact match)
        exact = {
            (m.field.where, m.field.encoding, m.start, m.end)
            for m in matches
            if m.profile_match and m.form == "plain"
        }
        if exact:
            matches = [
                m
                for m in matches
                if m.form == "plain"
                or (m.field.where, m.field.encoding, m.start, m.end) not in exact
            ]
    if len(matches) <= SMALL:
        return [m for m in matches if not any(_covers(o, m) for o in matches if o is not m)]
    return _uncovered(matches)


def _covers(o: Match, m: Match) -> bool:
    """``m`` is not a value of its own next to ``o``: it lies inside ``o``'s longer span of
    the same field, or ``o`` is the profile's own value inside ``m``'s pattern match (an
    IMSI in a SIP URI or NAI that the e-mail detector saw whole is the known IMSI)."""
    if o.field is not m.field:
        return False
    if m.start <= o.start and o.end <= m.end and m.end - m.start > o.end - o.start:
        return o.profile_match and not m.profile_match
    inside = o.start <= m.start and o.end >= m.end and o.end - o.start > m.end - m.start
    return inside and not (m.profile_match and not o.profile_match)


def _uncovered(matches: list[Match]) -> list[Match]:
    """:func:`_covers` for many matches, by sort and sweep: a profile match survives
    unless a wider profile match holds it; a pattern match survives unless any wider
    match holds it or it holds a narrower profile match."""
    profile = [m for m in matches if m.profile_match]
    kept_profile = {id(m) for m in spans.drop_inside_wider(profile, _by_field(profile))}
    kept_any = {id(m) for m in spans.drop_inside_wider(matches, _by_field(matches))}
    holders = spans.Holders((id(m.field), m.start, m.end) for m in profile)
    return [
        m
        for m in matches
        if (
            id(m) in kept_profile
            if m.profile_match
            else id(m) in kept_any and not holders.holds_narrower(id(m.field), m.start, m.end)
        )
    ]


def _by_field(matches: list[Match]) -> dict[int, int]:
    return {i: id(m.field) for i, m in enumerate(matches)}


def _part(where: str) -> str:
    colon = where.find(":")
    return where if colon < 0 else where[:colon]


Rank = tuple[int, int, bool, bool]
SMALL = 8
"""Groups up to this size are compared pair by pair: cheaper than sorting for the two or
three matches most messages have."""


def _rank(m: Match) -> Rank:
    """How deep and specific an occurrence is: more decoders, then a longer place, then a
    profile match, then the plain form. ``a`` is deeper than ``b`` seen at a compatible
    place exactly when its rank is greater."""
    return (len(m.field.encoding), len(m.field.where), m.profile_match, m.form == "plain")


def _deepest(group: list[Match]) -> list[Match]:
    """The matches of one value that no deeper occurrence at a compatible place hides.

    ``a`` hides ``b`` when both are in the same part of the message, ``a``'s place
    extends ``b``'s (or ``b`` is the whole part) and ``a`` ranks higher (:func:`_rank`).
    The places that extend a place are one run of the sorted places, so the best rank
    among them is a range-maximum query: O(n log n) for the group instead of comparing
    every pair.
    """
    if len(group) <= SMALL:
        return [m for m in group if not any(_deeper(o, m) for o in group if o is not m)]
    best: dict[str, Rank] = {}
    for m in group:
        r = _rank(m)
        w = m.field.where
        if w not in best or r > best[w]:
            best[w] = r
    places = sorted(best)
    top = _RangeMax([best[w] for w in places])
    out: list[Match] = []
    for m in group:
        w = m.field.where
        part = _part(w)
        if w == part:
            i = bisect.bisect_left(places, w)
            ranks = (top.query(i, i + 1), _prefixed(places, top, part + ":"))
            found = max((r for r in ranks if r is not None), default=None)
        else:
            found = _prefixed(places, top, w)
        if found is None or not found > _rank(m):
            out.append(m)
    return out


def _deeper(a: Match, b: Match) -> bool:
    """True when ``a`` is the same occurrence as ``b`` seen through more decoding: the
    pairwise definition of :func:`_deepest`, used as it is for small groups."""
    fa, fb = a.field, b.field
    part = _part(fb.where)
    if _part(fa.where) != part:
        return False
    if fb.where != part and not fa.where.startswith(fb.where):
        return False
    return _rank(a) > _rank(b)


def _prefixed(places: list[str], top: _RangeMax, prefix: str) -> Rank | None:
    """The best rank among the places that start with ``prefix``."""
    lo = bisect.bisect_left(places, prefix)
    n = len(prefix)
    hi = bisect.bisect_right(places, prefix, lo, key=lambda p: p[:n])
    return top.query(lo, hi)


class _RangeMax:
    """Maximum over any run of a fixed list in O(1) (a sparse table, O(n log n) to build)."""

    __slots__ = ("_levels",)

    def __init__(self, values: list[Rank]) -> None:
        self._levels = [values]
        width = 1
        while 2 * width <= len(values):
            prev = self._levels[-1]
            self._levels.append([max(prev[i], prev[i + width]) for i in range(len(prev) - width)])
            width *= 2

    def query(self, lo: int, hi: int) -> Rank | None:
        if hi <= lo:
            return None
        level = (hi - lo).bit_length() - 1
        row = self._levels[level]
        return max(row[lo], row[hi - (1 << level)])


class Aggregator:
    """Streams occurrences into findings keyed by their identity."""

    def __init__(self) -> None:
        self.findings: dict[tuple[object, ...], Finding] = {}
        self._flow_ids: dict[tuple[int, int], tuple[FlowKey, str]] = {}
        """(input, flow id) -> (flow key, community id) of recent flows: the evidence of
        every kept occurrence names its flow, and hashing the flow again each time was a
        tenth of the aggregation on leak-dense traffic."""

    def add(self, msg: Message, matches: list[Match]) -> list[Finding]:
        """Account the message's matches; returns the findings they counted towards."""
        return [self._add_one(msg, m) for m in best_matches(matches)]

    def _add_one(self, msg: Message, m: Match) -> Finding:
        host = destination_host(msg, m)
        port = msg.dst.port
        key = (
            m.identifier,
            m.value,
            (msg.app.uid, msg.app.packages) if msg.app else None,
            host,
            port,
            msg.protocol,
            m.field.where,
            m.field.encoding,
        )
        f = self.findings.get(key)
        if f is None:
            f = Finding(
                detector=m.detector,
                identifier=m.identifier,
                value=m.value,
                profile_match=m.profile_match,
                confidence=m.confidence,
                encoding=m.field.encoding,
                where=m.field.where,
                protocol=msg.protocol,
                readability=msg.readability,
                host=host,
                port=port,
                app=msg.app,
                form=m.form,
                first_seen=msg.time,
                last_seen=msg.time,
                excerpt=_excerpt(m),
                decryption=decryption_of(msg.extra) if msg.readability == "decrypted" else None,
            )
            self.findings[key] = f
        f.count += 1
        f.more_occurrences += m.more
        if m.more >= spans.MAX_PER_VALUE:
            f.capped = True
        f.confidence = max(f.confidence, m.confidence)
        f.profile_match = f.profile_match or m.profile_match
        if msg.time < f.first_seen:
            f.first_seen = msg.time
        if msg.time > f.last_seen:
            f.last_seen = msg.time
        if msg.dst.ip not in f.ips and len(f.ips) < 64:
            f.ips.append(msg.dst.ip)
        day = _day(msg.time)
        f.per_day[day] = f.per_day.get(day, 0) + 1
        if len(f.times) < KEEP:
            f.times.append(msg.time)
        if len(f.evidence) < KEEP:
            f.evidence.append(self._evidence(msg))
        return f

    def _evidence(self, msg: Message) -> Evidence:
        at = (msg.input, msg.flow_id)
        known = self._flow_ids.get(at)
        if known is not None and known[0] is msg.flow:
            cid = known[1]
        else:
            cid = _community_id(msg)
            if len(self._flow_ids) >= MAX_FLOW_IDS:
                self._flow_ids.clear()
            self._flow_ids[at] = (msg.flow, cid)
        return Evidence(msg.input, msg.frame, cid, f"frame.number == {msg.frame}")

    def results(self) -> list[Finding]:
        return sorted(
            self.findings.values(), key=lambda f: (f.host, f.identifier, f.where, f.first_seen)
        )


EXCERPT_CONTEXT = 64
"""Characters kept on each side; the view shows 32 after masking the wider window."""


def _excerpt(m: Match) -> tuple[str, str, str]:
    """The match in the decoded text around it: the enclosing document where the field
    has one and the value can be found in it, else the field's own text."""
    text, start, end = m.field.text, m.start, m.end
    context = m.field.context
    if context:
        at = context.find(text)
        if at >= 0:
            text, start, end = context, at + start, at + end
    return (
        text[max(0, start - EXCERPT_CONTEXT) : start],
        text[start:end],
        text[end : end + EXCERPT_CONTEXT],
    )


def _day(t: float) -> str:
    return _day_of(int(t // 86400))


@lru_cache(maxsize=256)
def _day_of(day: int) -> str:
    """The UTC date of a day number (Unix time // 86400): one strftime per day seen,
    not per occurrence."""
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86400))


def _community_id(msg: Message) -> str:
    """The flow's Community ID, or "" where there is none: a proxy's flow (mitmproxy, HAR)
    joins two connections, and its client and server may be of different address families
    (an IPv4 client of a proxy that reached the server over IPv6), which no Community ID
    names."""
    key = msg.flow
    try:
        return community_id(
            key.transport, key.client.ip, key.client.port, key.server.ip, key.server.port
        )
    except ValueError:
        return ""
