"""Byte builders for pcap and pcapng files, so tests state their input exactly.

Every builder takes ``endian`` ("<" little, ">" big) where the format has a byte order.
The packets from :func:`ipv4_udp` are valid enough for tshark to dissect, so files built
here can be cross-checked against Wireshark's reading.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
PCAPDROID_PEN = 62652


# --- packets ---------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(
    payload: bytes = b"hello",
    src: bytes = bytes([10, 0, 0, 2]),
    dst: bytes = bytes([93, 184, 216, 34]),
    sport: int = 40000,
    dport: int = 9999,
) -> bytes:
    """A well-formed IPv4/UDP packet (header checksum set, UDP checksum 0)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + udp


def ethernet(packet: bytes, src: bytes = b"\x02" * 6, dst: bytes = b"\x04" * 6) -> bytes:
    ethertype = 0x0800 if packet[:1] and packet[0] >> 4 == 4 else 0x86DD
    return dst + src + struct.pack("!H", ethertype) + packet


def pcapdroid_trailer_frame(
    packet: bytes, uid: int, name: str, *, crc: str = "little", magic: int = 0x01072021
) -> bytes:
    """A frame as PCAPdroid writes it in pcap 'trailer' mode.

    ``crc`` is the byte order of the stored CRC-32 ("little" as Android writes it, "big"),
    or "bad" for a wrong value.
    """
    eth = b"\0" * 12 + struct.pack("!H", 0x0800 if packet[0] >> 4 == 4 else 0x86DD)
    body = eth + packet
    body += b"\0" * (-len(body) % 4)
    name_field = name.encode()[:19].ljust(20, b"\0")
    body += struct.pack("!Ii", magic, uid) + name_field
    value = zlib.crc32(body)
    if crc == "bad":
        value ^= 0xFFFFFFFF
        crc = "little"
    return body + value.to_bytes(4, "little" if crc == "little" else "big")


# --- classic pcap ----------------------------------------------------------------------


def pcap_header(
    linktype: int = LINKTYPE_ETHERNET,
    snaplen: int = 65535,
    *,
    endian: str = "<",
    nanos: bool = False,
) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    return struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(
    sec: int, frac: int, data: bytes, *, orig_len: int | None = None, endian: str = "<"
) -> bytes:
    orig = len(data) if orig_len is None else orig_len
    return struct.pack(endian + "IIII", sec, frac, len(data), orig) + data


def pcap_file(
    records: Iterable[tuple[int, int, bytes]],
    linktype: int = LINKTYPE_ETHERNET,
    *,
    endian: str = "<",
    nanos: bool = False,
    snaplen: int = 65535,
) -> bytes:
    """A whole pcap from (seconds, fraction in µs or ns, frame bytes) triples."""
    out = [pcap_header(linktype, snaplen, endian=endian, nanos=nanos)]
    out.extend(pcap_record(s, f, d, endian=endian) for s, f, d in records)
    return b"".join(out)


def udp_pcap(datagrams: Iterable[bytes], *, sport: int, dport: int) -> bytes:
    """A classic pcap of UDP datagrams, one Ethernet frame each, a second apart, all from
    10.0.0.2:``sport`` to 10.0.0.1:``dport`` (for tshark to dissect by port)."""
    src, dst = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
    return pcap_file(
        (i, 0, ethernet(ipv4_udp(d, src, dst, sport, dport))) for i, d in enumerate(datagrams)
    )


# --- pcapng ----------------------------------------------------------------------------


def with_length(raw_block: bytes, length: int) -> bytes:
    """A little-endian pcapng block with its leading length field overwritten (damage)."""
    return raw_block[:4] + struct.pack("<I", length) + raw_block[8:]


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def option(code: int, value: bytes, endian: str = "<") -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + _pad(value)


