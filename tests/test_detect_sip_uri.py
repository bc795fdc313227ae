"""SIP address detector: account URIs, not phone numbers, IMS IMSIs or shared names."""

from __future__ import annotations

import pytest

from phonehome.detect import PEER_KEY, Engine
from phonehome.detect.sip_uri import SipUriDetector
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit("sip:voi18063@sip.cybercity.dk", value="sip:voi18063@sip.cybercity.dk"),
    hit(
        "<sip:Alice@Atlanta.EXAMPLE.com:5060;transport=tcp>", value="sip:Alice@atlanta.example.com"
    ),
    hit("sips:bob.smith@biloxi.example.com", value="sips:bob.smith@biloxi.example.com"),
    hit("sip:voi18063@192.168.1.2:5060;line=9c7d", value="sip:voi18063@192.168.1.2"),
    hit("sip:alice:secret@example.org", value="sip:alice@example.org"),  # RFC 3261 userinfo
    hit('"Ann" <sip:ann@[2001:db8::1]:5061>', value="sip:ann@[2001:db8::1]"),
    miss("sip:+4712345678@ims.example.org;user=phone"),  # a phone number: PH-MSISDN's
    miss("sip:4712345678@example.org"),
    miss("sip:262019876543210@ims.mnc001.mcc262.3gppnetwork.org"),  # an IMSI: PH-NAI's
    miss("sip:anonymous@anonymous.invalid"),  # RFC 3323 privacy
    miss("sip:user@example.org"),  # a placeholder
    miss("sip:ims.example.org"),  # a server, no user
    miss("sip:sipp@127.0.0.1:5060"),  # loopback: SIPp's default, reachable from nowhere
    miss("<sip:alice@[::1]>"),
    miss("sip:alice@0.0.0.0"),
    miss("sip:alice@localhost"),
    hit("sip:alice@127.example.org", value="sip:alice@127.example.org"),
    miss("tel:+4712345678"),
    miss("mailto:alice@example.org"),
    miss("xsip:alice@example.org"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(SipUriDetector)


def test_the_called_party_is_not_searched() -> None:
    assert Engine(None).scan(field("sip:bob@biloxi.example.com", PEER_KEY)) == []
    found = Engine(None).scan(field("sip:bob@biloxi.example.com", "From"))
    assert [(m.detector, m.identifier) for m in found] == [("PH-SIPURI", "sip_uri")]
