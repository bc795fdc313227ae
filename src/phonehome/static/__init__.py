"""Static analysis of Android apps: manifest, DEX code, call-graph chains from triggers to
identifier sources and network sinks, endpoints, trackers, pre-compiled system apps.

Entry point: :func:`analyze_apk` (see :mod:`phonehome.static.apk`).
"""

from phonehome.static.apk import ApkReport, analyze_apk

__all__ = ["ApkReport", "analyze_apk"]
