"""Diameter: framing on TCP, AVP types and grouping, identities as fields, key material
dropped, the fixture checked against tshark."""

from __future__ import annotations

import struct

import pytest

from phonehome.model.message import RawPayload
from phonehome.protocols.diameter import (
    DiameterMessage,
    find,
    looks_like_diameter,
    parse_message,
)
from phonehome.simulate.mobile_build import (
    avp,
    avp_u32,
    diameter,
    eap_identity,
    ecgi,
    plmn_bytes,
    tai,
    tbcd,
)
from tests.conftest import SHARED

from .builders_mobile import by_where, fields, flows_jsonl, tshark
from .test_protocols_tcp_session import Run

FIXTURE = SHARED / "fixtures" / "mobile" / "diameter_synthetic.pcap"
V3GPP = 10415
IMSI = "262019876543210"
IMEI = "35442706323347"
MSISDN = "4915201234567"


def ulr() -> bytes:
    """An S6a Update-Location-Request (TS 29.272 7.2.3)."""
    return diameter(
        316,
        [
            avp(263, b"mme.example;1;2"),
            avp(264, b"mme.example.net"),
            avp(296, b"example.net"),
            avp(283, b"hss.example.net"),
            avp(1, IMSI.encode()),
            avp(
                1401,
                avp(1402, IMEI.encode(), V3GPP) + avp(1403, b"01", V3GPP),
                V3GPP,
            ),
            avp(1407, plmn_bytes("262", "01"), V3GPP),
            avp_u32(1032, 1004, V3GPP),
        ],
        application=16777251,
    )


def ccr() -> bytes:
    """A Gx Credit-Control-Request (TS 29.212) with the subscriber, device and cell."""
    return diameter(
        272,
        [
            avp(263, b"pgw;1"),
            avp(443, avp_u32(450, 0) + avp(444, MSISDN.encode())),
            avp(443, avp_u32(450, 1) + avp(444, IMSI.encode())),
            avp(458, avp_u32(459, 0) + avp(460, tbcd(IMEI + "01"))),
            avp(22, bytes([130]) + tai("262", "01", 0x1234) + ecgi("262", "01", 0x1ABCDEF), V3GPP),
            avp(701, tbcd(MSISDN), V3GPP),
            avp(462, eap_identity(3, f"0{IMSI}@nai.epc.mnc001.mcc262.3gppnetwork.org")),
            avp(464, b"\x11" * 64),  # EAP-Master-Session-Key
        ],
        application=16777238,
    )


def parsed(data: bytes) -> DiameterMessage:
    r = Run(3868)
    got = r.c(data).contents()
    assert len(got) == 1, got
    msg = got[0][1]
    assert isinstance(msg, DiameterMessage)
    return msg


def test_update_location_identities() -> None:
    msg = parsed(ulr())
    assert (msg.command, msg.request, msg.application) == (316, True, 16777251)
    assert msg.command_name == "Update-Location-Request"
    got = by_where(fields(msg, "diameter", "tcp"))
    (user,) = got["diameter.avp:User-Name"]
    assert (user.key, user.text) == ("User-Name", IMSI)
    (imei,) = got["diameter.avp:Terminal-Information/IMEI"]
    assert (imei.key, imei.text) == ("IMEI", IMEI)
    assert dict(imei.siblings)["software-version"] == "01"
    assert [f.text for f in got["diameter.avp:Visited-PLMN-Id"]] == ["262-01"]
    assert "diameter.avp:RAT-Type" not in got  # enumerations are not searched


def test_credit_control_subscription_ids_device_cell_and_eap() -> None:
    msg = parsed(ccr())
    got = by_where(fields(msg, "diameter", "tcp"))
    data = got["diameter.avp:Subscription-Id/Subscription-Id-Data"]
    assert [(f.key, f.text) for f in data] == [("MSISDN", MSISDN), ("IMSI", IMSI)]
    (ue,) = got["diameter.avp:User-Equipment-Info/User-Equipment-Info-Value"]
    assert (ue.key, ue.text, ue.encoding) == ("IMEISV", IMEI + "01", ("tbcd",))
    (cell,) = got["diameter.avp:3GPP-User-Location-Info>ecgi"]
    assert (cell.key, cell.text) == ("eci", str(0x1ABCDEF))
    (msisdn,) = got["diameter.avp:MSISDN"]
    assert (msisdn.text, msisdn.encoding) == (f"+{MSISDN}", ("tbcd",))
    (identity,) = got["diameter.avp:EAP-Payload>identity"]
    assert identity.text.startswith(f"0{IMSI}@nai.epc.")
    assert not [w for w in got if "Master-Session-Key" in w]


