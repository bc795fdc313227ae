"""Loading a device profile (TOML) and checking its values.

A wrong *shape* (unknown key, wrong type, impossible coordinate) is an error: the scan
would silently look for the wrong thing. A suspicious *value* (an IMEI failing Luhn) is
only a warning: it is the user's own device, and test devices and clones carry invalid
identifiers that still leak. Values are kept as written; detectors normalise them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

from phonehome.detect.validators import digits_only, iccid_ok, luhn_ok, normal_mac
from phonehome.errors import UsageError
from phonehome.model.profile import PROFILE_VALUE_KEYS, DeviceProfile, Location

TOP_KEYS: tuple[str, ...] = ("name", "home_country", *PROFILE_VALUE_KEYS, "location")
LOCATION_KEYS: tuple[str, ...] = ("lat", "lon", "radius_m")
DEFAULT_RADIUS_M = 1000.0

_HEX = re.compile(r"[0-9a-fA-F]+")
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() would also take '²' and '٣'
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")


def _check_imei(v: str) -> str | None:
    d = v.replace("-", "").replace(" ", "")
    if not (_DIGITS.fullmatch(d) and len(d) == 15):
        return "is not 15 digits"
    return None if luhn_ok(d) else "fails the Luhn check"


def _check_meid(v: str) -> str | None:
    ok = (len(v) == 14 and _HEX.fullmatch(v)) or (len(v) == 18 and _DIGITS.fullmatch(v))
    return None if ok else "is neither 14 hex digits nor 18 decimal digits"


def _check_imsi(v: str) -> str | None:
    return None if _DIGITS.fullmatch(v) and 14 <= len(v) <= 15 else "is not 14-15 digits"


def _check_iccid(v: str) -> str | None:
    d = v.replace(" ", "")
    if not d.upper().startswith("89"):
        return "does not start with 89"
    return None if iccid_ok(d) else "is not 18-20 digits with a valid Luhn check digit"


def _check_msisdn(v: str) -> str | None:
    ok = _PHONE.fullmatch(v) is not None and 6 <= len(digits_only(v)) <= 15
    return None if ok else "does not look like a phone number"


def _check_mac(v: str) -> str | None:
    return None if normal_mac(v) is not None else "is not a MAC address (aa:bb:cc:dd:ee:ff)"


def _check_android_id(v: str) -> str | None:
    return None if len(v) == 16 and _HEX.fullmatch(v) else "is not 16 hex digits"


def _check_ad_id(v: str) -> str | None:
    return None if _UUID.fullmatch(v) else "is not a UUID"


def _check_email(v: str) -> str | None:
    return None if _EMAIL.fullmatch(v) else "is not an e-mail address"


def _check_cell_id(v: str) -> str | None:
    h = v[2:] if v.lower().startswith("0x") else v
    return None if _DIGITS.fullmatch(v) or _HEX.fullmatch(h) else "is neither decimal nor hex"


_CHECKS: dict[str, Callable[[str], str | None]] = {
    "imei": _check_imei,
    "meid": _check_meid,
    "imsi": _check_imsi,
    "iccid": _check_iccid,
    "msisdn": _check_msisdn,
    "mac": _check_mac,
    "bssid": _check_mac,
    "android_id": _check_android_id,
    "ad_id": _check_ad_id,
    "email": _check_email,
    "cell_id": _check_cell_id,
}


def _number(path: Path, where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{path}: {where} must be a number, not {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise UsageError(f"{path}: {where} must be a finite number")
    return f


def _location(path: Path, index: int, table: object) -> Location:
    where = f"location #{index + 1}"
    if not isinstance(table, dict):
        raise UsageError(f"{path}: {where} must be a table with lat and lon ([[location]])")
    for k in table:
        if k not in LOCATION_KEYS:
            raise UsageError(
                f"{path}: unknown key '{k}' in {where} (valid keys: {', '.join(LOCATION_KEYS)})"
            )
    for k in ("lat", "lon"):
        if k not in table:
            raise UsageError(f"{path}: {where} has no '{k}'")
    lat = _number(path, f"{where} lat", table["lat"])
    lon = _number(path, f"{where} lon", table["lon"])
    radius = _number(path, f"{where} radius_m", table.get("radius_m", DEFAULT_RADIUS_M))
    if not -90.0 <= lat <= 90.0:
        raise UsageError(f"{path}: {where} lat {lat} is out of range -90..90")
    if not -180.0 <= lon <= 180.0:
        raise UsageError(f"{path}: {where} lon {lon} is out of range -180..180")
    if radius <= 0:
        raise UsageError(f"{path}: {where} radius_m must be positive")
    return Location(lat, lon, radius)


def _strings(path: Path, key: str, value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise UsageError(
                f"{path}: '{key}' must be a string or a list of strings, not {type(item).__name__}"
            )
        s = item.strip()
        if s and s not in out:
            out.append(s)
    return tuple(out)


def load_profile(path: Path) -> tuple[DeviceProfile, list[str]]:
    """The profile in ``path`` and warnings about values that look wrong.

    Raises :class:`UsageError` (one line, naming the file) when the file cannot be read,
    is not TOML, or has unknown keys, wrong types or impossible coordinates.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read device profile: {e.strerror or e}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: device profile is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}") from None
    for k in doc:
        if k not in TOP_KEYS:
            raise UsageError(f"{path}: unknown key '{k}' (valid keys: {', '.join(TOP_KEYS)})")

    name: str | None = None
    if "name" in doc:
        if not isinstance(doc["name"], str):
            raise UsageError(f"{path}: 'name' must be a string")
        name = doc["name"].strip() or None
    country: str | None = None
    if "home_country" in doc:
        value = doc["home_country"]
        if not isinstance(value, str) or not _COUNTRY.fullmatch(value.strip()):
            raise UsageError(
                f"{path}: 'home_country' must be a two-letter ISO 3166 code such as 'NO'"
            )
        from phonehome.refdata import check_country

        try:
            country = check_country(value)
        except UsageError as e:
            raise UsageError(f"{path}: 'home_country': {e}") from None

    warnings: list[str] = []
    values: dict[str, tuple[str, ...]] = {}
    for key in PROFILE_VALUE_KEYS:
        if key not in doc:
            continue
        found = _strings(path, key, doc[key])
        if not found:
            warnings.append(f"{path}: '{key}' has no values")
            continue
        values[key] = found
        check = _CHECKS.get(key)
        if check is None:
            continue  # serial: any spelling is a valid serial number
        for i, v in enumerate(found):
            problem = check(v)
            if problem:
                # Named by position, never by value: warnings go to stderr and so to CI logs.
                warnings.append(f"{path}: {key}[{i}] {problem} (used as written)")

    locations: tuple[Location, ...] = ()
    if "location" in doc:
        tables = doc["location"]
        if not isinstance(tables, list):
            raise UsageError(f"{path}: 'location' must be an array of tables ([[location]])")
        locations = tuple(_location(path, i, t) for i, t in enumerate(tables))

    return DeviceProfile(name, country, values, locations), warnings


def profile_hash(profile: DeviceProfile) -> str:
    """SHA-256 (hex) of a canonical form of the profile.

    Lets the store tell scans of the same device apart from others without keeping the
    values: order of keys and of values, and duplicates, do not change the hash.
    """
    canonical = {
        "name": profile.name,
        "home_country": profile.home_country,
        "values": {k: sorted(set(v)) for k, v in sorted(profile.values.items()) if v},
        "locations": sorted([loc.lat, loc.lon, loc.radius_m] for loc in profile.locations),
    }
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(data.encode("ascii")).hexdigest()
