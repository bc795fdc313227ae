"""The device profile: the values of the device under study that a scan looks for.

The TOML format is shared by ``phonehome scan --device`` and the simulator (which writes
one beside every capture). Loading and validation live in :mod:`phonehome.detect.profile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phonehome import identifiers as catalogue

IDENTIFIERS: tuple[str, ...] = catalogue.IDS
"""Identifier names. Released names never change (they are part of the JSON contract)."""

PROFILE_VALUE_KEYS: tuple[str, ...] = catalogue.PROFILE_KEYS
"""Keys of a profile whose value is a string or a list of strings."""


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    radius_m: float = 1000.0


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    name: str | None = None
    home_country: str | None = None
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """identifier -> the device's values as written in the profile (not yet normalised)."""
    locations: tuple[Location, ...] = ()

    def get(self, identifier: str) -> tuple[str, ...]:
        return self.values.get(identifier, ())
