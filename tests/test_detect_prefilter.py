"""The engine's shortcuts: detectors skipped by their declared keys/needs, results reused.

Every shortcut must be invisible: a skipped detector would have found nothing, and a
reused result equals a fresh one. The reference is ``Engine(..., fast=False)``, which
calls every detector on every field and remembers nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome import simulate
from phonehome.context import Context
from phonehome.detect import MEMO_SIZE, PATTERN_DETECTORS, Detector, Engine, placeholders
from phonehome.detect.ad_id import AD_ID_KEYS
from phonehome.detect.android_id import ANDROID_ID_KEYS
from phonehome.detect.cell_id import CELL_CONTEXT_KEYS, CELL_KEYS, GENERIC_CELL_KEYS
from phonehome.detect.email import EMAIL_KEYS
from phonehome.detect.iccid import ICCID_KEYS
from phonehome.detect.imei import IMEI_KEYS
from phonehome.detect.imsi import IMSI_KEYS
from phonehome.detect.location import LAT_KEYS, LON_KEYS, POSITION_KEYS
from phonehome.detect.mac import MAC_KEYS
from phonehome.detect.matcher import Backend, Matcher, available_backends
from phonehome.detect.meid import MEID_KEYS
from phonehome.detect.msisdn import PHONE_KEYS
from phonehome.detect.profile import load_profile
from phonehome.detect.serial import SERIAL_KEYS
from phonehome.detect.validators import luhn_digit
from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile, Location
from phonehome.pipeline import iter_messages, open_all
from phonehome.protocols.registry import message_fields as fields
from tests.builders_detect import field
from tests.needs import need_module

PROFILE = DeviceProfile(
    values={
        "imei": ("352071026884283",),
        "mac": ("20:39:56:5c:7a:13",),
        "msisdn": ("+4743216007",),
        "email": ("kari.nordmann@example.no",),
        "cell_id": ("0x420230e",),
        "ad_id": ("f409f3d8-dbd7-40a3-8548-2877e348feb5",),
    },
    home_country="NO",
    locations=(Location(59.9139, 10.7522, 500.0),),
)

# Values each detector accepts, planted into random text below.
PLANTED = [
    "352071026884283",  # IMEI
    "3520710268842801",  # IMEISV
    "35207102688428",  # IMEI body / MEID
    "A0000012345678",  # CDMA MEID
    "242010676851628",  # IMSI (Telenor Norway)
    "8947011370479532051",  # ICCID
    "8947011370479532051F",
    "894701137047953201",  # 18 digits
    "+4743216007",  # phone numbers
    "+4791234567",
    "+86 138 0013 8000",
    "+6907290",  # the shortest E.164 form (Tokelau)
    "004743216007",
    "20:39:56:5c:7a:13",  # MAC
    "00-1a-11-22-33-44",
    "001a11223344",
    "001a.1122.3344",
    "kari.nordmann@example.no",  # e-mail
    "KARI@EXAMPLE.NO",
    "x@1.example.no",
    "59.9139,10.7522",  # location
    "59.91",
    "0x420230e",  # cell id
    "69403406",
    "efd55425e704b0c3",  # Android ID
    "f409f3d8-dbd7-40a3-8548-2877e348feb5",  # advertising id
]
KEYS = [
    None,
    "",
    "imei",
    "IMEI1",
    "device_id",
    "meid",
    "imsi",
    "SIM1LTEIMSI",
    "iccid",
    "SIM1ICCID",
    "phone",
    "msisdn",
    "mac",
    "wifi_mac",
    "MACID",
    "email",
    "lat",
    "gps_lat",
    "ll",
    "geo",
    "cellid",
    "SIM1CELLID",
    "cid",
    "android_id",
    "adid",
    "idfa",
    "q",
    "User-Agent",
]
SIBLINGS = [("lon", "10.7522"), ("lng", "10.75"), ("lac", "1234"), ("mcc", "242")]
ALPHABET = "0123456789abcdefABCDEFxX:-.@+ ,;=&/%_{}\"'"


def _luhn_number(prefix: str, length: int) -> st.SearchStrategy[str]:
    body = st.text("0123456789", min_size=length - len(prefix) - 1).map(
        lambda s: prefix + s[: length - len(prefix) - 1]
    )
    return body.filter(lambda b: len(b) == length - 1).map(lambda b: b + luhn_digit(b))


PLACEHOLDERS = [
    "02:00:00:00:00:00",
    "00-00-00-00-00-00",
    "00000000-0000-0000-0000-000000000000",
    "000000000000000",
    "004999010640000",
    "358240051111110",
    "0000000000000000",
    "9774d56d682e549c",
    " \x1c\t",  # whitespace before a value: str.strip() takes \x1c, hyperscan's \s does not
    "1234@nai.epc.mnc001.mcc001.3gppnetwork.org",
]
"""Values that are counted as "not identifiers" (``detect.placeholders``)."""

pieces = st.one_of(
    st.text(ALPHABET, max_size=24),
    st.sampled_from(PLANTED),
    st.sampled_from(PLACEHOLDERS),
    _luhn_number("35", 15),  # random valid IMEIs
    _luhn_number("89", 18),  # random valid ICCIDs
    _luhn_number("89", 20),
    st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    st.from_regex(r"([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}", fullmatch=True),
)
texts = st.lists(pieces, max_size=5).map("".join)
KEY_GRAMMARS = [
    IMEI_KEYS,
    MEID_KEYS,
    IMSI_KEYS,
    ICCID_KEYS,
    PHONE_KEYS,
    MAC_KEYS,
    EMAIL_KEYS,
    LAT_KEYS,
    LON_KEYS,
    POSITION_KEYS,
    CELL_KEYS,
    GENERIC_CELL_KEYS,
    CELL_CONTEXT_KEYS,
    ANDROID_ID_KEYS,
    AD_ID_KEYS,
]
"""The key regexes the detectors' ``scan`` methods test (not their declared ``keys``)."""
keys = st.one_of(
    st.sampled_from(KEYS),
    st.sampled_from(KEY_GRAMMARS).flatmap(lambda rx: st.from_regex(rx, fullmatch=True)),
    st.text("abcdefimslx_-0123456789", max_size=12),
)
siblings = st.lists(st.sampled_from(SIBLINGS), max_size=3, unique=True).map(tuple)


