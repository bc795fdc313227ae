"""Known values: the device profile's own identifiers, in every form an app may send them.

Apps rarely send an identifier as written on the box. For each profile value this module
lists its spellings (case, MAC separators, the IMEI's 14-digit body, national and
international phone numbers) and, for each spelling, the encodings seen in the wild:
URL-encoding, hex of the ASCII, MD5/SHA-1/SHA-256/SHA-512 hex, and Base64 at all three
byte alignments so the value is found inside a longer Base64 string. All of them go into
one compiled multi-pattern matcher, so a field is scanned once however many values the
profile holds. Locations are numbers near a position, not literals, and are compared
numerically.

Digit and hex spellings match only as whole tokens (see :mod:`phonehome.detect.base`):
the IMEI's body inside some other 15-digit number is not the IMEI.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import math
import re
from typing import Literal, NamedTuple
from urllib.parse import quote

import phonenumbers

from phonehome.detect.base import Detector, in_hex_run, in_number_run, key_is, sibling
from phonehome.detect.location import LAT_KEYS, LON_KEYS, decimals, distance_m
from phonehome.detect.matcher import Backend, Matcher
from phonehome.detect.validators import digits_only, normal_mac, to_tbcd
from phonehome.identifiers import CATALOGUE
from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile, Location

Rule = Literal["digits", "hex", "mac", "alnum", "email", "nai", "none"]
"""How a hit must be bounded to count (see :func:`whole_token`)."""

ENCODE_MIN_LEN = 6
"""Shorter spellings (a 5-digit cell id) are matched plain only: their encodings are a
handful of characters that turn up by chance inside any long Base64 or hex blob."""
BASE64_MIN_LEN = 8
HASHES = ("md5", "sha1", "sha256", "sha512")
SCALES = ((1e6, "scaled-1e6"), (1e7, "scaled-1e7"))
MAX_NUMBERS = 256
"""Numbers per field considered for location pairs: bounds the work on huge bodies."""
PAIR_GAP = 24
MAX_KEPT = 64
"""Occurrences of one value in one form kept per field (the engine then keeps
:data:`~phonehome.detect.spans.MAX_PER_VALUE` of them, after dropping the ones inside
wider matches); the others are only counted."""
"""Most characters between the two numbers of a pair (``,"lon":`` in JSON is 8)."""

_HEXCHARS = frozenset("0123456789abcdefABCDEF")
_UUIDCHARS = _HEXCHARS | {"-"}
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_NUMBER = re.compile(r"(?<![0-9.])-?(?:[0-9]{1,3}\.[0-9]{2,}|[0-9]{7,10})(?![0-9.])")


class Target(NamedTuple):
    """What a matcher hit stands for."""

    identifier: str
    value: str
    form: str
    rule: Rule
    spelling: str = ""
    """The spelling this pattern encodes (one spelling has several Base64 patterns, one per
    byte alignment): occurrences beyond the cap are counted per spelling."""


def normal_value(identifier: str, raw: str, region: str | None) -> str | None:
    """The normal form a Match reports (the same one the pattern detectors produce)."""
    raw = raw.strip()
    if not raw:
        return None
    if identifier in ("imei", "imsi"):
        return digits_only(raw) or None
    if identifier == "iccid":
        return raw.upper().rstrip("F") or None
    if identifier in MAC_LIKE:
        return normal_mac(raw)
    if identifier == "email":
        return raw.lower()
    if identifier in ("android_id", "ad_id"):
        return raw.lower()
    if identifier == "meid":
        return raw.upper()
    if identifier == "msisdn":
        return _e164(raw, region) or raw
    return raw


def _e164(raw: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def spellings(identifier: str, value: str, raw: str) -> list[tuple[str, str]]:
    """(spelling, form) pairs of one value: as written, normal form and case variants
    (hashes and Base64 differ by case even where the plain match is case-insensitive)."""
    out: list[tuple[str, str]] = [
        (value, "plain"),
        (value.lower(), "plain"),
        (value.upper(), "plain"),
    ]
    if identifier == "imei" and len(value) == 15:
        out.append((value[:14], "imei-body"))
        out += imei_spellings(value)
    elif identifier in MAC_LIKE:
        h = value.replace(":", "")
        for s in (value, value.replace(":", "-"), h, f"{h[:4]}.{h[4:8]}.{h[8:]}"):
            out += [(s, "plain"), (s.upper(), "plain")]
    elif identifier == "ad_id":
        out += [(value.replace("-", ""), "plain"), (value.replace("-", "").upper(), "plain")]
    elif identifier == "msisdn":
        out += _phone_spellings(value)
    elif identifier == "cell_id":
        out += _cell_spellings(value)
    out.append((raw.strip(), "plain"))
    first: dict[str, str] = {}
    for spelling, form in out:
        first.setdefault(spelling, form)
    return list(first.items())


MAC_LIKE = ("mac", "bssid")
"""Identifiers that are MAC addresses (the device's, its access point's)."""
TELEPHONY = frozenset(i.id for i in CATALOGUE if i.telephony)
"""Identifiers written in telephony digits, TBCD in signalling (the catalogue says)."""

NAI_METHODS = (("0", "nai-eap-aka"), ("1", "nai-eap-sim"), ("6", "nai-eap-aka-prime"))
"""The method digit an EAP permanent identity puts before the IMSI (TS 23.003 19.3.2)."""


def imei_spellings(imei: str) -> list[tuple[str, str]]:
    """The IMEI as signalling writes it: with the spare digit 0 in place of the check digit
    (TS 23.003 6.2.1: the check digit is not transmitted), dashed 8-6-1 with either last
    digit, and as the RFC 7254 URN (``urn:gsma:imei:TTTTTTTT-SSSSSS-D``); and as people
    read it off a label (``grouped``)."""
    tac, snr = imei[:8], imei[8:14]
    out = [(f"{tac}{snr}0", "imei-spare")] if imei[14] != "0" else []
    for last in dict.fromkeys((imei[14], "0")):
        dashed = f"{tac}-{snr}-{last}"
        out += [(dashed, "dashed"), (f"urn:gsma:imei:{dashed}", "urn")]
    # as a label or a settings screen prints it: the reporting body apart (2-6-6-1), or
    # TAC, SNR and check digit (8-6-1), with dashes or spaces
    out += [(f"{imei[:2]}-{imei[2:8]}-{snr}-{imei[14]}", "grouped")]
    out += [(f"{imei[:2]} {imei[2:8]} {snr} {imei[14]}", "grouped")]
    out += [(f"{tac} {snr} {imei[14]}", "grouped")]
    return out


def telephony_targets(
    profile: DeviceProfile,
) -> tuple[list[tuple[str, Target]], list[tuple[str, Target]]]:
    """The binary and software-version forms of IMEI, IMSI and phone number:

    * IMEISV (TS 23.003 6.2.2): the IMEI's 14-digit body and any 2-digit software version,
      the 16 digits as a whole token (form ``imeisv``);
    * the IMSI behind an EAP method digit in a NAI user part (``0<IMSI>@``, TS 23.003
      19.3.2), only before its ``@`` (forms ``nai-eap-aka``, ``nai-eap-sim``,
      ``nai-eap-aka-prime``);
    * TBCD (TS 29.002; GTP-C, Diameter, MAP): two digits a byte, low nibble first, ``F``
      filler, as the bytes themselves (form ``tbcd``, case-sensitive, found in the latin-1
      text of binary payloads) and as their hex (``tbcd-hex``), for the IMEI, its IMEISVs,
      the IMSI, the phone number's international digits and the ICCID (EF_ICCID); the
      IMSI also as the SIM's EF_IMSI holds it (length byte, parity nibble).
    """
    caseless: list[tuple[str, Target]] = []
    exact: list[tuple[str, Target]] = []
    for identifier, raws in profile.values.items():
        if identifier not in TELEPHONY:
            continue
        for raw in raws:
            value = normal_value(identifier, raw, profile.home_country)
            if value is None:
                continue
            digits = digits_only(value)
            numbers = [digits]
            if identifier == "imsi":
                caseless += [
                    (method + value, Target(identifier, value, form, "nai", method + value))
                    for method, form in NAI_METHODS
                ]
                # EF_IMSI (TS 31.102 4.2.2): its length byte, then the parity nibble (9 for
                # an odd number of digits, 1 for even) before the digits, TBCD
                parity = ("9" if len(digits) % 2 else "1") + digits
                packed = to_tbcd(parity)
                sim = Target(identifier, value, "tbcd", "none", parity)
                exact.append((packed.decode("latin-1"), sim))
                for text in (packed.hex(), f"{len(packed):02x}{packed.hex()}"):
                    caseless.append((text, sim._replace(form="tbcd-hex", rule="hex")))
            if identifier == "imei" and len(value) == 15:
                svs = [f"{value[:14]}{sv:02d}" for sv in range(100)]
                caseless += [(sv, Target(identifier, value, "imeisv", "digits", sv)) for sv in svs]
                numbers += svs
            for number in numbers:
                packed = to_tbcd(number)
                tbcd = Target(identifier, value, "tbcd", "none", number)
                exact.append((packed.decode("latin-1"), tbcd))
                caseless.append((packed.hex(), tbcd._replace(form="tbcd-hex", rule="hex")))
    return caseless, exact


def _cell_spellings(value: str) -> list[tuple[str, str]]:
    """A cell id is one number that modems and apps write in decimal or in hex (the
    self-registration request's SIM1CELLID is hex): each spelling finds the others."""
    v = value.strip()
    try:
        number = int(v, 16) if v.lower().startswith("0x") or not v.isdigit() else int(v)
    except ValueError:
        return []
    h = f"{number:x}"
    return [(str(number), "decimal"), (h, "hex-number"), (h.upper(), "hex-number")]


def _phone_spellings(value: str) -> list[tuple[str, str]]:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return []
    international = value.lstrip("+")
    national = phonenumbers.national_significant_number(number)
    trunk = digits_only(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    return [
        (international, "international"),
        ("00" + international, "international"),
        (national, "national"),
        (trunk, "national"),
    ]


def rule_for(identifier: str, spelling: str) -> Rule:
    if identifier == "email":
        return "email"
    if spelling.lstrip("+").isdigit() or (" " in spelling and spelling.replace(" ", "").isdigit()):
        return "digits"  # (digit groups apart: an IMEI as a label prints it)
    if identifier in MAC_LIKE and not spelling.isalnum():
        return "mac"
    if all(ch in _UUIDCHARS for ch in spelling):
        return "hex"
    return "alnum" if spelling.isalnum() else "none"


def base64_fragments(data: bytes) -> list[str]:
    """The Base64 of ``data`` as it reads inside a longer Base64 string, at each of the
    three byte alignments, without the edge characters that depend on neighbouring bytes."""
    out = []
    for shift, skip in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * shift + data).decode("ascii")
        stable_end = (shift + len(data)) * 8 // 6
        out.append(encoded[skip:stable_end])
    return out


def targets(profile: DeviceProfile) -> tuple[list[tuple[str, Target]], list[tuple[str, Target]]]:
    """(caseless patterns, case-sensitive patterns) for every value of the profile."""
    caseless: list[tuple[str, Target]] = []
    exact: list[tuple[str, Target]] = []
    for identifier, raws in profile.values.items():
        for raw in raws:
            value = normal_value(identifier, raw, profile.home_country)
            if value is None:
                continue
            for spelling, form in spellings(identifier, value, raw):
                rule = rule_for(identifier, spelling)
                caseless.append((spelling, Target(identifier, value, form, rule, spelling)))
                url = quote(spelling, safe="")
                if url != spelling:
                    caseless.append((url, Target(identifier, value, "urlencoded", rule, spelling)))
                data = spelling.encode("utf-8")
                for name in HASHES:
                    digest = hashlib.new(name, data).hexdigest()
                    caseless.append((digest, Target(identifier, value, name, "hex", spelling)))
                if len(spelling) < ENCODE_MIN_LEN:
                    continue
                caseless.append((data.hex(), Target(identifier, value, "hex", "none", spelling)))
                for fragment in base64_fragments(data):
                    if len(fragment) < BASE64_MIN_LEN:
                        continue
                    exact.append((fragment, Target(identifier, value, "base64", "none", spelling)))
                    urlsafe = fragment.replace("+", "-").replace("/", "_")
                    if urlsafe != fragment:
                        target = Target(identifier, value, "base64url", "none", spelling)
                        exact.append((urlsafe, target))
    more_caseless, more_exact = telephony_targets(profile)
    return caseless + more_caseless, exact + more_exact


def whole_token(text: str, start: int, end: int, rule: Rule) -> bool:
    if rule == "none":
        return True
    if rule == "digits":
        return not in_number_run(text, start, end)
    if rule == "nai":
        return text[end : end + 1] == "@" and not in_number_run(text, start, end)
    if rule == "hex":
        return not in_hex_run(text, start, end)
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if rule == "mac":
        if in_hex_run(text, start, end):
            return False
        beyond_before = text[start - 2] if start > 1 else ""
        beyond_after = text[end + 1] if end + 1 < len(text) else ""
        return not (
            (before in (":", "-") and beyond_before in _HEXCHARS)
            or (after in (":", "-") and beyond_after in _HEXCHARS)
        )
    if rule == "alnum":
        return not (before.isascii() and before.isalnum()) and not (
            after.isascii() and after.isalnum()
        )
    # email: the local part may not go on to the left, the domain not to the right
    beyond_after = text[end + 1] if end + 1 < len(text) else ""
    return not (
        before in _EMAIL_LOCAL
        or after.isalnum()
        or after == "-"
        or (after == "." and beyond_after.isalnum())
    )


def _joined(texts: list[str]) -> tuple[str, list[int]]:
    """The texts joined by newlines, and where each starts in the result."""
    starts: list[int] = []
    at = 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    return "\n".join(texts), starts


def _lat_needles(loc: Location) -> set[str]:
    """Substrings a text must hold to have a latitude near ``loc``: the whole degrees with
    their dot (``59.``) and the first four digits of the scaled forms (``5991``). Checking
    them with ``in`` is far cheaper than the number regex over a large body."""
    slack = loc.radius_m / 111_320.0 + 0.01
    low, high = abs(loc.lat) - slack, abs(loc.lat) + slack
    needles = {f"{d}." for d in range(max(0, math.floor(low)), math.floor(high) + 1)}
    needles |= {str(c) for c in range(max(0, math.floor(low * 100)), math.floor(high * 100) + 1)}
    return needles


class KnownValues(Detector):
    """Finds the profile's values; every Match has ``profile_match=True``."""

    id = "PH-KNOWN"
    identifier = "*"
    name = "known device values"
    sibling_keys = LAT_KEYS

    def __init__(
        self, profile: DeviceProfile | None = None, backend: Backend | None = None
    ) -> None:
        super().__init__(profile)
        caseless, exact = targets(profile) if profile else ([], [])
        self._matcher = Matcher(caseless, caseless=True, backend=backend, exact=exact)
        """Hex, digits and hashes caseless, Base64 exact: one search for both."""
        self.backend: Backend = self._matcher.backend
        """The matcher engine in use (the engine's gate uses hyperscan where this does)."""
        self.locations: tuple[Location, ...] = profile.locations if profile else ()
        needles = sorted({n for loc in self.locations for n in _lat_needles(loc)})
        self._lat_needles = re.compile("|".join(map(re.escape, needles))) if needles else None

    @property
    def active(self) -> bool:
        return bool(len(self._matcher) or self.locations)

    def scan(self, field: Field) -> list[Match]:
        """Every occurrence, up to :data:`MAX_KEPT` per value and form; the rest are
        counted on the last one kept (``Match.more``), so a body repeating a value
        100,000 times does not become 100,000 objects."""
        text = field.text
        hits = self._matcher.scan(text)
        found = self._matches(field, hits) if hits else []
        if self.locations:
            found += self._scan_locations(field, None)
        return found

    def scan_many(self, fields: list[Field]) -> list[list[Match]]:
        """:meth:`scan` of each field, with one search per matcher for all of them.

        The texts are searched joined by newlines, which no pattern holds (profile
        values are single lines, and so are their encodings), so no hit spans two
        fields; a hit is given to the field whose text holds it, at offsets in that
        text. The matchers report every occurrence of every literal, so each field
        gets the hits a search of its text alone gives, in the same order. A scan
        searches one message's fields this way (:meth:`Engine.scan_many`): a call into
        the matcher costs more than searching a typical field's few dozen characters.
        """
        if len(fields) == 1:
            return [self.scan(fields[0])]
        shortest = self._matcher.shortest
        # fields shorter than every pattern hold no value (most parameters and labels)
        searched = [i for i, f in enumerate(fields) if len(f.text) >= shortest]
        per_field: list[list[tuple[int, int, Target]]] = [[] for _ in fields]
        if len(searched) == 1:
            i = searched[0]
            per_field[i] = self._matcher.scan(fields[i].text)
        elif searched:
            texts = [fields[i].text for i in searched]
            joined, starts = _joined(texts)
            for start, end, t in self._matcher.scan(joined):
                j = bisect.bisect_right(starts, start) - 1
                base = starts[j]
                if end - base <= len(texts[j]):  # (a pattern holding a newline)
                    per_field[searched[j]].append((start - base, end - base, t))
        # most fields hold no value at all: they cost no more than this loop
        out = [
            self._matches(f, hits) if hits else []
            for f, hits in zip(fields, per_field, strict=True)
        ]
        if self.locations:
            needled: set[int] = set()
            if self._lat_needles is not None:  # (needles are digits and dots: no newline)
                # every field: a number pair may be shorter than every pattern
                everything, at = _joined([f.text for f in fields])
                for m in self._lat_needles.finditer(everything):
                    needled.add(bisect.bisect_right(at, m.start()) - 1)
            for i, f in enumerate(fields):
                near = self._scan_locations(f, i in needled)
                if near:
                    out[i] += near
        return out

    def _matches(self, field: Field, hits: list[tuple[int, int, Target]]) -> list[Match]:
        """Matches from a field's matcher hits (the caseless matcher's first)."""
        text = field.text
        found: list[Match] = []
        seen: set[tuple[int, int, str, str]] = set()
        # per value, form and spelling: a shorter spelling (the IMEI's body inside the
        # IMEI) is counted apart, and dropped with its carrier inside the wider match
        kept: dict[tuple[str, str, str, str], int] = {}
        last: dict[tuple[str, str, str, str], int] = {}
        extra: dict[tuple[str, str, str, str], int] = {}
        extra_at: dict[tuple[str, str, str, str], int] = {}
        for start, end, t in hits:
            key = (start, end, t.identifier, t.value)
            if key in seen or not whole_token(text, start, end, t.rule):
                continue
            group = (t.identifier, t.value, t.form, t.spelling)
            n = kept.get(group, 0)
            if n >= MAX_KEPT:
                # tags of one pattern come one after the other: count a span once,
                # also when two spellings share the pattern (the Base64 of the IMEI
                # and of its spare-digit form agree but for the last characters)
                seen.add(key)
                if extra_at.get(group) != start:
                    extra_at[group] = start
                    extra[group] = extra.get(group, 0) + 1
                continue
            kept[group] = n + 1
            last[group] = len(found)
            seen.add(key)
            found.append(
                Match(self.id, t.identifier, t.value, start, end, 1.0, True, field, t.form)
            )
        for group, more in extra.items():
            i = last[group]
            found[i] = found[i].with_more(found[i].more + more)
        return found

    def _scan_locations(self, field: Field, needled: bool | None) -> list[Match]:
        """The profile's locations in ``field``; ``needled`` says whether its text holds
        one of their latitude needles (None: look)."""
        found: list[Match] = []
        if key_is(field, LAT_KEYS):
            lon = sibling(field, LON_KEYS)
            text = field.text.strip()
            if lon is not None and _NUMBER.fullmatch(text) and _NUMBER.fullmatch(lon.strip()):
                start = field.text.index(text)
                hit = self._near(text, lon.strip())
                if hit is not None:
                    found.append(self._match(field, hit, start, start + len(text)))
            return found
        if needled is None:
            needled = self._lat_needles is not None and bool(self._lat_needles.search(field.text))
        if not needled:
            return found
        numbers = itertools.islice(_NUMBER.finditer(field.text), MAX_NUMBERS)
        for a, b in itertools.pairwise(numbers):
            if b.start() - a.end() > PAIR_GAP:
                continue
            hit = self._near(a.group(), b.group()) or self._near(b.group(), a.group())
            if hit is not None:
                found.append(self._match(field, hit, a.start(), b.end()))
        return found

    def _match(self, field: Field, hit: tuple[Location, str], start: int, end: int) -> Match:
        loc, form = hit
        return Match(
            self.id, "location", f"{loc.lat},{loc.lon}", start, end, 1.0, True, field, form
        )

    def _near(self, lat_text: str, lon_text: str) -> tuple[Location, str] | None:
        """The profile location (and form) a lat/lon pair of number strings points at."""
        if ("." in lat_text) != ("." in lon_text):
            return None
        if "." in lat_text:
            readings = [(float(lat_text), float(lon_text), "plain")]
            places = min(decimals(lat_text), decimals(lon_text))
        else:
            readings = [(int(lat_text) / s, int(lon_text) / s, f) for s, f in SCALES]
            places = 6
        rounding = 0.5 * 10.0**-places * 111_320.0 * math.sqrt(2)
        for lat, lon, form in readings:
            if abs(lat) > 90 or abs(lon) > 180:
                continue
            for loc in self.locations:
                if distance_m(lat, lon, loc.lat, loc.lon) <= loc.radius_m + rounding:
                    return loc, form
        return None
