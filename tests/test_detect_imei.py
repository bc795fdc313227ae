"""IMEI pattern detector: Luhn + reporting body, whole tokens, IMEISV only under a key."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.detect import Engine
from phonehome.detect.imei import ImeiDetector, plausible_imei
from phonehome.detect.validators import luhn_digit, luhn_ok
from tests.builders_detect import Case, field, fixture_payloads, hit, miss

CASES = [
    miss("358240051111110"),  # the Android emulator's IMEI: valid, and everyone's
    miss('{"imei":"358240051111110"}'),
    miss("urn:gsma:imei:35824005-111111-0"),
    hit("356938035643809", value="356938035643809"),
    hit('{"IMEI1":"490154203237518","IMEI2":""}', value="490154203237518"),
    hit("imei=861074031234563&os=9", value="861074031234563"),
    hit("990008624567892", "IMEI1", value="990008624567892"),
    hit("352099001761481", "device_id", value="352099001761481"),
    hit("012345678901237", "deviceId", value="012345678901237"),
    hit("ID352099001761481", value="352099001761481"),  # a label before it, not a hex run
    hit("3569380356438001", "imeisv", value="356938035643809"),  # IMEISV -> its IMEI
    hit("3520990017614815", "IMEI", value="352099001761481"),
    miss("350672920106648", "device_id"),  # the malware check-in's device_id: fails Luhn
    miss('{"device_id":"350672920106648"}'),
    miss("a1f3356938035643809bc2"),  # Luhn-valid run inside a hex string
    miss("0x00000356938035643809"),
    miss("3569380356438091"),  # 16 digits, no key: not an IMEISV
    miss("13569380356438090"),  # inside a longer run
    miss("1700000000000", "imei"),  # ms timestamp
    miss("1700000000000000", "imei"),  # µs timestamp
    miss("150000000000008"),  # Luhn-valid, epoch-shaped, no reporting body 15
    miss("001010000000008", "imei"),  # test IMEI (reporting body 00)
    miss("35693803564380", "imei"),  # 14 digits
    # RFC 7254 URN (VoLTE +sip.instance): spare digit 0 or the check digit, any key
    hit("<urn:gsma:imei:35693803-564380-0>", value="356938035643809"),
    hit("urn:gsma:imei:35693803-564380-9;svn=01", value="356938035643809"),
    hit("URN:GSMA:IMEI:35693803-564380-0", value="356938035643809"),
    miss("urn:gsma:imei:35693803-564380-4"),  # neither spare nor check digit
    miss("urn:gsma:imei:00693803-564380-0"),  # no reporting body
    miss("urn:gsma:imei:35693803-5643801-0"),
    miss("35693803-564380-0"),  # dashed without the URN: only a profile value
    # grouped as a label prints it, only under an IMEI key
    hit("35-693803-564380-9", "imei", value="356938035643809"),
    hit("IMEI: 35 693803 564380 9", "IMEI1", value="356938035643809"),
    hit("35693803-564380-9", "deviceId", value="356938035643809"),
    hit("35693803 564380 9", "imei", value="356938035643809"),
    miss("35-693803-564380-9"),  # no key: four digit groups are too common
    miss("35-693803 564380-9", "imei"),  # mixed separators
    miss("35-693803-564380-4", "imei"),  # Luhn fails
    miss("35-693803-564380-91", "imei"),  # a longer last group
    miss("00-693803-564380-9", "imei"),  # no reporting body
]


def test_urn_form() -> None:
    (m,) = ImeiDetector().scan(field("+sip.instance=<urn:gsma:imei:35693803-564380-0>"))
    assert (m.form, m.confidence) == ("urn", 0.95)


# A hit bare, with low confidence; a key that only contains "imei" must not raise it.
UNRELATED_KEY = field("356938035643809", "imeisv_hash")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(ImeiDetector)


def test_key_raises_confidence_and_span_is_the_digits() -> None:
    bare = ImeiDetector().scan(field("x 356938035643809 y"))[0]
    keyed = ImeiDetector().scan(field("356938035643809", "IMEI1"))[0]
    assert (bare.start, bare.end, bare.form, bare.profile_match) == (2, 17, "pattern", False)
    assert keyed.confidence > bare.confidence
    assert keyed.detector == "PH-IMEI" and keyed.identifier == "imei"


def test_unrelated_key_does_not_count_as_imei_key() -> None:
    unkeyed = ImeiDetector().scan(UNRELATED_KEY)
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


def _luhn_by_definition(digits: str) -> bool:
    """ISO/IEC 7812-1 Annex B, written out: double every second digit from the right."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


@settings(max_examples=500, deadline=None)
@given(st.text("0123456789", max_size=22))
def test_luhn_check_and_check_digit_agree_with_the_definition(body: str) -> None:
    digit = luhn_digit(body)
    assert [d for d in "0123456789" if _luhn_by_definition(body + d)] == [digit]
    assert luhn_ok(body + digit)
    if body:
        assert luhn_ok(body) is _luhn_by_definition(body)


@pytest.mark.parametrize("text", ["35912345678901x", "٣٥٩", "²"])
def test_luhn_refuses_what_is_not_ascii_digits(text: str) -> None:
    assert not luhn_ok(text)
    with pytest.raises(ValueError):
        luhn_digit(text)
