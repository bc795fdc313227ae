"""The detect engine: every detector over each field of a message.

Kept out of the package's ``__init__`` so that it is compiled with the detectors
(:mod:`phonehome.native` compiles every module of ``phonehome.detect`` but ``__init__``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from phonehome.detect import matcher, placeholders, spans
from phonehome.detect.ad_id import AdIdDetector
from phonehome.detect.android_id import AndroidIdDetector
from phonehome.detect.base import Detector, norm_key
from phonehome.detect.bssid import BssidDetector
from phonehome.detect.cell_id import CellIdDetector
from phonehome.detect.email import EmailDetector
from phonehome.detect.field_name import FieldNameDetector
from phonehome.detect.iccid import IccidDetector
from phonehome.detect.imei import ImeiDetector
from phonehome.detect.imsi import ImsiDetector
from phonehome.detect.known import KnownValues
from phonehome.detect.location import LocationDetector
from phonehome.detect.mac import MacDetector
from phonehome.detect.matcher import Backend
from phonehome.detect.meid import MeidDetector
from phonehome.detect.msisdn import MsisdnDetector
from phonehome.detect.nai import NaiDetector
from phonehome.detect.placeholders import Placeholder
from phonehome.detect.serial import SerialDetector
from phonehome.detect.sip_uri import SipUriDetector
from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile

PATTERN_DETECTORS: list[type[Detector]] = [
    ImeiDetector,
    MeidDetector,
    ImsiDetector,
    NaiDetector,
    IccidDetector,
    MsisdnDetector,
    MacDetector,
    EmailDetector,
    SipUriDetector,
    LocationDetector,
    CellIdDetector,
    BssidDetector,
    AndroidIdDetector,
    AdIdDetector,
    SerialDetector,
    FieldNameDetector,
]

PEER_KEY = "peer"
"""The key a protocol gives a field that names the other party of the exchange (the
called number of a SIP INVITE): the profile's values are looked for there, the pattern
detectors are not run (a number someone calls is not the caller's identifier)."""

MAX_KEYS = 4096
"""Distinct normalised keys whose detector selection is remembered (then forgotten)."""
MEMO_SIZE = 4096
MEMO_TEXT = 256
"""Results are remembered for up to ``MEMO_SIZE`` distinct (text, key) pairs of fields of
at most ``MEMO_TEXT`` characters whose siblings no detector reads (``sibling_keys``),
then all forgotten at once: the same DNS names, labels, paths and User-Agents come back
all through a capture, and are soon remembered again."""
GATE_AFTER = 2048
GATE_AFTER_CHARS = 1 << 18
"""Fields, or characters, the ``re`` gate tests before the hyperscan one is compiled
(~20 ms, which a small capture would not win back: it saves ~2.5 us a field, and ``re``
takes ~30 ms a megabyte where hyperscan takes under one)."""
SHORT_TEXT = 2
"""Up to this many characters, the ``re`` gate answers sooner than a call into hyperscan
(~0.2 against ~0.3 us)."""
BATCH_TEXT = 64 * 1024
"""Characters of fields searched for the profile's values in one call (the call costs
more than a typical field's text; bounded so a large message is not copied whole)."""


class Engine:
    """All detectors over one field.

    When a pattern detector and the known-value detector find the same identifier in
    overlapping text, only the known-value match is kept (it carries
    ``profile_match=True``); of overlapping known-value matches of one value, the widest
    is kept (``+4791234567`` rather than the ``4791234567`` inside it).

    Most fields of a capture are DNS labels, paths and headers that no pattern detector
    can hit, so the engine asks each detector's declared ``keys`` and ``needs`` (see
    :class:`~phonehome.detect.base.Detector`) before calling it: the key once per distinct
    key, the text once through a gate that joins every ``needs``. It also remembers the
    matches of recent short fields (:data:`MEMO_SIZE`), which detectors make possible by
    reading only a field's text, key and siblings. ``fast=False`` calls every detector on
    every field and remembers nothing: the reference the tests compare against.
    """

    def __init__(
        self,
        profile: DeviceProfile | None = None,
        backend: Backend | None = None,
        fast: bool = True,
        gate_after: int = GATE_AFTER,
    ) -> None:
        self.known = KnownValues(profile, backend=backend)
        self.patterns: list[Detector] = [
            cls(profile) for cls in PATTERN_DETECTORS if profile is None or not cls.profile_less
        ]
        self.not_identifiers: Counter[Placeholder] = Counter()
        """Placeholder values seen (``detect.placeholders``): dismissed, counted."""
        self._fallbacks = frozenset(d.id for d in self.patterns if d.fallback)
        self.detectors: list[Detector] = (
            [self.known, *self.patterns] if self.known.active else list(self.patterns)
        )
        self.fast = fast
        self._known_active = self.known.active
        self._memo: dict[
            tuple[str, str | None], tuple[tuple[Match, ...], tuple[Placeholder, ...]]
        ] = {}
        self._keyed: dict[str, tuple[tuple[Detector, ...], bool]] = {}
        """Normalised key -> the pattern detectors that run on any text under it, and
        whether any detector reads siblings under it (``sibling_keys``)."""
        self._needing: list[tuple[Detector, re.Pattern[str]]] = [
            (d, d.needs) for d in self.patterns if d.needs is not None
        ]
        needs = [n.pattern for _, n in self._needing]
        self._gate = re.compile("|".join(f"(?:{n})" for n in needs)) if needs else None
        self._needs = needs
        self._placeholder_need = len(needs)
        """The index of :data:`placeholders.NEEDS` in the hyperscan gate (after the
        detectors' ``needs``)."""
        self._needed: Callable[[str], list[int]] | None = None
        self._gate_checks = 0
        self._gate_chars = 0
        self._gate_after = gate_after if needs and self.known.backend == "hyperscan" else -1

    def selected(self, field: Field) -> tuple[Detector, ...]:
        """The pattern detectors that can hit ``field``, in registration order."""
        return self._select(field)[0]

    def _select(self, field: Field) -> tuple[tuple[Detector, ...], bool]:
        """:meth:`selected`, and whether the text may hold a placeholder
        (:data:`placeholders.NEEDS`; the hyperscan gate answers that in the same call)."""
        if field.key == PEER_KEY:
            return (), True
        if not self.fast:
            return tuple(self.patterns), True
        keyed = self._under(norm_key(field.key))[0]
        text = field.text
        needed = self._needed
        if needed is None and self._gate_after >= 0:
            self._gate_checks += 1
            self._gate_chars += len(text)
            if self._gate_checks > self._gate_after or self._gate_chars > GATE_AFTER_CHARS:
                self._gate_after = -1
                needed = self._needed = matcher.needed([*self._needs, placeholders.NEEDS_HYPERSCAN])
        if needed is not None and len(text) > SHORT_TEXT and text.isascii():
            candidates = needed(text)
            if not candidates:
                return keyed, False
            placeholder = self._placeholder_need in candidates
            if placeholder:
                candidates.remove(self._placeholder_need)
                if not candidates:
                    return keyed, True
            # hyperscan's answer is a superset: ``re`` has the last word on each
            if len(candidates) > 1:
                candidates.sort()  # (registration order)
            hits = [d for d, n in (self._needing[i] for i in candidates) if n.search(text)]
            if not hits:
                return keyed, placeholder
            if not keyed:
                return tuple(hits), placeholder
            return tuple(d for d in self.patterns if d in keyed or d in hits), placeholder
        if self._gate is None or self._gate.search(text) is None:
            return keyed, True
        return tuple(
            d
            for d in self.patterns
            if d in keyed or (d.needs is not None and d.needs.search(text) is not None)
        ), True

    def _under(self, key: str) -> tuple[tuple[Detector, ...], bool]:
        """What a normalised ``key`` decides, remembered per distinct key: the pattern
        detectors that run on any text under it, and whether a detector reads siblings
        under it."""
        found = self._keyed.get(key)
        if found is None:
            keyed = tuple(
                d
                for d in self.patterns
                if (d.keys is None and d.needs is None)
                or (d.keys is not None and d.keys.fullmatch(key) is not None)
            )
            reads = any(
                d.sibling_keys is not None and d.sibling_keys.fullmatch(key) is not None
                for d in self.detectors
            )
            if len(self._keyed) >= MAX_KEYS:
                self._keyed.clear()
            found = self._keyed[key] = (keyed, reads)
        return found

    def scan(self, field: Field) -> list[Match]:
        found: list[Match] = []
        if field.text:
            self._scan_batch([field], found)
        return found

    def scan_many(self, fields: Iterable[Field]) -> list[Match]:
        """The matches of every field, in field order: what :meth:`scan` of each gives.

        The fields are taken in batches of up to :data:`BATCH_TEXT` characters, and the
        profile's values are searched once per batch (:meth:`KnownValues.scan_many`)
        instead of once per field; a scan passes all fields of one message here."""
        found: list[Match] = []
        batch: list[Field] = []
        size = 0
        for f in fields:
            if not f.text:
                continue
            batch.append(f)
            size += len(f.text)
            if size >= BATCH_TEXT:
                self._scan_batch(batch, found)
                batch = []
                size = 0
        if batch:
            self._scan_batch(batch, found)
        return found

    def _scan_batch(self, fields: list[Field], out: list[Match]) -> None:
        results: list[list[Match]] = [[] for _ in fields]
        todo: list[int] = []
        remember: list[bool] = []
        for i, field in enumerate(fields):
            memorable = self._memorable(field)
            if memorable:
                memo = self._memo.get((field.text, field.key))
                if memo is not None:
                    seen, dismissed = memo
                    if dismissed:
                        self.not_identifiers.update(dismissed)
                    if seen:
                        results[i] = [_moved(m, field) for m in seen]
                    continue
            todo.append(i)
            remember.append(memorable)
        if todo:
            pending = [fields[i] for i in todo]
            known = self.known.scan_many(pending) if self._known_active else None
            for j, i in enumerate(todo):
                field = fields[i]
                found, dismissed = self._scan(field, known[j] if known is not None else [])
                if dismissed:  # (Counter.update of nothing costs as much as a field's scan)
                    self.not_identifiers.update(dismissed)
                if remember[j]:
                    if len(self._memo) >= MEMO_SIZE:
                        # forget all at once: dropping the oldest one at a time made each
                        # drop walk the deleted slots at the front of the dict
                        self._memo.clear()
                    self._memo[(field.text, field.key)] = (tuple(found), dismissed)
                results[i] = found
        for found in results:
            out.extend(found)

    def _memorable(self, field: Field) -> bool:
        """Whether ``field``'s result depends on its text and key alone, short enough to
        remember: no siblings, or none that a detector reads under its key."""
        if not self.fast or len(field.text) > MEMO_TEXT:
            return False
        return not field.siblings or not self._under(norm_key(field.key))[1]

    def _scan(
        self, field: Field, known_matches: list[Match]
    ) -> tuple[list[Match], tuple[Placeholder, ...]]:
        """The field's matches, and the placeholders it holds (dismissed, counted)."""
        chosen, placeholder = self._select(field)
        dismissed = tuple(placeholders.scan(field)) if placeholder else ()
        return self._pattern_matches(field, known_matches, chosen), dismissed

    def _pattern_matches(
        self, field: Field, known_matches: list[Match], chosen: tuple[Detector, ...]
    ) -> list[Match]:
        """The known-value matches, and those of the ``chosen`` pattern detectors that do
        not overlap a known match of their identifier."""
        known = _widest(known_matches)
        found = list(known)
        taken: dict[str, spans.Intervals] = {}
        # values whose further occurrences the known detector only counted: a pattern
        # match of the same value is one of those, at a span no kept match covers
        counted = {(k.identifier, k.value) for k in known if k.more} if known else None
        few = len(known) <= FEW_KNOWN
        for detector in chosen:
            for m in detector.scan(field):
                if counted and (m.identifier, m.value) in counted:
                    continue
                if few:
                    if _overlaps_any(known, m):
                        continue
                else:
                    spans_of = taken.get(m.identifier)
                    if spans_of is None:
                        spans_of = taken[m.identifier] = spans.Intervals(
                            (k.start, k.end) for k in known if k.identifier == m.identifier
                        )
                    if spans_of.overlaps(m.start, m.end):
                        continue
                found.append(m)
        if len(found) < 2:
            return found
        if self._fallbacks:
            found = _without_fallen_back(found, self._fallbacks)
        found.sort(key=_text_order)
        # (no value can be over the cap when no more matches than it were found)
        return spans.cap(found) if len(found) > spans.MAX_PER_VALUE else found


FEW_KNOWN = 8
"""Up to this many known-value matches in a field, a pattern match is compared with each
(most fields have none or one); more are put in :class:`~spans.Intervals` per identifier."""


def _overlaps_any(known: list[Match], m: Match) -> bool:
    """Whether a known-value match of ``m``'s identifier overlaps it."""
    for k in known:  # noqa: SIM110 (compiled, a loop makes no generator object)
        if k.identifier == m.identifier and k.start < m.end and m.start < k.end:
            return True
    return False


def _text_order(m: Match) -> tuple[int, int, str]:
    return (m.start, m.end, m.detector)


def _moved(m: Match, field: Field) -> Match:
    """A remembered match, in the field that repeats the remembered one."""
    return Match(
        m.detector,
        m.identifier,
        m.value,
        m.start,
        m.end,
        m.confidence,
        m.profile_match,
        field,
        m.form,
        m.more,
    )


def _without_fallen_back(found: list[Match], fallbacks: frozenset[str]) -> list[Match]:
    """A fallback detector's match only where no other detector matched overlapping text
    (``Detector.fallback``: the field-name heuristic defers to every validating one)."""
    if not any(m.detector in fallbacks for m in found):
        return found
    others = spans.Intervals((m.start, m.end) for m in found if m.detector not in fallbacks)
    return [m for m in found if m.detector not in fallbacks or not others.overlaps(m.start, m.end)]


def _widest(matches: list[Match]) -> list[Match]:
    """Drop known-value matches lying inside a wider match of the same value."""
    if len(matches) < 2:
        return matches
    return spans.drop_inside_wider(
        matches, {i: (m.identifier, m.value) for i, m in enumerate(matches)}
    )
