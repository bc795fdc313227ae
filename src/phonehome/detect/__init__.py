"""The detect stage: fields in, identifier matches out.

:class:`Engine` runs the known-value detector (the profile's own values, in every form)
and every pattern detector over each field. Adding a detector is one module with a
:class:`~phonehome.detect.base.Detector` subclass plus one line in ``PATTERN_DETECTORS``
(:mod:`phonehome.detect.engine`).
Detector ids are documented in docs/detectors.md and never change once released.
"""

from __future__ import annotations

from phonehome.detect.base import Detector
from phonehome.detect.engine import (
    MEMO_SIZE,
    PATTERN_DETECTORS,
    PEER_KEY,
    Engine,
)
from phonehome.detect.known import KnownValues

__all__ = [
    "MEMO_SIZE",
    "PATTERN_DETECTORS",
    "PEER_KEY",
    "Detector",
    "Engine",
    "KnownValues",
]
