"""PCAPdroid's "trailer" pcap from a simulated capture: each packet labelled with the app
that sent it, as PCAPdroid writes it with "PCAPdroid metadata" on (and sends it through
its UDP exporter): link type Ethernet, each frame a zero 14-byte Ethernet header, the IP
packet, 0-3 bytes of padding to a 4-byte boundary, then the 32-byte trailer (magic
``0x01072021``, uid, 20-byte NUL-padded app name, CRC-32 of everything before it stored
little endian, as on an Android device). The layout is the one
:mod:`phonehome.ingest.pcapdroid` reads; frame numbers and times stay as simulated, so
the ground truth still applies.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from phonehome.privacy import open_private

MAGIC = 0x01072021
OTHER_APP = (10123, "Google Play services")
"""The app every packet not claimed by a scenario's ``PCAPDROID_APPS`` is labelled with."""

AppMap = dict[bytes, tuple[int, str]]
"""Remote IPv4/IPv6 address (packed) -> (uid, app name) of the packets to or from it."""


def trailer_frame(packet: bytes, uid: int, name: str) -> bytes:
    ethertype = 0x0800 if packet[0] >> 4 == 4 else 0x86DD
    body = b"\0" * 12 + struct.pack("!H", ethertype) + packet
    body += b"\0" * (-len(body) % 4)
    body += struct.pack("!Ii", MAGIC, uid) + name.encode()[:19].ljust(20, b"\0")
    return body + zlib.crc32(body).to_bytes(4, "little")


def _app(packet: bytes, apps: AppMap) -> tuple[int, str]:
    if packet[0] >> 4 == 4:
        return apps.get(packet[12:16]) or apps.get(packet[16:20]) or OTHER_APP
    return apps.get(packet[8:24]) or apps.get(packet[24:40]) or OTHER_APP


def convert(path: Path, apps: AppMap) -> None:
    """Rewrite the simulator's Ethernet pcap at ``path`` in PCAPdroid's trailer format."""
    data = path.read_bytes()
    out = [data[:24]]
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        packet = frame[14:]
        uid, name = _app(packet, apps)
        labelled = trailer_frame(packet, uid, name)
        out.append(struct.pack("<IIII", sec, usec, len(labelled), len(labelled)) + labelled)
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp) as f:
        f.write(b"".join(out))
    os.replace(tmp, path)
