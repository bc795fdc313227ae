"""IMSIs in 3GPP NAIs and IMS identities: the realm's MCC/MNC must be the IMSI's, the
method digit is read, pseudonyms and re-authentication identities are not IMSIs."""

from __future__ import annotations

import pytest

from phonehome.detect import Engine
from phonehome.detect.nai import NaiDetector, nai_imsi, pseudonym
from tests.builders_detect import Case, field, hit, miss

IMSI = "242016000012345"
CASES = [
    hit(f"0{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org", value=IMSI),
    hit(f"1{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org", value=IMSI),
    hit(f"6{IMSI}@nai.epc.mnc001.mcc242.3gppnetwork.org", value=IMSI),
    hit(f"sip:{IMSI}@ims.mnc001.mcc242.3gppnetwork.org", value=IMSI),
    hit(f'username="{IMSI}@ims.mnc001.mcc242.3gppnetwork.org"', value=IMSI),
    hit("0310410123456789@wlan.mnc410.mcc310.3gppnetwork.org", value="310410123456789"),
    hit("024201123456789@wlan.mnc001.mcc242.3gppnetwork.org", value="24201123456789"),  # 14
    hit(f"0{IMSI}@WLAN.MNC001.MCC242.3GPPNETWORK.ORG", value=IMSI),
    miss(f"2{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org"),  # pseudonym prefix
    miss(f"4{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org"),  # fast re-auth prefix
    miss(f"7{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org"),
    miss(f"0{IMSI}@wlan.mnc002.mcc242.3gppnetwork.org"),  # another network's realm
    miss(f"0{IMSI}@wlan.mnc001.mcc240.3gppnetwork.org"),
    miss(f"0{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org.evil.com"),
    miss(f"x0{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org"),  # a longer user part
    miss(f"0{IMSI}@example.org"),
    miss("2a7f3c9e1b@wlan.mnc001.mcc242.3gppnetwork.org"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(NaiDetector)


@pytest.mark.parametrize(
    ("user", "form"),
    [
        (f"0{IMSI}", "nai-eap-aka"),
        (f"1{IMSI}", "nai-eap-sim"),
        (f"6{IMSI}", "nai-eap-aka-prime"),
        (IMSI, "nai"),
    ],
)
def test_the_method_is_the_form(user: str, form: str) -> None:
    assert nai_imsi(user, "242", "001") == (IMSI, form)
    (m,) = NaiDetector().scan(field(f"{user}@wlan.mnc001.mcc242.3gppnetwork.org"))
    assert m.form == form and m.confidence == 0.95


def test_pseudonyms_and_reauthentication_identities_are_named() -> None:
    assert pseudonym("2a7f3c9e1b@wlan.mnc001.mcc242.3gppnetwork.org") == "pseudonym"
    assert pseudonym("7Zk_9@wlan.mnc001.mcc242.3gppnetwork.org") == "pseudonym"
    reauth = "4de3f2cc6b1d@wlan.mnc001.mcc242.3gppnetwork.org"
    assert pseudonym(reauth) == "re-authentication identity"
    assert pseudonym(f"0{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org") is None


@pytest.mark.parametrize(
    "text",
    [
        f"sip:{IMSI}@ims.mnc001.mcc242.3gppnetwork.org",  # an IMS identity: no method digit
        f"{IMSI}@ims.mnc001.mcc242.3gppnetwork.org",
        "310410123456789@ims.mnc410.mcc310.3gppnetwork.org",
        f"<sip:{IMSI}@ims.mnc001.mcc242.3gppnetwork.org>, 2a7f@x.org",
    ],
)
def test_an_imsi_the_detector_reads_is_not_called_a_pseudonym(text: str) -> None:
    # The IMSI 242... starts with 2, a pseudonym's digit: reported as an IMSI and counted
    # as a dismissed pseudonym at the same time before.
    assert NaiDetector().scan(field(text))
    assert pseudonym(text) is None


def test_a_pseudonym_after_an_imsi_identity_is_still_named() -> None:
    text = f"{IMSI}@ims.mnc001.mcc242.3gppnetwork.org 2a7f3c@wlan.mnc001.mcc242.3gppnetwork.org"
    assert pseudonym(text) == "pseudonym"


def test_the_nai_is_not_also_an_email() -> None:
    found = Engine(None).scan(field(f"0{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org", "User-Name"))
    assert [(m.detector, m.identifier) for m in found] == [("PH-NAI", "imsi")]