@st.composite
def fields_(draw: st.DrawFn) -> Field:
    return Field(draw(texts), "test", (), draw(keys), draw(siblings))


PROFILES = {"none": None, "profile": PROFILE}
FAST = {name: Engine(p, gate_after=0) for name, p in PROFILES.items()}
REFERENCE = {name: Engine(p, fast=False) for name, p in PROFILES.items()}


@settings(max_examples=600, deadline=None)
@given(fields_())
def test_a_skipped_detector_would_have_found_nothing(f: Field) -> None:
    engine = FAST["none"]
    chosen = engine.selected(f)
    for detector in engine.patterns:
        if detector not in chosen:
            assert detector.scan(f) == [], detector.id


@settings(max_examples=400, deadline=None)
@given(fields_(), st.sampled_from(sorted(PROFILES)), siblings)
def test_engine_with_shortcuts_finds_what_the_reference_finds(
    f: Field, profile: str, other_siblings: tuple[tuple[str, str], ...]
) -> None:
    # twice: the second answer may come from the memo, which must not reuse an answer
    # that depended on siblings the repeat does not have
    assert FAST[profile].scan(f) == REFERENCE[profile].scan(f)
    again = Field(f.text, "other", ("base64",), f.key, other_siblings, f.context)
    assert FAST[profile].scan(again) == REFERENCE[profile].scan(again)
    # and the same values dismissed as placeholders (both saw the same fields so far)
    assert FAST[profile].not_identifiers == REFERENCE[profile].not_identifiers


