"""GTPv2-C and GTPv1-C: recognition apart from GTP-U, TBCD identities, locations, grouped
IEs, key material dropped, damage counted; the real session checked against tshark."""

from __future__ import annotations

import pytest

from phonehome.model.message import RawPayload
from phonehome.protocols.gtp import V2_TYPES, GtpMessage
from phonehome.simulate.mobile_build import (
    ecgi,
    gtpv1,
    gtpv2,
    gtpv2_ie,
    plmn_bytes,
    tai,
    tbcd,
)
from tests.conftest import SHARED

from .builders_mobile import by_where, fields, flows_jsonl, only, tshark, udp

FIXTURE = SHARED / "fixtures" / "mobile" / "gtpv2c_session.pcap"
IMSI = "001010123456789"
IMEISV = "3544270632334701"
MSISDN = "4915201234567"


def create_session() -> bytes:
    return gtpv2(
        32,
        [
            gtpv2_ie(1, tbcd(IMSI)),
            gtpv2_ie(76, tbcd(MSISDN)),
            gtpv2_ie(75, tbcd(IMEISV)),
            gtpv2_ie(86, bytes([0x18]) + tai("001", "01", 0x0102) + ecgi("001", "01", 0x0ABCDEF)),
            gtpv2_ie(83, plmn_bytes("001", "01")),
            gtpv2_ie(71, b"\x08internet"),
            gtpv2_ie(107, b"\xaa" * 40),  # MM Context: keys
            gtpv2_ie(93, gtpv2_ie(73, b"\x05") + gtpv2_ie(1, tbcd("001019999999999"))),
        ],
        seq=7,
    )


def test_create_session_request() -> None:
    ctx, out = udp(create_session(), 2123, 2123)
    msg = only(out)
    assert isinstance(msg, GtpMessage)
    assert (msg.version, msg.type, msg.teid, msg.sequence) == (2, 32, 0, 7)
    assert msg.type_name == "Create Session Request" and ctx.anomalies.total() == 0
    mm = [ie for ie in msg.ies if ie.type == 107]
    assert mm and mm[0].value == b""
    got = by_where(fields(msg, "gtpv2"))
    assert [(f.key, f.text, f.encoding) for f in got["gtpv2.ie:IMSI"]] == [
        ("IMSI", IMSI, ("tbcd",))
    ]
    assert [(f.key, f.text) for f in got["gtpv2.ie:MEI"]] == [("IMEI", IMEISV)]
    assert [(f.key, f.text) for f in got["gtpv2.ie:MSISDN"]] == [("MSISDN", f"+{MSISDN}")]
    (cell,) = got["gtpv2.ie:ULI>ecgi"]
    assert (cell.key, cell.text, dict(cell.siblings)) == (
        "eci",
        str(0x0ABCDEF),
        {"mcc": "001", "mnc": "01"},
    )
    assert [f.text for f in got["gtpv2.ie:ULI>tai"]] == [str(0x0102)]
    assert [f.text for f in got["gtpv2.ie:APN"]] == ["internet"]
    assert [f.text for f in got["gtpv2.ie:Bearer-Context/IMSI"]] == ["001019999999999"]
    assert not [w for w in got if "MM-Context" in w]


def test_no_teid_and_a_piggybacked_message() -> None:
    first = bytearray(gtpv2(33, [gtpv2_ie(2, b"\x10\x00")], seq=1))
    first[0] |= 0x10  # P: a message follows
    second = gtpv2(95, [gtpv2_ie(73, b"\x05")], seq=2)
    _, out = udp(bytes(first) + second, 2123, 2123)
    assert [
        (m.type, m.sequence) for m in (p.content for p in out) if isinstance(m, GtpMessage)
    ] == [
        (33, 1),
        (95, 2),
    ]
    _, out = udp(gtpv2(1, [gtpv2_ie(3, b"\x01")], teid=None, seq=9), 2123, 2123)
    msg = only(out)
    assert isinstance(msg, GtpMessage) and (msg.teid, msg.sequence) == (-1, 9)


def test_a_damaged_ie_is_counted_and_the_datagram_kept_raw() -> None:
    data = bytearray(create_session())
    data[12 + 2] = 0xFF  # IMSI IE length past the message
    ctx, out = udp(bytes(data), 2123, 2123)
    assert only(out) == RawPayload(bytes(data))
    assert ctx.anomalies.counts["gtpv2.malformed"] == 1


