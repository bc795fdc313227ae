"""Latitude/longitude pairs under location keys.

A lone decimal is anything (a price, a version), so a pair is required: the field sits
under a latitude key with a longitude sibling (reported once, on the latitude field), or
under a position key (``geo``, ``ll``, ``location`` ...) with both numbers in its text.
Both must have at least two decimals (about 1 km; coarser says little about a person),
be in range, and not be the 0/0 of an unset fix.
"""

from __future__ import annotations

import math
import re

from phonehome.detect.base import Detector, key_is, sibling
from phonehome.model.field import Field, Match

LAT_KEYS = re.compile(r"x?(gps|geo|device|user)?lat(itude)?")
LON_KEYS = re.compile(r"x?(gps|geo|device|user)?(lon|lng|long|longitude)")
POSITION_KEYS = re.compile(
    r"x?(geo|ll|latlng|latlon|location|loc|coords?|coordinates|gps|position)"
)
_DECIMAL = re.compile(r"\s*(-?[0-9]{1,3}\.[0-9]{2,})\s*")
_PAIR = re.compile(r"\s*(-?[0-9]{1,3}\.[0-9]{2,})\s*[,; ]\s*(-?[0-9]{1,3}\.[0-9]{2,})\s*")

_M_PER_DEG = 111_320.0


def plausible(lat: float, lon: float) -> bool:
    return abs(lat) <= 90 and abs(lon) <= 180 and not (lat == 0 and lon == 0)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: exact enough at the few-kilometre scale compared here."""
    dy = (lat2 - lat1) * _M_PER_DEG
    dx = (lon2 - lon1) * _M_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def decimals(number: str) -> int:
    return len(number) - number.index(".") - 1 if "." in number else 0


class LocationDetector(Detector):
    id = "PH-LOCATION"
    identifier = "location"
    name = "location"
    keys = re.compile(f"{LAT_KEYS.pattern}|{POSITION_KEYS.pattern}")
    sibling_keys = LAT_KEYS

    def scan(self, field: Field) -> list[Match]:
        if key_is(field, LAT_KEYS):
            lat_m = _DECIMAL.fullmatch(field.text)
            lon_text = sibling(field, LON_KEYS)
            lon_m = _DECIMAL.fullmatch(lon_text) if lon_text is not None else None
            if lat_m is None or lon_m is None:
                return []
            lat, lon, span, confidence = lat_m.group(1), lon_m.group(1), lat_m.span(1), 0.85
        elif key_is(field, POSITION_KEYS):
            pair = _PAIR.fullmatch(field.text)
            if pair is None:
                return []
            lat, lon, confidence = pair.group(1), pair.group(2), 0.75
            if abs(float(lat)) > 90 >= abs(float(lon)):
                lat, lon = lon, lat
            span = (pair.start(1), pair.end(2))
        else:
            return []
        if not plausible(float(lat), float(lon)):
            return []
        return [self.match(field, f"{lat},{lon}", span[0], span[1], confidence)]
