"""Byte builders for the mobile-network protocols: SIP, Diameter, GTP-C, RADIUS, EAP, IKE.

Used by the simulator's mobile scenarios and by the tests; each follows its RFC / 3GPP
layout (the references are in the matching :mod:`phonehome.protocols` module), and the
scenarios' captures are checked against tshark's dissectors.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from phonehome.detect.validators import to_tbcd

# -- SIP -----------------------------------------------------------------------------------


def sip_request(
    method: str,
    uri: str,
    headers: Sequence[tuple[str, str]],
    body: bytes = b"",
    content_length: bool = True,
) -> bytes:
    lines = [f"{method} {uri} SIP/2.0"] + [f"{k}: {v}" for k, v in headers]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sip_response(
    status: int, reason: str, headers: Sequence[tuple[str, str]], body: bytes = b""
) -> bytes:
    lines = [f"SIP/2.0 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def imei_urn(imei: str, spare: bool = True) -> str:
    """``urn:gsma:imei:TTTTTTTT-SSSSSS-D`` (RFC 7254): D the spare digit 0 or the check digit."""
    return f"urn:gsma:imei:{imei[:8]}-{imei[8:14]}-{'0' if spare else imei[14]}"


def ims_domain(mcc: str, mnc: str) -> str:
    return f"ims.mnc{mnc.zfill(3)}.mcc{mcc}.3gppnetwork.org"


# -- Diameter --------------------------------------------------------------------------------


def avp(code: int, value: bytes, vendor: int = 0, mandatory: bool = True) -> bytes:
    flags = (0x80 if vendor else 0) | (0x40 if mandatory else 0)
    head = 12 if vendor else 8
    length = head + len(value)
    out = struct.pack("!I", code) + bytes([flags]) + length.to_bytes(3, "big")
    if vendor:
        out += struct.pack("!I", vendor)
    return out + value + bytes(-length % 4)


def avp_u32(code: int, value: int, vendor: int = 0) -> bytes:
    return avp(code, struct.pack("!I", value), vendor)


def diameter(
    command: int,
    avps: Sequence[bytes],
    request: bool = True,
    application: int = 0,
    hop: int = 0x1234,
    end: int = 0x5678,
) -> bytes:
    body = b"".join(avps)
    flags = 0xC0 if request else 0x40
    return (
        bytes([1])
        + (20 + len(body)).to_bytes(3, "big")
        + bytes([flags])
        + command.to_bytes(3, "big")
        + struct.pack("!III", application, hop, end)
        + body
    )


# -- GTP-C -------------------------------------------------------------------------------------


def gtpv2_ie(itype: int, value: bytes, instance: int = 0) -> bytes:
    return struct.pack("!BHB", itype, len(value), instance & 0x0F) + value


def gtpv2(mtype: int, ies: Sequence[bytes], teid: int | None = 0, seq: int = 1) -> bytes:
    body = b"".join(ies)
    if teid is None:
        head = struct.pack("!BBH", 0x40, mtype, len(body) + 4)
        return head + seq.to_bytes(3, "big") + b"\x00" + body
    head = struct.pack("!BBHI", 0x48, mtype, len(body) + 8, teid)
    return head + seq.to_bytes(3, "big") + b"\x00" + body


def plmn_bytes(mcc: str, mnc: str) -> bytes:
    d = [int(c) for c in mcc] + [int(c) for c in mnc]
    mnc3 = d[5] if len(mnc) == 3 else 0xF
    return bytes([d[1] << 4 | d[0], mnc3 << 4 | d[2], d[4] << 4 | d[3]])


def ecgi(mcc: str, mnc: str, eci: int) -> bytes:
    return plmn_bytes(mcc, mnc) + struct.pack("!I", eci & 0x0FFFFFFF)


def tai(mcc: str, mnc: str, tac: int) -> bytes:
    return plmn_bytes(mcc, mnc) + struct.pack("!H", tac)


def tbcd(digits: str) -> bytes:
    return to_tbcd(digits)


def gtpv1(mtype: int, ies: Sequence[bytes], teid: int = 0, seq: int = 1) -> bytes:
    body = struct.pack("!HBB", seq, 0, 0) + b"".join(ies)
    return struct.pack("!BBHI", 0x32, mtype, len(body), teid) + body


# -- RADIUS and EAP ------------------------------------------------------------------------------


def radius_attr(atype: int, value: bytes) -> bytes:
    return bytes([atype, len(value) + 2]) + value


def radius_vsa(vendor: int, vtype: int, value: bytes) -> bytes:
    return radius_attr(26, struct.pack("!I", vendor) + bytes([vtype, len(value) + 2]) + value)


def radius(
    code: int, ident: int, attrs: Sequence[bytes], authenticator: bytes = bytes(16)
) -> bytes:
    body = b"".join(attrs)
    return struct.pack("!BBH", code, ident, 20 + len(body)) + authenticator + body


def eap_message_attrs(packet: bytes) -> list[bytes]:
    """An EAP packet as EAP-Message attributes of at most 253 bytes each (RFC 3579 3.1)."""
    return [radius_attr(79, packet[i : i + 253]) for i in range(0, len(packet), 253)]


def eap_identity(ident: int, identity: str) -> bytes:
    data = b"\x01" + identity.encode()
    return struct.pack("!BBH", 2, ident, 4 + len(data)) + data


def eap_sim_aka(
    code: int, ident: int, method: int, subtype: int, attributes: Sequence[bytes]
) -> bytes:
    data = bytes([method, subtype, 0, 0]) + b"".join(attributes)
    return struct.pack("!BBH", code, ident, 4 + len(data)) + data


def at_identity(identity: str) -> bytes:
    """AT_IDENTITY (14): actual length, the identity, zero padding to 4 bytes."""
    raw = identity.encode()
    value = struct.pack("!H", len(raw)) + raw
    value += bytes(-(len(value) + 2) % 4)
    return bytes([14, (len(value) + 2) // 4]) + value


def at_flag(atype: int) -> bytes:
    """A 4-byte attribute with a reserved 2-byte value (AT_PERMANENT_ID_REQ ...)."""
    return bytes([atype, 1, 0, 0])


def at_bytes(atype: int, value: bytes) -> bytes:
    """An attribute with 2 reserved bytes before a value of 4n bytes (AT_RAND, AT_MAC ...)."""
    return bytes([atype, (len(value) + 4) // 4, 0, 0]) + value


def eapol(packet: bytes, version: int = 2) -> bytes:
    return struct.pack("!BBH", version, 0, len(packet)) + packet


# -- IKE -------------------------------------------------------------------------------------------


def ike_payload(next_type: int, body: bytes) -> bytes:
    return struct.pack("!BBH", next_type, 0, 4 + len(body)) + body


def ike(
    exchange: int,
    first: int,
    payloads: bytes,
    spi_i: bytes,
    spi_r: bytes = bytes(8),
    message_id: int = 0,
    flags: int = 0x08,
    version: int = 0x20,
) -> bytes:
    length = 28 + len(payloads)
    return (
        spi_i
        + spi_r
        + bytes([first, version, exchange, flags])
        + struct.pack("!II", message_id, length)
        + payloads
    )
