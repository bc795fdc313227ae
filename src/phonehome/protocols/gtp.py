"""GTP-C, the mobile core's session signalling: GTPv2-C (TS 29.274) and GTPv1-C (TS 29.060).

When a phone attaches or opens a data connection, the MME/SGSN asks the gateways for a
session in GTP-C, and the request names the subscriber and the device in clear: IMSI,
MSISDN and MEI (the IMEI or IMEISV) as TBCD digits, the serving cell in User Location
Information, the APN, the address given to the phone. A capture on S11/S5/Gn/Gp (or a
roaming exchange) shows them for every subscriber.

Recognised by content on UDP: the header's version, a message type of the control plane
and a length that matches the datagram; 2123 (GTP-C) is the usual port. GTPv1 shares
its header with GTP-U (2152), whose G-PDUs carry user data, not signalling: only the
control messages are taken, and echo messages (common to both planes) only on 2123.
Authentication vectors and security contexts (MM Context, Authentication Triplet and
Quintuplet IEs) are key material: their values are dropped at parse time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import LEAF, Budget, expand
from phonehome.extract.leaf import escape_segment
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, Record
from phonehome.protocols.base import Parsed, Protocol, UdpHost
from phonehome.protocols.threegpp import location_fields, plmn, tbcd, uli_v1, uli_v2

PORT: Final = 2123
MAX_DEPTH: Final = 4
MAX_IES: Final = 512

# IE value kinds
_BYTES: Final = 0
_IMSI: Final = 1
_IMEI: Final = 2
_MSISDN: Final = 3  # TBCD, international (GTPv2); GTPv1 has a nature-of-address octet first
_ULI: Final = 4
_APN: Final = 5
_PLMN: Final = 6
_GROUPED: Final = 7
_SECRET: Final = 8
_NUMBER: Final = 9
_ADDRESS: Final = 10
_RAI: Final = 11

V2_TYPES: Final[dict[int, str]] = {
    1: "Echo Request",
    2: "Echo Response",
    3: "Version Not Supported Indication",
    32: "Create Session Request",
    33: "Create Session Response",
    34: "Modify Bearer Request",
    35: "Modify Bearer Response",
    36: "Delete Session Request",
    37: "Delete Session Response",
    38: "Change Notification Request",
    39: "Change Notification Response",
    64: "Modify Bearer Command",
    65: "Modify Bearer Failure Indication",
    66: "Delete Bearer Command",
    67: "Delete Bearer Failure Indication",
    68: "Bearer Resource Command",
    69: "Bearer Resource Failure Indication",
    70: "Downlink Data Notification Failure Indication",
    71: "Trace Session Activation",
    72: "Trace Session Deactivation",
    73: "Stop Paging Indication",
    95: "Create Bearer Request",
    96: "Create Bearer Response",
    97: "Update Bearer Request",
    98: "Update Bearer Response",
    99: "Delete Bearer Request",
    100: "Delete Bearer Response",
    101: "Delete PDN Connection Set Request",
    102: "Delete PDN Connection Set Response",
    128: "Identification Request",
    129: "Identification Response",
    130: "Context Request",
    131: "Context Response",
    132: "Context Acknowledge",
    133: "Forward Relocation Request",
    134: "Forward Relocation Response",
    135: "Forward Relocation Complete Notification",
    136: "Forward Relocation Complete Acknowledge",
    139: "Relocation Cancel Request",
    140: "Relocation Cancel Response",
    149: "Detach Notification",
    150: "Detach Acknowledge",
    151: "CS Paging Indication",
    152: "RAN Information Relay",
    153: "Alert MME Notification",
    154: "Alert MME Acknowledge",
    155: "UE Activity Notification",
    156: "UE Activity Acknowledge",
    160: "Create Forwarding Tunnel Request",
    161: "Create Forwarding Tunnel Response",
    162: "Suspend Notification",
    163: "Suspend Acknowledge",
    164: "Resume Notification",
    165: "Resume Acknowledge",
    166: "Create Indirect Data Forwarding Tunnel Request",
    167: "Create Indirect Data Forwarding Tunnel Response",
    168: "Delete Indirect Data Forwarding Tunnel Request",
    169: "Delete Indirect Data Forwarding Tunnel Response",
    170: "Release Access Bearers Request",
    171: "Release Access Bearers Response",
    176: "Downlink Data Notification",
    177: "Downlink Data Notification Acknowledge",
    179: "PGW Restart Notification",
    180: "PGW Restart Notification Acknowledge",
    200: "Update PDN Connection Set Request",
    201: "Update PDN Connection Set Response",
    211: "Modify Access Bearers Request",
    212: "Modify Access Bearers Response",
}
"""TS 29.274 table 6.1-1."""

V2_IES: Final[dict[int, tuple[str, int]]] = {
    1: ("IMSI", _IMSI),
    2: ("Cause", _NUMBER),
    3: ("Recovery", _NUMBER),
    71: ("APN", _APN),
    72: ("AMBR", _NUMBER),
    73: ("EBI", _NUMBER),
    74: ("IP-Address", _ADDRESS),
    75: ("MEI", _IMEI),
    76: ("MSISDN", _MSISDN),
    77: ("Indication", _NUMBER),
    78: ("PCO", _BYTES),
    79: ("PAA", _BYTES),
    80: ("Bearer-QoS", _NUMBER),
    82: ("RAT-Type", _NUMBER),
    83: ("Serving-Network", _PLMN),
    86: ("ULI", _ULI),
    87: ("F-TEID", _NUMBER),
    93: ("Bearer-Context", _GROUPED),
    94: ("Charging-ID", _NUMBER),
    95: ("Charging-Characteristics", _NUMBER),
    99: ("PDN-Type", _NUMBER),
    103: ("MM-Context-GSM-Key-Triplets", _SECRET),
    104: ("MM-Context-UMTS-Key-Used-Cipher-Quintuplets", _SECRET),
    105: ("MM-Context-GSM-Key-Used-Cipher-Quintuplets", _SECRET),
    106: ("MM-Context-UMTS-Key-Quintuplets", _SECRET),
    107: ("MM-Context-EPS-Security-Context-Quadruplets-Quintuplets", _SECRET),
    108: ("MM-Context-UMTS-Key-Quadruplets-Quintuplets", _SECRET),
    109: ("PDN-Connection", _GROUPED),
    114: ("UE-Time-Zone", _NUMBER),
    117: ("GUTI", _BYTES),
    120: ("PLMN-ID", _PLMN),
    127: ("APN-Restriction", _NUMBER),
    128: ("Selection-Mode", _NUMBER),
    136: ("FQDN", _APN),
    180: ("Overload-Control-Information", _GROUPED),
    181: ("Load-Control-Information", _GROUPED),
    191: ("Remote-UE-Context", _GROUPED),
    195: ("SCEF-PDN-Connection", _GROUPED),
    255: ("Private-Extension", _BYTES),
}
"""TS 29.274 table 8.1-1: the IEs read (others are kept by number, not searched)."""

V1_TYPES: Final[dict[int, str]] = {
    1: "Echo Request",
    2: "Echo Response",
    3: "Version Not Supported",
    4: "Node Alive Request",
    5: "Node Alive Response",
    6: "Redirection Request",
    7: "Redirection Response",
    16: "Create PDP Context Request",
    17: "Create PDP Context Response",
    18: "Update PDP Context Request",
    19: "Update PDP Context Response",
    20: "Delete PDP Context Request",
    21: "Delete PDP Context Response",
    22: "Initiate PDP Context Activation Request",
    23: "Initiate PDP Context Activation Response",
    27: "PDU Notification Request",
    28: "PDU Notification Response",
    29: "PDU Notification Reject Request",
    30: "PDU Notification Reject Response",
    32: "Send Routeing Information for GPRS Request",
    33: "Send Routeing Information for GPRS Response",
    34: "Failure Report Request",
    35: "Failure Report Response",
    36: "Note MS GPRS Present Request",
    37: "Note MS GPRS Present Response",
    48: "Identification Request",
    49: "Identification Response",
    50: "SGSN Context Request",
    51: "SGSN Context Response",
    52: "SGSN Context Acknowledge",
    53: "Forward Relocation Request",
    54: "Forward Relocation Response",
    55: "Forward Relocation Complete",
    56: "Relocation Cancel Request",
    57: "Relocation Cancel Response",
    58: "Forward SRNS Context",
    59: "Forward Relocation Complete Acknowledge",
    60: "Forward SRNS Context Acknowledge",
    61: "UE Registration Query Request",
    62: "UE Registration Query Response",
    70: "RAN Information Relay",
    240: "Data Record Transfer Request",
    241: "Data Record Transfer Response",
}
"""TS 29.060 table 1, without the user plane's messages (Error Indication, Supported
Extension Headers Notification, End Marker, G-PDU)."""

V1_ECHO: Final = frozenset((1, 2))

V1_TV: Final[dict[int, tuple[str, int, int]]] = {
    1: ("Cause", 1, _NUMBER),
    2: ("IMSI", 8, _IMSI),
    3: ("RAI", 6, _RAI),
    4: ("TLLI", 4, _NUMBER),
    5: ("P-TMSI", 4, _NUMBER),
    8: ("Reordering-Required", 1, _NUMBER),
    9: ("Authentication-Triplet", 28, _SECRET),
    11: ("MAP-Cause", 1, _NUMBER),
    12: ("P-TMSI-Signature", 3, _NUMBER),
    13: ("MS-Validated", 1, _NUMBER),
    14: ("Recovery", 1, _NUMBER),
    15: ("Selection-Mode", 1, _NUMBER),
    16: ("TEID-Data-I", 4, _NUMBER),
    17: ("TEID-Control-Plane", 4, _NUMBER),
    18: ("TEID-Data-II", 5, _NUMBER),
    19: ("Teardown-Ind", 1, _NUMBER),
    20: ("NSAPI", 1, _NUMBER),
    21: ("RANAP-Cause", 1, _NUMBER),
    22: ("RAB-Context", 9, _NUMBER),
    23: ("Radio-Priority-SMS", 1, _NUMBER),
    24: ("Radio-Priority", 1, _NUMBER),
    25: ("Packet-Flow-Id", 2, _NUMBER),
    26: ("Charging-Characteristics", 2, _NUMBER),
    27: ("Trace-Reference", 2, _NUMBER),
    28: ("Trace-Type", 2, _NUMBER),
    29: ("MS-Not-Reachable-Reason", 1, _NUMBER),
    127: ("Charging-ID", 4, _NUMBER),
}
"""TV IEs (type < 128) and their fixed value lengths (TS 29.060 7.7)."""

V1_TLV: Final[dict[int, tuple[str, int]]] = {
    128: ("End-User-Address", _BYTES),
    129: ("MM-Context", _SECRET),
    130: ("PDP-Context", _SECRET),
    131: ("APN", _APN),
    132: ("PCO", _BYTES),
    133: ("GSN-Address", _ADDRESS),
    134: ("MSISDN", _MSISDN),
    135: ("QoS-Profile", _NUMBER),
    136: ("Authentication-Quintuplet", _SECRET),
    151: ("RAT-Type", _NUMBER),
    152: ("ULI", _ULI),
    153: ("MS-Time-Zone", _NUMBER),
    154: ("IMEISV", _IMEI),
    255: ("Private-Extension", _BYTES),
}


class GtpIe(Record):
    """One information element: type, instance (GTPv2), name, value (empty for key
    material and grouped IEs) and the IEs of a grouped one."""

    FIELDS = ("type", "instance", "name", "kind", "value", "ies")
    __slots__ = FIELDS

    type: Final[int]
    instance: Final[int]
    name: Final[str]
    kind: Final[int]
    value: Final[bytes]
    ies: Final[tuple[GtpIe, ...]]

    def __init__(
        self,
        type: int,
        instance: int,
        name: str,
        kind: int,
        value: bytes,
        ies: tuple[GtpIe, ...] = (),
    ) -> None:
        self.type = type
        self.instance = instance
        self.name = name
        self.kind = kind
        self.value = value
        self.ies = ies


class GtpMessage(Record):
    FIELDS = ("version", "type", "teid", "sequence", "ies")
    __slots__ = FIELDS

    version: Final[int]
    type: Final[int]
    teid: Final[int]
    """-1 when the header has none (GTPv2 with T=0)."""
    sequence: Final[int]
    ies: Final[tuple[GtpIe, ...]]

    def __init__(
        self, version: int, type: int, teid: int, sequence: int, ies: tuple[GtpIe, ...]
    ) -> None:
        self.version = version
        self.type = type
        self.teid = teid
        self.sequence = sequence
        self.ies = ies

    @property
    def type_name(self) -> str:
        names = V2_TYPES if self.version == 2 else V1_TYPES
        return names.get(self.type, f"Message {self.type}")


class _Malformed(Exception):
    pass


# -- GTPv2 -----------------------------------------------------------------------------------


def v2_header(data: bytes) -> tuple[int, int] | None:
    """(header size, message end) of a GTPv2-C message at the start of ``data``, or None
    when it is not one (version, known type, spare bits, length)."""
    if len(data) < 8 or data[0] >> 5 != 2 or data[0] & 0x03 or data[1] not in V2_TYPES:
        return None
    length = int.from_bytes(data[2:4], "big")
    size = 12 if data[0] & 0x08 else 8
    if length + 4 < size or length + 4 > len(data):
        return None
    if not data[0] & 0x10 and length + 4 != len(data):
        return None  # no piggybacked message announced: the datagram is this one
    return size, length + 4


def parse_v2_ies(data: bytes, depth: int, budget: list[int]) -> tuple[GtpIe, ...]:
    out: list[GtpIe] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise _Malformed(f"{len(data) - pos} bytes after the last IE")
        itype = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 3], "big")
        instance = data[pos + 3] & 0x0F
        end = pos + 4 + length
        if end > len(data):
            raise _Malformed(f"IE {itype}: length {length} runs past the message")
        budget[0] -= 1
        if budget[0] < 0:
            raise _Malformed(f"more than {MAX_IES} IEs")
        name, kind = V2_IES.get(itype, (f"IE-{itype}", _NUMBER))
        value = data[pos + 4 : end]
        children: tuple[GtpIe, ...] = ()
        if kind == _GROUPED:
            if depth < MAX_DEPTH:
                children = parse_v2_ies(value, depth + 1, budget)
            value = b""
        elif kind == _SECRET:
            value = b""
        out.append(GtpIe(itype, instance, name, kind, value, children))
        pos = end
    return tuple(out)


def parse_v2(data: bytes) -> list[GtpMessage]:
    """The message of a datagram, and a piggybacked one after it (TS 29.274 5.5)."""
    out: list[GtpMessage] = []
    while data and len(out) < 2:
        found = v2_header(data)
        if found is None:
            if out:
                raise _Malformed("piggybacked message is not GTPv2")
            return out
        size, end = found
        teid = int.from_bytes(data[4:8], "big") if size == 12 else -1
        seq = int.from_bytes(data[size - 4 : size - 1], "big")
        ies = parse_v2_ies(data[size:end], 0, [MAX_IES])
        out.append(GtpMessage(2, data[1], teid, seq, ies))
        data = data[end:] if data[0] & 0x10 else b""
    return out


# -- GTPv1 -----------------------------------------------------------------------------------


def v1_header(data: bytes, port_ok: bool) -> int | None:
    """Header size of a GTPv1-C message filling ``data``, or None. Echo messages are
    taken only on the GTP-C port (``port_ok``): GTP-U sends them too."""
    if len(data) < 8 or data[0] & 0xF8 != 0x30 or data[1] not in V1_TYPES:
        return None
    if data[1] in V1_ECHO and not port_ok:
        return None
    if int.from_bytes(data[2:4], "big") + 8 != len(data):
        return None
    if not data[0] & 0x07:
        return 8
    if len(data) < 12:
        return None
    pos = 12
    ext = data[11] if data[0] & 0x04 else 0
    while ext:
        if pos >= len(data) or data[pos] == 0 or pos + data[pos] * 4 > len(data):
            return None
        pos += data[pos] * 4
        ext = data[pos - 1]
    return pos


def parse_v1_ies(data: bytes) -> tuple[GtpIe, ...]:
    out: list[GtpIe] = []
    pos = 0
    while pos < len(data):
        if len(out) >= MAX_IES:
            raise _Malformed(f"more than {MAX_IES} IEs")
        itype = data[pos]
        if itype < 128:
            tv = V1_TV.get(itype)
            if tv is None:
                raise _Malformed(f"unknown TV IE {itype}: the rest cannot be framed")
            name, length, kind = tv
            start = pos + 1
        else:
            if pos + 3 > len(data):
                raise _Malformed(f"IE {itype}: length missing")
            name, kind = V1_TLV.get(itype, (f"IE-{itype}", _NUMBER))
            length = int.from_bytes(data[pos + 1 : pos + 3], "big")
            start = pos + 3
        end = start + length
        if end > len(data):
            raise _Malformed(f"IE {itype}: length {length} runs past the message")
        value = b"" if kind == _SECRET else data[start:end]
        out.append(GtpIe(itype, 0, name, kind, value))
        pos = end
    return tuple(out)


def parse_v1(data: bytes, size: int) -> GtpMessage:
    seq = int.from_bytes(data[8:10], "big") if data[0] & 0x02 else -1
    teid = int.from_bytes(data[4:8], "big")
    return GtpMessage(1, data[1], teid, seq, parse_v1_ies(data[size:]))


# -- values ------------------------------------------------------------------------------------


def display(ie: GtpIe, version: int) -> str | None:
    """The IE's value as text where it is an identity, a name or an address."""
    kind = ie.kind
    value = ie.value
    if kind in (_IMSI, _IMEI):
        return tbcd(value)
    if kind == _MSISDN:
        international = True
        if version == 1:  # an ISDN address-string: nature of address first (TS 29.002)
            international = bool(value) and value[0] & 0x70 == 0x10
            value = value[1:]
        digits = tbcd(value)
        return f"+{digits}" if digits and international else digits
    if kind == _APN:
        labels: list[str] = []
        pos = 0
        while pos < len(value):
            n = value[pos]
            labels.append(value[pos + 1 : pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        return ".".join(labels) or None
    if kind == _PLMN:
        ids = plmn(value)
        return f"{ids[0]}-{ids[1]}" if ids else None
    if kind == _ADDRESS and len(value) in (4, 16):
        return str(ipaddress.ip_address(value))
    return None


def _find(ies: tuple[GtpIe, ...], name: str) -> GtpIe | None:
    for ie in ies:
        if ie.name == name:
            return ie
    return None


_IDENTITY_KEYS: Final[dict[int, str]] = {_IMSI: "IMSI", _IMEI: "IMEI", _MSISDN: "MSISDN"}


def ie_fields(
    budget: Budget, part: str, path: str, ies: tuple[GtpIe, ...], version: int
) -> Iterator[Field]:
    """Identities (as TBCD-decoded digits under ``IMSI``/``IMEI``/``MSISDN`` keys), the
    locations, names and private extensions of a message's IEs; grouped IEs opened."""
    for ie in ies:
        segment = escape_segment(ie.name)
        where = f"{path}/{segment}" if path else segment
        if ie.ies:
            yield from ie_fields(budget, part, where, ie.ies, version)
            continue
        kind = ie.kind
        if kind in (_IMSI, _IMEI, _MSISDN):
            text = display(ie, version)
            if text:
                yield from expand(
                    budget, part, where, ("tbcd",), _IDENTITY_KEYS[kind], (), text, None, LEAF
                )
        elif kind in (_ULI, _RAI):
            if kind == _RAI:  # PLMN, LAC, RAC: the RAI element of a GTPv1 ULI
                locs = uli_v1(b"\x02" + ie.value + b"\xff")
            else:
                locs = uli_v2(ie.value) if version == 2 else uli_v1(ie.value)
            for loc in locs or ():
                yield from location_fields(budget, part, where, loc)
        elif kind in (_APN, _PLMN, _ADDRESS):
            text = display(ie, version)
            if text:
                yield from expand(budget, part, where, (), ie.name, (), text, None, LEAF)
        elif kind == _BYTES and ie.name == "Private-Extension" and len(ie.value) > 2:
            data = ie.value[2:]  # after the enterprise id
            yield from expand(budget, part, where, (), ie.name, (), data.decode("latin-1"), data)


# -- registry entries --------------------------------------------------------------------------


class _Gtp(Protocol):
    version = 2

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, GtpMessage)
        imsi = _find(content.ies, "IMSI")
        mei = _find(content.ies, "MEI") or _find(content.ies, "IMEISV")
        msisdn = _find(content.ies, "MSISDN")
        return {
            "gtp_type": content.type_name,
            "gtp_teid": content.teid if content.teid >= 0 else None,
            "gtp_seq": content.sequence if content.sequence >= 0 else None,
            "gtp_imsi": display(imsi, content.version) if imsi else None,
            "gtp_mei": display(mei, content.version) if mei else None,
            "gtp_msisdn": display(msisdn, content.version) if msisdn else None,
            "gtp_ies": [ie.name for ie in content.ies],
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, GtpMessage)
        text = (
            f"{content.type_name} teid={content.teid:#x}"
            if content.teid >= 0
            else content.type_name
        )
        imsi = _find(content.ies, "IMSI")
        if imsi is not None:
            text += f" IMSI {display(imsi, content.version)}"
        return text

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        assert isinstance(content, GtpMessage)
        part = "gtpv2.ie" if content.version == 2 else "gtpv1.ie"
        return ie_fields(budget, part, "", content.ies, content.version)


class GtpV2Protocol(_Gtp):
    def __init__(self) -> None:
        super().__init__("gtpv2", (GtpMessage,))

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        if v2_header(data) is None:
            return None
        try:
            messages = parse_v2(data)
        except _Malformed as e:
            host.ctx.anomalies.add("gtpv2.malformed", host.input, frame, str(e))
            return host.raw(from_client, data, time, frame)
        return [Parsed(from_client, time, frame, m) for m in messages]

    def message_name(self, content: Content, transport: str) -> str:
        assert isinstance(content, GtpMessage)
        return "gtpv2" if content.version == 2 else "gtpv1"


class GtpV1Protocol(_Gtp):
    def __init__(self) -> None:
        super().__init__("gtpv1")

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        port_ok = PORT in (host.client_port, host.server_port)
        size = v1_header(data, port_ok)
        if size is None:
            return None
        try:
            message = parse_v1(data, size)
        except _Malformed as e:
            host.ctx.anomalies.add("gtpv1.malformed", host.input, frame, str(e))
            return host.raw(from_client, data, time, frame)
        return [Parsed(from_client, time, frame, message)]


GTPV2: Final = GtpV2Protocol()
"""Owns :class:`GtpMessage` (both versions: a message's ``version`` names it)."""
GTPV1: Final = GtpV1Protocol()
