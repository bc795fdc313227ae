"""3GPP encodings that several protocols share: TBCD digits, PLMN ids, cell locations.

The mobile core carries the subscriber's identities and the serving cell in a handful of
binary forms that GTPv1-C, GTPv2-C, Diameter and RADIUS (and, as text, SIP) all reuse:

* TBCD (TS 29.002 "TBCD-STRING"): two digits per byte, the low nibble first, ``0xF`` as
  the filler of an odd count. IMSI, IMEI(SV) and MSISDN are written this way.
* PLMN id (TS 24.008 10.5.1.3): MCC and MNC in three bytes, nibble-swapped, ``0xF`` in the
  third MNC digit when the MNC has two digits.
* Cell and area locations: CGI (LAC + CI), SAI, RAI, TAI, ECGI (28-bit E-UTRAN cell
  identity), NCGI (36-bit NR cell identity), each behind a PLMN id. They say where the
  phone is, so a protocol reports them as fields detectors read as cell ids.

The functions are pure and never raise on short or odd input: they return None.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from phonehome.extract.engine import LEAF, Budget, expand
from phonehome.model.field import Field
from phonehome.model.message import Record

_TBCD_SYMBOLS: Final = "0123456789*#abc"
"""Nibble values 0-14 of a TBCD string (TS 29.002); 15 is the filler."""


def tbcd(data: bytes) -> str | None:
    """The digits of a TBCD string, or None when it holds a symbol that is not a digit
    before its end (not a number) or is empty. A filler nibble ends the string."""
    out: list[str] = []
    for byte in data:
        for nibble in (byte & 0x0F, byte >> 4):
            if nibble == 0x0F:
                return "".join(out) or None
            if nibble > 9:
                return None
            out.append(_TBCD_SYMBOLS[nibble])
    return "".join(out) or None


def plmn(data: bytes) -> tuple[str, str] | None:
    """(MCC, MNC) of a 3-byte PLMN id, or None when a digit is not a digit."""
    if len(data) < 3:
        return None
    nibbles = (
        data[0] & 0x0F,
        data[0] >> 4,
        data[1] & 0x0F,
        data[2] & 0x0F,
        data[2] >> 4,
        data[1] >> 4,
    )
    mcc = nibbles[:3]
    mnc = nibbles[3:] if nibbles[5] != 0x0F else nibbles[3:5]
    if any(n > 9 for n in mcc) or any(n > 9 for n in mnc):
        return None
    return "".join(map(str, mcc)), "".join(map(str, mnc))


class CellLocation(Record):
    """One location element: a cell (``cgi``, ``ecgi``, ``ncgi``, ``utran``) or an area
    (``sai``, ``rai``, ``tai``, ``lai``), with its PLMN.

    ``area`` is the LAC or TAC (-1 when the element has none), ``cell`` the cell identity
    (CI, UC-ID, ECI, NCI) or the SAC/RAC of an area element (-1 when none)."""

    FIELDS = ("kind", "mcc", "mnc", "area", "cell")
    __slots__ = FIELDS

    kind: Final[str]
    mcc: Final[str]
    mnc: Final[str]
    area: Final[int]
    cell: Final[int]

    def __init__(self, kind: str, mcc: str, mnc: str, area: int = -1, cell: int = -1) -> None:
        self.kind = kind
        self.mcc = mcc
        self.mnc = mnc
        self.area = area
        self.cell = cell

    def describe(self) -> str:
        """Short text for ``flows``: ``ECGI 262-01 eci=305419896``."""
        parts = [f"{self.kind.upper()} {self.mcc}-{self.mnc}"]
        area, cell = _NAMES[self.kind]
        if self.area >= 0 and area:
            parts.append(f"{area}={self.area}")
        if self.cell >= 0 and cell:
            parts.append(f"{cell}={self.cell}")
        return " ".join(parts)


_NAMES: Final[dict[str, tuple[str, str]]] = {
    "cgi": ("lac", "ci"),
    "sai": ("lac", "sac"),
    "rai": ("lac", "rac"),
    "lai": ("lac", ""),
    "tai": ("tac", ""),
    "ecgi": ("tac", "eci"),
    "ncgi": ("tac", "nci"),
    "utran": ("lac", "ucid"),
    "enb": ("", "enb"),
}
"""The names of a location kind's area and cell numbers, as field keys."""

