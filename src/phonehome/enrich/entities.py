"""The company behind a host name: tracker SDK vendors, carriers, OEMs, platform vendors.

Two bundled sources, most specific first:

- the Exodus Privacy tracker list (``data/exodus-trackers.json``): each tracker's network
  signature is a regular expression over host names;
- a curated map (``data/entities.csv``) of domain suffixes to carriers, OEMs and platform
  vendors the tracker list does not cover (China Telecom for ``vnet.cn``, Google, Apple,
  ...), every row with the source that backs it.

Exodus signatures are unanchored (``krxd\\.net``, ``fidzup``), so a match must start and end
at a label boundary and end at the end of the name: ``cdn.krxd.net`` is Krux,
``krxd.net.example.org`` and ``xkrxd.net`` are not.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from phonehome.refdata import registrable_domain

EXODUS_FILE = "exodus-trackers.json"
ENTITIES_FILE = "entities.csv"
TRACKER = "tracker"
EXODUS_SOURCE = "Exodus Privacy tracker list"
MAX_HOST = 253
"""The longest valid DNS name; anything longer is not looked up."""


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    kind: str
    """``tracker`` (Exodus), or the curated kinds ``carrier``, ``oem``, ``platform``."""
    country: str | None
    """Where the company is headquartered (curated rows only; not where data goes)."""
    source: str


class _Tracker:
    """One Exodus signature, compiled on first need.

    Compiling all ~260 signatures was a fixed ~40 ms of every scan that looks up a
    destination. Most signatures are alternations of plain names (``a4\\.tl|adjust\\.com``):
    such a regex can only match a host that contains one of those names, so ``needles``
    holds them and the regex is compiled only for a host that does. A signature with
    any other regex syntax has no needles and is compiled when first searched.
    """

    __slots__ = ("_pattern", "name", "needles", "signature")

    def __init__(self, name: str, signature: str) -> None:
        self.name = name
        self.signature = signature
        self.needles = _needles(signature)
        self._pattern: re.Pattern[str] | bool | None = False

    def search(self, host: str) -> re.Match[str] | None:
        if self.needles and not any(n in host for n in self.needles):
            return None
        if self._pattern is False:
            self._pattern = _bounded(self.signature)
        pattern = self._pattern
        return pattern.search(host) if isinstance(pattern, re.Pattern) else None


_PLAIN_ALTERNATIVE = re.compile(r"(?:[A-Za-z0-9_]|\\[.-]|-)+")


def _needles(signature: str) -> tuple[str, ...]:
    """The plain names a signature is an alternation of (unescaped), or () if it has any
    other syntax."""
    alternatives = signature.split("|")
    if not all(_PLAIN_ALTERNATIVE.fullmatch(a) for a in alternatives):
        return ()
    return tuple(a.replace("\\", "") for a in alternatives)


def _read(name: str) -> str:
    return resources.files("phonehome").joinpath("data", name).read_text("utf-8")


def _bounded(signature: str) -> re.Pattern[str] | None:
    # Start at a label boundary (or at a dot the signature itself begins with). End at
    # the end of the name, or right after a dot the signature ends with; a bare label
    # such as ``fidzup`` may end at any label boundary.
    label = "[a-z0-9-]"
    start = f"(?:(?<!{label})|(?=\\.))"
    end = f"(?!{label})" if "." not in signature else "(?:$|(?<=\\.))"
    try:
        return re.compile(f"{start}(?:{signature}){end}")
    except re.error:
        return None


@cache
def _trackers() -> tuple[_Tracker, ...]:
    data = json.loads(_read(EXODUS_FILE)).get("trackers", {})
    out = []
    for key in sorted(data, key=lambda k: int(k) if str(k).isdigit() else 0):
        entry = data[key]
        signature = str(entry.get("network_signature") or "").strip()
        if not signature:
            continue
        out.append(_Tracker(str(entry.get("name", "")).strip(), signature))
    return tuple(out)


@cache
def _curated() -> dict[str, Entity]:
    reader = csv.DictReader(io.StringIO(_read(ENTITIES_FILE)))
    return {
        row["suffix"].strip().lower(): Entity(
            row["entity"], row["kind"], row["country"] or None, row["source"]
        )
        for row in reader
    }


def _normalise(host: str) -> str | None:
    h = host.strip().rstrip(".").lower()
    if not h or len(h) > MAX_HOST or h.startswith("["):
        return None
    if h.count(":") == 1:
        h = h.split(":", 1)[0]  # host:port
    return h if h and ":" not in h else None


@lru_cache(maxsize=4096)
def _tracker_of(h: str) -> tuple[int, Entity] | None:
    best: tuple[int, Entity] | None = None
    for t in _trackers():
        m = t.search(h)
        if m is None:
            continue
        size = len(m.group().strip("."))
        if best is None or size > best[0]:
            best = (size, Entity(t.name, TRACKER, None, EXODUS_SOURCE))
    return best


def _curated_of(h: str) -> tuple[int, Entity] | None:
    table = _curated()
    labels = h.split(".")
    for i in range(len(labels)):
        suffix = ".".join(labels[i:])
        entity = table.get(suffix)
        if entity is not None:
            return len(suffix), entity
    return None


def tracker_of(host: str) -> Entity | None:
    """The Exodus tracker whose network signature matches ``host`` (longest match wins)."""
    h = _normalise(host)
    hit = _tracker_of(h) if h else None
    return hit[1] if hit else None


def curated_of(host: str) -> Entity | None:
    """The curated entity of the longest listed suffix of ``host`` (whole labels only)."""
    h = _normalise(host)
    hit = _curated_of(h) if h else None
    return hit[1] if hit else None


def of_host(host: str) -> Entity | None:
    """Who receives traffic for ``host``: the more specific of the tracker and the curated
    match; on a tie the curated company (``\\.facebook\\.com`` is the signature of seven
    Facebook SDKs, so a plain facebook.com host is Meta rather than one of them)."""
    h = _normalise(host)
    if h is None:
        return None
    tracker, company = _tracker_of(h), _curated_of(h)
    if tracker and (company is None or tracker[0] > company[0]):
        return tracker[1]
    return company[1] if company else None


def package_domain(package: str) -> str | None:
    """The registrable domain an Android package name is reverse-DNS of.

    ``com.qualcomm.qti.autoregistration`` -> ``qualcomm.com``. Package names follow the
    reverse-domain convention loosely, so this is a hint, not an ownership proof.
    """
    labels = [p for p in package.strip().lower().split(".") if p]
    if len(labels) < 2 or len(package) > MAX_HOST:
        return None
    return registrable_domain(".".join(reversed(labels)))


def of_package(package: str) -> Entity | None:
    """The curated company whose domain an app's package name is derived from."""
    domain = package_domain(package)
    return curated_of(domain) if domain else None


def curated_count() -> int:
    """How many suffixes the curated map lists (for the report's data set line)."""
    return len(_curated())