def create_pdp() -> bytes:
    return gtpv1(
        16,
        [
            b"\x02" + tbcd(IMSI),
            b"\x03" + plmn_bytes("001", "01") + b"\x00\x10\x20",
            b"\x0e\x01",
            b"\x10\x00\x00\x00\x01",
            b"\x11\x00\x00\x00\x02",
            b"\x14\x05",
            b"\x80\x00\x02\xf1\x21",
            b"\x83\x00\x09\x08internet",
            b"\x85\x00\x04\x0a\x00\x00\x01",
            b"\x86\x00\x08\x91" + tbcd(MSISDN),
            b"\x98\x00\x08\x00" + plmn_bytes("001", "01") + b"\x00\x10\x12\x34",
            b"\x9a\x00\x08" + tbcd(IMEISV),
        ],
        seq=5,
    )


def test_create_pdp_context_request() -> None:
    ctx, out = udp(create_pdp(), 2123, 2123)
    msg = only(out)
    assert isinstance(msg, GtpMessage) and (msg.version, msg.type, msg.sequence) == (1, 16, 5)
    assert ctx.anomalies.total() == 0
    got = by_where(fields(msg, "gtpv1"))
    assert [f.text for f in got["gtpv1.ie:IMSI"]] == [IMSI]
    assert [f.text for f in got["gtpv1.ie:MSISDN"]] == [f"+{MSISDN}"]
    assert [(f.key, f.text) for f in got["gtpv1.ie:IMEISV"]] == [("IMEI", IMEISV)]
    (cell,) = got["gtpv1.ie:ULI>cgi"]
    assert (cell.key, cell.text, dict(cell.siblings)["lac"]) == ("ci", str(0x1234), str(0x10))
    assert [f.text for f in got["gtpv1.ie:APN"]] == ["internet"]
    assert [f.text for f in got["gtpv1.ie:GSN-Address"]] == ["10.0.0.1"]


@pytest.mark.parametrize(
    ("data", "ports"),
    [
        (gtpv1(1, [b"\x0e\x01"]), (2152, 2152)),  # echo on the user plane: GTP-U's
        (gtpv1(255, [b"\x45" + bytes(19)]), (2152, 2152)),  # G-PDU
        (gtpv1(16, [b"\x02" + tbcd(IMSI)])[:-1], (2123, 2123)),  # length does not match
        (b"\x48\x20\x00\x04" + bytes(8), (40000, 2123)),  # GTPv2 length too short for TEID
    ],
)
def test_not_gtp_control(data: bytes, ports: tuple[int, int]) -> None:
    _, out = udp(data, *ports)
    assert not isinstance(only(out), GtpMessage)


def test_echo_on_the_control_port() -> None:
    _, out = udp(gtpv1(1, [b"\x0e\x01"]), 2123, 2123)
    msg = only(out)
    assert isinstance(msg, GtpMessage) and msg.type_name == "Echo Request"


def test_unknown_tv_ie_stops_the_parse_and_is_counted() -> None:
    data = gtpv1(16, [b"\x02" + tbcd(IMSI), b"\x7e\x00"])
    ctx, out = udp(data, 2123, 2123)
    assert only(out) == RawPayload(data)
    assert ctx.anomalies.counts["gtpv1.malformed"] == 1


def test_real_session_as_tshark_decodes_it() -> None:
    rows = tshark(FIXTURE, "gtpv2", "gtpv2.message_type", "e212.imsi", "gtpv2.mei", "e164.msisdn")
    lines = [x for x in flows_jsonl(FIXTURE) if x["protocol"] == "gtpv2"]
    assert len(lines) == len(rows) == 4
    for (frame, mtype, imsi, mei, msisdn), line in zip(rows, lines, strict=True):
        assert line["frame"] == int(frame)
        assert line["gtp_type"] == V2_TYPES[int(mtype)]
        assert (line["gtp_imsi"] or "") == imsi.split(",")[0]
        assert (line["gtp_mei"] or "") == mei
        assert (line["gtp_msisdn"] or "").lstrip("+") == msisdn
    assert lines[0]["direction"] == "out" and lines[0]["dport"] == 2123