@pytest.mark.parametrize("context_first", [True, False])
def test_the_memo_tells_sibling_contexts_apart(context_first: bool) -> None:
    """A bare ``cid`` is a cell ID only beside a LAC/TAC/MCC/MNC: the answer for one
    sibling set must not be reused for the other."""
    engine = Engine(None)
    contexts = [(("lac", "1234"),), (("foo", "bar"),)]
    for siblings in contexts if context_first else contexts[::-1]:
        found = engine.scan(Field("69403406", "query:cid", (), "cid", siblings))
        assert [m.identifier for m in found] == (["cell_id"] if siblings[0][0] == "lac" else [])


def test_the_memo_serves_a_repeated_header_beside_other_headers() -> None:
    engine = Engine(PROFILE)
    text = "okhttp/4.9 (352071026884283)"
    first = engine.scan(Field(text, "http.header:User-Agent", (), "User-Agent", (("host", "a"),)))
    assert (text, "User-Agent") in engine._memo
    again = Field(text, "http.header:User-Agent", (), "User-Agent", (("host", "b"),))
    found = engine.scan(again)
    assert [m.field for m in found] == [again]
    assert [(m.value, m.start, m.end) for m in found] == [(m.value, m.start, m.end) for m in first]


OWN_KEYS_AND_VALUES = {
    "PH-IMEI": ([IMEI_KEYS], ["352071026884283", "3520710268842801"]),
    "PH-MEID": ([MEID_KEYS], ["35207102688428", "A0000012345678"]),
    "PH-IMSI": ([IMSI_KEYS], ["242010676851628"]),
    "PH-ICCID": ([ICCID_KEYS], ["8947011370479532051", "894701137047953201"]),
    "PH-MSISDN": ([PHONE_KEYS], ["+4791234567", "91234567", "+6907290"]),
    "PH-MAC": ([MAC_KEYS], ["20:39:56:5c:7a:13", "001a11223344", "001a.1122.3344"]),
    "PH-EMAIL": ([EMAIL_KEYS], ["kari.nordmann@example.no", "X@1.EXAMPLE.NO"]),
    "PH-LOCATION": ([LAT_KEYS, POSITION_KEYS], ["59.9139", "59.9139,10.7522"]),
    "PH-CELLID": ([CELL_KEYS, GENERIC_CELL_KEYS], ["0x420230e", "69403406"]),
    "PH-ANDROIDID": ([ANDROID_ID_KEYS], ["efd55425e704b0c3"]),
    "PH-ADID": ([AD_ID_KEYS], ["f409f3d8-dbd7-40a3-8548-2877e348feb5"]),
    "PH-SERIAL": ([SERIAL_KEYS], ["R58M123ABCD", "SN-2019-0045871"]),
}
"""Per detector: the key grammars its ``scan`` tests and values it accepts."""


@pytest.mark.parametrize("detector_id", sorted(OWN_KEYS_AND_VALUES))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_detector_is_not_skipped_under_its_own_keys(
    detector_id: str, data: st.DataObject
) -> None:
    grammars, values = OWN_KEYS_AND_VALUES[detector_id]
    key = data.draw(st.sampled_from(grammars).flatmap(lambda rx: st.from_regex(rx, fullmatch=True)))
    key = data.draw(st.sampled_from([key, key.upper(), f"X-{key}", f"{key[:1]}_{key[1:]}"]))
    text = data.draw(st.sampled_from(values)) if data.draw(st.booleans()) else data.draw(texts)
    f = Field(text, "test", (), key, data.draw(siblings))
    engine = FAST["none"]
    [detector] = [d for d in engine.patterns if d.id == detector_id]
    if detector not in engine.selected(f):
        assert detector.scan(f) == []


