"""EAPOL (IEEE 802.1X-2020 clause 11): EAP on the link, between a station and its access
point or switch port.

SIM-based Wi-Fi (EAP-SIM, EAP-AKA, EAP-AKA') starts with the phone announcing its
identity to the access point in an EAP-Response/Identity, in clear: the 3GPP NAI
``0<IMSI>@wlan.mnc<MNC>.mcc<MCC>.3gppnetwork.org`` the first time, or in AT_IDENTITY
when the server asks for the permanent identity (:mod:`phonehome.protocols.eap`). A
capture on the phone's Wi-Fi interface (``tcpdump -i wlan0``) or on the access point
shows these frames as Ethernet frames of EtherType 0x888E: not IP, so they are read
beside the IP path (:class:`phonehome.net.link.Decoder` keeps them,
:func:`message` makes each a message). The RADIUS leg behind the access point carries
the same EAP packets (:mod:`phonehome.protocols.radius`).

A message's direction is the protocol's: what the supplicant sends (EAPOL-Start,
-Logoff, EAP Responses, EAPOL-Key frames without Key Ack) is outgoing. Its host is the
realm of a NAI identity (RFC 7542: the realm routes the identity to the home AAA server,
which receives it), else the authenticator's MAC address; the ends are MAC addresses
with port 0, and there is no Community ID (it is defined for IP flows).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import Budget
from phonehome.model.anomaly import Anomalies
from phonehome.model.field import Field
from phonehome.model.message import Content, Endpoint, FlowKey, Message, Record
from phonehome.net.tunnel import endpoint_text
from phonehome.protocols.base import Protocol
from phonehome.protocols.eap import EapPacket, identity_fields
from phonehome.protocols.eap import parse as parse_eap

TYPES: Final[dict[int, str]] = {
    0: "EAP",
    1: "Start",
    2: "Logoff",
    3: "Key",
    4: "Encapsulated-ASF-Alert",
    5: "MKA",
    6: "Announcement (Generic)",
    7: "Announcement (Specific)",
    8: "Announcement-Req",
}
"""EAPOL packet types (IEEE 802.1X-2020 11.3.2, Table 11-3)."""
EAP: Final = 0
KEY: Final = 3
KEY_ACK: Final = 0x0080
"""Key Information's Key Ack bit (IEEE 802.11-2020 12.7.2): set in the frames the
authenticator sends in the 4-way and group key handshakes."""
_AUTHENTICATOR_EAP_CODES: Final = frozenset((1, 3, 4, 6))
"""Request, Success, Failure, Finish: what the authenticator side sends (RFC 3748 4,
RFC 6696 5)."""


class EapolFrame(Record):
    """One EAPOL PDU: its type and, for EAPOL-EAP, the EAP packet."""

    FIELDS = ("version", "type", "eap", "from_supplicant")
    __slots__ = FIELDS

    version: Final[int]
    type: Final[int]
    eap: Final[EapPacket | None]
    from_supplicant: Final[bool]

    def __init__(
        self, version: int, type: int, eap: EapPacket | None, from_supplicant: bool
    ) -> None:
        self.version = version
        self.type = type
        self.eap = eap
        self.from_supplicant = from_supplicant

    def describe(self) -> str:
        """``Start``, ``Key``, or the EAP packet's ``Response/Identity``."""
        if self.eap is not None:
            return self.eap.describe()
        return TYPES.get(self.type, f"type {self.type}")


def parse(data: bytes) -> tuple[EapolFrame | None, str | None]:
    """The EAPOL PDU at the start of ``data`` (a frame may be padded to 60 bytes) and the
    problem found, if any; None when not even its 4-byte header is there."""
    if len(data) < 4:
        return None, f"{len(data)} bytes, shorter than the EAPOL header"
    version, ptype = data[0], data[1]
    length = int.from_bytes(data[2:4], "big")
    problem = None
    if length > len(data) - 4:
        problem = f"EAPOL body length {length}, {len(data) - 4} bytes present"
        length = len(data) - 4
    body = data[4 : 4 + length]
    if ptype == EAP:
        packet, eap_problem = parse_eap(body)
        supplicant = packet is None or packet.code not in _AUTHENTICATOR_EAP_CODES
        return EapolFrame(version, ptype, packet, supplicant), problem or eap_problem
    if ptype == KEY:
        # descriptor type (1), then Key Information (2)
        info = int.from_bytes(body[1:3], "big") if len(body) >= 3 else 0
        return EapolFrame(version, ptype, None, not info & KEY_ACK), problem
    return EapolFrame(version, ptype, None, True), problem


def message(
    payload: bytes,
    time: float,
    input: int,
    frame: int,
    src_mac: bytes | None,
    dst_mac: bytes | None,
    anomalies: Anomalies,
) -> Message | None:
    """The message of one EAPOL frame (None, counted, when it is too short to be one)."""
    content, problem = parse(payload)
    if problem is not None:
        anomalies.add("eapol.malformed", input, frame, problem)
    if content is None:
        return None
    src = Endpoint(endpoint_text(src_mac or b""), 0)  # empty where not captured (SLL)
    dst = Endpoint(endpoint_text(dst_mac or b""), 0)
    out = content.from_supplicant
    key = FlowKey("eapol", src, dst) if out else FlowKey("eapol", dst, src)
    return Message(
        time, input, frame, 0, key, src, dst, "out" if out else "in", "eapol", "cleartext",
        content, EAPOL.host(content),
    )  # fmt: skip


class EapolProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__("eapol", (EapolFrame,))

    def host(self, content: Content) -> str | None:
        assert isinstance(content, EapolFrame)
        identity = content.eap.identity if content.eap is not None else None
        if identity and "@" in identity:
            realm = identity.rpartition("@")[2].strip().lower()
            return realm or None
        return None

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, EapolFrame)
        eap = content.eap
        return {
            "eapol_type": TYPES.get(content.type, str(content.type)),
            "eapol_eap": eap.describe() if eap is not None else None,
            "eapol_eap_identity": eap.identity if eap is not None else None,
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, EapolFrame)
        eap = content.eap
        if eap is not None and eap.identity is not None:
            return f"{content.describe()} {eap.identity}"
        return content.describe()

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        """The identity a supplicant's EAP Response gives away: ``eapol.eap:identity``
        or ``eapol.eap:AT_IDENTITY``."""
        content = message.content
        assert isinstance(content, EapolFrame)
        if content.eap is None:
            return iter(())
        return identity_fields(budget, "eapol.eap", "", content.eap)


EAPOL: Final = EapolProtocol()
