"""The detect stage: fields in, identifier matches out.

:class:`Engine` runs the known-value detector (the profile's own values, in every form)
and every pattern detector over each field. Adding a detector is one module with a
:class:`~phonehome.detect.base.Detector` subclass plus one line in ``PATTERN_DETECTORS``.
Detector ids are documented in docs/detectors.md and never change once released.
"""

from __future__ import annotations

from phonehome.detect.ad_id import AdIdDetector
from phonehome.detect.android_id import AndroidIdDetector
from phonehome.detect.base import Detector
from phonehome.detect.cell_id import CellIdDetector
from phonehome.detect.email import EmailDetector
from phonehome.detect.iccid import IccidDetector
from phonehome.detect.imei import ImeiDetector
from phonehome.detect.imsi import ImsiDetector
from phonehome.detect.known import KnownValues
from phonehome.detect.location import LocationDetector
from phonehome.detect.mac import MacDetector
from phonehome.detect.matcher import Backend
from phonehome.detect.meid import MeidDetector
from phonehome.detect.msisdn import MsisdnDetector
from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile

PATTERN_DETECTORS: list[type[Detector]] = [
    ImeiDetector,
    MeidDetector,
    ImsiDetector,
    IccidDetector,
    MsisdnDetector,
    MacDetector,
    EmailDetector,
    LocationDetector,
    CellIdDetector,
    AndroidIdDetector,
    AdIdDetector,
]

__all__ = ["PATTERN_DETECTORS", "Detector", "Engine", "KnownValues"]


class Engine:
    """All detectors over one field.

    When a pattern detector and the known-value detector find the same identifier in
    overlapping text, only the known-value match is kept (it carries
    ``profile_match=True``); of overlapping known-value matches of one value, the widest
    is kept (``+4791234567`` rather than the ``4791234567`` inside it).
    """

    def __init__(
        self, profile: DeviceProfile | None = None, backend: Backend | None = None
    ) -> None:
        self.known = KnownValues(profile, backend=backend)
        self.patterns: list[Detector] = [cls(profile) for cls in PATTERN_DETECTORS]
        self.detectors: list[Detector] = (
            [self.known, *self.patterns] if self.known.active else list(self.patterns)
        )

    def scan(self, field: Field) -> list[Match]:
        if not field.text:
            return []
        known = _widest(self.known.scan(field)) if self.known.active else []
        found = list(known)
        for detector in self.patterns:
            for m in detector.scan(field):
                if not any(k.identifier == m.identifier and _overlap(k, m) for k in known):
                    found.append(m)
        found.sort(key=lambda m: (m.start, m.end, m.detector))
        return found


def _overlap(a: Match, b: Match) -> bool:
    return a.start < b.end and b.start < a.end


def _widest(matches: list[Match]) -> list[Match]:
    """Drop known-value matches lying inside a wider match of the same value."""
    return [
        m
        for m in matches
        if not any(
            o is not m
            and o.identifier == m.identifier
            and o.value == m.value
            and o.start <= m.start
            and m.end <= o.end
            and (o.end - o.start) > (m.end - m.start)
            for o in matches
        )
    ]
