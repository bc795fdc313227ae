"""Values that have an identifier's shape but identify no one: counted, never reported.

The detectors reject them (a finding of Android's constant MAC would be a false alarm),
but a user who sees no MAC finding should also see that the MAC field was read and why it
was dismissed: the scan report lists these as "not identifiers" with their count.

* MAC ``00:00:00:00:00:00`` (unset) and ``02:00:00:00:00:00``, what Android returns for
  ``WifiInfo.getMacAddress()`` since 6.0 and for the BSSID when location is off;
* advertising ID / IDFA ``00000000-0000-0000-0000-000000000000``: ad tracking limited,
  the AD_ID permission missing, or the iOS simulator;
* IMEI ``000000000000000`` (old emulators) and ``004999010640000`` (an Intel modem's
  default), under an IMEI key, and ``358240051111110`` (the Android emulator's since API
  28, which passes the IMEI checks) wherever it is the whole value;
* Android ID ``0000000000000000`` and ``9774d56d682e549c`` (shared by a generation of
  Android 2.2 devices), under an Android-ID key;
* EAP-SIM/AKA pseudonyms and fast re-authentication identities in a 3GPP NAI: the realm
  is an operator's, but the user part is not an IMSI (their value is not listed).

Constant values are listed as they are (they are nobody's); pseudonyms are not.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from phonehome.detect.ad_id import AD_ID_KEYS
from phonehome.detect.android_id import ANDROID_ID_KEYS
from phonehome.detect.base import key_is
from phonehome.detect.imei import IMEI_KEYS, PLACEHOLDER_IMEIS, REPORTING_BODIES
from phonehome.detect.nai import pseudonym
from phonehome.model.field import Field


class Placeholder(NamedTuple):
    identifier: str
    value: str | None
    """The constant itself, or None for values that are not constants (pseudonyms)."""
    why: str


ANDROID_MAC: Final = "02:00:00:00:00:00"
_MACS: Final[dict[str, str]] = {
    "00:00:00:00:00:00": "unset (all zero)",
    ANDROID_MAC: "Android's constant for apps without the Wi-Fi MAC permission (since 6.0)",
}
_MAC: Final = re.compile(
    r"(?<![0-9A-Fa-f:-])0[02](?P<sep>[:-])00(?:(?P=sep)00){4}(?![0-9A-Fa-f:-])"
)
_ZERO_UUID: Final = "00000000-0000-0000-0000-000000000000"
_ANDROID_IDS: Final[dict[str, str]] = {
    "0000000000000000": "unset (all zero)",
    "9774d56d682e549c": "shared by a generation of Android 2.2 devices",
}
NEEDS: Final = re.compile(
    r"0[02][:-]00[:-]00|3gppnetwork\.org|^\s*0{8}|9774d56d682e549c|004999|358240051111110"
)
NEEDS_HYPERSCAN: Final = NEEDS.pattern.replace("^\\s*", "^[\\s\\x1c-\\x1f]*")
""":data:`NEEDS` for the engine's hyperscan gate, which tests it in the same call as the
detectors' ``needs``: hyperscan's ``\\s`` lacks the ``\\x1c``-``\\x1f`` that ``re``'s
(and ``str.strip``) take, so they are added for it to accept at least what ``re`` does."""


def scan(field: Field) -> list[Placeholder]:
    """The placeholders in ``field``: cheap, and nothing without :data:`NEEDS`."""
    text = field.text
    if NEEDS.search(text) is None:
        return []
    out: list[Placeholder] = []
    for m in _MAC.finditer(text):
        mac = m.group().replace("-", ":").lower()
        out.append(Placeholder("mac", mac, _MACS[mac]))
    value = text.strip().lower()
    if value == _ZERO_UUID and key_is(field, AD_ID_KEYS):
        out.append(Placeholder("ad_id", _ZERO_UUID, "ad tracking limited or not allowed"))
    elif value in PLACEHOLDER_IMEIS and (
        key_is(field, IMEI_KEYS) or value[:2] in REPORTING_BODIES  # the emulator's: anywhere
    ):
        out.append(Placeholder("imei", value, PLACEHOLDER_IMEIS[value]))
    elif value in _ANDROID_IDS and key_is(field, ANDROID_ID_KEYS):
        out.append(Placeholder("android_id", value, _ANDROID_IDS[value]))
    kind = pseudonym(text) if "3gppnetwork" in text else None
    if kind is not None:
        out.append(Placeholder("imsi", None, f"an EAP {kind}, not an IMSI"))
    return out
