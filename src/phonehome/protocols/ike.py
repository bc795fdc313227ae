"""IKE (IKEv2, RFC 7296; IKEv1, RFC 2409) on UDP 500 and 4500: what is visible in clear.

Wi-Fi calling sets up an IPsec tunnel to the operator's ePDG with IKEv2 and
authenticates with EAP-AKA: the phone's identity is the 3GPP NAI
``0<IMSI>@nai.epc.mnc<MNC>.mcc<MCC>.3gppnetwork.org`` (TS 24.302 7.2.2, TS 23.003 19.3)
in the IDi payload. That payload, like every payload of IKE_AUTH, is inside the
Encrypted payload (SK, RFC 7296 3.14): a passive observer sees IKE_SA_INIT in clear (SA
proposals, key exchange group, nonces, NAT detection, vendor ids) and, for the exchanges
after it, only the header and the *type* of the first encrypted payload. The IMSI
exposure of Wi-Fi calling is to an active attacker posing as the ePDG, not to a capture;
phonehome reports exactly what is in clear and says when the rest is encrypted.

IKEv1 is different: Aggressive Mode (exchange 4) sends the initiator's identity
unencrypted, and phonehome reads it (an ID payload of type FQDN, USER_FQDN ...).

Recognised by content: the header's version (2.0 or 1.0), a known exchange type and a
length equal to the datagram; on 4500 after the 4 zero bytes of the non-ESP marker
(RFC 3948). NAT keep-alives (one 0xFF byte) stay raw; ESP in UDP on 4500 is an ``esp`` message
(encrypted: its SPI and sequence number shown, nothing searched).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import Budget, expand
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, Record
from phonehome.protocols.base import Parsed, Protocol, UdpHost

PORTS: Final = frozenset((500, 4500))
HEADER: Final = 28
MAX_PAYLOADS: Final = 64

V2_EXCHANGES: Final[dict[int, str]] = {
    34: "IKE_SA_INIT",
    35: "IKE_AUTH",
    36: "CREATE_CHILD_SA",
    37: "INFORMATIONAL",
    43: "IKE_INTERMEDIATE",
    44: "IKE_FOLLOWUP_KE",
}
V1_EXCHANGES: Final[dict[int, str]] = {
    1: "Base",
    2: "Identity Protection (Main Mode)",
    3: "Authentication Only",
    4: "Aggressive",
    5: "Informational",
    32: "Quick Mode",
    33: "New Group Mode",
}
V2_PAYLOADS: Final[dict[int, str]] = {
    33: "SA",
    34: "KE",
    35: "IDi",
    36: "IDr",
    37: "CERT",
    38: "CERTREQ",
    39: "AUTH",
    40: "Nonce",
    41: "N",
    42: "D",
    43: "V",
    44: "TSi",
    45: "TSr",
    46: "SK",
    47: "CP",
    48: "EAP",
    53: "SKF",
}
V1_PAYLOADS: Final[dict[int, str]] = {
    1: "SA",
    4: "KE",
    5: "ID",
    6: "CERT",
    7: "CR",
    8: "HASH",
    9: "SIG",
    10: "NONCE",
    11: "N",
    12: "D",
    13: "VID",
    20: "NAT-D",
    21: "NAT-OA",
}
ENCRYPTED: Final = frozenset((46, 53))
"""SK and SKF: everything after them is encrypted (their Next Payload field excepted)."""
ID_TYPES: Final[dict[int, str]] = {
    1: "IPV4_ADDR",
    2: "FQDN",
    3: "RFC822_ADDR",
    5: "IPV6_ADDR",
    9: "DER_ASN1_DN",
    10: "DER_ASN1_GN",
    11: "KEY_ID",
}
"""ID types of RFC 7296 3.5 (and IKEv1's USER_FQDN = 3, the same address form)."""


class IkeMessage(Record):
    FIELDS = (
        "version",
        "exchange",
        "response",
        "initiator",
        "spi_i",
        "spi_r",
        "message_id",
        "payloads",
        "encrypted",
        "identities",
    )
    __slots__ = FIELDS

    version: Final[int]
    """2 for IKEv2, 1 for IKEv1 (ISAKMP)."""
    exchange: Final[int]
    response: Final[bool]
    initiator: Final[bool]
    spi_i: Final[str]
    spi_r: Final[str]
    message_id: Final[int]
    payloads: Final[tuple[str, ...]]
    """Payload names in clear; the encrypted one as ``SK{IDi}`` (the type of the first
    payload inside, the only thing its header shows)."""
    encrypted: Final[bool]
    identities: Final[tuple[tuple[str, str, str], ...]]
    """(payload, ID type, value) of ID payloads sent in clear (IKEv1 Aggressive Mode)."""

    def __init__(
        self,
        version: int,
        exchange: int,
        response: bool,
        initiator: bool,
        spi_i: str,
        spi_r: str,
        message_id: int,
        payloads: tuple[str, ...],
        encrypted: bool,
        identities: tuple[tuple[str, str, str], ...] = (),
    ) -> None:
        self.version = version
        self.exchange = exchange
        self.response = response
        self.initiator = initiator
        self.spi_i = spi_i
        self.spi_r = spi_r
        self.message_id = message_id
        self.payloads = payloads
        self.encrypted = encrypted
        self.identities = identities

    @property
    def exchange_name(self) -> str:
        names = V2_EXCHANGES if self.version == 2 else V1_EXCHANGES
        return names.get(self.exchange, f"exchange {self.exchange}")


def header_ok(data: bytes) -> bool:
    if len(data) < HEADER:
        return False
    version = data[17]
    exchanges = V2_EXCHANGES if version == 0x20 else V1_EXCHANGES if version == 0x10 else None
    if exchanges is None or data[18] not in exchanges:
        return False
    return int.from_bytes(data[24:28], "big") == len(data)


def _identity(payload: bytes) -> tuple[str, str] | None:
    """(ID type, value) of an ID payload body (after the generic header)."""
    if len(payload) < 4:
        return None
    id_type = payload[0]
    data = payload[4:]
    if id_type == 1 and len(data) == 4:
        return "IPV4_ADDR", str(ipaddress.ip_address(data))
    if id_type == 5 and len(data) == 16:
        return "IPV6_ADDR", str(ipaddress.ip_address(data))
    name = ID_TYPES.get(id_type, f"ID_{id_type}")
    if id_type in (2, 3, 11):
        return name, data.decode("utf-8", "replace")
    return name, data.hex()


def parse(data: bytes) -> tuple[IkeMessage, str | None]:
    """The message, and what was wrong with its payload chain (if anything)."""
    version = 2 if data[17] == 0x20 else 1
    flags = data[19]
    names = V2_PAYLOADS if version == 2 else V1_PAYLOADS
    payloads: list[str] = []
    identities: list[tuple[str, str, str]] = []
    encrypted = version == 1 and bool(flags & 0x01)  # IKEv1: all payloads encrypted
    problem = None
    next_type = data[16]
    pos = HEADER
    while next_type and not encrypted and len(payloads) < MAX_PAYLOADS:
        if pos + 4 > len(data):
            problem = f"payload {next_type} header past the message"
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 4 or pos + length > len(data):
            problem = f"payload {next_type} length {length}"
            break
        name = names.get(next_type, str(next_type))
        if version == 2 and next_type in ENCRYPTED:
            inner = names.get(data[pos], str(data[pos]))
            payloads.append(f"{name}{{{inner}}}")
            encrypted = True
            break
        payloads.append(name)
        if (version == 2 and next_type in (35, 36)) or (version == 1 and next_type == 5):
            found = _identity(data[pos + 4 : pos + length])
            if found is not None:
                identities.append((name, found[0], found[1]))
        next_type = data[pos]
        pos += length
    if version == 2:
        response = bool(flags & 0x20)
        initiator = bool(flags & 0x08)
    else:
        response = False
        initiator = data[8:16] == bytes(8)
    return (
        IkeMessage(
            version,
            data[18],
            response,
            initiator,
            data[0:8].hex(),
            data[8:16].hex(),
            int.from_bytes(data[20:24], "big"),
            tuple(payloads),
            encrypted,
            tuple(identities),
        ),
        problem,
    )


class IkeProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__("ike", (IkeMessage,))

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        on_port = host.client_port in PORTS or host.server_port in PORTS
        if data[:4] == bytes(4) and len(data) > 4 and on_port:
            data = data[4:]  # non-ESP marker (RFC 3948 2.2)
        elif 4500 in (host.client_port, host.server_port) and not data.startswith(bytes(4)):
            return None  # ESP in UDP, or a NAT keep-alive
        if not header_ok(data):
            return None
        message, problem = parse(data)
        if problem is not None:
            host.ctx.anomalies.add("ike.malformed", host.input, frame, problem)
        return [Parsed(from_client, time, frame, message)]

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, IkeMessage)
        return {
            "ike_version": content.version,
            "ike_exchange": content.exchange_name,
            "ike_response": content.response,
            "ike_spi_i": content.spi_i,
            "ike_spi_r": content.spi_r,
            "ike_message_id": content.message_id,
            "ike_payloads": list(content.payloads),
            "ike_encrypted": content.encrypted,
            "ike_identities": [f"{p} {t} {v}" for p, t, v in content.identities],
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, IkeMessage)
        kind = "response" if content.response else "request"
        return (
            f"IKEv{content.version} {content.exchange_name} {kind} "
            f"msgid={content.message_id} {','.join(content.payloads)}"
        )

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        """Only identities sent in clear; SA proposals, nonces, keys and vendor ids are
        protocol vocabulary or random."""
        content = message.content
        assert isinstance(content, IkeMessage)
        for payload, id_type, value in content.identities:
            yield from expand(budget, "ike.id", payload, (), id_type, (), value)