def options(opts: Iterable[tuple[int, bytes]], endian: str = "<") -> bytes:
    encoded = b"".join(option(c, v, endian) for c, v in opts)
    return encoded + struct.pack(endian + "HH", 0, 0) if encoded else b""


def block(btype: int, body: bytes, endian: str = "<") -> bytes:
    """Any block: type, total length, body (padded), total length."""
    body = _pad(body)
    length = 12 + len(body)
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def shb(endian: str = "<", opts: Iterable[tuple[int, bytes]] = ()) -> bytes:
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1) + options(opts, endian)
    return block(0x0A0D0D0A, body, endian)


def idb(
    linktype: int = LINKTYPE_ETHERNET,
    snaplen: int = 0,
    *,
    tsresol: int | None = None,
    tsoffset: int | None = None,
    endian: str = "<",
) -> bytes:
    opts: list[tuple[int, bytes]] = []
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))
    if tsoffset is not None:
        opts.append((14, struct.pack(endian + "q", tsoffset)))
    body = struct.pack(endian + "HHI", linktype, 0, snaplen) + options(opts, endian)
    return block(1, body, endian)


def epb(
    iface: int,
    ts_units: int,
    data: bytes,
    *,
    orig_len: int | None = None,
    comments: Iterable[str] = (),
    endian: str = "<",
    caplen: int | None = None,
) -> bytes:
    """An Enhanced Packet Block; ``caplen`` overrides the captured length (for damage)."""
    orig = len(data) if orig_len is None else orig_len
    cap = len(data) if caplen is None else caplen
    head = struct.pack(endian + "IIIII", iface, ts_units >> 32, ts_units & 0xFFFFFFFF, cap, orig)
    opts = options(((1, c.encode()) for c in comments), endian)
    return block(6, head + _pad(data) + opts, endian)


def spb(data: bytes, *, orig_len: int | None = None, endian: str = "<") -> bytes:
    orig = len(data) if orig_len is None else orig_len
    return block(3, struct.pack(endian + "I", orig) + data, endian)


def packet_block(
    iface: int, ts_units: int, data: bytes, *, comments: Iterable[str] = (), endian: str = "<"
) -> bytes:
    """The obsolete Packet Block (type 2)."""
    head = struct.pack(
        endian + "HHIIII", iface, 0, ts_units >> 32, ts_units & 0xFFFFFFFF, len(data), len(data)
    )
    opts = options(((1, c.encode()) for c in comments), endian)
    return block(2, head + _pad(data) + opts, endian)


def nrb(records: Iterable[tuple[bytes, list[str]]], endian: str = "<") -> bytes:
    """A Name Resolution Block from (packed IPv4 or IPv6 address, names) pairs."""
    body = b""
    for address, names in records:
        rtype = 1 if len(address) == 4 else 2
        value = address + b"".join(n.encode() + b"\0" for n in names)
        body += struct.pack(endian + "HH", rtype, len(value)) + _pad(value)
    body += struct.pack(endian + "HH", 0, 0)
    return block(4, body, endian)


def dsb(secret: bytes, secrets_type: int = 0x544C534B, endian: str = "<") -> bytes:
    return block(10, struct.pack(endian + "II", secrets_type, len(secret)) + _pad(secret), endian)


def custom_block(pen: int, payload: bytes, *, copyable: bool = True, endian: str = "<") -> bytes:
    btype = 0x00000BAD if copyable else 0x40000BAD
    return block(btype, struct.pack(endian + "I", pen) + payload, endian)


def pcapdroid_uid_map(
    uid: int, package: str, app: str, *, copyable: bool = True, endian: str = "<"
) -> bytes:
    """PCAPdroid's uid -> (package, app name) custom block, version 1, type 1."""
    pkg = package.encode()
    name = app.encode()
    payload = struct.pack(endian + "HBBiBB", 1, 1, 0, uid, len(pkg), len(name)) + pkg + name
    return custom_block(PCAPDROID_PEN, payload, copyable=copyable, endian=endian)
