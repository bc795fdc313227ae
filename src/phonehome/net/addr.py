"""Address helpers used per packet and per flow.

Addresses travel as packed bytes below the message level. Turning them into text is the
one conversion every flow needs, and a capture repeats the same few thousand addresses,
so :func:`ntop` keeps a bounded cache instead of formatting each time. The ``ipaddress``
module is used only for parsing user input (``--device-ip``), never per packet.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

NTOP_CACHE_CAP: Final = 16_384

_ntop_cache: Final[dict[bytes, str]] = {}


def ntop(b: bytes) -> str:
    """Text form of a packed IPv4 (4 bytes) or IPv6 (16 bytes) address."""
    s = _ntop_cache.get(b)
    if s is not None:
        return s
    if len(b) == 4:
        s = f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"
    elif len(b) == 16:
        s = socket.inet_ntop(socket.AF_INET6, b)
    else:
        raise ValueError(f"not a packed IP address: {b.hex()}")
    if len(_ntop_cache) >= NTOP_CACHE_CAP:
        # Dropping everything is cheaper than LRU bookkeeping on every hit, and the
        # working set refills within a few packets.
        _ntop_cache.clear()
    _ntop_cache[b] = s
    return s


_V4MAPPED: Final = b"\x00" * 10 + b"\xff\xff"


def is_local(b: bytes) -> bool:
    """True for addresses that cannot be a remote party on the internet.

    Used to guess which end of a flow is the device when the user did not say: the
    device sits behind NAT (RFC 1918, carrier-grade NAT 100.64/10) or talks over
    loopback/link-local, while the services it phones home to have public addresses.
    """
    if len(b) == 16:
        if b[:12] == _V4MAPPED:
            b = b[12:]
        else:
            first = b[0]
            if first & 0xFE == 0xFC:  # fc00::/7 unique local
                return True
            if first == 0xFE and b[1] & 0xC0 == 0x80:  # fe80::/10 link-local
                return True
            return b == b"\x00" * 15 + b"\x01" or b == b"\x00" * 16  # ::1, ::
    if len(b) != 4:
        return False
    a0 = b[0]
    if a0 == 10 or a0 == 127 or a0 == 0:
        return True
    a1 = b[1]
    if a0 == 192:
        return a1 == 168
    if a0 == 172:
        return 16 <= a1 <= 31
    if a0 == 169:
        return a1 == 254
    if a0 == 100:
        return 64 <= a1 <= 127
    return False


def parse_ip(s: str) -> bytes:
    """Packed form of a textual IPv4/IPv6 address; ``ValueError`` when it is not one."""
    text = s.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    # inet_pton first: the findings' Community IDs parse every flow's two addresses, and
    # ipaddress takes ~20 us an address. What inet_pton refuses goes to ipaddress, which
    # gives the error (or accepts a spelling the platform's inet_pton does not).
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    try:
        return socket.inet_pton(family, text)
    except (OSError, ValueError):
        return ipaddress.ip_address(text).packed


_HEX: Final = frozenset("0123456789abcdef")


def parse_mac(s: str) -> bytes:
    """Packed 6-byte MAC from the usual spellings.

    Accepts ``aa:bb:cc:dd:ee:ff``, ``aa-bb-...``, ``aabb.ccdd.eeff`` (Cisco) and bare hex,
    in any case; ``ValueError`` otherwise.
    """
    text = s.strip().lower()
    parts: list[str]
    if ":" in text or "-" in text:
        parts = text.replace("-", ":").split(":")
        if len(parts) != 6 or any(not 1 <= len(p) <= 2 for p in parts):
            raise ValueError(f"not a MAC address: {s!r}")
        parts = [p.zfill(2) for p in parts]
        hexs = "".join(parts)
    elif "." in text:
        parts = text.split(".")
        if len(parts) != 3 or any(len(p) != 4 for p in parts):
            raise ValueError(f"not a MAC address: {s!r}")
        hexs = "".join(parts)
    else:
        hexs = text
    if len(hexs) != 12 or not set(hexs) <= _HEX:
        raise ValueError(f"not a MAC address: {s!r}")
    return bytes.fromhex(hexs)
