"""SIP addresses: ``sip:``/``sips:`` URIs that name an account, sent by the device itself.

A SIP phone or softphone registers and calls as its address of record
(``sip:voi18063@sip.cybercity.dk``): a subscriber's line or VoIP account, like an e-mail
address (which the e-mail detector no longer calls it). What is not reported here:

* a user part that is a phone number (``sip:+4712345678@…;user=phone``, RFC 3261 19.1.6):
  the number is the identifier, and ``PH-MSISDN`` reports it;
* a user part that is an IMSI in an IMS identity (``sip:<IMSI>@ims.mnc….3gppnetwork.org``):
  ``PH-NAI`` reports the IMSI;
* the anonymous URI of RFC 3323 (``sip:anonymous@anonymous.invalid``) and other shared
  names (``PH-EMAIL``'s list of role and placeholder names);
* a URI without a user part (``sip:ims.example.org``: a server), and any URI in a field
  that names the other party (the number called, ``phonehome.detect.PEER_KEY``);
* a URI at a loopback or unspecified address or ``localhost`` (``sip:sipp@127.0.0.1``:
  reachable from no other machine, so no one's address; test tools' defaults), as the
  e-mail detector rejects ``user@localhost``.

The value is ``sip:user@host`` (scheme and host in lower case, no port, parameters or
headers), so one account found in From, Contact and Authorization is one value.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from phonehome.detect.base import Detector
from phonehome.detect.email import SHARED_LOCAL_PARTS
from phonehome.model.field import Field, Match

_URI: Final = re.compile(
    r"(?<![A-Za-z0-9+.-])(sips?):([^@\s;:<>\"',?]{1,128})(?::[^@\s;<>\"']{0,64})?@"
    r"(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)",
    re.IGNORECASE,
)
"""scheme, user (before an optional ``:password``), host (RFC 3261 25.1)."""
_PHONE: Final = re.compile(r"\+?[0-9][0-9().-]{5,}")


def local_only(host: str) -> bool:
    """A host no other machine reaches: loopback, unspecified, ``localhost``."""
    name = host.strip("[]").rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


class SipUriDetector(Detector):
    id = "PH-SIPURI"
    identifier = "sip_uri"
    name = "SIP address"
    needs = re.compile(r"(?i:sips?):[^@\s]{1,128}@")

    def scan(self, field: Field) -> list[Match]:
        found: list[Match] = []
        for m in _URI.finditer(field.text):
            user, host = m.group(2), m.group(3).lower()
            if _PHONE.fullmatch(user) or user.lower() in SHARED_LOCAL_PARTS:
                continue
            if host.endswith("3gppnetwork.org") or host.endswith(".invalid") or local_only(host):
                continue  # an IMS identity (its IMSI is PH-NAI's) or a non-address
            value = f"{m.group(1).lower()}:{user}@{host}"
            found.append(self.match(field, value, m.start(), m.end(), 0.9))
        return found
