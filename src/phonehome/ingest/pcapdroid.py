"""PCAPdroid's per-app metadata: which Android app (uid) sent each packet.

PCAPdroid captures through a local VPN, so it knows the uid of every packet, and it
writes that knowledge into its exports in two ways (checked against its sources,
``app/src/main/jni/core/pcap_dump.c`` and ``tools/pcapdroid.lua``):

pcap with "PCAPdroid trailer" (link type Ethernet)
    ``[14 zero bytes: fake Ethernet header][IP packet][0-3 zero bytes][trailer]``. The
    padding keeps the trailer 4-byte aligned. The 32-byte trailer is ``magic`` (big
    endian ``0x01072021``), ``uid`` (big endian int32), a 20-byte NUL-padded name (at
    most 19 bytes kept) and a CRC-32 of every preceding byte of the frame. PCAPdroid
    stores that CRC in host order (little endian on every Android device); we also
    accept big endian so that a re-encoded file does not lose its labels.

    What the 20-byte name holds depends on the PCAPdroid version: the first versions
    with trailers (2021) wrote ``PackageManager.getNameForUid()`` - a package name, or
    ``sharedUserId:uid`` for shared uids - while current ones write the app's display
    label (``AppDescriptor.getName()``). Hence :func:`looks_like_package`.

pcapng
    A custom block (type ``0x00000BAD``, or ``0x40000BAD`` "do not copy") with Private
    Enterprise Number 62652 per uid: after the PEN, ``version`` (u16), ``type`` (u8,
    1 = uid mapping), one unused byte, ``uid`` (int32), the package name length (u8), the
    app name length (u8), then both names; integers in the section's byte order. Each
    packet then carries an ``opt_comment`` ``u-<uid>``.

A uid of -1 means PCAPdroid could not tell the app; it is reported as ``None``.
"""

from __future__ import annotations

import re
import struct
import zlib

PCAPDROID_PEN = 62652
TRAILER_MAGIC = b"\x01\x07\x20\x21"
TRAILER_LEN = 32
ETHER_HEADER_LEN = 14
_NAME_FIELD_LEN = 20
_UID_MAP_BLOCK = 1
_UNKNOWN_UID = -1

_PACKAGE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")
_UID_COMMENT_RE = re.compile(r"u-(-?[0-9]{1,10})")


def strip_trailer(data: bytes) -> tuple[bytes, int | None, str | None] | None:
    """Split a trailer-mode frame into (frame without padding+trailer, uid, name).

    Returns None when ``data`` carries no valid trailer. Both the magic and the CRC must
    match, so an ordinary Ethernet frame that happens to end with the magic is left
    alone. The 14-byte fake Ethernet header is kept so the link layer parses as usual.
    """
    size = len(data)
    body_end = size - TRAILER_LEN
    if body_end < ETHER_HEADER_LEN or not data.startswith(TRAILER_MAGIC, body_end):
        return None
    uid, name_field, fcs = struct.unpack_from(">i20s4s", data, body_end + 4)
    crc = zlib.crc32(memoryview(data)[: size - 4])
    if fcs != crc.to_bytes(4, "little") and fcs != crc.to_bytes(4, "big"):
        return None
    body_end = _end_of_ip(data, body_end)
    name = name_field.split(b"\0", 1)[0].decode("utf-8", "replace").rstrip("\ufffd")
    return (
        data[:body_end],
        None if uid == _UNKNOWN_UID else uid,
        name if name and name != "???" else None,
    )


def _end_of_ip(data: bytes, padded_end: int) -> int:
    """Where the IP packet ends, so that the 0-3 alignment bytes are dropped too.

    The padding cannot be told from trailing zero bytes of the packet itself, so the IP
    header's own length decides; when it does not fit, keep everything up to the trailer
    (the IP layer trims by its length field anyway).
    """
    first = data[ETHER_HEADER_LEN] >> 4 if padded_end > ETHER_HEADER_LEN else 0
    if first == 4 and padded_end >= ETHER_HEADER_LEN + 4:
        ip_len = int.from_bytes(data[ETHER_HEADER_LEN + 2 : ETHER_HEADER_LEN + 4], "big")
    elif first == 6 and padded_end >= ETHER_HEADER_LEN + 40:
        ip_len = 40 + int.from_bytes(data[ETHER_HEADER_LEN + 4 : ETHER_HEADER_LEN + 6], "big")
    else:
        return padded_end
    end = ETHER_HEADER_LEN + ip_len
    return end if 0 <= padded_end - end <= 3 else padded_end


def looks_like_package(name: str) -> bool:
    """True when a trailer's name field is a complete Android package name.

    A name that fills the field (19 bytes) may have been cut, and a cut package name
    would be a wrong attribution, so it is not taken as a package.
    """
    return len(name.encode()) < _NAME_FIELD_LEN - 1 and _PACKAGE_RE.fullmatch(name) is not None


def may_be_cut(name: str) -> bool:
    """True when a trailer's name fills the field: PCAPdroid keeps at most 19 bytes, so
    ``com.qualcomm.qti.au`` may be the start of ``com.qualcomm.qti.autoregistration``."""
    return len(name.encode()) >= _NAME_FIELD_LEN - 1


def parse_uid_map(payload: bytes, endian: str) -> tuple[int, str, str] | None:
    """Parse the part of a PCAPdroid custom block after the PEN.

    Returns (uid, package name, app name), or None when the block is not a uid mapping
    this reader understands (another block type or a newer version). Raises ValueError
    when the block claims to be a uid mapping but its lengths do not fit.
    """
    if len(payload) < 4:
        raise ValueError(f"custom block body of {len(payload)} bytes")
    version, block_type = struct.unpack_from(endian + "HB", payload)
    if version != 1 or block_type != _UID_MAP_BLOCK:
        return None
    if len(payload) < 10:
        raise ValueError(f"uid mapping of {len(payload)} bytes")
    uid, package_len, app_len = struct.unpack_from(endian + "iBB", payload, 4)
    end = 10 + package_len + app_len
    if end > len(payload):
        raise ValueError(f"names need {end} bytes, block has {len(payload)}")
    package = payload[10 : 10 + package_len].decode("utf-8", "replace")
    app = payload[10 + package_len : end].decode("utf-8", "replace")
    return uid, package, app


def uid_from_comment(comment: str) -> int | None:
    """The uid of a PCAPdroid packet comment ``u-<uid>``, else None."""
    m = _UID_COMMENT_RE.fullmatch(comment)
    if m is None:
        return None
    uid = int(m.group(1))
    return None if uid == _UNKNOWN_UID else uid
