"""When a finding was sent: counts per day and, for a beacon, its interval.

A value sent every 15 minutes around the clock is a different thing from one sent when
the user unlocks the phone; the interval says which, and it also keeps the trigger test
honest (a beacon falls within a few seconds after any event by chance; see triggers.py).
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from phonehome.enrich.base import Enricher, Scan
from phonehome.findings import Finding

# A beacon: at least this many sends whose gaps vary by less than MAX_CV of their mean.
MIN_SENDS = 4
MAX_CV = 0.2


def day_of(epoch: float) -> str:
    """The UTC calendar day of an epoch time, the key of ``per_day``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def summarize(times: list[float], per_day: dict[str, int] | None = None) -> dict[str, Any]:
    """``{"per_day": {"YYYY-MM-DD": n}, "interval_s": float | None}``.

    ``per_day`` counted over all occurrences (the caller streams them; ``times`` is
    capped) wins over counting ``times``.
    """
    if per_day is None:
        counts: dict[str, int] = {}
        for t in times:
            key = day_of(t)
            counts[key] = counts.get(key, 0) + 1
    else:
        counts = dict(per_day)
    return {"per_day": dict(sorted(counts.items())), "interval_s": beacon_interval(times)}


def beacon_interval(times: list[float]) -> float | None:
    """The regular send interval in seconds, or None when the sends are not periodic.

    Coefficient of variation of the gaps between consecutive sends below ``MAX_CV``,
    over at least ``MIN_SENDS`` sends; the interval reported is the median gap, so one
    missed or doubled send does not shift it.
    """
    ordered = sorted(times)
    if len(ordered) < MIN_SENDS:
        return None
    gaps = [b - a for a, b in pairwise(ordered)]
    mean = statistics.fmean(gaps)
    if mean <= 0:
        return None
    # the population standard deviation in floats (math.fsum): statistics.pstdev is
    # exact with fractions, ~50x slower, and a finding keeps up to 1,000 times
    deviation = math.sqrt(math.fsum((g - mean) ** 2 for g in gaps) / len(gaps))
    if deviation / mean >= MAX_CV:
        return None
    return round(statistics.median(gaps), 3)


class TimelineEnricher(Enricher):
    """``timeline`` of each finding: sends per day and the beacon interval."""

    def finding(self, finding: Finding, scan: Scan) -> None:
        finding.extra["timeline"] = summarize(finding.times, finding.per_day)
