"""PCAPdroid's UDP exporter: one datagram per pcap record (or pcapng block), turned back
into the byte stream the pcap/pcapng readers read.

What PCAPdroid sends (checked against its sources: ``pcap_dump/UDPDumper.java``,
``Utils.iterPcapRecords``, ``jni/core/pcap_dump.c``; ``tools/udp_receiver.py`` and
``tools/pcapdroid_udpdump.lua`` receive it):

* the first datagram is the file header: the 24-byte pcap global header, or for pcapng the
  preamble (a Section Header Block and an Interface Description Block in one datagram);
* then every datagram is exactly one pcap record (16-byte record header + frame) or one
  pcapng block (EPB, custom uid-map block, Decryption Secrets Block, later IDBs);
* integers in the phone's byte order (little endian on every Android device), pcap
  timestamps in microseconds; the pcap link type is Ethernet when "PCAPdroid metadata" is
  on (each frame a zero Ethernet header + IP packet + padding + the per-app trailer) and
  raw IP otherwise; pcapng interfaces are always raw IP.

A receiver started after the header was sent (the usual case: the phone started first)
never sees it, so :class:`DatagramFramer` infers the framing from the datagrams
themselves, as PCAPdroid's Wireshark udpdump script does per datagram: a datagram whose
length fields agree with its own size is a pcapng block or a pcap record, and a pcap
frame's first byte tells raw IP (version nibble 4 or 6) from PCAPdroid's Ethernet
(fourteen-byte header, zero addresses, IP ethertype). It then writes the header PCAPdroid
would have sent in front of the stream. Every datagram is checked before it joins the
stream, so a stray or damaged one is counted (``live.udp.bad_datagram``) and dropped
instead of desynchronising the reader; after :data:`REINFER_AFTER` rejected datagrams in
a row the framing is inferred afresh (the phone switched format, or the first guess was
wrong). A header datagram that differs from the current one starts a new segment (a new
capture for the pipeline: the phone restarted its capture).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from phonehome.ingest import pcapng

PCAP_MAGICS: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAPNG_ORDERS: Final = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
SHB_TYPE: Final = b"\x0a\x0d\x0d\x0a"
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
SNAPLEN: Final = 262144
MAX_RECORD: Final = 262144
"""Largest pcap record accepted (libpcap's own limit; a UDP datagram holds 65,507 bytes)."""
PCAPNG_BLOCKS: Final = frozenset(
    {
        pcapng.IDB,
        pcapng.PB,
        pcapng.SPB,
        pcapng.NRB,
        5,  # Interface Statistics Block
        pcapng.EPB,
        pcapng.DSB,
        pcapng.CUSTOM,
        pcapng.CUSTOM_NOCOPY,
    }
)
"""Block types a PCAPdroid stream can carry after its preamble (and a few more that are
harmless to pass on): what inference accepts as "a pcapng block"."""
REINFER_AFTER: Final = 4
_ETHERTYPES: Final = (b"\x08\x00", b"\x86\xdd")

Report = Callable[[str, str], None]
"""``report(kind, detail)``: where rejected datagrams are counted (the run's anomalies)."""


@dataclass(frozen=True)
class Framing:
    """What the stream is: ``pcap`` (byte order, units, link type) or ``pcapng``."""

    format: str
    endian: str
    units: int = 1_000_000
    linktype: int = LINKTYPE_RAW
    inferred: bool = False


@dataclass
class Output:
    """What one datagram adds: ``header`` starts a new segment (a new capture), ``data``
    continues the current one. Both empty: the datagram was dropped (and counted) or was
    a repeat of the header in force."""

    header: bytes = b""
    data: bytes = b""


def pcap_header(endian: str, units: int, linktype: int) -> bytes:
    magic = 0xA1B23C4D if units == 1_000_000_000 else 0xA1B2C3D4
    return struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, SNAPLEN, linktype)


def pcapng_preamble(endian: str, interfaces: int = 1) -> bytes:
    """A Section Header Block and ``interfaces`` raw-IP Interface Description Blocks, as
    PCAPdroid's preamble (pcapng interfaces are always raw IP there)."""
    shb_body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    out = _block(endian, pcapng.SHB, shb_body)
    for _ in range(interfaces):
        out += _block(endian, pcapng.IDB, struct.pack(endian + "HHI", LINKTYPE_RAW, 0, SNAPLEN))
    return out


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack(endian + "II", btype, total) + body + struct.pack(endian + "I", total)


def _pcapng_block_ok(dg: bytes, endian: str) -> bool:
    size = len(dg)
    if size < 12 or size & 3:
        return False
    btype, blen = struct.unpack_from(endian + "II", dg)
    return (
        blen == size
        and struct.unpack_from(endian + "I", dg, size - 4)[0] == size
        and (btype in PCAPNG_BLOCKS)
    )


def _pcap_record_ok(dg: bytes, framing: Framing) -> bool:
    if len(dg) <= 16:
        return False
    frac: int
    incl: int
    orig: int
    _sec, frac, incl, orig = struct.unpack_from(framing.endian + "IIII", dg)
    return incl == len(dg) - 16 and incl <= MAX_RECORD and orig >= incl and frac < framing.units


def _link_of(frame: bytes) -> int | None:
    """The link type a PCAPdroid pcap frame's first bytes show, None when neither."""
    if len(frame) >= 20 and frame[0] >> 4 == 4 and frame[0] & 0x0F >= 5:
        return LINKTYPE_RAW
    if len(frame) >= 40 and frame[0] >> 4 == 6:
        return LINKTYPE_RAW
    if len(frame) >= 34 and frame[12:14] in _ETHERTYPES:
        return LINKTYPE_ETHERNET
    return None


