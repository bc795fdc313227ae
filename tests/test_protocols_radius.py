"""RADIUS and the EAP it carries: attributes, hidden values dropped, EAP identities
(Response/Identity, EAP-SIM/AKA AT_IDENTITY), 3GPP vendor attributes, recognition."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonehome.model.message import RawPayload
from phonehome.protocols.eap import EapPacket, parse
from phonehome.protocols.radius import RadiusPacket
from phonehome.simulate.mobile_build import (
    at_bytes,
    at_flag,
    at_identity,
    eap_identity,
    eap_message_attrs,
    eap_sim_aka,
    ecgi,
    radius,
    radius_attr,
    radius_vsa,
    tai,
)
from tests import tshark

from .builders_mobile import by_where, fields, flows_jsonl, only, udp

IMSI = "311480123456789"
NAI = f"0{IMSI}@wlan.mnc480.mcc311.3gppnetwork.org"


def access_request(eap: bytes, extra: list[bytes] | None = None) -> bytes:
    return radius(
        1,
        42,
        [
            radius_attr(1, NAI.encode()),
            radius_attr(2, b"\x9f" * 16),
            radius_attr(31, b"AA-BB-CC-DD-EE-01"),
            radius_attr(30, b"00-11-22-33-44-55:CarrierWiFi"),
            radius_attr(4, b"\x0a\x00\x00\x01"),
            *eap_message_attrs(eap),
            radius_attr(80, b"\x01" * 16),
            *(extra or []),
        ],
    )


def test_access_request_with_eap_identity() -> None:
    ctx, out = udp(access_request(eap_identity(1, NAI)), 50000, 1812)
    msg = only(out)
    assert isinstance(msg, RadiusPacket) and msg.code_name == "Access-Request"
    assert ctx.anomalies.total() == 0
    hidden = {
        a.name: a.value
        for a in msg.attributes
        if a.name in ("User-Password", "Message-Authenticator")
    }
    assert hidden == {"User-Password": b"", "Message-Authenticator": b""}
    assert msg.eap == EapPacket(2, 1, 1, 0, NAI)
    got = by_where(fields(msg, "radius"))
    assert [f.text for f in got["radius.attr:User-Name"]] == [NAI]
    assert [f.text for f in got["radius.attr:EAP-Message>identity"]] == [NAI]
    assert [f.text for f in got["radius.attr:Calling-Station-Id"]] == ["AA-BB-CC-DD-EE-01"]
    assert [f.text for f in got["radius.attr:Called-Station-Id"]] == [
        "00-11-22-33-44-55:CarrierWiFi"
    ]
    assert not [w for w in got if "Password" in w or "Authenticator" in w or "NAS-IP" in w]


def test_eap_aka_identity_response_split_over_two_attributes() -> None:
    long_nai = "0" + IMSI + "@" + "x" * 300 + ".3gppnetwork.org"
    packet = eap_sim_aka(2, 7, 23, 5, [at_identity(long_nai)])
    msg = only(udp(access_request(packet), 50000, 1812)[1])
    assert isinstance(msg, RadiusPacket)
    assert len([a for a in msg.attributes if a.name == "EAP-Message"]) == 2
    assert msg.eap is not None and msg.eap.identity == long_nai
    assert msg.eap.describe() == "Response/AKA Identity"
    (f,) = by_where(fields(msg, "radius"))["radius.attr:EAP-Message>AT_IDENTITY"]
    assert f.text == long_nai and dict(f.siblings) == {"eap-method": "AKA"}


def test_3gpp_vendor_attributes() -> None:
    uli = bytes([130]) + tai("311", "480", 0x0102) + ecgi("311", "480", 0x0123456)
    extra = [
        radius_vsa(10415, 1, IMSI.encode()),
        radius_vsa(10415, 20, b"3544270632334701"),
        radius_vsa(10415, 22, uli),
        radius_vsa(311, 16, b"\x55" * 34),  # MS-MPPE-Send-Key
    ]
    msg = only(udp(access_request(eap_identity(1, NAI), extra), 50000, 1812)[1])
    assert isinstance(msg, RadiusPacket)
    keys = [a for a in msg.attributes if a.name == "MS-MPPE-Send-Key"]
    assert keys and keys[0].value == b""
    got = by_where(fields(msg, "radius"))
    assert [(f.key, f.text) for f in got["radius.attr:3GPP-IMSI"]] == [("IMSI", IMSI)]
    assert [(f.key, f.text) for f in got["radius.attr:3GPP-IMEISV"]] == [
        ("IMEISV", "3544270632334701")
    ]
    (cell,) = got["radius.attr:3GPP-User-Location-Info>ecgi"]
    assert (cell.key, cell.text) == ("eci", str(0x0123456))
    assert not [w for w in got if "MPPE" in w]


@pytest.mark.parametrize(
    ("data", "ports"),
    [
        (radius(1, 1, []), (40000, 40001)),  # no attribute, off the RADIUS ports
        (radius(9, 1, [radius_attr(1, b"x")]), (40000, 1812)),  # unknown code
        (b"\x01\x01\x00\x10" + bytes(12), (40000, 40001)),
    ],
)
def test_not_radius(data: bytes, ports: tuple[int, int]) -> None:
    assert not isinstance(only(udp(data, *ports)[1]), RadiusPacket)


def test_broken_attributes_on_the_radius_port_are_counted() -> None:
    data = bytearray(radius(1, 1, [radius_attr(1, b"user")]))
    data[21] = 40  # attribute length past the packet
    ctx, out = udp(bytes(data), 40000, 1812)
    assert only(out) == RawPayload(bytes(data))
    assert ctx.anomalies.counts["radius.malformed"] == 1


def test_radius_off_its_port_with_attributes() -> None:
    msg = only(udp(radius(4, 3, [radius_attr(1, b"user@example.org")]), 40000, 18130)[1])
    assert isinstance(msg, RadiusPacket) and msg.code_name == "Accounting-Request"


# -- EAP on its own ------------------------------------------------------------------------


def test_eap_sim_start_with_identity_and_aka_prime_network_name() -> None:
    start = eap_sim_aka(2, 2, 18, 10, [at_bytes(7, bytes(16)), at_identity(f"1{IMSI}@wlan.x")])
    packet, problem = parse(start)
    assert problem is None and packet is not None
    assert packet.describe() == "Response/SIM Start"
    assert packet.identity == f"1{IMSI}@wlan.x"
    assert packet.attributes == ("AT_NONCE_MT", "AT_IDENTITY")
    kdf = bytes([23, 3]) + b"\x00\x04WLAN" + bytes(4)
    packet, problem = parse(eap_sim_aka(1, 3, 50, 1, [kdf, at_bytes(1, bytes(16))]))
    assert problem is None and packet is not None
    assert (packet.network, packet.identity) == ("WLAN", None)
    assert packet.attributes == ("AT_KDF_INPUT", "AT_RAND")


def test_eap_request_for_the_permanent_identity() -> None:
    packet, _ = parse(eap_sim_aka(1, 9, 23, 5, [at_flag(10)]))
    assert packet is not None and packet.attributes == ("AT_PERMANENT_ID_REQ",)
    assert packet.describe() == "Request/AKA Identity"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x02\x01", "shorter than the EAP header"),
        (b"\x09\x01\x00\x04", "EAP code 9"),
        (b"\x02\x01\x00\x40\x01abc", "EAP length 64, 8 bytes present"),
        (eap_sim_aka(2, 1, 23, 5, [b"\x0e\x09\x00\x04"]), "runs past the packet"),
    ],
)
def test_damaged_eap(data: bytes, problem: str) -> None:
    _, found = parse(data)
    assert found is not None and problem in found


def test_damaged_eap_in_radius_is_counted() -> None:
    ctx, out = udp(access_request(b"\x02\x01\x00\x40\x01abc"), 50000, 1812)
    assert isinstance(only(out), RadiusPacket)
    assert ctx.anomalies.counts["radius.bad_eap"] == 1


# -- a real exchange ------------------------------------------------------------------------

REAL = Path(__file__).parent / "data" / "radius" / "eapsim_freeradius.pcap"


def test_real_eap_sim_over_radius_as_tshark_reads_it() -> None:
    """eapol_test against FreeRADIUS (tools/make_radius_capture.sh): every RADIUS packet,
    its User-Name and the EAP identities (Response/Identity and AT_IDENTITY) agree."""
    rows = tshark.fields(
        REAL,
        "frame.number",
        "radius.code",
        "radius.User_Name",
        "eap.identity.prefix",
        "eap.identity.full",
        "eap.sim.subtype",
        display_filter="radius",
    )
    ours = {int(str(x["frame"])): x for x in flows_jsonl(REAL) if x["protocol"] == "radius"}
    assert sorted(ours) == [int(r[0]) for r in rows] == list(range(1, 7))
    codes = {1: "Access-Request", 2: "Access-Accept", 3: "Access-Reject", 11: "Access-Challenge"}
    identities = []
    for frame, code, user, prefix, full, subtype in rows:
        line = ours[int(frame)]
        assert line["radius_code"] == codes[int(code)]
        assert (line["radius_user"] or "") == user
        if full:
            identities.append(line["radius_eap_identity"])
            assert line["radius_eap_identity"] == prefix.strip("'") + full
        if subtype:
            assert "SIM" in str(line["radius_eap"])
    nai = "1001010000012345@wlan.mnc001.mcc001.3gppnetwork.org"
    assert identities == [nai, nai]  # Response/Identity, then AT_IDENTITY when asked
    assert [x["direction"] for x in ours.values()] == ["out", "in"] * 3
