"""What every detector shares: the interface the engine calls and the boundary checks.

Most false positives of identifier detectors come from two places: a value-shaped run
that is only part of a longer number or hash, and a generic value under a key that means
something else. The helpers here handle both once, for every detector.
"""

from __future__ import annotations

import functools
import re
from typing import ClassVar

from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile

_KEY_NOISE = re.compile(r"[^a-z0-9]")
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")


class Detector:
    """A pattern detector: finds one identifier without knowing the device.

    Subclasses set the class attributes and implement :meth:`scan`. The constructor takes
    the profile so detectors that need the home country (phone numbers) can read it.
    :meth:`scan` reads only the field's text, key and siblings: the engine reuses its
    result for a field that repeats them (the same DNS label in every query).
    """

    id: ClassVar[str]
    """Stable id reported in every Match, e.g. ``PH-IMEI``; never changes once released."""
    identifier: ClassVar[str]
    """The catalogued identifier it finds (:mod:`phonehome.identifiers`)."""
    name: ClassVar[str]
    rule_text: ClassVar[str | None] = None
    """SARIF rule text, when it is not the identifier's ``rule_text`` in the catalogue (a
    second detector of one identifier says how it differs from the first)."""

    profile_less: ClassVar[bool] = False
    """Runs only when the scan has no device profile (a heuristic for what a profile
    would otherwise tell)."""
    fallback: ClassVar[bool] = False
    """Its matches are dropped where any other detector matched overlapping text."""

    keys: ClassVar[re.Pattern[str] | None] = None
    """Normalised keys under which the detector may hit whatever the text (a superset of
    the keys :meth:`scan` accepts)."""
    needs: ClassVar[re.Pattern[str] | None] = None
    """What a text must contain (``search``) for the detector to hit under any other key.

    Together with :attr:`keys` this lets the engine skip the detector on most fields (a
    DNS label holds no 15-digit run, no ``@``, no key) without calling it. Both are
    promises about :meth:`scan`: a field that satisfies neither gives no match. A
    detector that declares neither runs on every field."""
    sibling_keys: ClassVar[re.Pattern[str] | None] = None
    """Normalised keys under which :meth:`scan` reads the field's siblings (None: it never
    does). Another promise: under any other key the result depends on text and key
    alone, so the engine may reuse it for a field that repeats them with other
    siblings (the same User-Agent header beside other headers)."""

    def __init__(self, profile: DeviceProfile | None = None) -> None:
        self.profile = profile

    def scan(self, field: Field) -> list[Match]:
        raise NotImplementedError

    def match(
        self,
        field: Field,
        value: str,
        start: int,
        end: int,
        confidence: float,
        form: str = "pattern",
    ) -> Match:
        return Match(self.id, self.identifier, value, start, end, confidence, False, field, form)


@functools.lru_cache(maxsize=8192)
def norm_key(key: str | None) -> str:
    """``IMEI1``, ``device_id``, ``X-Device-Id`` -> ``imei1``, ``deviceid``, ``xdeviceid``.

    Remembered (up to :data:`MAX_KEYS`, then all forgotten): every pattern detector
    asks about the key of every field, and the same few hundred keys come back all
    through a capture."""
    if not key:
        return ""
    normal = _NORMAL.get(key)
    if normal is None:
        if len(_NORMAL) >= MAX_KEYS:
            _NORMAL.clear()
        normal = _NORMAL[key] = _KEY_NOISE.sub("", key.lower())
    return normal


MAX_KEYS = 4096
_NORMAL: dict[str, str] = {}


def key_is(field: Field, keys: re.Pattern[str]) -> bool:
    """The field's key, normalised, matches ``keys`` in full."""
    return keys.fullmatch(norm_key(field.key)) is not None


def sibling(field: Field, keys: re.Pattern[str]) -> str | None:
    """Value of the first sibling whose normalised key matches ``keys``."""
    for k, v in field.siblings:
        if keys.fullmatch(norm_key(k)):
            return v
    return None


def in_hex_run(text: str, start: int, end: int) -> bool:
    """A hex value (hash, Android ID, MAC without separators) touching another hex char is
    part of a longer hex string, not the value."""
    return (start > 0 and text[start - 1] in _HEX) or (end < len(text) and text[end] in _HEX)


def in_number_run(text: str, start: int, end: int) -> bool:
    """A digit value is not a whole token when the run goes on: another digit beside it,
    or a hex run beside it that holds a digit or two or more letters (``a1b2`` + IMEI is
    a hex string; ``ID`` + IMEI is a label)."""
    return _continues(text, start - 1, -1) or _continues(text, end, 1)


def _continues(text: str, i: int, step: int) -> bool:
    if i < 0 or i >= len(text):
        return False
    ch = text[i]
    if ch in _DIGITS:
        return True
    if ch not in _HEX:
        return False
    run = 0
    while 0 <= i < len(text) and text[i] in _HEX and run < 64:
        if text[i] in _DIGITS:
            return True
        run += 1
        i += step
    return run >= 2