def infer(dg: bytes) -> Framing | None:
    """The framing a datagram of a stream whose header was missed shows, if any."""
    for endian in ("<", ">"):
        if _pcapng_block_ok(dg, endian):
            return Framing("pcapng", endian, inferred=True)
    for endian in ("<", ">"):
        for units in (1_000_000, 1_000_000_000):
            framing = Framing("pcap", endian, units, inferred=True)
            if _pcap_record_ok(dg, framing):
                link = _link_of(dg[16:])
                if link is not None:
                    return Framing("pcap", endian, units, link, inferred=True)
    return None


class DatagramFramer:
    """Turns datagrams into stream bytes (see the module docstring). ``report`` counts the
    datagrams it drops."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.framing: Framing | None = None
        self.header = b""
        self.rejected_in_a_row = 0
        self.dropped = 0
        self.records = 0
        self._interfaces = 0
        """pcapng interfaces the stream has declared (inferred streams add raw-IP ones
        for EPBs of interfaces whose IDB was sent before the receiver started)."""

    def feed(self, dg: bytes) -> Output:
        header = self._header(dg)
        if header is not None:
            return header
        framing = self.framing
        if framing is not None and self._fits(dg, framing):
            self.rejected_in_a_row = 0
            return Output(data=self._data(dg, framing))
        if framing is None or self.rejected_in_a_row + 1 >= REINFER_AFTER:
            fresh = infer(dg)
            if fresh is not None:
                self.rejected_in_a_row = 0
                return self._start(fresh, dg)
        self.rejected_in_a_row += 1
        self._drop(dg, "no header yet and not a record" if framing is None else "not a record")
        return Output()

    def _header(self, dg: bytes) -> Output | None:
        if len(dg) == 24 and dg[:4] in PCAP_MAGICS:
            endian, units = PCAP_MAGICS[dg[:4]]
            linktype = struct.unpack_from(endian + "I", dg, 20)[0] & 0x03FFFFFF
            framing = Framing("pcap", endian, units, linktype)
            if framing == self.framing:
                return Output()  # the header in force, sent again
            self.framing, self.header = framing, dg
            self.rejected_in_a_row = 0
            return Output(header=dg)
        if len(dg) >= 28 and dg[:4] == SHB_TYPE and dg[8:12] in PCAPNG_ORDERS:
            endian = PCAPNG_ORDERS[dg[8:12]]
            if not _preamble_ok(dg, endian):
                return None
            self.framing = Framing("pcapng", endian)
            self.header = dg
            self.rejected_in_a_row = 0
            self._interfaces = _count_idbs(dg, endian)
            return Output(header=dg)
        return None

    def _fits(self, dg: bytes, framing: Framing) -> bool:
        if framing.format == "pcapng":
            return _pcapng_block_ok(dg, framing.endian)
        if not _pcap_record_ok(dg, framing):
            return False
        # An inferred link type is a guess: a frame that contradicts it is not passed on
        # as such (it would only decode as garbage) and counts towards inferring again.
        return not framing.inferred or _link_of(dg[16:]) == framing.linktype

    def _start(self, framing: Framing, dg: bytes) -> Output:
        self.framing = framing
        if framing.format == "pcapng":
            self._interfaces = 1
            self.header = pcapng_preamble(framing.endian)
        else:
            self.header = pcap_header(framing.endian, framing.units, framing.linktype)
        return Output(header=self.header, data=self._data(dg, framing))

    def _data(self, dg: bytes, framing: Framing) -> bytes:
        if framing.format != "pcapng":
            self.records += 1
            return dg
        btype = struct.unpack_from(framing.endian + "I", dg)[0]
        if btype == pcapng.IDB:
            self._interfaces += 1
        elif btype == pcapng.EPB:
            self.records += 1
            if framing.inferred and len(dg) >= 12:
                iface = struct.unpack_from(framing.endian + "I", dg, 8)[0]
                if self._interfaces <= iface < 64:
                    # Its IDB went out before we listened: PCAPdroid's are all raw IP.
                    missing = iface + 1 - self._interfaces
                    self._interfaces = iface + 1
                    extra = b"".join(
                        _block(
                            framing.endian,
                            pcapng.IDB,
                            struct.pack(framing.endian + "HHI", LINKTYPE_RAW, 0, SNAPLEN),
                        )
                        for _ in range(missing)
                    )
                    return extra + dg
        elif btype in (pcapng.SPB, pcapng.PB):
            self.records += 1
        return dg

    def _drop(self, dg: bytes, why: str) -> None:
        self.dropped += 1
        head = dg[:8].hex()
        self.report("live.udp.bad_datagram", f"{len(dg)}-byte datagram ({head}…): {why}")


def _walk_blocks(dg: bytes, endian: str) -> list[tuple[int, int, int]] | None:
    """(type, start, length) of each block filling ``dg`` exactly, else None."""
    out = []
    pos = 0
    while pos < len(dg):
        if pos + 12 > len(dg):
            return None
        btype, blen = struct.unpack_from(endian + "II", dg, pos)
        if blen < 12 or blen & 3 or pos + blen > len(dg):
            return None
        if struct.unpack_from(endian + "I", dg, pos + blen - 4)[0] != blen:
            return None
        out.append((btype, pos, blen))
        pos += blen
    return out


def _preamble_ok(dg: bytes, endian: str) -> bool:
    blocks = _walk_blocks(dg, endian)
    return bool(blocks) and blocks is not None and blocks[0][0] == pcapng.SHB


def _count_idbs(dg: bytes, endian: str) -> int:
    return sum(1 for btype, _, _ in _walk_blocks(dg, endian) or () if btype == pcapng.IDB)