HITS = [
    ("PH-IMEI", field("imei=352071026884283")),
    ("PH-IMEI", field("3520710268842801", "imeisv")),
    ("PH-MEID", field("A0000012345678", "meid")),
    ("PH-IMSI", field("242010676851628", "SIM1LTEIMSI")),
    ("PH-ICCID", field("8947011370479532051")),
    ("PH-ICCID", field("894701137047953201")),
    ("PH-ICCID", field("89470113704795320001")),
    ("PH-MSISDN", field("call +4791234567")),
    ("PH-MSISDN", field("+6907290")),
    ("PH-MSISDN", field("+86 138 0013 8000", "msisdn")),
    ("PH-MAC", field("20:39:56:5c:7a:13")),
    ("PH-MAC", field("00-1a-11-22-33-44")),
    ("PH-MAC", field("001a11223344", "macid")),
    ("PH-EMAIL", field("kari.nordmann@example.no")),
    ("PH-LOCATION", field("59.9139", "lat", lon="10.7522")),
    ("PH-LOCATION", field("59.9139,10.7522", "ll")),
    ("PH-CELLID", field("0x420230e", "SIM1CELLID")),
    ("PH-CELLID", field("69403406", "cid", lac="1234")),
    ("PH-ANDROIDID", field("efd55425e704b0c3", "android_id")),
    ("PH-ADID", field("f409f3d8-dbd7-40a3-8548-2877e348feb5", "adid")),
    ("PH-SERIAL", field("R58M123ABCD", "ro.serialno")),
]


@pytest.mark.parametrize(("detector", "f"), HITS)
def test_a_field_the_detector_hits_is_never_skipped(detector: str, f: Field) -> None:
    engine = Engine(None)
    by_id = {d.id: d for d in engine.patterns}
    assert by_id[detector].scan(f), "the table entry must be a hit"
    assert detector in [d.id for d in engine.selected(f)]
    assert detector in [m.detector for m in engine.scan(f)]


MISSES = [
    field("googleapis"),
    field("www.example.com"),
    field("/v1/ping"),
    field("okhttp/4.9.3", "User-Agent"),
    field("1700000000123"),  # 13 digits: no IMEI/ICCID run
    field("a-b-c", "q"),
    field("+47 4321", "q"),  # '+' but no 7 digits after it
]


@pytest.mark.parametrize("f", MISSES)
def test_fields_no_pattern_detector_can_hit_call_none(f: Field) -> None:
    assert Engine(None).selected(f) == ()


def test_every_pattern_detector_declares_when_it_can_hit() -> None:
    """A detector without keys or needs runs on every field: allowed, but none of ours."""
    for cls in PATTERN_DETECTORS:
        assert cls.keys is not None or cls.needs is not None, cls.id


def test_a_detector_without_declarations_runs_everywhere() -> None:
    # the base class declares neither (a compiled class cannot be subclassed in a test)
    engine = Engine(None)
    engine.patterns.append(Detector())
    engine._keyed.clear()
    assert engine.selected(field("www")) == (engine.patterns[-1],)


def test_a_reused_result_carries_the_new_field() -> None:
    engine = Engine(PROFILE)
    first = field("352071026884283")
    second = Field("352071026884283", "http.path:segment[0]", ("hex",))
    [a] = engine.scan(first)
    [b] = engine.scan(second)
    assert (a.field, b.field) == (first, second)
    assert b == Match(
        a.detector,
        a.identifier,
        a.value,
        a.start,
        a.end,
        a.confidence,
        a.profile_match,
        second,
        a.form,
        a.more,
    )


@pytest.mark.parametrize("bare_first", [True, False])
def test_the_memo_tells_keys_apart(bare_first: bool) -> None:
    """An IMEISV counts only under an IMEI key: one answer must not be reused for the other."""
    engine = Engine(None)
    for bare in (bare_first, not bare_first):
        found = engine.scan(field("3520710268842801", None if bare else "imeisv"))
        assert [m.value for m in found] == ([] if bare else ["352071026884283"])


def test_the_memo_is_bounded() -> None:
    engine = Engine(PROFILE)
    n = MEMO_SIZE * 3 + 100
    for i in range(n):
        engine.scan(field(f"label{i}"))
        assert len(engine._memo) <= MEMO_SIZE
    assert len(engine._memo) == (n - 1) % MEMO_SIZE + 1  # forgotten at once when full


