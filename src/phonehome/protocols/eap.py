"""EAP (RFC 3748) and the identities its methods send in clear.

EAP is not a transport of its own: 802.1X carries it on the link (EAPOL), RADIUS in
EAP-Message attributes, Diameter in EAP-Payload AVPs, IKEv2 inside the encrypted IKE_AUTH.
Wherever it is readable, two places give the peer's identity away:

* EAP-Response/Identity (type 1): the identity the peer first announces, for SIM-based
  Wi-Fi and Wi-Fi calling the 3GPP NAI ``0<IMSI>@wlan.mnc<MNC>.mcc<MCC>.3gppnetwork.org``
  (TS 23.003 19.3; the leading digit is the method: 0 EAP-AKA, 1 EAP-SIM, 6 EAP-AKA').
* AT_IDENTITY in EAP-SIM (type 18, RFC 4186), EAP-AKA (23, RFC 4187) and EAP-AKA' (50,
  RFC 9048) Start/Identity responses, which the server asks for with
  AT_PERMANENT_ID_REQ when a pseudonym is unknown: the IMSI catcher's question.

Authentication vectors and MACs (AT_RAND, AT_AUTN, AT_RES, AT_MAC ...) are key material
and never kept; AT_ENCR_DATA (the next pseudonym) is encrypted and only named.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from phonehome.extract.engine import Budget, expand
from phonehome.model.field import Field
from phonehome.model.message import Record

CODES: Final[dict[int, str]] = {
    1: "Request",
    2: "Response",
    3: "Success",
    4: "Failure",
    5: "Initiate",
    6: "Finish",
}
TYPES: Final[dict[int, str]] = {
    1: "Identity",
    2: "Notification",
    3: "Nak",
    4: "MD5-Challenge",
    5: "OTP",
    6: "GTC",
    13: "TLS",
    17: "LEAP",
    18: "SIM",
    21: "TTLS",
    23: "AKA",
    25: "PEAP",
    26: "MSCHAPv2",
    43: "FAST",
    50: "AKA'",
    52: "PWD",
    55: "TEAP",
    254: "Expanded",
}
SIM_AKA: Final = frozenset((18, 23, 50))
SUBTYPES: Final[dict[int, str]] = {
    1: "Challenge",
    2: "Authentication-Reject",
    4: "Synchronization-Failure",
    5: "Identity",
    10: "Start",
    11: "Challenge",
    12: "Notification",
    13: "Re-authentication",
    14: "Client-Error",
}
"""EAP-SIM/AKA subtypes (RFC 4186 11, RFC 4187 11); 1 is AKA's Challenge, 11 SIM's."""
ATTRIBUTES: Final[dict[int, str]] = {
    1: "AT_RAND",
    2: "AT_AUTN",
    3: "AT_RES",
    4: "AT_AUTS",
    6: "AT_PADDING",
    7: "AT_NONCE_MT",
    10: "AT_PERMANENT_ID_REQ",
    11: "AT_MAC",
    12: "AT_NOTIFICATION",
    13: "AT_ANY_ID_REQ",
    14: "AT_IDENTITY",
    15: "AT_VERSION_LIST",
    16: "AT_SELECTED_VERSION",
    17: "AT_FULLAUTH_ID_REQ",
    19: "AT_COUNTER",
    20: "AT_COUNTER_TOO_SMALL",
    21: "AT_NONCE_S",
    22: "AT_CLIENT_ERROR_CODE",
    23: "AT_KDF_INPUT",
    24: "AT_KDF",
    129: "AT_IV",
    130: "AT_ENCR_DATA",
    132: "AT_NEXT_PSEUDONYM",
    133: "AT_NEXT_REAUTH_ID",
    134: "AT_CHECKCODE",
    135: "AT_RESULT_IND",
    136: "AT_BIDDING",
}
AT_IDENTITY: Final = 14
AT_KDF_INPUT: Final = 23
MAX_IDENTITY: Final = 1024


class EapPacket(Record):
    """One EAP packet: what it is and the identity it carries in clear, if any."""

    FIELDS = ("code", "id", "type", "subtype", "identity", "attributes", "network")
    __slots__ = FIELDS

    code: Final[int]
    id: Final[int]
    type: Final[int]
    """Method type of a Request/Response; 0 for the others."""
    subtype: Final[int]
    """EAP-SIM/AKA/AKA' subtype; 0 for other methods."""
    identity: Final[str | None]
    """Response/Identity's identity, or the AT_IDENTITY of a SIM/AKA response."""
    attributes: Final[tuple[str, ...]]
    """SIM/AKA attribute names, in order (values of key material are not kept)."""
    network: Final[str | None]
    """AKA' AT_KDF_INPUT: the access network's name (``WLAN``, an SSID)."""

    def __init__(
        self,
        code: int,
        id: int,
        type: int = 0,
        subtype: int = 0,
        identity: str | None = None,
        attributes: tuple[str, ...] = (),
        network: str | None = None,
    ) -> None:
        self.code = code
        self.id = id
        self.type = type
        self.subtype = subtype
        self.identity = identity
        self.attributes = attributes
        self.network = network

    def describe(self) -> str:
        """``Response/Identity``, ``Request/AKA Challenge``, ``Success``."""
        code = CODES.get(self.code, f"code {self.code}")
        if not self.type:
            return code
        method = TYPES.get(self.type, f"type {self.type}")
        if self.type in SIM_AKA and self.subtype:
            method += " " + SUBTYPES.get(self.subtype, f"subtype {self.subtype}")
        return f"{code}/{method}"


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse(data: bytes) -> tuple[EapPacket | None, str | None]:
    """The EAP packet at the start of ``data`` (which may be longer: padding) and the
    problem found, if any. None when not even the 4-byte header is there."""
    if len(data) < 4:
        return None, f"{len(data)} bytes, shorter than the EAP header"
    code, ident = data[0], data[1]
    length = int.from_bytes(data[2:4], "big")
    problem = None
    if code not in CODES:
        return None, f"EAP code {code}"
    if length < 4:
        return None, f"EAP length {length}"
    if length > len(data):
        problem = f"EAP length {length}, {len(data)} bytes present"
        length = len(data)
    body = data[4:length]
    if code not in (1, 2) or not body:
        return EapPacket(code, ident), problem
    etype = body[0]
    if etype == 1:
        identity = _text(body[1 : 1 + MAX_IDENTITY]).rstrip("\x00") if code == 2 else None
        return EapPacket(code, ident, etype, 0, identity or None), problem
    if etype not in SIM_AKA or len(body) < 4:
        return EapPacket(code, ident, etype), problem
    subtype = body[1]
    names: list[str] = []
    identity = network = None
    pos = 4
    while pos + 4 <= len(body):
        atype = body[pos]
        size = body[pos + 1] * 4
        if size == 0 or pos + size > len(body):
            problem = problem or f"EAP-{TYPES[etype]} attribute {atype} runs past the packet"
            break
        names.append(ATTRIBUTES.get(atype, f"AT_{atype}"))
        if atype in (AT_IDENTITY, AT_KDF_INPUT):
            n = int.from_bytes(body[pos + 2 : pos + 4], "big")
            value = body[pos + 4 : pos + 4 + min(n, size - 4, MAX_IDENTITY)]
            if atype == AT_IDENTITY:
                identity = _text(value) or None
            else:
                network = _text(value) or None
        pos += size
    return EapPacket(code, ident, etype, subtype, identity, tuple(names), network), problem


def identity_fields(budget: Budget, part: str, path: str, packet: EapPacket) -> Iterator[Field]:
    """The identity an EAP packet gives away, as ``<path>>identity`` (Response/Identity)
    or ``<path>>AT_IDENTITY`` (SIM/AKA/AKA')."""
    if packet.identity is None or packet.code != 2:
        return
    segment = "AT_IDENTITY" if packet.type in SIM_AKA else "identity"
    where = f"{path}>{segment}" if path else segment
    method = TYPES.get(packet.type, "")
    sib = (("eap-method", method),) if packet.type in SIM_AKA else ()
    yield from expand(budget, part, where, (), "eap-identity", sib, packet.identity)