IKE: Final = IkeProtocol()


class EspPacket(Record):
    """An ESP packet in UDP (RFC 3948): the SPI and sequence number, the rest encrypted."""

    FIELDS = ("spi", "sequence", "length")
    __slots__ = FIELDS

    spi: Final[int]
    sequence: Final[int]
    length: Final[int]

    def __init__(self, spi: int, sequence: int, length: int) -> None:
        self.spi = spi
        self.sequence = sequence
        self.length = length


class EspProtocol(Protocol):
    """ESP in UDP on the NAT-T port: the IPsec tunnel IKE set up (Wi-Fi calling's calls,
    VPNs). Encrypted: counted and shown, never searched (its bytes are random)."""

    def __init__(self) -> None:
        super().__init__("esp", (EspPacket,), encrypted=True)

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        if 4500 not in (host.client_port, host.server_port) or len(data) < 16:
            return None
        spi = int.from_bytes(data[:4], "big")
        if spi < 256:  # 0 is the non-ESP marker; 1-255 are reserved (RFC 4303 2.1)
            return None
        packet = EspPacket(spi, int.from_bytes(data[4:8], "big"), len(data))
        return [Parsed(from_client, time, frame, packet)]

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, EspPacket)
        return {
            "esp_spi": f"{content.spi:#010x}",
            "esp_seq": content.sequence,
            "length": content.length,
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, EspPacket)
        return f"ESP spi={content.spi:#010x} seq={content.sequence} ({content.length} bytes)"


ESP: Final = EspProtocol()
