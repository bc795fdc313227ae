"""Linear span arithmetic (detect.spans, findings.best_matches) against the pairwise
definitions it replaced, and the per-value cap.

The pairwise versions below are the code as it was before issue 18, kept verbatim as the
reference: they define what is kept; the new code must keep exactly the same, in the
same order, on any set of matches (hypothesis draws overlapping spans, shared values,
nested places and encodings).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome import findings
from phonehome.detect import Engine, spans
from phonehome.findings import best_matches
from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile
from tests.builders_detect import field

IMEI = "356938035643809"
IMEI2 = "490154203237518"


# --- the reference: pairwise, as before -------------------------------------------------


def _overlap(a: Match, b: Match) -> bool:
    return a.start < b.end and b.start < a.end


def ref_widest(matches: list[Match]) -> list[Match]:
    return [
        m
        for m in matches
        if not any(
            o is not m
            and o.identifier == m.identifier
            and o.value == m.value
            and o.start <= m.start
            and m.end <= o.end
            and (o.end - o.start) > (m.end - m.start)
            for o in matches
        )
    ]


def _part(where: str) -> str:
    return where.split(":", 1)[0]


def _deeper(a: Match, b: Match) -> bool:
    fa, fb = a.field, b.field
    if _part(fa.where) != _part(fb.where):
        return False
    if fb.where != _part(fb.where) and not fa.where.startswith(fb.where):
        return False
    da, db = len(fa.encoding), len(fb.encoding)
    if da != db:
        return da > db
    if len(fa.where) != len(fb.where):
        return len(fa.where) > len(fb.where)
    if a.profile_match != b.profile_match:
        return a.profile_match
    return (a.form == "plain") and (b.form != "plain")


def ref_prefer_exact(matches: list[Match]) -> list[Match]:
    exact = {
        (m.field.where, m.field.encoding, m.start, m.end)
        for m in matches
        if m.profile_match and m.form == "plain"
    }
    if exact:
        matches = [
            m
            for m in matches
            if m.form == "plain" or (m.field.where, m.field.encoding, m.start, m.end) not in exact
        ]
    return [m for m in matches if not any(_ref_covers(o, m) for o in matches if o is not m)]


def _ref_covers(o: Match, m: Match) -> bool:
    """A match inside a wider one of its field is dropped, except the profile's own value
    inside a pattern match: then the wider pattern match is dropped instead."""
    if o.field is not m.field:
        return False
    o_in_m = m.start <= o.start and o.end <= m.end and m.end - m.start > o.end - o.start
    m_in_o = o.start <= m.start and m.end <= o.end and o.end - o.start > m.end - m.start
    if o_in_m:
        return o.profile_match and not m.profile_match
    return m_in_o and not (m.profile_match and not o.profile_match)


def ref_best_matches(matches: list[Match]) -> list[Match]:
    return _ref_deepest(matches)[1]


def _ref_deepest(matches: list[Match]) -> tuple[list[Match], list[Match]]:
    """(the deepest matches before the per-place dedupe, after it)."""
    if len(matches) < 2:
        return matches, matches
    matches = ref_prefer_exact(matches)
    groups: dict[tuple[str, str], list[Match]] = {}
    for m in matches:
        groups.setdefault((m.identifier, m.value), []).append(m)
    out: list[Match] = []
    for group in groups.values():
        if len(group) == 1:
            out.extend(group)
            continue
        for m in group:
            if not any(_deeper(o, m) for o in group if o is not m):
                out.append(m)
    seen: set[tuple[str, str, str, tuple[str, ...]]] = set()
    uniq: list[Match] = []
    for m in out:
        k = (m.identifier, m.value, m.field.where, m.field.encoding)
        if k not in seen:
            seen.add(k)
            uniq.append(m)
    return out, uniq


# --- strategies ---------------------------------------------------------------------------

PLACES = [
    "http.body",
    "http.body:$.a",
    "http.body:$.a>$.b",
    "http.body:$.ab",
    "http.body:imei",
    "http.query",
    "http.query:imei",
    "http.query:imei>x",
    "dns.qname",
    "dns.qname:label[0]",
]
ENCODINGS: list[tuple[str, ...]] = [(), ("json",), ("base64",), ("base64", "json"), ("form",)]


@st.composite
def match_sets(draw: st.DrawFn) -> list[Match]:
    fields = [
        Field("x" * 64, draw(st.sampled_from(PLACES)), draw(st.sampled_from(ENCODINGS)))
        for _ in range(draw(st.integers(1, 5)))
    ]
    out = []
    for _ in range(draw(st.integers(0, 30))):
        start = draw(st.integers(0, 20))
        end = start + draw(st.integers(1, 15))
        ident = draw(st.sampled_from(["imei", "meid"]))
        out.append(
            Match(
                draw(st.sampled_from(["PH-KNOWN", "PH-IMEI"])),
                ident,
                draw(st.sampled_from([IMEI, IMEI2])),
                start,
                end,
                1.0,
                draw(st.booleans()),
                draw(st.sampled_from(fields)),
                draw(st.sampled_from(["plain", "base64", "imei-body", "pattern"])),
            )
        )
    return out


def _ids(ms: list[Match]) -> list[int]:
    return [id(m) for m in ms]


@settings(max_examples=400, deadline=None)
@given(match_sets())
def test_widest_keeps_what_the_pairwise_version_kept(matches: list[Match]) -> None:
    from phonehome.detect.engine import _widest

    assert _ids(_widest(matches)) == _ids(ref_widest(matches))


@pytest.mark.parametrize("small", [0, findings.SMALL], ids=["sweep", "pairwise-below-small"])
@settings(max_examples=300, deadline=None)
@given(matches=match_sets())
def test_best_matches_keeps_what_the_pairwise_version_kept(
    small: int, matches: list[Match]
) -> None:
    old_small = findings.SMALL
    findings.SMALL = small  # not a compiled module: the threshold is a plain global
    try:
        new = best_matches(matches)
    finally:
        findings.SMALL = old_small
    ref = ref_best_matches(matches)
    # same matches in the same order; ``more`` counts what the dedupe folded into each
    assert [m.with_more(0) for m in new] == ref
    # and every deepest occurrence is either kept or counted on the one kept for its place
    assert sum(1 + m.more for m in new) == len(_ref_deepest(matches)[0])


def test_inside_wider_ignores_identical_spans() -> None:
    assert spans.inside_wider([(0, 5), (0, 5), (1, 3), (0, 3), (5, 9)]) == [
        False,
        False,
        True,
        True,
        False,
    ]


def test_intervals_overlap() -> None:
    iv = spans.Intervals([(10, 20), (0, 3), (30, 31)])
    assert iv.overlaps(2, 5) and iv.overlaps(19, 40) and iv.overlaps(30, 31)
    assert not iv.overlaps(3, 10) and not iv.overlaps(20, 30) and not iv.overlaps(31, 99)
    assert not spans.Intervals([]).overlaps(0, 100)


# --- the cap -----------------------------------------------------------------------------


def test_a_repeated_value_keeps_the_cap_and_counts_the_rest() -> None:
    text = f"imei={IMEI}&" * 2400
    found = Engine(DeviceProfile(values={"imei": (IMEI,)})).scan(field(text))
    assert len(found) == spans.MAX_PER_VALUE
    assert sum(1 + m.more for m in found) == 2400
    assert found[-1].more == 2400 - spans.MAX_PER_VALUE
    assert [m.start for m in found] == [5 + 21 * i for i in range(spans.MAX_PER_VALUE)]


def test_the_cap_is_per_value_so_a_second_value_is_still_found() -> None:
    text = f"{IMEI} " * 100 + IMEI2 + " " + f"{IMEI} " * 100
    found = Engine(DeviceProfile(values={"imei": (IMEI, IMEI2)})).scan(field(text))
    assert [m.value for m in found].count(IMEI2) == 1
    assert sum(1 + m.more for m in found if m.value == IMEI) == 200


def test_pattern_detectors_are_capped_per_value_too() -> None:
    text = ",".join([IMEI] * 500 + [IMEI2] * 3)
    found = Engine(None).scan(field(text))
    by_value = {v: [m for m in found if m.value == v] for v in (IMEI, IMEI2)}
    assert len(by_value[IMEI]) == spans.MAX_PER_VALUE
    assert sum(1 + m.more for m in by_value[IMEI]) == 500
    assert len(by_value[IMEI2]) == 3 and all(m.more == 0 for m in by_value[IMEI2])


def test_distinct_values_are_not_capped() -> None:
    # 2,000 distinct Luhn-valid IMEIs: every one is a match of its own
    def luhn(body: str) -> str:
        total = 0
        for i, ch in enumerate(reversed(body)):
            d = int(ch) * (2 if i % 2 == 0 else 1)
            total += d - 9 if d > 9 else d
        return body + str((10 - total % 10) % 10)

    imeis = [luhn(f"35693803{i:06d}") for i in range(2000)]
    found = Engine(None).scan(field(" ".join(imeis)))
    assert sorted(m.value for m in found) == sorted(imeis)


def test_best_matches_counts_repeated_places_of_one_message() -> None:
    # a form body with the same key 2,400 times: 2,400 leaf fields at one place
    leaves = [Field(IMEI, "http.body:imei", ("form",), "imei") for _ in range(2400)]
    raw = Field(f"imei={IMEI}&" * 2400, "http.body")
    matches = [Match("PH-KNOWN", "imei", IMEI, 0, 15, 1.0, True, f) for f in leaves]
    matches += Engine(DeviceProfile(values={"imei": (IMEI,)})).scan(raw)
    [best] = best_matches(matches)
    assert best.field.where == "http.body:imei"
    assert best.more == 2399


def test_nested_spellings_beyond_the_known_cap_are_not_counted_twice() -> None:
    # +4791234567 holds the national 4791234567 and 91234567: counted once per occurrence
    profile = DeviceProfile(home_country="NO", values={"msisdn": ("+4791234567",)})
    found = Engine(profile).scan(field("tel=+4791234567;" * 300))
    assert {m.form for m in found} == {"plain"}
    assert sum(1 + m.more for m in found) == 300


def test_base64_occurrences_beyond_the_known_cap_are_counted_once() -> None:
    import base64

    text = base64.b64encode(f"x={IMEI}\n".encode() * 3000).decode()
    found = Engine(DeviceProfile(values={"imei": (IMEI,)})).scan(field(text))
    assert sum(1 + m.more for m in found) == 3000


def test_a_bssid_is_not_also_the_device_mac() -> None:
    """``{"bssid": "c8:0e:14:a2:91:f0"}``: the raw body, searched whole, shows the MAC
    without its key; the leaf under ``bssid`` says it is the access point's."""
    body = '{"bssid": "c8:0e:14:a2:91:f0"}'
    raw = Field(body, "http.body", ())
    leaf = Field("c8:0e:14:a2:91:f0", "http.body:$.bssid", ("json",), "bssid")
    engine = Engine(None)
    found = best_matches(engine.scan(raw) + engine.scan(leaf))
    assert [(m.identifier, m.field.where) for m in found] == [("bssid", "http.body:$.bssid")]
    # the profile's own MAC stays, whatever a key calls it
    profile = DeviceProfile(values={"mac": ("c8:0e:14:a2:91:f0",)})
    engine = Engine(profile)
    found = best_matches(engine.scan(raw) + engine.scan(leaf))
    assert {(m.identifier, m.profile_match) for m in found} >= {("mac", True)}
