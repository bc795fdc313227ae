"""Was a value sent because something happened on the device, or by chance?

"Sent within 5 s after 6 of 6 unlocks" means little on its own: a value sent every 30 s
lands within 5 s after a random moment one time in six. So every correlation carries the
chance baseline (the share of the observed time that lies within ``window_s`` before a
send) and the binomial tail probability of matching at least as many events by chance.
Events are treated as independent moments; docs/events.md discusses what that assumes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from phonehome.enrich.base import Enricher, Scan
from phonehome.enrich.events import Event
from phonehome.enrich.timeline import beacon_interval
from phonehome.findings import Finding

DEFAULT_KINDS = ("unlock", "screen_on", "boot")


def correlate(
    times: list[float],
    events: list[Event],
    *,
    kinds: Sequence[str] = DEFAULT_KINDS,
    window_s: float = 5.0,
    span: tuple[float, float] | None = None,
) -> dict[str, Any] | None:
    """The event kind that best explains the send times, or None without such events.

    ``span`` is the observed period (the capture's first and last packet); without it,
    from ``window_s`` before the first send to the last send. Events outside it cannot be
    judged and are left out of ``of``. The best kind has the smallest p-value; ties go
    to the larger matched share, then to the order of ``kinds``.
    """
    sends = sorted(times)
    if not sends or window_s <= 0:
        return None
    start, end = span if span is not None else (sends[0] - window_s, sends[-1])
    if end <= start:
        return None
    baseline = chance_baseline(sends, window_s, start, end)
    best: dict[str, Any] | None = None
    best_key: tuple[float, float, int] | None = None
    for rank, kind in enumerate(kinds):
        moments = [e.time for e in events if e.kind == kind and start <= e.time <= end]
        if not moments:
            continue
        delays = [d for d in (_delay(sends, t, window_s) for t in moments) if d is not None]
        matched, of = len(delays), len(moments)
        p_value = binomial_tail(matched, of, baseline)
        key = (p_value, -matched / of, rank)
        if best_key is None or key < best_key:
            best_key = key
            best = {
                "event": kind,
                "matched": matched,
                "of": of,
                "max_delay_s": round(max(delays), 3) if delays else None,
                "window_s": window_s,
                "baseline": round(baseline, 6),
                "p_value": float(f"{p_value:.3g}"),
            }
    return best


def _delay(sends: list[float], moment: float, window_s: float) -> float | None:
    """Seconds from ``moment`` to the first send at or after it, if within the window."""
    i = bisect.bisect_left(sends, moment)
    if i < len(sends) and sends[i] - moment <= window_s:
        return sends[i] - moment
    return None


def chance_baseline(sends: list[float], window_s: float, start: float, end: float) -> float:
    """Share of [start, end] lying within ``window_s`` before some send (sends sorted).

    That is the probability that an event at a random moment of the span is "followed by
    a send within window_s", the success probability of the binomial test.
    """
    covered = 0.0
    run_start = run_end = -math.inf
    for t in sends:
        lo, hi = max(t - window_s, start), min(t, end)
        if hi <= lo:
            continue
        if lo > run_end:
            covered += max(0.0, run_end - run_start)
            run_start, run_end = lo, hi
        else:
            run_end = max(run_end, hi)
    covered += max(0.0, run_end - run_start)
    return min(1.0, covered / (end - start))


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space (no scipy)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def bursts_after_idle(
    times: list[float], idle_s: float = 600, *, start: float | None = None
) -> dict[str, Any] | None:
    """Without device events, the weaker hint: how many bursts of sends follow a silence.

    A burst is a run of sends with gaps under ``idle_s``; it counts as "after idle" when
    at least ``idle_s`` without a send precede it. The first burst counts only when
    ``start`` (the capture's first packet) shows the silence before it. None for fewer
    than two sends and for beacons: a periodic sender is "after idle" every time, and
    that says nothing about a cause.
    """
    sends = sorted(times)
    if len(sends) < 2 or beacon_interval(sends) is not None:
        return None
    bursts, after_idle = 1, 0
    if start is not None and sends[0] - start >= idle_s:
        after_idle += 1
    for previous, current in pairwise(sends):
        if current - previous >= idle_s:
            bursts += 1
            after_idle += 1
    return {"after_idle": after_idle, "of_bursts": bursts, "idle_s": idle_s}


class TriggerEnricher(Enricher):
    """``trigger`` of each finding: the device event its sends follow beyond chance (None
    without device events, and then ``trigger_hint``: bursts after idle gaps, a weaker
    hint); ``trigger_events`` (what events were given)."""

    def __init__(self, events: Sequence[Event], window_s: float) -> None:
        self.events = list(events)
        self.window_s = window_s

    def finding(self, finding: Finding, scan: Scan) -> None:
        span = scan.span
        if not self.events:
            finding.extra["trigger"] = None
            hint = bursts_after_idle(finding.times, start=span[0] if span else None)
            if hint:
                finding.extra["trigger_hint"] = hint
            return
        finding.extra["trigger"] = correlate(
            finding.times, self.events, window_s=self.window_s, span=span
        )

    def done(self, scan: Scan) -> None:
        if not self.events:
            return
        kinds: dict[str, int] = {}
        for e in self.events:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        scan.extra["trigger_events"] = {
            "count": len(self.events),
            "kinds": kinds,
            "window_s": self.window_s,
        }