CELL_KINDS: Final = frozenset(("cgi", "ecgi", "ncgi", "utran"))
"""Kinds that name one cell (a tower's sector): a location. Areas span many cells."""


def _location(kind: str, data: bytes, area_bytes: int, cell_bytes: int) -> CellLocation | None:
    ids = plmn(data)
    if ids is None or len(data) < 3 + area_bytes + cell_bytes:
        return None
    area = int.from_bytes(data[3 : 3 + area_bytes], "big") if area_bytes else -1
    cell = -1
    if cell_bytes:
        cell = int.from_bytes(data[3 + area_bytes : 3 + area_bytes + cell_bytes], "big")
        cell &= _CELL_MASK.get(kind, -1)  # spare bits above the identity
    return CellLocation(kind, ids[0], ids[1], area, cell)


_CELL_MASK: Final[dict[str, int]] = {"ecgi": 0x0FFFFFFF, "ncgi": 0xFFFFFFFFF, "enb": 0x1FFFFF}
"""ECI is 28 bits, NCI 36, a (extended) macro eNB id 20/21, each after spare bits."""


# GTPv2-C ULI (TS 29.274 8.21): flag bit -> (kind, length, area bytes, cell bytes), in the
# order the elements follow the flags octet.
_ULI_V2: Final[tuple[tuple[int, str, int, int, int], ...]] = (
    (0x01, "cgi", 7, 2, 2),
    (0x02, "sai", 7, 2, 2),
    (0x04, "rai", 7, 2, 2),
    (0x08, "tai", 5, 2, 0),
    (0x10, "ecgi", 7, 0, 4),
    (0x20, "lai", 5, 2, 0),
    (0x40, "enb", 6, 0, 3),
    (0x80, "enb", 6, 0, 3),
)


def uli_v2(data: bytes) -> list[CellLocation] | None:
    """The elements of a GTPv2-C User Location Information IE; None if it is too short
    for the elements its flags announce."""
    if not data:
        return None
    flags = data[0]
    pos = 1
    out: list[CellLocation] = []
    for bit, kind, size, area, cell in _ULI_V2:
        if not flags & bit:
            continue
        if pos + size > len(data):
            return None
        loc = _location(kind, data[pos : pos + size], area, cell)
        if loc is not None:
            out.append(loc)
        pos += size
    return out


# GTPv1 ULI geographic location type (TS 29.060 7.7.51) and the Diameter/RADIUS
# 3GPP-User-Location-Info extensions of it (TS 29.061 16.4.7.2).
_ULI_V1: Final[dict[int, tuple[tuple[str, int, int, int], ...]]] = {
    0: (("cgi", 7, 2, 2),),
    1: (("sai", 7, 2, 2),),
    2: (("rai", 7, 2, 1),),
    128: (("tai", 5, 2, 0),),
    129: (("ecgi", 7, 0, 4),),
    130: (("tai", 5, 2, 0), ("ecgi", 7, 0, 4)),
    131: (("lai", 5, 2, 0),),
    135: (("ncgi", 8, 0, 5),),
    136: (("tai", 6, 3, 0), ("ncgi", 8, 0, 5)),
}


def uli_v1(data: bytes) -> list[CellLocation] | None:
    """A GTPv1 / 3GPP-User-Location-Info value: type octet, then its elements; None for
    an unknown type or a value too short for it."""
    if not data or data[0] not in _ULI_V1:
        return None
    pos = 1
    out: list[CellLocation] = []
    for kind, size, area, cell in _ULI_V1[data[0]]:
        if pos + size > len(data):
            return None
        loc = _location(kind, data[pos : pos + size], area, cell)
        if loc is not None:
            out.append(loc)
        pos += size
    return out


