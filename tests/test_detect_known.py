"""Known-value detector: the profile's values in every form, as whole tokens only."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

import pytest

from phonehome.detect.known import KnownValues
from phonehome.detect.matcher import available_backends
from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile, Location
from tests.builders_detect import field

IMEI = "356938035643809"
MAC = "AC:37:43:4D:7F:12"
EMAIL = "Ola.Nordmann@Example.no"
PHONE = "+4791234567"
ANDROID_ID = "3f2a9c0d1e4b5a67"
AD_ID = "38400000-8cf0-11bd-b23e-10b96e40000d"
OSLO = Location(59.9139, 10.7522, radius_m=500)

PROFILE = DeviceProfile(
    name="test phone",
    home_country="NO",
    values={
        "imei": (IMEI,),
        "mac": (MAC,),
        "email": (EMAIL,),
        "msisdn": ("91234567",),  # national, resolved through home_country
        "android_id": (ANDROID_ID,),
        "ad_id": (AD_ID,),
        "iccid": ("89470800123456789016",),
        "imsi": ("242011234567890",),
        "serial": ("R58M12ABCDE",),
        "cell_id": ("263713",),
    },
    locations=(OSLO,),
)
NORMAL = {
    "imei": IMEI,
    "mac": "ac:37:43:4d:7f:12",
    "email": "ola.nordmann@example.no",
    "msisdn": PHONE,
    "android_id": ANDROID_ID,
    "ad_id": AD_ID,
    "location": "59.9139,10.7522",
}


@pytest.fixture(scope="module")
def known() -> KnownValues:
    return KnownValues(PROFILE)


def b64_inside(value: str, shift: int, urlsafe: bool = False) -> str:
    """``value`` Base64-encoded at byte offset ``shift`` inside a longer payload."""
    data = b"ab"[:shift] + value.encode() + b'","ts":1700000000}'
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return "eyJpZCI6" + enc(b"\x8f\xfe" + data).decode()  # starts mid-object, like a token


def hashes(value: str) -> list[tuple[str, str]]:
    out = []
    for name in ("md5", "sha1", "sha256", "sha512"):
        digest = hashlib.new(name, value.encode()).hexdigest()
        out += [(name, digest), (name, digest.upper())]
    return out


def forms(identifier: str, spelled: list[str], plain: str = "plain") -> list[tuple[str, str, str]]:
    """(identifier, text, form) for every encoding of every spelling."""
    out = []
    for s in spelled:
        out.append((identifier, f"v={s}&x=1", plain))
        if quote(s, safe="") != s:
            out.append((identifier, f"v={quote(s, safe='')}&x=1", "urlencoded"))
        out.append((identifier, "00ff" + s.encode().hex(), "hex"))
        out.append((identifier, "00FF" + s.encode().hex().upper(), "hex"))
        out += [(identifier, f"h={d}", name) for name, d in hashes(s)]
        for shift in (0, 1, 2):
            out.append((identifier, b64_inside(s, shift), "base64"))
    return out


MAC_SPELLINGS = [
    "ac:37:43:4d:7f:12",
    "AC:37:43:4D:7F:12",
    "ac-37-43-4d-7f-12",
    "AC-37-43-4D-7F-12",
    "ac37434d7f12",
    "AC37434D7F12",
]
CASES = [
    *forms("imei", [IMEI]),
    ("imei", "MEID=35693803564380&x", "imei-body"),
    *forms("mac", MAC_SPELLINGS),
    ("mac", "mac=ac37.434d.7f12", "plain"),
    ("mac", "AC%3A37%3A43%3A4D%3A7F%3A12", "urlencoded"),
    *forms("email", ["ola.nordmann@example.no", EMAIL]),
    ("email", "to=OLA.NORDMANN%40EXAMPLE.NO", "urlencoded"),
    *forms("msisdn", [PHONE]),
    *forms("msisdn", ["4791234567", "004791234567"], plain="international"),
    ("msisdn", "tel: 91234567", "national"),
    *forms("android_id", [ANDROID_ID, ANDROID_ID.upper()]),
    *forms("ad_id", [AD_ID, AD_ID.replace("-", "")]),
]


@pytest.mark.parametrize(("identifier", "text", "form"), CASES)
def test_every_form_is_found(known: KnownValues, identifier: str, text: str, form: str) -> None:
    found = [m for m in known.scan(field(text)) if m.identifier == identifier]
    assert found, f"{identifier} not found as {form} in {text!r}"
    assert {m.value for m in found} == {NORMAL[identifier]}
    assert form in {m.form for m in found}
    assert all(m.profile_match and m.detector == "PH-KNOWN" and m.confidence == 1.0 for m in found)


@pytest.mark.parametrize("shift", [0, 1, 2])
def test_base64_alignment_span_lies_inside_the_encoding(known: KnownValues, shift: int) -> None:
    text = b64_inside(IMEI, shift)
    m = next(m for m in known.scan(field(text)) if m.identifier == "imei")
    decoded = base64.b64decode(text[8:])
    assert IMEI.encode() in decoded
    assert 8 <= m.start < m.end <= len(text) and m.end - m.start >= 18


@pytest.mark.parametrize(
    "text",
    [
        "1356938035643809",  # IMEI inside a longer number
        "35693803564380912",  # (16 digits starting with the body are an IMEISV: see below)
        "a1b2356938035643809",  # inside a hex run
        "356938035643809ff",
        "135693803564380",  # the IMEI body inside a different 15-digit number
        "356938035643801",
        "ab3f2a9c0d1e4b5a67",  # android id inside a longer hex string
        "3f2a9c0d1e4b5a6789",
        "00:ac:37:43:4d:7f:12",  # MAC inside a longer octet string
        "ac:37:43:4d:7f:12:00",
        "bob.ola.nordmann@example.no",  # a different address ending in the email
        "ola.nordmann@example.no.evil.com",
        "ola.nordmann@example.notes",
        "x8947080012345678901600",
        "1242011234567890",
        "R58M12ABCDEF",  # serial inside a longer word
        "cid=2637130",
    ],
)
def test_whole_token_rule(known: KnownValues, text: str) -> None:
    assert known.scan(field(text)) == []


@pytest.mark.parametrize(
    ("text", "identifier"),
    [
        ("S/N: R58M12ABCDE", "serial"),
        ("r58m12abcde", "serial"),
        ("cid=263713&lac=1", "cell_id"),
        ("ICCID 89470800123456789016F", "iccid"),
        ("imsi:242011234567890", "imsi"),
        ("IMEI356938035643809", "imei"),
    ],
)
def test_other_values_plain(known: KnownValues, text: str, identifier: str) -> None:
    assert [m.identifier for m in known.scan(field(text))] == [identifier]


LOCATION_HITS = [
    (field('{"lat":59.9141,"lon":10.7530}'), "plain"),
    (field("59.91,10.75"), "plain"),  # two decimals: ~1 km rounding allowed for
    (field("[10.7522, 59.9139]"), "plain"),  # GeoJSON order
    (field("59.9141", "lat", lon="10.7530"), "plain"),
    (field("59.9141", "latitude", lng="10.7530"), "plain"),
    (field("ll=59913900,10752200"), "scaled-1e6"),
    (field("p=599139000;107522000"), "scaled-1e7"),
]

LOCATION_MISSES = [
    field('{"lat":59.95,"lon":10.75}'),  # ~4 km away
    field("59.9,10.8"),  # one decimal
    field("59.9141"),  # one number
    field("59.9141", "lat"),
    field("10.7530", "lon", lat="59.9141"),  # the latitude field reports
    field('{"lat":59.9141,"comment":"a rather long text in between","lon":10.7530}'),
]


@pytest.mark.parametrize(("f", "form"), LOCATION_HITS)
def test_location_hits(known: KnownValues, f: Field, form: str) -> None:
    found = [m for m in known.scan(f) if m.identifier == "location"]
    assert [(m.value, m.form) for m in found] == [(NORMAL["location"], form)]


@pytest.mark.parametrize("f", LOCATION_MISSES)
def test_location_misses(known: KnownValues, f: Field) -> None:
    assert [m for m in known.scan(f) if m.identifier == "location"] == []


@pytest.mark.parametrize("shift", [0, 1, 2])
@pytest.mark.parametrize(("urlsafe", "form"), [(False, "base64"), (True, "base64url")])
def test_base64_alphabets(shift: int, urlsafe: bool, form: str) -> None:
    """ASCII encodes to ``+``/``/`` only around ``>``, ``?`` and ``~``: a serial with ``~``."""
    serial = "SN~~~2024-0A1B2C3D"
    k = KnownValues(DeviceProfile(values={"serial": (serial,)}))
    text = b64_inside(serial, shift, urlsafe=urlsafe)
    assert any(c in text for c in "-_+/")
    assert [(m.value, m.form) for m in k.scan(field(text))] == [(serial, form)]


def test_no_profile_finds_nothing() -> None:
    assert not KnownValues(None).active
    assert KnownValues(None).scan(field(IMEI)) == []


def test_invalid_profile_values_are_still_found() -> None:
    """The profile's own values count even when no validator would pass them."""
    k = KnownValues(DeviceProfile(values={"imei": ("350672920106648",)}))
    assert [m.value for m in k.scan(field('{"device_id":"350672920106648"}'))] == [
        "350672920106648"
    ]


