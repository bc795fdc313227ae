"""Span arithmetic over one field's matches, in time linear in the number of matches.

A body that repeats a value thousands of times (an analytics SDK batching 1,000 events,
each with the device id) gives thousands of matches in one field. Comparing every match
with every other one, as a first version did, made a 50 KB body take longer than a whole
capture: the cost grew with the square of the repetitions. Everything here sorts once
and sweeps, so it is O(n log n), and :func:`cap` bounds what is passed on at all.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

from phonehome.model.field import Match

MAX_PER_VALUE = 16
"""Occurrences of one value kept per field and detector; the rest are only counted
(``Match.more`` on the last one kept). The aggregation reports one occurrence per place
and message anyway: the 16 kept leave room for the per-message dedupe to pick the
deepest and widest of them."""

K = TypeVar("K", bound=Hashable)


def inside_wider(spans: Sequence[tuple[int, int]]) -> list[bool]:
    """For each span, whether a different span of the list contains it.

    Identical spans do not contain each other, so the distinct spans are sorted by start,
    then by end descending: every span that could contain one comes before it, and a
    running maximum of the ends seen tells whether one does.
    """
    distinct = sorted(set(spans), key=lambda s: (s[0], -s[1]))
    contained: set[tuple[int, int]] = set()
    best_end = -1
    for span in distinct:
        if best_end >= span[1]:
            contained.add(span)
        else:
            best_end = span[1]
    return [span in contained for span in spans]


def drop_inside_wider(matches: list[Match], group: dict[int, K]) -> list[Match]:
    """Matches that no wider match of the same group (``group[index]``) contains."""
    by_group: dict[K, list[int]] = {}
    for i, key in group.items():
        by_group.setdefault(key, []).append(i)
    dropped = [False] * len(matches)
    for members in by_group.values():
        if len(members) < 2:
            continue
        inside = inside_wider([(matches[i].start, matches[i].end) for i in members])
        for i, flag in zip(members, inside, strict=True):
            dropped[i] = flag
    return [m for m, d in zip(matches, dropped, strict=True) if not d]


class Intervals:
    """A fixed set of spans answering "does any of them overlap [start, end)?" in
    O(log n): spans sorted by start with a running maximum of their ends."""

    __slots__ = ("_max_end", "_starts")

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [s for s, _ in ordered]
        self._max_end: list[int] = []
        top = -1
        for _, e in ordered:
            top = max(top, e)
            self._max_end.append(top)

    def overlaps(self, start: int, end: int) -> bool:
        # spans starting before ``end``; one of them overlaps if it ends after ``start``
        n = bisect.bisect_left(self._starts, end)
        return n > 0 and self._max_end[n - 1] > start


def cap(matches: list[Match], limit: int = MAX_PER_VALUE) -> list[Match]:
    """At most ``limit`` matches per (detector, identifier, value), first ones first;
    the number left out is added to ``more`` of the last one kept. ``matches`` must be
    in text order."""
    seen: dict[tuple[str, str, str], int] = {}
    extra: dict[tuple[str, str, str], int] = {}
    kept: list[Match] = []
    last: dict[tuple[str, str, str], int] = {}
    for m in matches:
        key = (m.detector, m.identifier, m.value)
        n = seen.get(key, 0)
        if n < limit:
            seen[key] = n + 1
            last[key] = len(kept)
            kept.append(m)
        else:
            extra[key] = extra.get(key, 0) + 1 + m.more
    for key, n in extra.items():
        i = last[key]
        kept[i] = kept[i].with_more(kept[i].more + n)
    return kept


class Holders:
    """Spans per group answering "does a span of this group lie inside [start, end) and
    differ from it?" in O(log n): per group, spans sorted by start with a suffix minimum
    of their ends (a span starting at or after ``start`` lies inside exactly when the
    least end among them is at most ``end``)."""

    __slots__ = ("_groups",)

    def __init__(self, spans: Iterable[tuple[Hashable, int, int]]) -> None:
        by_group: dict[Hashable, list[tuple[int, int]]] = {}
        for group, start, end in spans:
            by_group.setdefault(group, []).append((start, end))
        self._groups: dict[Hashable, tuple[list[int], list[int]]] = {}
        for group, members in by_group.items():
            members.sort()
            suffix_min = [0] * len(members)
            low = members[-1][1]
            for i in range(len(members) - 1, -1, -1):
                low = min(low, members[i][1])
                suffix_min[i] = low
            self._groups[group] = ([s for s, _ in members], suffix_min)

    def _least_end_from(self, group: Hashable, start: int) -> int | None:
        found = self._groups.get(group)
        if found is None:
            return None
        starts, suffix_min = found
        i = bisect.bisect_left(starts, start)
        return suffix_min[i] if i < len(starts) else None

    def holds_narrower(self, group: Hashable, start: int, end: int) -> bool:
        # strictly narrower: starts later and ends no later, or starts no earlier and
        # ends earlier
        later = self._least_end_from(group, start + 1)
        if later is not None and later <= end:
            return True
        same = self._least_end_from(group, start)
        return same is not None and same < end
