"""802.11 data frames (IEEE 802.11-2020 9.2-9.3): where the MSDU's EtherType is, and whose.

Two readers meet 802.11 frames: monitor-mode captures (the radiotap and bare 802.11 link
types, :mod:`phonehome.net.link`) and CAPWAP data channels, which carry the stations'
frames from an access point to its controller (:mod:`phonehome.net.tunnel`). Both need
the same reading of the header; each counts and reports what it cannot read its own way,
so :func:`msdu` says what it found rather than counting.
"""

from __future__ import annotations

from typing import Final

DATA: Final = 0
"""An MSDU after LLC/SNAP: its EtherType is at the returned offset."""
NOT_DATA: Final = 1
"""A management or control frame, or a Null data frame: nothing to read, routinely."""
BAD_VERSION: Final = 2
PROTECTED: Final = 3
"""Encrypted (WPA/WEP): :func:`protected_header` says where its body starts."""
FRAGMENT: Final = 4
"""One fragment of a fragmented MSDU (not reassembled)."""
AMSDU: Final = 5
"""An A-MSDU aggregate: its first subframe is at the returned offset (:func:`subframes`)."""
SHORT_QOS: Final = 6
SHORT_LLC: Final = 7
NOT_SNAP: Final = 8
"""A body that is not LLC/SNAP (another LLC protocol)."""

LLC_SNAP: Final = b"\xaa\xaa\x03"
SNAP_OUIS: Final = frozenset((b"\x00\x00\x00", b"\x00\x00\xf8"))
"""RFC 1042 and 802.1H (bridge tunnel) encapsulation."""
_NO_ADDRESS: Final = b""

Msdu = tuple[int, int, bytes, bytes]
"""(outcome, offset of the EtherType, source address, destination address)."""


def msdu(data: bytes, p: int, end: int, fc0: int, fc1: int) -> Msdu:
    """Read the data frame at ``p`` (at least 24 bytes up to ``end``) whose Frame Control
    bytes are ``fc0``, ``fc1`` (given apart: some access points send them swapped). The
    addresses are the ones the To/From DS bits give (Table 9-30): the source is the phone
    on uplink frames, as on Ethernet."""
    if fc0 & 0x03:
        return BAD_VERSION, 0, _NO_ADDRESS, _NO_ADDRESS
    subtype = fc0 >> 4
    if (fc0 >> 2) & 0x03 != 2 or subtype & 0x04:  # management, control, null data
        return NOT_DATA, 0, _NO_ADDRESS, _NO_ADDRESS
    to_ds = fc1 & 0x01
    from_ds = fc1 & 0x02
    hl = 30 if to_ds and from_ds else 24
    amsdu = False
    if subtype & 0x08:  # QoS data: QoS control, and HT control when +HTC/Order is set
        if p + hl + 2 > end:
            return SHORT_QOS, 0, _NO_ADDRESS, _NO_ADDRESS
        amsdu = bool(data[p + hl] & 0x80)
        hl += 6 if fc1 & 0x80 else 2
    if fc1 & 0x40:
        return PROTECTED, 0, _NO_ADDRESS, _NO_ADDRESS
    if fc1 & 0x04 or data[p + 22] & 0x0F:  # More Fragments, or a fragment number
        return FRAGMENT, 0, _NO_ADDRESS, _NO_ADDRESS
    a1 = data[p + 4 : p + 10]
    a2 = data[p + 10 : p + 16]
    a3 = data[p + 16 : p + 22]
    if to_ds and from_ds:
        sa, da = data[p + 24 : p + 30], a3
    elif to_ds:
        sa, da = a2, a3
    elif from_ds:
        sa, da = a3, a1
    else:
        sa, da = a2, a1
    q = p + hl
    if amsdu:
        return AMSDU, q, sa, da
    if end - q < 8:
        return SHORT_LLC, 0, sa, da
    if data[q : q + 3] != LLC_SNAP or data[q + 3 : q + 6] not in SNAP_OUIS:
        return NOT_SNAP, 0, sa, da
    return DATA, q + 6, sa, da


def protected_header(data: bytes, p: int, fc0: int, fc1: int) -> tuple[int, int]:
    """The header length of a data frame :func:`msdu` found protected, and its QoS Control
    field's first byte (-1 without one): what CCMP's nonce and AAD need."""
    hl = 30 if fc1 & 0x03 == 0x03 else 24
    if fc0 >> 4 & 0x08:
        return hl + (6 if fc1 & 0x80 else 2), data[p + hl]
    return hl, -1


def ap_and_station(data: bytes, p: int, fc1: int) -> tuple[bytes, bytes] | None:
    """(access point, station) of a frame between the two (To DS xor From DS), else None."""
    ds = fc1 & 0x03
    if ds == 0x01:
        return data[p + 4 : p + 10], data[p + 10 : p + 16]
    if ds == 0x02:
        return data[p + 10 : p + 16], data[p + 4 : p + 10]
    return None


Subframe = tuple[int, int, bytes, bytes]
"""(offset of the EtherType, end of the MSDU, source address, destination address)."""


def subframes(data: bytes, q: int, end: int) -> tuple[list[Subframe], bool]:
    """The MSDUs of the A-MSDU whose first subframe is at ``q`` (IEEE 802.11-2016
    9.3.2.2.2: DA, SA, a big-endian length, the MSDU with its LLC/SNAP header, padding to
    4 bytes but after the last), and whether all of it read as subframes. Each MSDU has
    its own addresses: an access point aggregates frames of several senders."""
    found: list[Subframe] = []
    while end - q >= 14:
        start = q
        size = data[q + 12] << 8 | data[q + 13]
        body = q + 14
        if body + size > end or size < 8:
            return found, False
        if data[body : body + 3] != LLC_SNAP or data[body + 3 : body + 6] not in SNAP_OUIS:
            return found, False
        found.append((body + 6, body + size, data[q + 6 : q + 12], data[q : q + 6]))
        q = min(body + size + (-(body + size - start) % 4), end)
    return found, q == end


_IES_AT: Final = {8: 36, 5: 36, 0: 28, 2: 34}
"""Where the elements start in a beacon, probe response, (re)association request."""


def ssid_of(data: bytes, p: int, end: int, fc0: int) -> tuple[bytes, bytes] | None:
    """(BSSID, SSID) of a beacon, probe response or (re)association request (IEEE
    802.11-2016 9.3.3: the SSID element, id 0, comes first among the elements), else
    None. The BSSID is Address 3 in all four."""
    if fc0 & 0x0C != 0:  # not management
        return None
    at = _IES_AT.get(fc0 >> 4)
    if at is None or end - p < at + 2 or data[p + at] != 0:
        return None
    size = data[p + at + 1]
    if size == 0 or size > 32 or p + at + 2 + size > end:
        return None
    return data[p + 16 : p + 22], data[p + at + 2 : p + at + 2 + size]
