"""SIP: requests/responses on UDP and TCP, header grammar, IMS identities, the real calls
fixture checked against tshark."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonehome.model.message import RawPayload
from phonehome.protocols.sip import SipMessage, address, split_list, split_params, uri_host
from phonehome.protocols.threegpp import CellLocation, pani_locations
from phonehome.simulate.mobile_build import imei_urn, ims_domain, sip_request, sip_response
from tests.conftest import SHARED

from .builders_mobile import by_where, fields, flows_jsonl, only, tshark, udp
from .test_protocols_tcp_session import Run

FIXTURE = SHARED / "fixtures" / "mobile" / "sip_voip_calls.pcap"
IMSI = "262019876543210"
IMEI = "354427063233478"
DOMAIN = ims_domain("262", "01")


def volte_register(pani: str = "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=2620100A1B2C3D4E") -> bytes:
    user = f"sip:{IMSI}@{DOMAIN}"
    return sip_request(
        "REGISTER",
        f"sip:{DOMAIN}",
        [
            ("Via", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1"),
            ("From", f"<{user}>;tag=abc"),
            ("To", f"<{user}>"),
            ("Call-ID", "a84b4c76e66710"),
            ("CSeq", "1 REGISTER"),
            (
                "Contact",
                f'<sip:[2001:db8::1]:5060>;+sip.instance="<{imei_urn(IMEI)}>";'
                '+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"',
            ),
            (
                "Authorization",
                f'Digest username="{IMSI}@{DOMAIN}",realm="{DOMAIN}",'
                f'uri="sip:{DOMAIN}",nonce="",response=""',
            ),
            ("P-Access-Network-Info", pani),
            ("User-Agent", "Phone/1.0"),
        ],
    )


def test_volte_register_parsed_with_its_identities_as_fields() -> None:
    ctx, out = udp(volte_register())
    msg = only(out)
    assert isinstance(msg, SipMessage)
    assert (msg.method, msg.uri, msg.status) == ("REGISTER", f"sip:{DOMAIN}", 0)
    assert ctx.anomalies.total() == 0
    got = by_where(fields(msg, "sip"))
    assert [f.text for f in got["sip.uri:Request-URI"]] == [f"sip:{DOMAIN}"]
    assert [f.text for f in got["sip.uri:From"]] == [f"sip:{IMSI}@{DOMAIN}"]
    assert [f.text for f in got["sip.header:Contact.+sip.instance"]] == [imei_urn(IMEI)]
    assert [f.text for f in got["sip.header:Authorization.username"]] == [f"{IMSI}@{DOMAIN}"]
    assert "sip.header:Authorization.response" not in got  # digest vocabulary is not data
    (cell,) = got["sip.header:P-Access-Network-Info>ecgi"]
    assert cell.key == "eci" and cell.text == str(0xB2C3D4E)
    assert dict(cell.siblings) == {"mcc": "262", "mnc": "01", "tac": str(0x00A1)}
    assert "sip.header:CSeq" not in got  # protocol mechanics are not searched
    assert [f.text for f in got["sip.header:User-Agent"]] == ["Phone/1.0"]


def test_wifi_access_gives_the_access_point_bssid() -> None:
    _, out = udp(volte_register('IEEE-802.11; i-wlan-node-id=ffeeddccbbaa; "country=DE"'))
    got = by_where(fields(only(out), "sip"))
    (bssid,) = got["sip.header:P-Access-Network-Info>bssid"]
    assert (bssid.key, bssid.text) == ("bssid", "ff:ee:dd:cc:bb:aa")


@pytest.mark.parametrize(
    ("access", "params", "expected"),
    [
        ("3GPP-E-UTRAN-FDD", {"utran-cell-id-3gpp": "2620100A1B2C3D4E"},
         CellLocation("ecgi", "262", "01", 0x00A1, 0xB2C3D4E)),
        ("3GPP-E-UTRAN-TDD", {"utran-cell-id-3gpp": "31041000A1B2C3D4E"},
         CellLocation("ecgi", "310", "410", 0x00A1, 0xB2C3D4E)),
        ("3GPP-UTRAN-FDD", {"utran-cell-id-3gpp": "23415ABCD0012345"},
         CellLocation("utran", "234", "15", 0xABCD, 0x0012345)),
        ("3GPP-GERAN", {"cgi-3gpp": "24201FFFE1234"},
         CellLocation("cgi", "242", "01", 0xFFFE, 0x1234)),
        ("3GPP-NR-FDD", {"utran-cell-id-3gpp": "00101000001000000ABC"},
         CellLocation("ncgi", "001", "01", 0x000001, 0x000000ABC)),
    ],
)  # fmt: skip
def test_access_network_info_cells(
    access: str, params: dict[str, str], expected: CellLocation
) -> None:
    assert pani_locations(access, params) == ([expected], None)


@pytest.mark.parametrize(
    ("access", "params"),
    [
        ("3GPP-E-UTRAN-FDD", {"utran-cell-id-3gpp": "26201"}),  # too short
        ("3GPP-E-UTRAN-FDD", {"utran-cell-id-3gpp": "2620100A1B2C3D4Z"}),  # not hex
        ("3GPP-E-UTRAN-FDD", {}),
        ("IEEE-802.11", {"i-wlan-node-id": "not-a-mac"}),
        ("DOCSIS", {"utran-cell-id-3gpp": "2620100A1B2C3D4E"}),  # unknown access type
    ],
)
def test_access_network_info_that_names_no_cell(access: str, params: dict[str, str]) -> None:
    assert pani_locations(access, params) == ([], None)


def test_header_grammar() -> None:
    assert split_list('"Doe, J" <sip:a@b>;q=1, <sip:c@d>') == [
        '"Doe, J" <sip:a@b>;q=1',
        "<sip:c@d>",
    ]
    assert split_params(';a=1;b="x;y";c') == [("a", "1"), ("b", "x;y"), ("c", "")]
    assert address('"Bob" <sip:bob@x.org;transport=tcp>;tag=9') == (
        "Bob",
        "sip:bob@x.org;transport=tcp",
        [("tag", "9")],
    )
    assert address("sip:bob@x.org;tag=9") == ("", "sip:bob@x.org", [("tag", "9")])
    assert uri_host("sip:+4712345678@ims.example.org:5060;user=phone") == "ims.example.org"
    assert uri_host("sips:[2001:db8::1]:5061") == "2001:db8::1"
    assert uri_host("tel:+4712345678") is None


def test_compact_forms_and_folded_lines() -> None:
    data = (
        b"INVITE sip:bob@example.org SIP/2.0\r\nf: <sip:alice@example.org>;tag=1\r\n"
        b"t: <sip:bob@example.org>\r\ni: 1@h\r\nm: <sip:alice@10.0.0.1>\r\n"
        b"Subject: a long\r\n  subject\r\nl: 4\r\n\r\nv=0\r\n"
    )
    msg = only(udp(data)[1])
    assert isinstance(msg, SipMessage)
    assert dict(msg.headers)["From"] == "<sip:alice@example.org>;tag=1"
    assert dict(msg.headers)["Subject"] == "a long subject"
    assert msg.body == b"v=0\r\n"[:4]


def test_response_and_its_summary_columns() -> None:
    data = sip_response(401, "Unauthorized", [("CSeq", "1 REGISTER"), ("Call-ID", "x")])
    msg = only(udp(data, 5060, 5060)[1])
    assert isinstance(msg, SipMessage)
    assert (msg.status, msg.reason, msg.method) == (401, "Unauthorized", "")


def test_a_datagram_shorter_than_its_content_length_is_kept_and_counted() -> None:
    data = sip_request("MESSAGE", "sip:a@b.org", [("Content-Length", "100")], b"hi", False)
    ctx, out = udp(data)
    msg = only(out)
    assert isinstance(msg, SipMessage) and msg.body == b"hi" and msg.body_truncated
    assert ctx.anomalies.counts["sip.truncated_body"] == 1


def test_a_malformed_message_is_raw_and_counted() -> None:
    data = b"OPTIONS sip:a@b.org SIP/2.0\r\nno colon here\r\n\r\n"
    ctx, out = udp(data)
    assert only(out) == RawPayload(data)
    assert ctx.anomalies.counts["sip.malformed"] == 1


@pytest.mark.parametrize(
    "data",
    [b"HELLO sip:x", b"GET / HTTP/1.1\r\n\r\n", b"SIP/2.1 200 OK\r\n\r\n", b"     ", b"REGISTER x"],
)
def test_not_sip(data: bytes) -> None:
    _, out = udp(data)
    assert isinstance(only(out), RawPayload)


# -- TCP ---------------------------------------------------------------------------------------


def test_tcp_messages_framed_by_content_length_with_keepalives_between() -> None:
    first = sip_request("MESSAGE", "sip:bob@example.org", [("Call-ID", "1")], b"hello")
    second = sip_request("OPTIONS", "sip:bob@example.org", [("Call-ID", "2")])
    r = Run(5060)
    r.c(first + b"\r\n\r\n" + second[:10]).c(second[10:])
    r.s(b"\r\n" + sip_response(200, "OK", [("Call-ID", "1")]))
    got = r.contents()
    assert [(fc, m.method or m.status) for fc, m in got if isinstance(m, SipMessage)] == [
        (True, "MESSAGE"),
        (True, "OPTIONS"),
        (False, 200),
    ]
    assert isinstance(got[0][1], SipMessage) and got[0][1].body == b"hello"
    assert r.session.protocol == "sip" and r.ctx.anomalies.total() == 0


def test_tcp_split_into_single_bytes() -> None:
    data = sip_request("MESSAGE", "sip:bob@example.org", [("Call-ID", "1")], b"body!")
    r = Run(15060)
    for i in range(len(data)):
        r.c(data[i : i + 1])
    (p,) = r.close()
    assert isinstance(p.content, SipMessage) and p.content.body == b"body!" and p.frame == 1


def test_tcp_without_content_length_is_counted() -> None:
    data = sip_request("OPTIONS", "sip:bob@example.org", [("Call-ID", "1")], content_length=False)
    r = Run(5060)
    got = r.c(data).contents()
    assert len(got) == 1 and r.ctx.anomalies.counts["sip.no_content_length"] == 1


def test_tcp_malformed_header_makes_the_rest_raw() -> None:
    data = b"OPTIONS sip:bob@example.org SIP/2.0\r\nbroken\r\n\r\nmore"
    r = Run(5060)
    got = r.c(data).contents()
    assert got == [(True, RawPayload(data))]
    assert r.ctx.anomalies.counts["sip.malformed"] == 1


def test_tcp_gap_then_the_next_start_line_is_found_again() -> None:
    first = sip_request("MESSAGE", "sip:bob@example.org", [("Call-ID", "1")], b"x" * 48 + b"\r\n")
    second = sip_request("OPTIONS", "sip:bob@example.org", [("Call-ID", "2")])
    r = Run(5060)
    r.c(first[:40]).gap(True, 20).c(first[60:]).c(second)
    got = [m for _, m in r.contents()]
    assert isinstance(got[-1], SipMessage) and got[-1].method == "OPTIONS"
    assert b"".join(m.data for m in got if isinstance(m, RawPayload)) == first[:40] + first[60:]


def test_tcp_truncated_at_close_is_counted_and_raw() -> None:
    data = sip_request("MESSAGE", "sip:bob@example.org", [("Call-ID", "1")], b"x" * 50)
    r = Run(5060)
    got = r.c(data[:-10]).contents()
    assert got == [(True, RawPayload(data[:-10]))]
    assert r.ctx.anomalies.counts["sip.truncated"] == 1


# -- the real capture --------------------------------------------------------------------------


def test_real_calls_as_tshark_decodes_them() -> None:
    rows = tshark(
        FIXTURE,
        "sip",
        "sip.Method",
        "sip.Status-Code",
        "sip.r-uri",
        "sip.from.addr",
        "sip.to.addr",
        "sip.contact.uri",
        "sip.Call-ID",
    )
    lines = [x for x in flows_jsonl(FIXTURE) if x["protocol"] == "sip"]
    assert len(lines) == len(rows) == 81
    for row, line in zip(rows, lines, strict=True):
        frame, method, status, ruri, frm, to, contact, call_id = row
        assert line["frame"] == int(frame)
        assert (line["sip_method"] or "") == method
        assert str(line["sip_status"] or "") == status
        assert (line["sip_uri"] or "") == ruri
        assert (line["sip_from"], line["sip_to"]) == (frm, to)
        assert ",".join(line["sip_contact"]) == contact  # type: ignore[arg-type]
        assert line["sip_call_id"] == call_id


SIPP = Path(__file__).parent / "data" / "sip" / "sipp_tcp.pcap"


def test_real_sip_over_tcp_as_tshark_reads_it() -> None:
    """SIPp's UAC and UAS over one TCP connection (tools/make_sip_capture.sh): three
    calls, every request and response tshark shows, in order, none left as raw bytes."""
    rows = tshark(SIPP, "sip", "sip.Method", "sip.Status-Code", "sip.r-uri", "sip.Call-ID")
    lines = flows_jsonl(SIPP)
    ours = [x for x in lines if x["protocol"] == "sip"]
    assert len(ours) == len(rows) == 18
    for (frame, method, status, ruri, call_id), line in zip(rows, ours, strict=True):
        assert line["frame"] == int(frame)
        assert (line["sip_method"] or "", str(line["sip_status"] or "")) == (method, status)
        assert (line["sip_uri"] or "", line["sip_call_id"]) == (ruri, call_id)
    assert not [x for x in lines if x["protocol"] == "tcp"]