def test_key_material_is_dropped_at_parse_time() -> None:
    vector = avp(
        1414,
        avp(1447, b"\x01" * 16, V3GPP)
        + avp(1448, b"\x02" * 8, V3GPP)
        + avp(1449, b"\x03" * 16, V3GPP)
        + avp(1450, b"\x04" * 32, V3GPP),
        V3GPP,
    )
    msg = parse_message(diameter(318, [avp(1413, vector, V3GPP)], request=False))
    info = find(msg.avps, "Authentication-Info")
    assert info is not None
    (vec,) = info.avps
    assert [(a.name, a.value) for a in vec.avps] == [
        ("RAND", b""),
        ("XRES", b""),
        ("AUTN", b""),
        ("KASME", b""),
    ]


def test_unknown_grouped_avps_are_opened() -> None:
    inner = avp(1, b"someone@example.org")
    msg = parse_message(diameter(272, [avp(99999, inner, vendor=12345)]))
    (outer,) = msg.avps
    assert outer.name == "AVP-12345-99999" and [a.name for a in outer.avps] == ["User-Name"]


def test_two_messages_in_one_segment_and_split_bytes() -> None:
    data = ulr() + ccr()
    r = Run(13868)
    for i in range(0, len(data), 7):
        r.c(data[i : i + 7])
    got = r.contents()
    assert [m.command for _, m in got if isinstance(m, DiameterMessage)] == [316, 272]
    assert r.session.protocol == "diameter"


def test_a_damaged_avp_is_counted() -> None:
    good = ulr()
    bad = bytearray(good)
    struct.pack_into("!I", bad, 44 + 4, 0x40FFFFFF)  # second AVP's length past the end
    r = Run(3868)
    got = r.c(bytes(bad) + good).contents()
    assert [m.command for _, m in got if isinstance(m, DiameterMessage)] == [316]
    assert r.ctx.anomalies.counts["diameter.malformed"] == 1


def test_a_broken_header_makes_the_rest_raw() -> None:
    good = ulr()
    junk = b"\x02" + good[1:]
    r = Run(3868)
    got = r.c(good).c(junk).contents()
    assert isinstance(got[0][1], DiameterMessage)
    assert got[1:] == [(True, RawPayload(junk))]
    assert r.ctx.anomalies.counts["diameter.bad_header"] == 1


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x01\x00\x00\x15" + bytes(24),  # length not a multiple of 4
        b"\x01\x00\x00\x30\x0f" + bytes(23),  # reserved flag bits
        b"\x01\x00\x00\x30\x80\x00\x01\x10" + bytes(12) + b"\x00\x00\x00\x01\x1f\x00\x00\x10",
    ],
)
def test_not_diameter(head: bytes) -> None:
    assert not looks_like_diameter(head)


def test_fixture_as_tshark_decodes_it() -> None:
    """The TCP half of the fixture (CER/CEA, Gx CCR/CCA); its S6a and accounting
    exchanges run over SCTP, which phonehome does not decode."""
    rows = tshark(
        FIXTURE,
        "diameter && tcp",
        "diameter.cmd.code",
        "diameter.flags.request",
        "diameter.applicationId",
        "diameter.User-Name",
        "diameter.Session-Id",
    )
    lines = [x for x in flows_jsonl(FIXTURE) if x["protocol"] == "diameter"]
    assert len(lines) == len(rows) == 4
    for (frame, code, request, app, user, session), line in zip(rows, lines, strict=True):
        assert line["frame"] == int(frame)
        assert line["diameter_code"] == int(code)
        assert line["diameter_request"] == (request in ("1", "True"))
        assert line["diameter_app"] == int(app)
        assert (line["diameter_session"] or "") == session
        if user:
            assert line["direction"] == "out"
            assert user in line["diameter_avps"] or "User-Name" in line["diameter_avps"]
