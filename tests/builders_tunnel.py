"""Byte builders for tunnel headers, from the specifications (independent of the simulator).

Each returns the tunnel header plus its payload; wrap the result with ``builders_net``
(``udp``/``ipv4``/``ipv6``/``ether``) for the outer layers. Checksums are zero.
"""

from __future__ import annotations

import struct

from tests.builders_net import IP6_A, IP6_B, MAC_A, MAC_B, ether, ipv4, ipv6, tcp, udp

OUTER_A = bytes([10, 0, 0, 1])
OUTER_B = bytes([10, 0, 0, 2])
PHONE = bytes([10, 45, 0, 7])
SERVER = bytes([93, 184, 216, 34])
HTTP_GET = b"GET /t HTTP/1.1\r\nHost: inner.example\r\n\r\n"


def inner_tcp(
    payload: bytes = HTTP_GET,
    src: bytes = PHONE,
    dst: bytes = SERVER,
    sport: int = 40000,
    dport: int = 80,
    seq: int = 1000,
    flags: int = 0x18,
) -> bytes:
    return ipv4(tcp(sport, dport, seq, 0, flags, payload), 6, src, dst)


def inner_udp(
    payload: bytes = b"hello",
    src: bytes = PHONE,
    dst: bytes = SERVER,
    sport: int = 40000,
    dport: int = 9999,
) -> bytes:
    return ipv4(udp(sport, dport, payload), 17, src, dst)


def over_udp(dport: int, payload: bytes, sport: int = 40001, v6: bool = False) -> bytes:
    """An outer Ethernet/IP/UDP frame to ``dport`` (OUTER_A -> OUTER_B, or IPv6)."""
    seg = udp(sport, dport, payload)
    if v6:
        return ether(ipv6(seg, 17, IP6_A, IP6_B))
    return ether(ipv4(seg, 17, OUTER_A, OUTER_B))


def over_ip(proto: int, payload: bytes, v6: bool = False) -> bytes:
    if v6:
        return ether(ipv6(payload, proto, IP6_A, IP6_B))
    return ether(ipv4(payload, proto, OUTER_A, OUTER_B))


# --- GTP-U (3GPP TS 29.281) ----------------------------------------------------------