@pytest.mark.parametrize("scenario", ["nokia7plus", "encodings"])
def test_simulated_captures_give_the_same_matches_on_every_field(
    tmp_path: Path, scenario: str
) -> None:
    pcap = tmp_path / "c.pcap"
    simulate.run(scenario, pcap, seed=3)
    profile, _ = load_profile(pcap.with_name("c.device.toml"))
    fast, reference, batched = Engine(profile), Engine(profile, fast=False), Engine(profile)
    ctx = Context()
    n = hits = 0
    for msg in iter_messages(open_all([str(pcap)]), ctx):
        if msg.direction != "out":
            continue
        expected: list[Match] = []
        for f in fields(msg):
            got = fast.scan(f)
            assert got == reference.scan(f), f.where
            expected += got
            n += 1
            hits += bool(got)
        # a message's fields searched together, as a scan does
        assert batched.scan_many(fields(msg)) == expected
    assert n > 100 and hits > 10


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize(
    ("text", "expected"),
    [("", []), ("abc", []), ("abcd", [(0, 4, 1)]), ("ABCDEF", [(0, 4, 1), (0, 6, 2)])],
)
def test_the_matcher_skips_only_texts_shorter_than_every_pattern(
    backend: Backend, text: str, expected: list[tuple[int, int, int]]
) -> None:
    matcher = Matcher([("abcdef", 2), ("abcd", 1)], caseless=True, backend=backend)
    assert matcher.shortest == 4
    assert matcher.scan(text) == expected


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("59.9139,10.7522", True),  # degrees and dot
        ("599139000,107522000", True),  # scaled 1e7: first four digits
        ("[10.7522, 59.9140]", True),  # GeoJSON order
        ("58.9139,10.7522", False),
        ("10.7522", False),
    ],
)
def test_known_locations_are_looked_for_only_near_their_latitude(text: str, hit: bool) -> None:
    found = Engine(PROFILE).scan(field(text))
    assert ("location" in [m.identifier for m in found]) is hit
    assert found == Engine(PROFILE, fast=False).scan(field(text))


# -- one search of the profile's values for a message's fields ----------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(fields_(), min_size=1, max_size=12),
    st.sampled_from(available_backends()),
)
def test_fields_searched_together_match_as_searched_one_by_one(
    batch: list[Field], backend: Backend
) -> None:
    together = Engine(PROFILE, backend=backend).scan_many(batch)
    one_by_one = Engine(PROFILE, backend=backend, fast=False)
    assert together == [m for f in batch for m in one_by_one.scan(f)]


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize(
    ("texts", "found"),
    [
        # a value split over two fields is in neither
        (["imei=35207102", "6884283"], []),
        (["3520710268842", "83"], []),
        # one field ending and the next starting with it: both, at their own offsets
        (["x 352071026884283", "352071026884283 y"], [(0, 2, 17), (1, 0, 15)]),
        # offsets stay per field after a field that is not ASCII
        (["Größe ü", "a 352071026884283"], [(1, 2, 17)]),
        # an empty field in between holds nothing and moves nothing
        (["", "352071026884283"], [(1, 0, 15)]),
        # the Base64 of the value inside a longer Base64 text
        (["MzUyMDcxMDI2ODg0Mjgz", "eA=="], [(0, 0, 20)]),
    ],
)
def test_a_value_is_found_only_inside_one_field(
    backend: Backend, texts: list[str], found: list[tuple[int, int, int]]
) -> None:
    batch = [Field(t, f"http.query:p{i}") for i, t in enumerate(texts)]
    matches = Engine(PROFILE, backend=backend).scan_many(batch)
    got = [(batch.index(m.field), m.start, m.end) for m in matches if m.identifier == "imei"]
    assert got == found


def test_a_large_message_is_searched_in_bounded_batches() -> None:
    """Fields beyond one batch's characters go to the next search, found all the same."""
    from phonehome.detect.engine import BATCH_TEXT

    filler = "a" * 1000
    batch = [Field(filler if i % 50 else "352071026884283", f"p{i}") for i in range(200)]
    assert sum(len(f.text) for f in batch) > 2 * BATCH_TEXT
    matches = Engine(PROFILE).scan_many(batch)
    assert [m.field.where for m in matches if m.identifier == "imei"] == [
        f"p{i}" for i in range(0, 200, 50)
    ]


