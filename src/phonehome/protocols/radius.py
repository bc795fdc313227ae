"""RADIUS (RFC 2865, 2866, 3579, 5176) over UDP: the access point's or gateway's request
about a user, and the EAP it relays.

Enterprise and carrier Wi-Fi (802.1X, Passpoint, EAP-SIM/AKA offload) and the GGSN/PGW's
accounting send the user's identity to the AAA server in RADIUS: User-Name (the EAP
identity, for SIM-based Wi-Fi the 3GPP NAI with the IMSI), Calling-Station-Id (the
phone's Wi-Fi MAC, or its MSISDN at a GGSN), Called-Station-Id (the access point's MAC
and SSID), the EAP conversation in EAP-Message attributes (RFC 3579), and 3GPP
vendor attributes (TS 29.061 16.4.7: 3GPP-IMSI, 3GPP-IMEISV, 3GPP-User-Location-Info).

Recognised by content on any port (1812/1813, 1645/1646 and 3799 are the usual ones):
a known code, a length that fits the datagram and attributes that fill it exactly; off
those ports at least one attribute is required. Hidden values (User-Password,
Tunnel-Password, CHAP, Message-Authenticator, the MS-MPPE keys) are dropped at parse time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import LEAF, Budget, expand
from phonehome.extract.leaf import escape_segment
from phonehome.extract.text import printable, to_text
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, Record
from phonehome.protocols.base import Parsed, Protocol, UdpHost
from phonehome.protocols.eap import EapPacket, identity_fields
from phonehome.protocols.eap import parse as parse_eap
from phonehome.protocols.threegpp import location_fields, tbcd, uli_v1

PORTS: Final = frozenset((1645, 1646, 1812, 1813, 3799))
HEADER: Final = 20
MAX_LENGTH: Final = 4096  # RFC 2865 3; RFC 7930 allows 65535 over TCP only

CODES: Final[dict[int, str]] = {
    1: "Access-Request",
    2: "Access-Accept",
    3: "Access-Reject",
    4: "Accounting-Request",
    5: "Accounting-Response",
    11: "Access-Challenge",
    12: "Status-Server",
    13: "Status-Client",
    40: "Disconnect-Request",
    41: "Disconnect-ACK",
    42: "Disconnect-NAK",
    43: "CoA-Request",
    44: "CoA-ACK",
    45: "CoA-NAK",
}

_TEXT: Final = 0
_BYTES: Final = 1
_NUMBER: Final = 2
_IPV4: Final = 3
_SECRET: Final = 4
_EAP: Final = 5
_ULI: Final = 6
_DIGITS: Final = 7  # digits as text, or TBCD when not text
_VSA: Final = 8

ATTRIBUTES: Final[dict[int, tuple[str, int]]] = {
    1: ("User-Name", _TEXT),
    2: ("User-Password", _SECRET),
    3: ("CHAP-Password", _SECRET),
    4: ("NAS-IP-Address", _IPV4),
    5: ("NAS-Port", _NUMBER),
    6: ("Service-Type", _NUMBER),
    7: ("Framed-Protocol", _NUMBER),
    8: ("Framed-IP-Address", _IPV4),
    11: ("Filter-Id", _TEXT),
    12: ("Framed-MTU", _NUMBER),
    18: ("Reply-Message", _TEXT),
    19: ("Callback-Number", _TEXT),
    24: ("State", _BYTES),
    25: ("Class", _BYTES),
    26: ("Vendor-Specific", _VSA),
    27: ("Session-Timeout", _NUMBER),
    28: ("Idle-Timeout", _NUMBER),
    30: ("Called-Station-Id", _TEXT),
    31: ("Calling-Station-Id", _TEXT),
    32: ("NAS-Identifier", _TEXT),
    33: ("Proxy-State", _BYTES),
    40: ("Acct-Status-Type", _NUMBER),
    41: ("Acct-Delay-Time", _NUMBER),
    42: ("Acct-Input-Octets", _NUMBER),
    43: ("Acct-Output-Octets", _NUMBER),
    44: ("Acct-Session-Id", _TEXT),
    45: ("Acct-Authentic", _NUMBER),
    46: ("Acct-Session-Time", _NUMBER),
    47: ("Acct-Input-Packets", _NUMBER),
    48: ("Acct-Output-Packets", _NUMBER),
    49: ("Acct-Terminate-Cause", _NUMBER),
    50: ("Acct-Multi-Session-Id", _TEXT),
    55: ("Event-Timestamp", _NUMBER),
    60: ("CHAP-Challenge", _SECRET),
    61: ("NAS-Port-Type", _NUMBER),
    64: ("Tunnel-Type", _NUMBER),
    65: ("Tunnel-Medium-Type", _NUMBER),
    69: ("Tunnel-Password", _SECRET),
    77: ("Connect-Info", _TEXT),
    79: ("EAP-Message", _EAP),
    80: ("Message-Authenticator", _SECRET),
    81: ("Tunnel-Private-Group-Id", _TEXT),
    87: ("NAS-Port-Id", _TEXT),
    89: ("Chargeable-User-Identity", _BYTES),
    95: ("NAS-IPv6-Address", _BYTES),
    102: ("EAP-Key-Name", _SECRET),
}
"""RFC 2865/2866/2868/2869/3162/3579/4372 attributes read; others are kept by number."""

VENDORS: Final[dict[tuple[int, int], tuple[str, int]]] = {
    (10415, 1): ("3GPP-IMSI", _TEXT),
    (10415, 8): ("3GPP-IMSI-MCC-MNC", _TEXT),
    (10415, 9): ("3GPP-GGSN-MCC-MNC", _TEXT),
    (10415, 18): ("3GPP-SGSN-MCC-MNC", _TEXT),
    (10415, 20): ("3GPP-IMEISV", _DIGITS),
    (10415, 22): ("3GPP-User-Location-Info", _ULI),
    (311, 16): ("MS-MPPE-Send-Key", _SECRET),
    (311, 17): ("MS-MPPE-Recv-Key", _SECRET),
    (14122, 1): ("WISPr-Location-ID", _TEXT),
    (14122, 2): ("WISPr-Location-Name", _TEXT),
    (9, 1): ("Cisco-AVPair", _TEXT),
}
"""Vendor attributes read: 3GPP (TS 29.061), Microsoft (RFC 2548), WISPr, Cisco."""


class RadiusAttribute(Record):
    FIELDS = ("type", "vendor", "name", "kind", "value")
    __slots__ = FIELDS

    type: Final[int]
    vendor: Final[int]
    """0 for a standard attribute, else the Vendor-Specific attribute's vendor."""
    name: Final[str]
    kind: Final[int]
    value: Final[bytes]
    """Empty for hidden values (passwords, keys, authenticators)."""

    def __init__(self, type: int, vendor: int, name: str, kind: int, value: bytes) -> None:
        self.type = type
        self.vendor = vendor
        self.name = name
        self.kind = kind
        self.value = value


