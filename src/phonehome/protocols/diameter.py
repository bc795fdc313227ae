"""Diameter (RFC 6733) over TCP: commands and the AVPs that name a subscriber or device.

Diameter is the mobile core's AAA protocol (S6a between MME and HSS, Gx/Gy for policy
and charging, Cx/Sh for IMS, SWm/STa/SWx for Wi-Fi calling and carrier Wi-Fi). Its
identities are typed AVPs:

* User-Name (1): the IMSI on S6a (TS 29.272 7.3.1), ``<IMSI>@realm`` or an EAP NAI elsewhere;
* Subscription-Id (443) = Subscription-Id-Type (450: END_USER_E164, END_USER_IMSI,
  END_USER_SIP_URI, END_USER_NAI) + Subscription-Id-Data (444) (RFC 4006);
* Terminal-Information (1401) = IMEI (1402), Software-Version (1403), 3GPP2-MEID (1471)
  (TS 29.272 7.3.3), and User-Equipment-Info (458, RFC 4006) with the IMEISV or a MAC;
* MSISDN (701, TS 29.329): the phone number as TBCD;
* 3GPP-IMSI, 3GPP-IMEISV, 3GPP-User-Location-Info (TS 29.061 16.4.7): the serving cell;
* EAP-Payload (462): an EAP packet, with its identity (:mod:`phonehome.protocols.eap`).

Recognised by content (the 20-byte header's version, length and flags, and the first AVP
header) on any TCP port; 3868 is the registered one. Authentication vectors and keys
(RAND, XRES, AUTN, KASME, CK, IK, EAP-Master-Session-Key ...) are never kept: their
values are dropped at parse time, only their names remain. SCTP, Diameter's other
transport, is not decoded (the flow table sees TCP and UDP only).
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
from phonehome.protocols import eap
from phonehome.protocols.base import Parsed, Protocol, TcpApp, TcpHost
from phonehome.protocols.threegpp import location_fields, plmn, tbcd, uli_v1

MAX_MESSAGE: Final = 1 << 20
"""Largest message parsed (the length field allows 16 MiB; real ones are a few KB)."""
MAX_DEPTH: Final = 8
"""Grouped AVPs nested deeper than this are not opened."""
MAX_AVPS: Final = 2048
HEADER: Final = 20
VENDOR_3GPP: Final = 10415

# AVP data types (RFC 6733 4.2, 4.3) and the special encodings the 3GPP specs give.
OCTETS: Final = 0
UTF8: Final = 1  # UTF8String, DiameterIdentity, DiameterURI
UNSIGNED: Final = 2  # Unsigned32/64, Integer32/64
ENUM: Final = 3
GROUPED: Final = 4
ADDRESS: Final = 5
TIME: Final = 6
TBCD_E164: Final = 7  # TBCD of an international E.164 number (MSISDN)
PLMN_ID: Final = 8
ULI: Final = 9  # 3GPP-User-Location-Info
EAP: Final = 10
SECRET: Final = 11  # key material: value dropped
IPV4: Final = 12  # 4-byte address without the family (Framed-IP-Address)
DIGITS: Final = 13  # UTF-8 digits, or TBCD when not text (3GPP-IMEISV)

AVPS: Final[dict[tuple[int, int], tuple[str, int]]] = {
    (0, 1): ("User-Name", UTF8),
    (0, 8): ("Framed-IP-Address", IPV4),
    (0, 25): ("Class", OCTETS),
    (0, 27): ("Session-Timeout", UNSIGNED),
    (0, 30): ("Called-Station-Id", UTF8),
    (0, 31): ("Calling-Station-Id", UTF8),
    (0, 32): ("NAS-Identifier", UTF8),
    (0, 44): ("Accounting-Session-Id", OCTETS),
    (0, 50): ("Acct-Multi-Session-Id", UTF8),
    (0, 55): ("Event-Timestamp", TIME),
    (0, 61): ("NAS-Port-Type", ENUM),
    (0, 85): ("Acct-Interim-Interval", UNSIGNED),
    (0, 257): ("Host-IP-Address", ADDRESS),
    (0, 258): ("Auth-Application-Id", UNSIGNED),
    (0, 259): ("Acct-Application-Id", UNSIGNED),
    (0, 260): ("Vendor-Specific-Application-Id", GROUPED),
    (0, 263): ("Session-Id", UTF8),
    (0, 264): ("Origin-Host", UTF8),
    (0, 265): ("Supported-Vendor-Id", UNSIGNED),
    (0, 266): ("Vendor-Id", UNSIGNED),
    (0, 267): ("Firmware-Revision", UNSIGNED),
    (0, 268): ("Result-Code", UNSIGNED),
    (0, 269): ("Product-Name", UTF8),
    (0, 273): ("Disconnect-Cause", ENUM),
    (0, 274): ("Auth-Request-Type", ENUM),
    (0, 277): ("Auth-Session-State", ENUM),
    (0, 278): ("Origin-State-Id", UNSIGNED),
    (0, 279): ("Failed-AVP", GROUPED),
    (0, 280): ("Proxy-Host", UTF8),
    (0, 281): ("Error-Message", UTF8),
    (0, 282): ("Route-Record", UTF8),
    (0, 283): ("Destination-Realm", UTF8),
    (0, 284): ("Proxy-Info", GROUPED),
    (0, 285): ("Re-Auth-Request-Type", ENUM),
    (0, 287): ("Accounting-Sub-Session-Id", UNSIGNED),
    (0, 291): ("Authorization-Lifetime", UNSIGNED),
    (0, 292): ("Redirect-Host", UTF8),
    (0, 293): ("Destination-Host", UTF8),
    (0, 294): ("Error-Reporting-Host", UTF8),
    (0, 295): ("Termination-Cause", ENUM),
    (0, 296): ("Origin-Realm", UTF8),
    (0, 297): ("Experimental-Result", GROUPED),
    (0, 298): ("Experimental-Result-Code", UNSIGNED),
    (0, 415): ("CC-Request-Number", UNSIGNED),
    (0, 416): ("CC-Request-Type", ENUM),
    (0, 443): ("Subscription-Id", GROUPED),
    (0, 444): ("Subscription-Id-Data", UTF8),
    (0, 450): ("Subscription-Id-Type", ENUM),
    (0, 455): ("Multiple-Services-Indicator", ENUM),
    (0, 456): ("Multiple-Services-Credit-Control", GROUPED),
    (0, 458): ("User-Equipment-Info", GROUPED),
    (0, 459): ("User-Equipment-Info-Type", ENUM),
    (0, 460): ("User-Equipment-Info-Value", OCTETS),
    (0, 461): ("Service-Context-Id", UTF8),
    (0, 462): ("EAP-Payload", EAP),
    (0, 463): ("EAP-Reissued-Payload", EAP),
    (0, 464): ("EAP-Master-Session-Key", SECRET),
    (0, 480): ("Accounting-Record-Type", ENUM),
    (0, 483): ("Accounting-Realtime-Required", ENUM),
    (0, 485): ("Accounting-Record-Number", UNSIGNED),
    (0, 493): ("Service-Selection", UTF8),
    (0, 506): ("Mobile-Node-Identifier", UTF8),
    (VENDOR_3GPP, 1): ("3GPP-IMSI", UTF8),
    (VENDOR_3GPP, 8): ("3GPP-IMSI-MCC-MNC", UTF8),
    (VENDOR_3GPP, 9): ("3GPP-GGSN-MCC-MNC", UTF8),
    (VENDOR_3GPP, 18): ("3GPP-SGSN-MCC-MNC", UTF8),
    (VENDOR_3GPP, 20): ("3GPP-IMEISV", DIGITS),
    (VENDOR_3GPP, 21): ("3GPP-RAT-Type", OCTETS),
    (VENDOR_3GPP, 22): ("3GPP-User-Location-Info", ULI),
    (VENDOR_3GPP, 601): ("Public-Identity", UTF8),
    (VENDOR_3GPP, 602): ("Server-Name", UTF8),
    (VENDOR_3GPP, 609): ("SIP-Authenticate", SECRET),
    (VENDOR_3GPP, 610): ("SIP-Authorization", SECRET),
    (VENDOR_3GPP, 612): ("SIP-Auth-Data-Item", GROUPED),
    (VENDOR_3GPP, 625): ("Confidentiality-Key", SECRET),
    (VENDOR_3GPP, 626): ("Integrity-Key", SECRET),
    (VENDOR_3GPP, 701): ("MSISDN", TBCD_E164),
    (VENDOR_3GPP, 1027): ("IP-CAN-Type", ENUM),
    (VENDOR_3GPP, 1032): ("RAT-Type", ENUM),
    (VENDOR_3GPP, 1400): ("Subscription-Data", GROUPED),
    (VENDOR_3GPP, 1401): ("Terminal-Information", GROUPED),
    (VENDOR_3GPP, 1402): ("IMEI", UTF8),
    (VENDOR_3GPP, 1403): ("Software-Version", UTF8),
    (VENDOR_3GPP, 1405): ("ULR-Flags", UNSIGNED),
    (VENDOR_3GPP, 1406): ("ULA-Flags", UNSIGNED),
    (VENDOR_3GPP, 1407): ("Visited-PLMN-Id", PLMN_ID),
    (VENDOR_3GPP, 1408): ("Requested-EUTRAN-Authentication-Info", GROUPED),
    (VENDOR_3GPP, 1410): ("Number-Of-Requested-Vectors", UNSIGNED),
    (VENDOR_3GPP, 1413): ("Authentication-Info", GROUPED),
    (VENDOR_3GPP, 1414): ("E-UTRAN-Vector", GROUPED),
    (VENDOR_3GPP, 1415): ("UTRAN-Vector", GROUPED),
    (VENDOR_3GPP, 1416): ("GERAN-Vector", GROUPED),
    (VENDOR_3GPP, 1429): ("APN-Configuration-Profile", GROUPED),
    (VENDOR_3GPP, 1430): ("APN-Configuration", GROUPED),
    (VENDOR_3GPP, 1447): ("RAND", SECRET),
    (VENDOR_3GPP, 1448): ("XRES", SECRET),
    (VENDOR_3GPP, 1449): ("AUTN", SECRET),
    (VENDOR_3GPP, 1450): ("KASME", SECRET),
    (VENDOR_3GPP, 1453): ("Kc", SECRET),
    (VENDOR_3GPP, 1454): ("SRES", SECRET),
    (VENDOR_3GPP, 1471): ("3GPP2-MEID", OCTETS),
    (VENDOR_3GPP, 3102): ("User-Identifier", GROUPED),
    (VENDOR_3GPP, 3111): ("External-Identifier", UTF8),
}
"""(vendor, code) -> (name, type) of the AVPs phonehome reads (RFC 6733, 4006, 4072,
7155; TS 29.061, 29.212, 29.229, 29.272, 29.273, 29.329, 29.336). Unknown AVPs are kept
by number, opened as Grouped when their bytes parse as AVPs, else searched as bytes."""

ENUMS: Final[dict[str, dict[int, str]]] = {
    "Subscription-Id-Type": {
        0: "END_USER_E164",
        1: "END_USER_IMSI",
        2: "END_USER_SIP_URI",
        3: "END_USER_NAI",
        4: "END_USER_PRIVATE",
    },
    "User-Equipment-Info-Type": {0: "IMEISV", 1: "MAC", 2: "EUI64", 3: "MODIFIED_EUI64"},
    "CC-Request-Type": {1: "INITIAL", 2: "UPDATE", 3: "TERMINATION", 4: "EVENT"},
}

SUBSCRIPTION_KEYS: Final[dict[str, str]] = {
    "END_USER_E164": "MSISDN",
    "END_USER_IMSI": "IMSI",
    "END_USER_SIP_URI": "SIP-URI",
    "END_USER_NAI": "NAI",
}
"""What a Subscription-Id-Data is, by its type: the key its field carries."""

COMMANDS: Final[dict[int, str]] = {
    257: "Capabilities-Exchange",
    258: "Re-Auth",
    265: "AA",
    268: "Diameter-EAP",
    271: "Accounting",
    272: "Credit-Control",
    274: "Abort-Session",
    275: "Session-Termination",
    280: "Device-Watchdog",
    282: "Disconnect-Peer",
    300: "User-Authorization",
    301: "Server-Assignment",
    302: "Location-Info",
    303: "Multimedia-Auth",
    304: "Registration-Termination",
    305: "Push-Profile",
    306: "User-Data",
    307: "Profile-Update",
    308: "Subscribe-Notifications",
    309: "Push-Notification",
    316: "Update-Location",
    317: "Cancel-Location",
    318: "Authentication-Information",
    319: "Insert-Subscriber-Data",
    320: "Delete-Subscriber-Data",
    321: "Purge-UE",
    322: "Reset",
    323: "Notify",
    324: "ME-Identity-Check",
    8388620: "Provide-Location",
    8388622: "LCS-Routing-Info",
    8388645: "MO-Forward-Short-Message",
    8388646: "MT-Forward-Short-Message",
}

APPLICATIONS: Final[dict[int, str]] = {
    0: "Diameter Common Messages",
    1: "NASREQ",
    3: "Diameter Base Accounting",
    4: "Diameter Credit Control",
    5: "Diameter EAP",
    16777216: "3GPP Cx",
    16777217: "3GPP Sh",
    16777236: "3GPP Rx",
    16777238: "3GPP Gx",
    16777250: "3GPP STa",
    16777251: "3GPP S6a/S6d",
    16777252: "3GPP S13",
    16777255: "3GPP SLg",
    16777264: "3GPP SWm",
    16777265: "3GPP SWx",
    16777272: "3GPP S6b",
    16777312: "3GPP S6c",
    16777313: "3GPP SGd",
    4294967295: "Relay",
}


class DiameterAvp(Record):
    """One AVP: its code, vendor (0 = IETF), name, raw value (empty for key material)
    and, for a Grouped AVP, the AVPs inside."""

    FIELDS = ("code", "vendor", "name", "kind", "value", "avps")
    __slots__ = FIELDS

    code: Final[int]
    vendor: Final[int]
    name: Final[str]
    kind: Final[int]
    value: Final[bytes]
    avps: Final[tuple[DiameterAvp, ...]]

    def __init__(
        self,
        code: int,
        vendor: int,
        name: str,
        kind: int,
        value: bytes,
        avps: tuple[DiameterAvp, ...] = (),
    ) -> None:
        self.code = code
        self.vendor = vendor
        self.name = name
        self.kind = kind
        self.value = value
        self.avps = avps


class DiameterMessage(Record):
    FIELDS = ("command", "request", "flags", "application", "hop_by_hop", "end_to_end", "avps")
    __slots__ = FIELDS

    command: Final[int]
    request: Final[bool]
    flags: Final[int]
    application: Final[int]
    hop_by_hop: Final[int]
    end_to_end: Final[int]
    avps: Final[tuple[DiameterAvp, ...]]

    def __init__(
        self,
        command: int,
        request: bool,
        flags: int,
        application: int,
        hop_by_hop: int,
        end_to_end: int,
        avps: tuple[DiameterAvp, ...],
    ) -> None:
        self.command = command
        self.request = request
        self.flags = flags
        self.application = application
        self.hop_by_hop = hop_by_hop
        self.end_to_end = end_to_end
        self.avps = avps

    @property
    def command_name(self) -> str:
        name = COMMANDS.get(self.command, f"Command-{self.command}")
        return f"{name}-{'Request' if self.request else 'Answer'}"


# -- parsing -------------------------------------------------------------------------------


class _Malformed(Exception):
    pass


def _avp_header_ok(data: bytes, pos: int, end: int) -> bool:
    if pos + 8 > end:
        return False
    flags = data[pos + 4]
    length = int.from_bytes(data[pos + 5 : pos + 8], "big")
    header = 12 if flags & 0x80 else 8
    return not flags & 0x1F and header <= length and pos + length <= end


def looks_like_diameter(head: bytes) -> bool:
    """Version 1, a length that is a multiple of 4, no reserved flag bits, and an AVP
    header that fits after the 20-byte header (when the head reaches it)."""
    if len(head) < HEADER or head[0] != 1:
        return False
    length = int.from_bytes(head[1:4], "big")
    flags = head[4]
    if length < HEADER or length % 4 or flags & 0x0F or (flags & 0x80 and flags & 0x20):
        return False
    if length == HEADER or len(head) < HEADER + 8:
        return True
    avp_flags = head[HEADER + 4]
    avp_length = int.from_bytes(head[HEADER + 5 : HEADER + 8], "big")
    minimum = 12 if avp_flags & 0x80 else 8
    return not avp_flags & 0x1F and minimum <= avp_length <= length - HEADER


def parse_avps(data: bytes, depth: int, budget: list[int]) -> tuple[DiameterAvp, ...]:
    """The AVPs of ``data`` (a message body or a Grouped value). Raises on damage."""
    out: list[DiameterAvp] = []
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise _Malformed(f"{len(data) - pos} bytes after the last AVP")
        code = int.from_bytes(data[pos : pos + 4], "big")
        flags = data[pos + 4]
        length = int.from_bytes(data[pos + 5 : pos + 8], "big")
        vendor = 0
        start = pos + 8
        if flags & 0x80:
            if pos + 12 > len(data):
                raise _Malformed(f"AVP {code}: vendor id missing")
            vendor = int.from_bytes(data[pos + 8 : pos + 12], "big")
            start = pos + 12
        if length < start - pos or pos + length > len(data):
            raise _Malformed(f"AVP {code}: length {length}")
        budget[0] -= 1
        if budget[0] < 0:
            raise _Malformed(f"more than {MAX_AVPS} AVPs")
        value = data[start : pos + length]
        name, kind = AVPS.get((vendor, code), ("", OCTETS))
        if not name:
            name = f"AVP-{code}" if not vendor else f"AVP-{vendor}-{code}"
        children: tuple[DiameterAvp, ...] = ()
        if kind == GROUPED:
            if depth < MAX_DEPTH:
                children = parse_avps(value, depth + 1, budget)
            value = b""
        elif kind == SECRET:
            value = b""
        elif not name.startswith("AVP-") or depth >= MAX_DEPTH:
            pass
        elif len(value) >= 8 and _avps_fit(value):
            try:
                children = parse_avps(value, depth + 1, budget)
                kind = GROUPED
                value = b""
            except _Malformed:
                children = ()
        out.append(DiameterAvp(code, vendor, name, kind, value, children))
        pos += (length + 3) & ~3  # padded to 32 bits
    return tuple(out)


def _avps_fit(data: bytes) -> bool:
    """Whether bytes parse as a whole number of AVP headers (an unknown Grouped AVP)."""
    pos = 0
    while pos < len(data):
        if not _avp_header_ok(data, pos, len(data)):
            return False
        pos += (int.from_bytes(data[pos + 5 : pos + 8], "big") + 3) & ~3
    return pos == len(data) or pos - len(data) < 4


def parse_message(data: bytes) -> DiameterMessage:
    flags = data[4]
    command = int.from_bytes(data[5:8], "big")
    app = int.from_bytes(data[8:12], "big")
    hbh = int.from_bytes(data[12:16], "big")
    e2e = int.from_bytes(data[16:20], "big")
    avps = parse_avps(data[HEADER:], 0, [MAX_AVPS])
    return DiameterMessage(command, bool(flags & 0x80), flags, app, hbh, e2e, avps)


# -- values -----------------------------------------------------------------------------------


def display(avp: DiameterAvp) -> str | None:
    """The AVP's value as text, by its type; None for Grouped, key material and bytes
    that are not text."""
    kind = avp.kind
    value = avp.value
    if kind in (UTF8, DIGITS):
        if kind == DIGITS and not (value.isascii() and value.decode("ascii").isdigit()):
            return tbcd(value)
        return to_text(value)
    if kind in (UNSIGNED, ENUM, TIME) and 0 < len(value) <= 8:
        number = int.from_bytes(value, "big")
        if kind == ENUM:
            return ENUMS.get(avp.name, {}).get(number, str(number))
        return str(number)
    if kind == ADDRESS and len(value) in (6, 18) and value[:2] in (b"\x00\x01", b"\x00\x02"):
        return str(ipaddress.ip_address(value[2:]))
    if kind == IPV4 and len(value) == 4:
        return str(ipaddress.ip_address(value))
    if kind == TBCD_E164:
        digits = tbcd(value)
        return f"+{digits}" if digits else None
    if kind == PLMN_ID:
        ids = plmn(value)
        return f"{ids[0]}-{ids[1]}" if ids else None
    if kind == OCTETS and value and printable(value):
        return to_text(value)
    return None


def find(avps: tuple[DiameterAvp, ...], name: str) -> DiameterAvp | None:
    for avp in avps:
        if avp.name == name:
            return avp
    return None


# -- TCP ---------------------------------------------------------------------------------------


class DiameterApp(TcpApp):
    """Both directions of a Diameter connection: messages framed by their length."""

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._bufs = [bytearray(), bytearray()]
        self._starts = [(0.0, 0), (0.0, 0)]

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        buf = self._bufs[from_client]
        if not buf:
            self._starts[from_client] = (time, frame)
        buf += data
        while len(buf) >= HEADER:
            if not looks_like_diameter(bytes(buf[: HEADER + 8])):
                self._fail(
                    from_client, "diameter.bad_header", f"first byte {buf[0]:#04x}", frame, out
                )
                return
            length = int.from_bytes(buf[1:4], "big")
            if length > MAX_MESSAGE:
                self._fail(
                    from_client, "diameter.too_large", f"message of {length} bytes", frame, out
                )
                return
            if len(buf) < length:
                return
            start = self._starts[from_client]
            try:
                msg = parse_message(bytes(buf[:length]))
            except _Malformed as e:
                self._anomaly("diameter.malformed", str(e), frame)
                msg = None
            del buf[:length]
            if msg is not None:
                out.append(Parsed(from_client, start[0], start[1], msg))
            self._starts[from_client] = (time, frame)

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        """A lost segment loses the framing: the rest of this direction is raw."""
        buf = self._bufs[from_client]
        start = self._starts[from_client]
        rest = (bytes(buf), start[0], start[1]) if buf else None
        buf.clear()
        self.host.to_raw(from_client, rest, out)
        self.host.flush_raw(from_client, out)

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        buf = self._bufs[from_client]
        if buf:
            self._anomaly("diameter.truncated", f"{len(buf)} bytes left at close", None)
            start = self._starts[from_client]
            rest = (bytes(buf), start[0], start[1])
            buf.clear()
            self.host.to_raw(from_client, rest, out)

    def _fail(
        self, from_client: bool, kind: str, detail: str, frame: int, out: list[Parsed]
    ) -> None:
        self._anomaly(kind, detail, frame)
        buf = self._bufs[from_client]
        start = self._starts[from_client]
        rest = (bytes(buf), start[0], start[1])
        buf.clear()
        self.host.to_raw(from_client, rest, out, resumable=False)

    def _anomaly(self, kind: str, detail: str, frame: int | None) -> None:
        self.host.ctx.anomalies.add(kind, self.host.input, frame, detail)


class DiameterProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__("diameter", (DiameterMessage,))

    def tcp_client(self, head: bytes) -> bool:
        return looks_like_diameter(head)

    def tcp_server(self, head: bytes) -> bool:
        return looks_like_diameter(head)

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return DiameterApp(self, host)

    def host(self, content: Content) -> str | None:
        assert isinstance(content, DiameterMessage)
        if not content.request:
            return None
        dest = find(content.avps, "Destination-Host") or find(content.avps, "Destination-Realm")
        return display(dest) if dest is not None else None

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, DiameterMessage)
        session = find(content.avps, "Session-Id")
        return {
            "diameter_command": content.command_name,
            "diameter_code": content.command,
            "diameter_app": content.application,
            "diameter_request": content.request,
            "diameter_session": display(session) if session is not None else None,
            "diameter_avps": [a.name for a in content.avps],
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, DiameterMessage)
        app = APPLICATIONS.get(content.application, str(content.application))
        return f"{content.command_name} ({content.command}) app={app}"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        assert isinstance(content, DiameterMessage)
        return avp_fields(budget, "diameter.avp", "", content.avps)


_NOISE_KINDS: Final = frozenset((UNSIGNED, ENUM, TIME, GROUPED, SECRET))
"""Numbers, enumerations and timestamps are protocol state, never searched."""


def avp_fields(
    budget: Budget, part: str, path: str, avps: tuple[DiameterAvp, ...]
) -> Iterator[Field]:
    """Each AVP holding data as ``<part>:<path>/<Name>``, Grouped AVPs opened, with the
    other members of a group as siblings (Subscription-Id-Type beside its data)."""
    pairs: list[tuple[str, str]] = []
    for a in avps[:32]:
        shown = display(a)
        if shown is not None:
            pairs.append((a.name.lower(), shown[:256]))
    siblings = tuple(pairs)
    for avp in avps:
        segment = escape_segment(avp.name)
        where = f"{path}/{segment}" if path else segment
        if avp.avps:
            yield from avp_fields(budget, part, where, avp.avps)
            continue
        if avp.kind in _NOISE_KINDS:
            continue
        if avp.kind == EAP:
            packet, _ = eap.parse(avp.value)
            if packet is not None:
                yield from eap.identity_fields(budget, part, where, packet)
            continue
        if avp.kind == ULI:
            for loc in uli_v1(avp.value) or ():
                yield from location_fields(budget, part, where, loc)
            continue
        key = avp.name
        if avp.name == "Subscription-Id-Data":
            kind = dict(siblings).get("subscription-id-type", "")
            key = SUBSCRIPTION_KEYS.get(kind, key)
        elif avp.name == "User-Equipment-Info-Value":
            kind = dict(siblings).get("user-equipment-info-type", "")
            key = kind or key
        sib = tuple(s for s in siblings if s[0] != avp.name.lower())
        text = display(avp)
        if text is None and key == "IMEISV" and len(avp.value) == 8:
            text = tbcd(avp.value)
        elif text is None and key == "MAC" and len(avp.value) == 6:
            text = ":".join(f"{b:02x}" for b in avp.value)
        if text is not None:
            binary = not (avp.value.isascii() and printable(avp.value))
            chain = ("tbcd",) if binary and avp.kind in (TBCD_E164, DIGITS, OCTETS) else ()
            structure = LEAF if avp.kind != UTF8 and avp.kind != OCTETS else None
            yield from expand(budget, part, where, chain, key, sib, text, None, structure)
        elif avp.value:
            yield from expand(budget, part, where, (), key, sib, to_text(avp.value), avp.value)


DIAMETER: Final = DiameterProtocol()