@pytest.mark.parametrize("backend", available_backends())
def test_backends_find_the_same_forms(backend: str) -> None:
    k = KnownValues(PROFILE, backend=backend)  # type: ignore[arg-type]
    text = " ".join(t for _, t, _ in CASES)
    ref = KnownValues(PROFILE, backend="regex")

    def key(ms: list[Match]) -> list[tuple[int, int, str, str]]:
        return [(m.start, m.end, m.identifier, m.form) for m in ms]

    assert key(k.scan(field(text))) == key(ref.scan(field(text)))


# -- telephony forms: IMEI as signalling writes it, IMEISV, TBCD, IMSI in NAIs ------------

IMSI = "242011234567890"
TBCD_IMSI = bytes.fromhex("42021132547698f0")  # 24 20 11 23 45 67 89 0F, nibble-swapped
TBCD_IMEI = bytes.fromhex("53968330653408f9")  # 35 69 38 03 56 43 80 9F


@pytest.mark.parametrize(
    ("text", "identifier", "form"),
    [
        ("urn:gsma:imei:35693803-564380-0", "imei", "urn"),  # spare digit
        ("urn:gsma:imei:35693803-564380-9", "imei", "urn"),  # check digit
        ("IMEI 35693803-564380-0 ok", "imei", "dashed"),
        ("IMEI: 35-693803-564380-9", "imei", "grouped"),  # as a box label prints it
        ("imei=35 693803 564380 9&x=1", "imei", "grouped"),
        ("35693803 564380 9", "imei", "grouped"),
        ("mei=356938035643800", "imei", "imei-spare"),  # check digit not transmitted
        ("imeisv=3569380356438017", "imei", "imeisv"),
        (f"0{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org", "imsi", "nai-eap-aka"),
        (f"1{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org", "imsi", "nai-eap-sim"),
        (f"6{IMSI}@nai.epc.mnc001.mcc242.3gppnetwork.org", "imsi", "nai-eap-aka-prime"),
        ("\x01\x00\x08\x00" + TBCD_IMSI.decode("latin-1") + "\x4c", "imsi", "tbcd"),
        (f"imsi_raw={TBCD_IMSI.hex().upper()}", "imsi", "tbcd-hex"),
        ("\x02\x08" + TBCD_IMEI.decode("latin-1"), "imei", "tbcd"),
    ],
)
def test_telephony_forms(known: KnownValues, text: str, identifier: str, form: str) -> None:
    found = [m for m in known.scan(field(text)) if m.identifier == identifier]
    assert (found[0].value, found[0].form) == (
        IMEI if identifier == "imei" else IMSI,
        form,
    ), found
    assert all(m.profile_match for m in found)