def gtpu(
    payload: bytes,
    teid: int = 0x11223344,
    mtype: int = 0xFF,
    *,
    seq: int | None = None,
    npdu: int | None = None,
    exts: tuple[tuple[int, bytes], ...] = (),
    length: int | None = None,
) -> bytes:
    """``exts``: (type, content) extension headers, content padded to 4n - 2 bytes."""
    flags = 0x30
    opt = b""
    if seq is not None or npdu is not None or exts:
        flags |= (0x02 if seq is not None else 0) | (0x01 if npdu is not None else 0)
        flags |= 0x04 if exts else 0
        opt = struct.pack("!HBB", seq or 0, npdu or 0, exts[0][0] if exts else 0)
        for i, (_, content) in enumerate(exts):
            assert (len(content) + 2) % 4 == 0
            nxt = exts[i + 1][0] if i + 1 < len(exts) else 0
            opt += bytes([(len(content) + 2) // 4]) + content + bytes([nxt])
    body = opt + payload
    n = len(body) if length is None else length
    return struct.pack("!BBHI", flags, mtype, n, teid) + body


# --- VXLAN (RFC 7348), Geneve (RFC 8926) -----------------------------------------------


def vxlan(frame: bytes, vni: int = 5001, flags: int = 0x08) -> bytes:
    return struct.pack("!BxxxI", flags, vni << 8) + frame


def geneve(
    payload: bytes,
    vni: int = 7001,
    ptype: int = 0x6558,
    options: tuple[tuple[int, int, bytes], ...] = (),
    version: int = 0,
    opt_words: int | None = None,
) -> bytes:
    """``options``: (class, type, data) with data a multiple of 4 bytes."""
    opts = b"".join(
        struct.pack("!HBB", cls, typ, len(data) // 4) + data for cls, typ, data in options
    )
    words = len(opts) // 4 if opt_words is None else opt_words
    return struct.pack("!BBHI", version << 6 | words, 0, ptype, vni << 8) + opts + payload


# --- GRE (RFC 2784/2890), enhanced GRE (RFC 2637), ERSPAN -----------------------------


def gre(
    payload: bytes,
    ptype: int = 0x0800,
    *,
    key: int | None = None,
    seq: int | None = None,
    csum: bool = False,
    flags_extra: int = 0,
) -> bytes:
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0)
    flags |= (0x1000 if seq is not None else 0) | flags_extra
    hdr = struct.pack("!HH", flags, ptype)
    if csum:
        hdr += b"\0\0\0\0"
    if key is not None:
        hdr += struct.pack("!I", key)
    if seq is not None:
        hdr += struct.pack("!I", seq)
    return hdr + payload


def pptp_gre(
    ppp: bytes, call_id: int = 38992, seq: int | None = 1, ack: int | None = None
) -> bytes:
    flags = 0x2001 | (0x1000 if seq is not None else 0) | (0x0080 if ack is not None else 0)
    hdr = struct.pack("!HHHH", flags, 0x880B, len(ppp), call_id)
    if seq is not None:
        hdr += struct.pack("!I", seq)
    if ack is not None:
        hdr += struct.pack("!I", ack)
    return hdr + ppp


def erspan2(frame: bytes, session: int = 0x2A) -> bytes:
    hdr = struct.pack("!HHI", 0x1000 | 5, session, 7)  # version 1, VLAN 5; session; index
    return gre(hdr + frame, 0x88BE, seq=9)


def erspan3(frame: bytes, session: int = 0x33, subheader: bool = False) -> bytes:
    word2 = 0x0001 if subheader else 0  # O flag: an 8-byte platform subheader follows
    hdr = struct.pack("!HHIHH", 0x2000 | 5, session, 123456, 0, word2)
    if subheader:
        hdr += bytes(8)
    return gre(hdr + frame, 0x22EB, seq=1)


# --- Teredo (RFC 4380) ------------------------------------------------------------------


def teredo(ipv6_packet: bytes, *, auth: bool = False, origin: bool = False) -> bytes:
    out = b""
    if auth:
        client_id, auth_value = b"cl", b"auth"
        out += struct.pack("!HBB", 1, len(client_id), len(auth_value)) + client_id + auth_value
        out += bytes(8) + b"\0"  # nonce, confirmation
    if origin:
        out += struct.pack("!HH4s", 0, 3544 ^ 0xFFFF, bytes(b ^ 0xFF for b in OUTER_A))
    return out + ipv6_packet


# --- CAPWAP data (RFC 5415/5416) -------------------------------------------------------


def dot11_data(
    ip_packet: bytes,
    sa: bytes,
    da: bytes,
    bssid: bytes,
    *,
    to_ds: bool = True,
    swapped: bool = False,
    qos: bool = True,
    protected: bool = False,
) -> bytes:
    fc0 = 0x88 if qos else 0x08
    fc1 = (0x01 if to_ds else 0x02) | (0x40 if protected else 0)
    addrs = bssid + sa + da if to_ds else da + bssid + sa
    fc = bytes([fc1, fc0]) if swapped else bytes([fc0, fc1])
    hdr = fc + b"\0\0" + addrs + b"\x10\x00" + (b"\0\0" if qos else b"")
    etype = b"\x08\x00" if ip_packet[0] >> 4 == 4 else b"\x86\xdd"
    return hdr + b"\xaa\xaa\x03\x00\x00\x00" + etype + ip_packet


def capwap(
    payload: bytes,
    *,
    rid: int = 1,
    wbid: int = 1,
    native: bool = True,
    radio_mac: bytes | None = None,
    keepalive: bool = False,
    fragment: bool = False,
    hlen: int | None = None,
) -> bytes:
    extra = b""
    if radio_mac is not None:
        extra = bytes([len(radio_mac)]) + radio_mac
        extra += b"\0" * (-len(extra) % 4)
    words = (8 + len(extra)) // 4 if hlen is None else hlen
    word = words << 19 | rid << 14 | wbid << 9
    word |= (0x100 if native else 0) | (0x80 if fragment else 0)
    word |= (0x10 if radio_mac is not None else 0) | (0x08 if keepalive else 0)
    return struct.pack("!II", word, 0) + extra + payload


# --- MPLS (RFC 3032), PPPoE (RFC 2516) --------------------------------------------------


def mpls(payload: bytes, labels: tuple[int, ...] = (16, 3001), bottom: bool = True) -> bytes:
    out = b""
    for i, label in enumerate(labels):
        s = 0x100 if bottom and i == len(labels) - 1 else 0
        out += struct.pack("!I", label << 12 | s | 64)
    return out + payload


def pppoe(ip_packet: bytes, session: int = 0x0A, ppp: int | None = None, vt: int = 0x11) -> bytes:
    proto = ppp if ppp is not None else (0x0021 if ip_packet[0] >> 4 == 4 else 0x0057)
    return struct.pack("!BBHHH", vt, 0, session, len(ip_packet) + 2, proto) + ip_packet


__all__ = ["MAC_A", "MAC_B"]