def location_fields(
    budget: Budget, part: str, path: str, loc: CellLocation, chain: tuple[str, ...] = ()
) -> Iterator[Field]:
    """A location as fields the detectors read: the cell identity under its own key
    (``eci``, ``nci``, ``ci``, ``ucid``) with the PLMN and area beside it, so the cell-id
    detector and a profile's cell id find it; areas give their code under ``lac``/``tac``."""
    area_key, cell_key = _NAMES[loc.kind]
    siblings = [("mcc", loc.mcc), ("mnc", loc.mnc)]
    if loc.area >= 0 and area_key:
        siblings.append((area_key, str(loc.area)))
    sib = tuple(siblings)
    segment = f"{path}>{loc.kind}" if path else loc.kind
    if loc.cell >= 0 and cell_key and loc.kind in CELL_KINDS:
        others = tuple(sib)
        yield from expand(budget, part, segment, chain, cell_key, others, str(loc.cell), None, LEAF)
    elif loc.area >= 0 and area_key:
        rest = tuple(s for s in sib if s[0] != area_key)
        yield from expand(budget, part, segment, chain, area_key, rest, str(loc.area), None, LEAF)


def pani_locations(access: str, params: dict[str, str]) -> tuple[list[CellLocation], str | None]:
    """What a P-Access-Network-Info access-net-spec says (RFC 7315, TS 24.229 7.2A.4):
    the cell (from ``utran-cell-id-3gpp`` / ``cgi-3gpp``) and, for IEEE 802.11 access, the
    access point's BSSID (``i-wlan-node-id``) as ``aa:bb:cc:dd:ee:ff``."""
    kind = access.strip().upper()
    cells: list[CellLocation] = []
    bssid: str | None = None
    if kind.startswith("IEEE-802.11"):
        node = params.get("i-wlan-node-id", "").strip().strip('"')
        hexdigits = "".join(ch for ch in node if ch not in ":-.")
        if len(hexdigits) == 12 and _is_hex(hexdigits):
            h = hexdigits.lower()
            bssid = ":".join(h[i : i + 2] for i in range(0, 12, 2))
        return cells, bssid
    if kind == "3GPP-GERAN":
        value = params.get("cgi-3gpp", "").strip().strip('"')
        loc = _text_cell("cgi", value, 4, 4)
    elif kind.startswith("3GPP-UTRAN"):
        loc = _text_cell("utran", params.get("utran-cell-id-3gpp", "").strip().strip('"'), 4, 7)
    elif kind.startswith("3GPP-E-UTRAN"):
        loc = _text_cell("ecgi", params.get("utran-cell-id-3gpp", "").strip().strip('"'), 4, 7)
    elif kind.startswith("3GPP-NR"):
        loc = _text_cell("ncgi", params.get("utran-cell-id-3gpp", "").strip().strip('"'), 6, 9)
    else:
        loc = None
    if loc is not None:
        cells.append(loc)
    return cells, bssid


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


def _text_cell(kind: str, value: str, area_hex: int, cell_hex: int) -> CellLocation | None:
    """MCC (3 digits) + MNC (2 or 3: what the length leaves) + area + cell in hex."""
    mnc_len = len(value) - 3 - area_hex - cell_hex
    if mnc_len not in (2, 3) or not value[: 3 + mnc_len].isdigit() or not value.isascii():
        return None
    rest = value[3 + mnc_len :]
    if not _is_hex(rest):
        return None
    area = int(rest[:area_hex], 16)
    cell = int(rest[area_hex:], 16)
    return CellLocation(kind, value[:3], value[3 : 3 + mnc_len], area, cell)
