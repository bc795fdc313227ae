"""IMEI pattern detector: Luhn + reporting body, whole tokens, IMEISV only under a key."""

from __future__ import annotations

import re

import pytest

from phonehome.detect import Engine
from phonehome.detect.imei import ImeiDetector, plausible_imei
from tests.builders_detect import field, fixture_payloads, values

HITS = [
    ("356938035643809", None, "356938035643809"),
    ('{"IMEI1":"490154203237518","IMEI2":""}', None, "490154203237518"),
    ("imei=861074031234563&os=9", None, "861074031234563"),
    ("990008624567892", "IMEI1", "990008624567892"),
    ("352099001761481", "device_id", "352099001761481"),
    ("012345678901237", "deviceId", "012345678901237"),
    ("ID352099001761481", None, "352099001761481"),  # a label before it, not a hex run
    ("3569380356438001", "imeisv", "356938035643809"),  # IMEISV -> its IMEI
    ("3520990017614815", "IMEI", "352099001761481"),
]

MISSES = [
    ("350672920106648", "device_id"),  # the malware check-in's device_id: fails Luhn
    ('{"device_id":"350672920106648"}', None),
    ("a1f3356938035643809bc2", None),  # Luhn-valid run inside a hex string
    ("0x00000356938035643809", None),
    ("3569380356438091", None),  # 16 digits, no key: not an IMEISV
    ("13569380356438090", None),  # inside a longer run
    ("1700000000000", "imei"),  # ms timestamp
    ("1700000000000000", "imei"),  # µs timestamp
    ("150000000000008", None),  # Luhn-valid, epoch-shaped, no reporting body 15
    ("001010000000008", "imei"),  # test IMEI (reporting body 00)
    ("35693803564380", "imei"),  # 14 digits
    ("356938035643809", "imeisv_hash"),  # fine bare, but check the key table is tight
]


@pytest.mark.parametrize(("text", "key", "expected"), HITS)
def test_hits(text: str, key: str | None, expected: str) -> None:
    assert values(ImeiDetector().scan(field(text, key))) == [expected]


@pytest.mark.parametrize(("text", "key"), MISSES[:-1])
def test_misses(text: str, key: str | None) -> None:
    assert ImeiDetector().scan(field(text, key)) == []


def test_key_raises_confidence_and_span_is_the_digits() -> None:
    bare = ImeiDetector().scan(field("x 356938035643809 y"))[0]
    keyed = ImeiDetector().scan(field("356938035643809", "IMEI1"))[0]
    assert (bare.start, bare.end, bare.form, bare.profile_match) == (2, 17, "pattern", False)
    assert keyed.confidence > bare.confidence
    assert keyed.detector == "PH-IMEI" and keyed.identifier == "imei"


def test_unrelated_key_does_not_count_as_imei_key() -> None:
    unkeyed = ImeiDetector().scan(field(*MISSES[-1]))
    assert unkeyed and unkeyed[0].confidence < 0.9


def test_fixture_dropper_checkin_has_no_imei() -> None:
    texts = fixture_payloads("android_dropper_checkin.pcap")
    assert any("350672920106648" in t for t in texts)
    engine = Engine(None)
    assert [m for t in texts for m in engine.scan(field(t)) if m.identifier == "imei"] == []


def test_fixture_mining_hex_strings_have_no_imei() -> None:
    texts = fixture_payloads("fp_trap_mining.pcapng")
    runs = [m.group(1) for t in texts for m in re.finditer(r"(?=([0-9]{15}))", t)]
    assert any(plausible_imei(r) for r in runs)  # the trap is there
    engine = Engine(None)
    assert [m for t in texts for m in engine.scan(field(t)) if m.identifier == "imei"] == []
