"""The identifier catalogue: every personal identifier phonehome knows, in one table.

Each entry says what the identifier is called in the reports, what kind of thing it
identifies, whether the user can reset it, how much it weighs in a finding's severity, the
text of its SARIF rule, and how static analysis names it. Every other table derives from
this one: the profile keys (:mod:`phonehome.model.profile`), the severity points
(:mod:`phonehome.enrich.severity`), the names and order in the scan reports, the SARIF
level and rule text, the static-analysis verdicts. ``tests/test_identifiers.py`` walks the
catalogue: every detector's identifier is here, and every report format renders every
entry.

Adding an identifier is one :class:`Identifier` in :data:`CATALOGUE` (plus its detector
in ``detect/``, if a pattern can find it without a profile). Ids are part of the scan
JSON contract (docs/scan-json.md) and never change once released.

Plain data and small functions, no imports beyond the standard library: the CLI, the
detectors and the reports all read it, so it must cost nothing to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["hardware", "sim", "account", "advertising", "software", "location", "network"]
"""What the identifier identifies.

``hardware``: the device itself, for its whole life (IMEI, serial). ``sim``: the SIM card
or the subscription (IMSI, ICCID, phone number). ``account``: a person's account (e-mail).
``advertising``: an id the platform issues for ads and the user can reset. ``software``:
an id the platform generates for apps, reset with a factory reset (Android ID; neither
hardware nor advertising). ``location``: where the device is (coordinates, the serving
cell, the Wi-Fi access point). ``network``: an address of one of the device's network
interfaces (MAC)."""


@dataclass(frozen=True, slots=True)
class Identifier:
    id: str
    """The JSON name (``imei``): stable, part of the scan contract."""
    name: str
    """Display name in scan reports, singular (``cell ID``)."""
    plural: str
    """Display name for several values (``cell IDs``)."""
    kind: Kind
    resettable: bool
    """The user can reset it without replacing hardware or SIM (a resettable id tracks
    less: SARIF files it one level lower)."""
    weight: int
    """Severity points of a finding of this identifier (docs/events.md, the severity
    table): 3 permanent, subscriber or place; 2 hardware not tied to the subscriber; 1
    resettable and scoped by the platform."""
    why: str
    """The severity reason's description (``imei is <why>``)."""
    rule_text: str
    """SARIF rule text of the pattern detector that finds it without a profile."""
    static_name: str
    """Name in static-analysis verdicts (``reads IMEI, ICCID, cell location``): what the
    API an app calls returns, which is not always what the scan found in traffic."""
    static_rank: int
    """Position in a static-analysis verdict: device and SIM identifiers first."""
    example: str
    """A made-up value of the right shape, as a profile would hold it (docs, tests)."""
    in_profile: bool = True
    """A device profile key holding a string or a list of strings (locations are tables
    of their own, ``[[location]]``)."""
    telephony: bool = False
    """Mobile networks carry it as telephony digits, TBCD-coded in GTP-C, Diameter and
    MAP (TS 29.002): the known-value detector also looks for those forms."""

    @property
    def device_bound(self) -> bool:
        """Identifies the device or SIM itself: follows the user across resets and apps."""
        return self.kind in ("hardware", "sim")