class RadiusPacket(Record):
    FIELDS = ("code", "identifier", "attributes", "eap")
    __slots__ = FIELDS

    code: Final[int]
    identifier: Final[int]
    attributes: Final[tuple[RadiusAttribute, ...]]
    eap: Final[EapPacket | None]
    """The EAP packet of the EAP-Message attributes, joined (RFC 3579 3.1)."""

    def __init__(
        self,
        code: int,
        identifier: int,
        attributes: tuple[RadiusAttribute, ...],
        eap: EapPacket | None = None,
    ) -> None:
        self.code = code
        self.identifier = identifier
        self.attributes = attributes
        self.eap = eap

    @property
    def code_name(self) -> str:
        return CODES.get(self.code, f"Code-{self.code}")


def _walk(data: bytes, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` is a whole number of (type, length >= 2) attributes."""
    pos = start
    while pos < end:
        if pos + 2 > end or data[pos + 1] < 2:
            return False
        pos += data[pos + 1]
    return pos == end


def length_of(data: bytes, port_hint: bool) -> int | None:
    """The packet length when ``data`` is a RADIUS packet, else None."""
    if len(data) < HEADER or data[0] not in CODES:
        return None
    length = int.from_bytes(data[2:4], "big")
    if length < HEADER or length > len(data) or length > MAX_LENGTH:
        return None
    if length == HEADER and not port_hint:
        return None
    return length if _walk(data, HEADER, length) else None


def parse(data: bytes, length: int) -> tuple[RadiusPacket, str | None]:
    """The packet, and the problem its EAP-Message showed (if any)."""
    attrs: list[RadiusAttribute] = []
    eap_parts: list[bytes] = []
    pos = HEADER
    while pos < length:
        atype = data[pos]
        value = data[pos + 2 : pos + data[pos + 1]]
        pos += data[pos + 1]
        if atype == 26 and len(value) >= 4:
            vendor = int.from_bytes(value[:4], "big")
            vsa = value[4:]
            if _walk(vsa, 0, len(vsa)):
                vpos = 0
                while vpos < len(vsa):
                    vtype = vsa[vpos]
                    vvalue = vsa[vpos + 2 : vpos + vsa[vpos + 1]]
                    vpos += vsa[vpos + 1]
                    name, kind = VENDORS.get((vendor, vtype), (f"Vendor-{vendor}-{vtype}", _BYTES))
                    attrs.append(
                        RadiusAttribute(
                            vtype, vendor, name, kind, b"" if kind == _SECRET else vvalue
                        )
                    )
                continue
            attrs.append(RadiusAttribute(26, vendor, f"Vendor-{vendor}", _BYTES, vsa))
            continue
        name, kind = ATTRIBUTES.get(atype, (f"Attribute-{atype}", _BYTES))
        if kind == _EAP:
            eap_parts.append(value)
        attrs.append(RadiusAttribute(atype, 0, name, kind, b"" if kind == _SECRET else value))
    packet = None
    problem = None
    if eap_parts:
        packet, problem = parse_eap(b"".join(eap_parts))
    return RadiusPacket(data[0], data[1], tuple(attrs), packet), problem


def display(attr: RadiusAttribute) -> str | None:
    kind = attr.kind
    value = attr.value
    if kind == _TEXT and value:
        return to_text(value)
    if kind == _DIGITS and value:
        return to_text(value) if value.isascii() and printable(value) else tbcd(value)
    if kind == _NUMBER and 0 < len(value) <= 8:
        return str(int.from_bytes(value, "big"))
    if kind == _IPV4 and len(value) == 4:
        return str(ipaddress.ip_address(value))
    return None


class RadiusProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__("radius", (RadiusPacket,))

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        hint = host.client_port in PORTS or host.server_port in PORTS
        length = length_of(data, hint)
        if length is None:
            if hint and len(data) >= HEADER and data[0] in CODES:
                host.ctx.anomalies.add(
                    "radius.malformed", host.input, frame, "length or attributes do not add up"
                )
                return host.raw(from_client, data, time, frame)
            return None
        packet, problem = parse(data, length)
        if problem is not None:
            host.ctx.anomalies.add("radius.bad_eap", host.input, frame, problem)
        return [Parsed(from_client, time, frame, packet)]

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, RadiusPacket)
        user = _first(content, "User-Name")
        return {
            "radius_code": content.code_name,
            "radius_id": content.identifier,
            "radius_user": display(user) if user is not None else None,
            "radius_eap": content.eap.describe() if content.eap is not None else None,
            "radius_eap_identity": content.eap.identity if content.eap is not None else None,
            "radius_attributes": [a.name for a in content.attributes],
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, RadiusPacket)
        text = f"{content.code_name} id={content.identifier}"
        user = _first(content, "User-Name")
        if user is not None:
            text += f" User-Name={display(user)}"
        if content.eap is not None:
            text += f" EAP {content.eap.describe()}"
        return text

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        assert isinstance(content, RadiusPacket)
        return attribute_fields(budget, content)


def _first(packet: RadiusPacket, name: str) -> RadiusAttribute | None:
    for attr in packet.attributes:
        if attr.name == name:
            return attr
    return None


_KEYS: Final[dict[str, str]] = {"3GPP-IMEISV": "IMEISV", "3GPP-IMSI": "IMSI"}
"""Typed attributes whose field carries the identity's name as its key."""


def attribute_fields(budget: Budget, packet: RadiusPacket) -> Iterator[Field]:
    part = "radius.attr"
    eap_done = False
    for attr in packet.attributes:
        segment = escape_segment(attr.name)
        kind = attr.kind
        if kind == _EAP:
            if not eap_done and packet.eap is not None:
                eap_done = True
                yield from identity_fields(budget, part, segment, packet.eap)
            continue
        if kind == _ULI:
            for loc in uli_v1(attr.value) or ():
                yield from location_fields(budget, part, segment, loc)
            continue
        if kind in (_NUMBER, _SECRET, _IPV4):
            continue
        key = _KEYS.get(attr.name, attr.name)
        text = display(attr)
        if text is not None:
            chain = ("tbcd",) if kind == _DIGITS and not attr.value.isascii() else ()
            hint = LEAF if kind == _DIGITS else None
            yield from expand(budget, part, segment, chain, key, (), text, None, hint)
        elif attr.value and attr.name not in ("State", "Proxy-State"):
            yield from expand(budget, part, segment, (), key, (), to_text(attr.value), attr.value)


RADIUS: Final = RadiusProtocol()
