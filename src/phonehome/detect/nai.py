"""IMSIs in 3GPP network access identifiers and IMS identities (``...@...3gppnetwork.org``).

TS 23.003 derives a subscriber's network identities from the IMSI, under a realm that
repeats the IMSI's own MCC and MNC:

* EAP permanent identities (19.3.2): ``<p><IMSI>@wlan.mnc<MNC>.mcc<MCC>.3gppnetwork.org``
  (also ``nai.epc.`` for Wi-Fi calling's IKEv2), the leading digit ``p`` naming the
  method: 0 EAP-AKA, 1 EAP-SIM, 6 EAP-AKA'. Pseudonyms (2, 3, 7) and fast
  re-authentication identities (4, 5, 8) are not IMSIs, whatever their characters.
* the IMS private user identity and the temporary public one (13.3, 13.4B):
  ``<IMSI>@ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org``, bare or as ``sip:<IMSI>@...``.

The IMSI must start with the realm's MCC and MNC (the realm is the IMSI's home network),
which no e-mail address or random number satisfies by chance, so the NAI is reported on
any key. The form says which kind of identity carried it (``nai-eap-aka``,
``nai-eap-sim``, ``nai-eap-aka-prime``, or ``nai`` without a method digit).
"""

from __future__ import annotations

import re
from typing import Final

from phonehome.detect.base import Detector
from phonehome.model.field import Field, Match

_NAI: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])([0-9]{14,16})@((?:[A-Za-z0-9-]+\.)*?)"
    r"mnc([0-9]{3})\.mcc([0-9]{3})\.3gppnetwork\.org(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
    re.IGNORECASE,
)
_EAP_ID: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])([0-9])[A-Za-z0-9._+/=-]{1,253}@(?:[A-Za-z0-9-]+\.)*?"
    r"mnc[0-9]{3}\.mcc[0-9]{3}\.3gppnetwork\.org(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
    re.IGNORECASE,
)
METHODS: Final[dict[str, str]] = {"0": "nai-eap-aka", "1": "nai-eap-sim", "6": "nai-eap-aka-prime"}
NOT_IMSI: Final = frozenset("234578")
"""Leading digits of EAP pseudonyms (2 AKA, 3 SIM, 7 AKA') and fast re-authentication
identities (4 AKA, 5 SIM, 8 AKA'): whatever follows is not an IMSI."""


def home_prefixes(mcc: str, mnc3: str) -> tuple[str, ...]:
    """The IMSI prefixes a realm's ``mnc<MNC>.mcc<MCC>`` allows: the 3-digit MNC, or the
    2-digit one it was zero-padded from."""
    out = [mcc + mnc3]
    if mnc3.startswith("0"):
        out.append(mcc + mnc3[1:])
    return tuple(out)


def nai_imsi(user: str, mcc: str, mnc3: str) -> tuple[str, str] | None:
    """(IMSI, form) of a NAI's all-digit user part, or None when it is not an IMSI of the
    realm: 16 digits are a method digit and a 15-digit IMSI; 15 are an IMSI, or a method
    digit and a 14-digit one; 14 an IMSI. The realm's MCC+MNC decides."""
    homes = home_prefixes(mcc, mnc3)
    if len(user) < 16 and user.startswith(homes):
        return user, "nai"
    if len(user) > 14 and user[0] in METHODS and user[1:].startswith(homes):
        return user[1:], METHODS[user[0]]
    return None


class NaiDetector(Detector):
    id = "PH-NAI"
    identifier = "imsi"
    name = "IMSI in a 3GPP NAI"
    rule_text = (
        "IMSI in a 3GPP network access identifier or IMS identity: "
        "[method digit]<IMSI>@...mnc<MNC>.mcc<MCC>.3gppnetwork.org, the IMSI starting with "
        "the realm's MCC and MNC; EAP pseudonyms and re-authentication identities excluded."
    )
    needs = re.compile(r"(?i:3gppnetwork\.org)")

    def scan(self, field: Field) -> list[Match]:
        found: list[Match] = []
        for m in _NAI.finditer(field.text):
            got = nai_imsi(m.group(1), mcc=m.group(4), mnc3=m.group(3))
            if got is None:
                continue
            imsi, form = got
            found.append(self.match(field, imsi, m.start(), m.end(), 0.95, form))
        return found


def pseudonym(text: str) -> str | None:
    """What a 3GPP EAP identity that is not an IMSI is (``pseudonym``,
    ``re-authentication identity``), for the report's "not identifiers" count. An identity
    :class:`NaiDetector` reads an IMSI from is none: ``<IMSI>@ims.mnc...`` has no method
    digit, and an IMSI of MCC 2xx-7xx (most of the world) starts with a pseudonym's."""
    for m in _EAP_ID.finditer(text):
        if m.group(1) not in NOT_IMSI:
            continue
        nai = _NAI.match(text, m.start())
        if nai is not None and nai_imsi(nai.group(1), nai.group(4), nai.group(3)) is not None:
            continue
        return "pseudonym" if m.group(1) in "237" else "re-authentication identity"
    return None
