"""Tracker SDKs found by their code signatures (Exodus Privacy's list, bundled as
``data/exodus-trackers.json``; provenance in ``data/SOURCES.md``).

Exodus signatures are regular expressions searched in dotted class names
(``com.google.firebase.analytics.``); like Exodus we search them in all class names
joined by newlines, one search per tracker, which keeps a 50k-class app under a second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True, slots=True)
class Tracker:
    name: str
    website: str
    categories: tuple[str, ...]
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class TrackerHit:
    name: str
    website: str
    categories: tuple[str, ...]
    example_class: str
    """One class that matched, as evidence."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "website": self.website,
            "categories": list(self.categories),
            "example_class": self.example_class,
        }


@cache
def catalogue() -> tuple[Tracker, ...]:
    raw = resources.files("phonehome").joinpath("data", "exodus-trackers.json").read_bytes()
    out: list[Tracker] = []
    for entry in json.loads(raw)["trackers"].values():
        signature = str(entry.get("code_signature") or "").strip("|")
        if not signature:
            continue
        try:
            pattern = re.compile(signature)
        except re.error:
            continue
        out.append(
            Tracker(
                str(entry.get("name", "")),
                str(entry.get("website", "")),
                tuple(str(c) for c in entry.get("categories") or ()),
                pattern,
            )
        )
    return tuple(out)


def find_trackers(class_descriptors: Iterable[str]) -> list[TrackerHit]:
    """Trackers whose signature matches one of the classes (``Lcom/x/Y;`` descriptors)."""
    names = "\n".join(d[1:-1].replace("/", ".") for d in class_descriptors if d[:1] == "L")
    if not names:
        return []
    hits: list[TrackerHit] = []
    for tracker in catalogue():
        match = tracker.pattern.search(names)
        if match is None:
            continue
        start = names.rfind("\n", 0, match.start()) + 1
        end = names.find("\n", match.start())
        example = names[start : end if end >= 0 else len(names)]
        hits.append(TrackerHit(tracker.name, tracker.website, tracker.categories, example))
    return sorted(hits, key=lambda h: h.name.lower())