# -- the hyperscan gate: "no detector's needs" in one call ---------------------------------


NEEDS = [d.needs.pattern for d in Engine(None).patterns if d.needs is not None]
"""The detectors' ``needs`` and, last, the placeholders' (the gate tests them together)."""
GATE = [*NEEDS, placeholders.NEEDS_HYPERSCAN]
GATE_REFERENCE = [*NEEDS, placeholders.NEEDS.pattern]
GATE_ALPHABET = ALPHABET + "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x00sSiIpPuUrRnNgGmMoO3"
gate_texts = st.lists(
    st.one_of(
        st.text(GATE_ALPHABET, max_size=24),
        st.sampled_from(["sip:", "SIPS:", "urn:gsma:imei:", "3GPPnetwork.org", "@", "89"]),
        st.sampled_from(["02:00:00", "00-00-00", "00000000", "004999", "9774d56d682e549c"]),
        st.sampled_from(PLANTED),
    ),
    max_size=6,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(gate_texts)
def test_the_hyperscan_gate_leaves_out_only_what_re_finds_nowhere(text: str) -> None:
    from phonehome.detect.matcher import needed

    need_module("hyperscan")
    candidates = needed(GATE)
    assert candidates is not None
    found = set(candidates(text))
    assert found <= set(range(len(GATE)))
    for i, n in enumerate(GATE_REFERENCE):
        if i not in found:
            assert re.search(n, text) is None, (n, text)


@pytest.mark.parametrize(
    ("text", "none"),
    [
        ("plain words, no digits", True),
        ("352071026884283", False),
        ("sip:alice@example.com", False),
        ("sip:al\x1cice@example.com", False),  # re refuses \x1c as whitespace; superset
        ("x" * 5000, True),
    ],
)
def test_the_hyperscan_gate_on_edges(text: str, none: bool) -> None:
    from phonehome.detect.matcher import needed

    need_module("hyperscan")
    gate = needed(NEEDS)
    assert gate is not None and (not gate(text)) is none


@pytest.mark.parametrize(
    "text",
    [
        "0000000000000000",
        " \t00000000-0000-0000-0000-000000000000",
        "\x1c\x1f00000000",  # whitespace to re and str.strip, not to hyperscan's \s
        "aa:02:00:00:00:00:00",
        "id@wlan.mnc001.mcc001.3gppnetwork.org",
    ],
)
def test_the_hyperscan_gate_finds_placeholders_where_re_does(text: str) -> None:
    from phonehome.detect.matcher import needed

    need_module("hyperscan")
    gate = needed(GATE)
    assert placeholders.NEEDS.search(text) is not None
    assert gate is not None and len(GATE) - 1 in gate(text)


def test_no_gate_where_hyperscan_cannot_compile_the_needs() -> None:
    from phonehome.detect.matcher import needed

    need_module("hyperscan")
    assert needed(["(?<=a)b"]) is None


def test_the_hyperscan_gate_is_compiled_only_for_many_fields() -> None:
    need_module("hyperscan")
    engine = Engine(None, gate_after=3)
    for i in range(3):
        engine.selected(field(f"word{i}"))
    assert engine._needed is None
    engine.selected(field("word3"))
    assert engine._needed is not None
    assert engine.selected(field("x@y.example")) == engine.selected(field("x@y.example"))


def test_the_hyperscan_gate_is_compiled_for_a_few_long_fields() -> None:
    """A few bodies of a megabyte each cost ``re`` ~30 ms apiece: compile it for them."""
    from phonehome.detect.engine import GATE_AFTER_CHARS

    need_module("hyperscan")
    engine = Engine(None)
    engine.selected(field("A" * (GATE_AFTER_CHARS // 2)))
    assert engine._needed is None
    engine.selected(field("A" * GATE_AFTER_CHARS))
    assert engine._needed is not None
