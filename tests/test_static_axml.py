"""Binary XML and the manifest read from it: hand-built AXML in both string encodings,
obfuscated attribute names, and damage that must become problems, never exceptions."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phonehome.static.axml import parse_axml
from phonehome.static.manifest import parse_manifest
from tests.builders_apk import El, build_axml, manifest

AUTOREG = manifest(
    "com.qualcomm.qti.autoregistration",
    permissions=(
        "android.permission.READ_PHONE_STATE",
        "android.permission.READ_PRIVILEGED_PHONE_STATE",
        "android.permission.ACCESS_COARSE_LOCATION",
        "android.permission.INTERNET",
    ),
    receivers={
        ".RegistrationReceiver": (
            "android.intent.action.USER_PRESENT",
            "android.intent.action.BOOT_COMPLETED",
        ),
        "com.other.SimReceiver": ("android.intent.action.SIM_STATE_CHANGED",),
    },
    services=(".RegistrationService",),
    shared_user_id="android.uid.system",
    cleartext=True,
    version_code=300,
    version_name="3.0.0",
)


@pytest.mark.parametrize("utf8", [False, True])
@pytest.mark.parametrize("blank_names", [False, True])
def test_manifest_fields(utf8: bool, blank_names: bool) -> None:
    m = parse_manifest(build_axml(AUTOREG, utf8=utf8, blank_attr_names=blank_names))
    assert m.problems == []
    assert m.package == "com.qualcomm.qti.autoregistration"
    assert (m.version_code, m.version_name) == (300, "3.0.0")
    assert m.shared_user_id == "android.uid.system"
    assert m.target_sdk == 28
    assert "android.permission.READ_PRIVILEGED_PHONE_STATE" in m.permissions
    assert len(m.permissions) == 4
    assert m.uses_cleartext_traffic is True and m.cleartext_allowed is True
    receivers = {c.name: c for c in m.receivers()}
    reg = receivers["com.qualcomm.qti.autoregistration.RegistrationReceiver"]
    assert reg.actions == [
        "android.intent.action.USER_PRESENT",
        "android.intent.action.BOOT_COMPLETED",
    ]
    assert reg.exported is True
    assert receivers["com.other.SimReceiver"].actions == ["android.intent.action.SIM_STATE_CHANGED"]
    services = [c for c in m.components if c.kind == "service"]
    assert [s.name for s in services] == ["com.qualcomm.qti.autoregistration.RegistrationService"]
    assert services[0].effectively_exported is False


@pytest.mark.parametrize(
    ("cleartext", "nsc", "target", "expected"),
    [
        (True, None, 28, True),
        (False, None, 23, False),
        (None, None, 27, True),  # platform default below API 28
        (None, None, 28, False),
        (None, 0x7F120001, 28, None),  # a network security config decides
    ],
)
def test_cleartext_policy(
    cleartext: bool | None, nsc: int | None, target: int, expected: bool | None
) -> None:
    el = manifest("a.b", cleartext=cleartext, network_security_config=nsc, target_sdk=target)
    m = parse_manifest(build_axml(el))
    assert m.cleartext_allowed is expected
    if nsc is not None:
        assert m.network_security_config == f"@0x{nsc:08x}"


def test_typed_values_and_tree() -> None:
    doc = parse_axml(
        build_axml(
            El(
                "manifest",
                {"package": "p", "android:versionCode": -5},
                [
                    El(
                        "application",
                        {"android:enabled": False},
                        [El("meta-data", {"android:name": "k"})],
                    )
                ],
            )
        )
    )
    assert doc.problems == [] and doc.root is not None
    assert doc.root.attrs == {"package": "p", "versionCode": -5}
    assert [e.tag for e in doc.root.iter()] == ["manifest", "application", "meta-data"]
    assert doc.root.children[0].attrs["enabled"] is False


GOOD = build_axml(AUTOREG)


@pytest.mark.parametrize("cut", [0, 4, 8, 30, 100, len(GOOD) // 2, len(GOOD) - 9])
def test_truncated_is_problems_not_exceptions(cut: int) -> None:
    m = parse_manifest(GOOD[:cut])
    assert m.problems


def _chunk_offsets(data: bytes) -> list[int]:
    out, pos = [], 8
    while pos + 8 <= len(data):
        out.append(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    return out


@pytest.mark.parametrize("size", [0, 3, 0x7FFFFFFF])
def test_bad_chunk_sizes(size: int) -> None:
    data = bytearray(GOOD)
    third = _chunk_offsets(GOOD)[4]  # an element chunk after pool, resmap, namespace
    struct.pack_into("<I", data, third + 4, size)
    m = parse_manifest(bytes(data))
    assert any("chunk" in p for p in m.problems)
    assert m.package == "com.qualcomm.qti.autoregistration"  # read before the damage


def test_string_pool_count_lies() -> None:
    data = bytearray(GOOD)
    struct.pack_into("<I", data, 8 + 8, 10**6)  # stringCount
    m = parse_manifest(bytes(data))
    assert any("string pool claims" in p for p in m.problems)


def test_unknown_chunk_is_skipped() -> None:
    offsets = _chunk_offsets(GOOD)
    junk = struct.pack("<HHI", 0x0777, 8, 16) + b"\xff" * 8
    data = GOOD[: offsets[3]] + junk + GOOD[offsets[3] :]
    data = data[:4] + struct.pack("<I", len(data)) + data[8:]
    m = parse_manifest(data)
    assert m.package == "com.qualcomm.qti.autoregistration"
    assert any("unknown chunk type 0x0777" in p for p in m.problems)


def test_plain_text_manifest_is_reported() -> None:
    m = parse_manifest(b'<?xml version="1.0"?><manifest package="x"/>')
    assert any("plain-text XML" in p for p in m.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(0, len(GOOD)))
def test_fuzz_never_raises(noise: bytes, at: int) -> None:
    parse_manifest(noise)
    mutated = GOOD[:at] + noise + GOOD[at + len(noise) :]
    parse_manifest(mutated)