CATALOGUE: Final[tuple[Identifier, ...]] = (
    Identifier(
        id="imei",
        name="IMEI",
        plural="IMEIs",
        kind="hardware",
        resettable=False,
        weight=3,
        why="a permanent hardware identifier of the phone",
        rule_text="IMEI: 15 digits with a Luhn check digit and a GSMA reporting-body prefix.",
        static_name="IMEI",
        static_rank=0,
        example="490154203237518",
        telephony=True,
    ),
    Identifier(
        id="meid",
        name="MEID",
        plural="MEIDs",
        kind="hardware",
        resettable=False,
        weight=3,
        why="a permanent hardware identifier of the phone",
        rule_text="MEID: 14 hex digits, only under an MEID-like key.",
        static_name="MEID",
        static_rank=1,
        example="A0000012345678",
    ),
    Identifier(
        id="imsi",
        name="IMSI",
        plural="IMSIs",
        kind="sim",
        resettable=False,
        weight=3,
        why="the SIM subscriber's identity",
        rule_text="IMSI: 14-15 digits, MCC + MNC of a real operator, only under an IMSI-like key.",
        static_name="IMSI",
        static_rank=3,
        example="242010123456789",
        telephony=True,
    ),
    Identifier(
        id="iccid",
        name="ICCID",
        plural="ICCIDs",
        kind="sim",
        resettable=False,
        weight=3,
        why="the SIM card's serial number",
        rule_text="ICCID: the SIM card number, 18-20 digits starting 89 (telecom), Luhn-valid.",
        static_name="ICCID",
        static_rank=2,
        example="89470000000012345673",
        telephony=True,  # EF_ICCID holds it nibble-swapped (TS 102 221 13.2), as TBCD
    ),
    Identifier(
        id="msisdn",
        name="phone number",
        plural="phone numbers",
        kind="sim",
        resettable=False,
        weight=3,
        why="the phone number",
        rule_text="Phone numbers (MSISDN), validated by libphonenumber.",
        static_name="phone number",
        static_rank=4,
        example="+4791234567",
        telephony=True,
    ),
    Identifier(
        id="serial",
        name="serial number",
        plural="serial numbers",
        kind="hardware",
        resettable=False,
        weight=2,
        why="the device's serial number",
        rule_text=(
            "Serial number: the device's hardware serial, found as a known value of "
            "the profile, and without one only under a serial key (ro.serialno, "
            "Build.SERIAL, serial_number ...): no pattern tells a serial from other strings."
        ),
        static_name="serial number",
        static_rank=5,
        example="ZX1G22KLMN7Q",
    ),
    Identifier(
        id="android_id",
        name="Android ID",
        plural="Android IDs",
        kind="software",
        resettable=True,
        weight=1,
        why="the Android ID, which the user can reset",
        rule_text="Android ID (Settings.Secure.ANDROID_ID): 16 hex digits, only under its own key.",
        static_name="Android ID",
        static_rank=10,
        example="9774d56d682e549c",
    ),
    Identifier(
        id="ad_id",
        name="advertising ID",
        plural="advertising IDs",
        kind="advertising",
        resettable=True,
        weight=1,
        why="the advertising ID, which the user can reset",
        rule_text="Advertising ID (Google AAID, Apple IDFA): a UUID, only under an ad-id key.",
        static_name="advertising ID",
        static_rank=11,
        example="38400000-8cf0-11bd-b23e-10b96e40000d",
    ),
    Identifier(
        id="mac",
        name="MAC address",
        plural="MAC addresses",
        kind="network",
        resettable=False,
        weight=2,
        why="a hardware address of the device",
        rule_text=(
            "MAC addresses: six octets with : or -, or 12 hex / Cisco dotted under a MAC key."
        ),
        static_name="MAC address",
        static_rank=7,
        example="02:00:5e:10:20:30",
    ),
    Identifier(
        id="email",
        name="email",
        plural="emails",
        kind="account",
        resettable=False,
        weight=3,
        why="an email address, which names a person",
        rule_text="E-mail addresses: a dot-atom local part, @, a domain with a real TLD.",
        static_name="accounts",
        static_rank=12,
        example="kari.nordmann@example.org",
    ),
    Identifier(
        id="sip_uri",
        name="SIP address",
        plural="SIP addresses",
        kind="account",
        resettable=False,
        weight=3,
        why="a SIP address, which names a subscriber's phone line or VoIP account",
        rule_text=(
            "SIP addresses: a sip:/sips: URI whose user part names an account (a phone "
            "number or an IMSI in it is reported as that), sent by the device about itself."
        ),
        static_name="SIP account",
        static_rank=13,
        example="sip:kari.nordmann@sip.example.org",
        in_profile=False,
    ),
    Identifier(
        id="location",
        name="location",
        plural="locations",
        kind="location",
        resettable=False,
        weight=3,
        why="the device's location",
        rule_text="Latitude/longitude pairs under location keys.",
        static_name="location",
        static_rank=9,
        example="59.9139,10.7522",
        in_profile=False,
    ),
    Identifier(
        id="cell_id",
        name="cell ID",
        plural="cell IDs",
        kind="location",
        resettable=False,
        weight=3,
        why="the serving cell tower, which locates the device",
        rule_text="Cell ids: the serving cell tower, i.e. a coarse location, under cell-like keys.",
        static_name="cell location",
        static_rank=8,
        example="0x1a2b3c",
    ),
    Identifier(
        id="bssid",
        name="access point",
        plural="access points",
        kind="location",
        resettable=False,
        weight=3,
        why="the Wi-Fi access point the device is on (its BSSID), which locates the device",
        rule_text=(
            "BSSIDs: the MAC address of the Wi-Fi access point the device is attached to, "
            "under BSSID keys (IMS P-Access-Network-Info, RADIUS Called-Station-Id, bssid)."
        ),
        static_name="Wi-Fi access point",
        static_rank=14,
        example="74:83:c2:10:20:30",
        in_profile=False,
    ),
    Identifier(
        id="device_id",
        name="device ID (by field name)",
        plural="device IDs (by field name)",
        kind="hardware",
        resettable=False,
        weight=2,
        why=(
            "a value sent under a device-identifier field name; its form matched no validated "
            "identifier, so what it identifies is unconfirmed"
        ),
        rule_text=(
            "Device identifier by field name, unvalidated: an identifier-shaped value under "
            "a key naming a device identifier (device_id, udid, hwid ...) that no validating "
            "detector recognised."
        ),
        static_name="device identifier",
        static_rank=6,
        example="350672920106648",
        in_profile=False,
    ),
)
"""In the order the scan reports list identifiers (the most telling first)."""

BY_ID: Final[dict[str, Identifier]] = {i.id: i for i in CATALOGUE}
IDS: Final[tuple[str, ...]] = tuple(i.id for i in CATALOGUE)
PROFILE_KEYS: Final[tuple[str, ...]] = tuple(i.id for i in CATALOGUE if i.in_profile)
STATIC_ORDER: Final[tuple[str, ...]] = tuple(
    i.id for i in sorted(CATALOGUE, key=lambda i: i.static_rank)
)
_RANK: Final[dict[str, int]] = {id_: n for n, id_ in enumerate(IDS)}


def get(identifier: object) -> Identifier | None:
    """The entry of ``identifier``, or None for an id this build does not know (a
    document stored by a newer phonehome, or edited by hand)."""
    return BY_ID.get(identifier) if isinstance(identifier, str) else None


def name(identifier: object) -> str:
    """The display name; an unknown id is shown as itself, a missing one as
    ``identifier``."""
    entry = get(identifier)
    if entry is not None:
        return entry.name
    return str(identifier) if isinstance(identifier, str) else "identifier"


def rank(identifier: object) -> int:
    """Position in the scan reports' order; unknown ids after every known one."""
    return _RANK.get(identifier, len(IDS)) if isinstance(identifier, str) else len(IDS)


def static_name(identifier: object) -> str:
    entry = get(identifier)
    return entry.static_name if entry is not None else str(identifier)


def static_rank(identifier: object) -> int:
    entry = get(identifier)
    return entry.static_rank if entry is not None else len(IDS)