@pytest.mark.parametrize(
    "text",
    [
        f"9{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org",  # not a method digit: a longer number
        f"0{IMSI}",  # a method digit, but no NAI after it
        "35693803564380177",  # an IMEISV inside a longer number
        "urn:gsma:imei:35693803-564380-4",  # neither spare nor check digit
        "35-693803-564380-97",  # grouped, but continues into a longer number
        "135 693803 564380 9",
    ],
)
def test_telephony_forms_stay_whole_tokens(known: KnownValues, text: str) -> None:
    assert [m for m in known.scan(field(text)) if m.identifier in ("imei", "imsi")] == []


def test_iccid_as_the_sim_stores_it() -> None:
    """EF_ICCID (TS 102 221 13.2): nibble-swapped BCD, F filler, as a modem or an OTA
    client reports the raw file in hex."""
    known = KnownValues(DeviceProfile(values={"iccid": ("8947011234567890123",)}))
    (m,) = known.scan(field("ef_iccid=987410214365870921F3"))
    assert (m.value, m.form) == ("8947011234567890123", "tbcd-hex")


@pytest.mark.parametrize(
    ("imsi", "text"),
    [
        # TS 31.102 4.2.2: length 8, parity 9 (odd) in the first low nibble, then TBCD
        ("242011234567890", "ef_imsi=082924102143658709"),
        ("242011234567890", "imsi_raw=2924102143658709;"),
        ("24201123456789", "ef_imsi=0821241021436587F9"),  # 14 digits: parity 1, F filler
    ],
)
def test_imsi_as_the_sim_stores_it(imsi: str, text: str) -> None:
    known = KnownValues(DeviceProfile(values={"imsi": (imsi,)}))
    found = [m for m in known.scan(field(text)) if m.identifier == "imsi"]
    assert [(m.value, m.form) for m in found] == [(imsi, "tbcd-hex")]


def test_tbcd_of_the_phone_number() -> None:
    known = KnownValues(DeviceProfile(values={"msisdn": ("+4791234567",)}))
    packed = bytes.fromhex("7419325476")  # 47 91 23 45 67
    (m,) = [m for m in known.scan(field("\x91" + packed.decode("latin-1"))) if m.form == "tbcd"]
    assert m.value == "+4791234567"


@pytest.mark.parametrize("backend", available_backends())
def test_tbcd_with_nul_bytes_on_every_backend(backend: str) -> None:
    # "00" is the byte 0x00 in TBCD: a test-network IMSI starts with it, and an IMEISV
    # with software version 00 ends with it (found by fuzzing: hyperscan's literal API
    # cut the patterns at the NUL and reported matches one byte off)
    profile = DeviceProfile(values={"imsi": ("001010123456789",), "imei": (IMEI,)})
    known = KnownValues(profile, backend=backend)  # type: ignore[arg-type]
    imsi = bytes.fromhex("00010121436587f9")  # 00 10 10 12 34 56 78 9F, nibble-swapped
    imeisv = bytes.fromhex("5396833065340800")  # IMEI 35693803564380, SV 00
    text = "\x01" + imsi.decode("latin-1") + "\x4c\x00\x08\x00" + imeisv.decode("latin-1")
    got = {(m.identifier, m.form, m.start, m.end) for m in known.scan(field(text))}
    assert ("imsi", "tbcd", 1, 9) in got
    assert ("imei", "tbcd", 13, 21) in got
    # nothing one byte off
    assert {(s, e) for _, f, s, e in got if f == "tbcd"} == {(1, 9), (13, 21)}
