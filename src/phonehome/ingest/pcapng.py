"""pcapng capture files, read as a stream (no seeking: standard input works).

Blocks are walked over a chunk buffer with ``struct`` on the buffer; Enhanced Packet
Blocks, by far the most frequent, are handled inline, everything else in small helpers.

What is honoured: several sections (each Section Header Block resets the byte order and
the interface list), several interfaces with their own link type, snaplen,
``if_tsresol`` and ``if_tsoffset``; Enhanced, Simple (no timestamp: the last one seen is
reused) and obsolete Packet Blocks; ``opt_comment`` (the first one becomes
``Frame.comment``; PCAPdroid's ``u-<uid>`` sets ``Frame.uid``); Name Resolution Blocks
(fed to passive DNS with time 0, i.e. "known before anything in the capture"); TLS key
logs from Decryption Secrets Blocks (kept in ``ctx.keylogs``, never logged); PCAPdroid's
uid -> app custom blocks. Other blocks are skipped.

Damage after the first Section Header Block is counted, never raised: a block length
that cannot be right (< 12, not a multiple of 4, > 64 MiB, or past the end of the file)
stops the reader (``pcapng.bad_block_length``) because the next block cannot be found;
a packet whose captured length overflows its block is skipped
(``pcapng.bad_packet_length``) and reading goes on. A run of Enhanced Packet Blocks that
captured nothing is one ``pcapng.empty_records`` anomaly (frame numbers still advance, as
in tshark), and :data:`~phonehome.ingest.pcap.MAX_EMPTY_RUN` of them in a row stop the
reader. All-zero bytes are a block of length 0: the reader stops there, as tshark does.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Final

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import pcapdroid
from phonehome.ingest.pcap import CHUNK_SIZE, MAX_EMPTY_RUN, read_up_to
from phonehome.model import Frame
from phonehome.net.contracts import ReaderFilter

MAX_BLOCK: Final = 64 * 1024 * 1024
MAX_KEYLOG_BYTES: Final = 64 * 1024 * 1024
_MAX_NAMES_PER_RECORD: Final = 16

SHB: Final = 0x0A0D0D0A
IDB: Final = 0x00000001
PB: Final = 0x00000002
SPB: Final = 0x00000003
NRB: Final = 0x00000004
EPB: Final = 0x00000006
DSB: Final = 0x0000000A
CUSTOM: Final = 0x00000BAD
CUSTOM_NOCOPY: Final = 0x40000BAD
TLS_KEY_LOG: Final = 0x544C534B

OPT_ENDOFOPT: Final = 0
OPT_COMMENT: Final = 1
IF_TSRESOL: Final = 9
IF_TSOFFSET: Final = 14


def encode_block(block_type: int, body: bytes) -> bytes:
    """A little-endian block for the writers (export, simulator): body padded to 32 bits,
    total length before and after."""
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def encode_option(code: int, value: bytes) -> bytes:
    """A little-endian option (``encode_option(OPT_ENDOFOPT, b"")`` ends a list)."""
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


_SHB_BYTES: Final = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDERS: Final = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_MIN_SHB: Final = 28
_DEFAULT_UNITS: Final = 1_000_000

# One interface: (linktype, snaplen, timestamp units per second, offset in seconds).
Interface = tuple[int, int, int, int]
Unpack = Callable[[bytes, int], tuple[Any, ...]]


def sniff(head: bytes) -> bool:
    return head[:4] == _SHB_BYTES and (len(head) < 12 or head[8:12] in _BYTE_ORDERS)


def read(
    stream: BinaryIO,
    input: int,
    ctx: Context,
    path: str,
    filter_for: Callable[[int], ReaderFilter | None] | None = None,
) -> Iterator[Frame]:
    """Frames of every section and interface; ``filter_for`` as in :func:`pcap.read`
    (asked once per interface, offered Enhanced Packet Blocks without options)."""
    head = read_up_to(stream, 12)
    if head[:4] != _SHB_BYTES:
        raise InputError(path, "not a pcapng file (no Section Header Block)")
    if len(head) < 12:
        raise InputError(path, "truncated pcapng Section Header Block")
    endian = _BYTE_ORDERS.get(head[8:12])
    if endian is None:
        raise InputError(path, "bad pcapng byte-order magic")
    (length,) = struct.unpack_from(endian + "I", head, 4)
    if length < _MIN_SHB or length & 3 or length > MAX_BLOCK:
        raise InputError(path, f"bad pcapng Section Header Block length {length}")
    rest = read_up_to(stream, length - 12)
    if len(rest) < length - 12:
        raise InputError(path, "truncated pcapng Section Header Block")
    yield from _blocks(stream, input, ctx, endian, head + rest, filter_for)


def _blocks(
    stream: BinaryIO,
    input: int,
    ctx: Context,
    endian: str,
    buf: bytes,
    filter_for: Callable[[int], ReaderFilter | None] | None,
) -> Iterator[Frame]:
    header = struct.Struct(endian + "II").unpack_from
    epb_fields = struct.Struct(endian + "IIIII").unpack_from
    word = struct.Struct(endian + "I").unpack_from
    interfaces: list[Interface] = []
    filters: list[ReaderFilter | None] = []  # per interface
    keylog_bytes = 0
    dsbs = 0
    number = 0
    empty = 0  # length of the current run of empty packets (0: not in one)
    empty_from = 0
    last_ts = 0.0
    pos = 0
    eof = False
    while True:
        end = len(buf)
        want = CHUNK_SIZE
        while pos + 12 <= end:
            btype, blen = header(buf, pos)
            if btype == SHB:
                order = _BYTE_ORDERS.get(buf[pos + 8 : pos + 12])
                if order is None:
                    ctx.anomalies.add(
                        "pcapng.bad_section_header", input, number or None, "bad byte-order magic"
                    )
                    return
                if order != endian:
                    endian = order
                    header = struct.Struct(endian + "II").unpack_from
                    epb_fields = struct.Struct(endian + "IIIII").unpack_from
                    word = struct.Struct(endian + "I").unpack_from
                    btype, blen = header(buf, pos)
            if blen < 12 or blen & 3 or blen > MAX_BLOCK or (btype == SHB and blen < _MIN_SHB):
                if empty:
                    _empty_run(ctx, input, empty_from, empty)
                ctx.anomalies.add(
                    "pcapng.bad_block_length",
                    input,
                    number or None,
                    f"block type 0x{btype:08x} claims {blen} bytes; stopped reading",
                )
                return
            stop = pos + blen
            if stop > end:
                want = max(CHUNK_SIZE, stop - end)  # one read for a large record
                break
            if word(buf, stop - 4)[0] != blen:
                ctx.anomalies.add(
                    "pcapng.bad_block_trailer",
                    input,
                    number or None,
                    f"block type 0x{btype:08x}: trailing length differs from {blen}",
                )

            if btype == EPB:
                if blen < 32:
                    ctx.anomalies.add(
                        "pcapng.bad_packet_length", input, number + 1, f"{blen}-byte block"
                    )
                    pos = stop
                    continue
                iface, ts_high, ts_low, caplen, origlen = epb_fields(buf, pos + 8)
                if caplen == 0:
                    if not empty:
                        empty_from = number + 1
                    elif empty >= MAX_EMPTY_RUN:
                        ctx.anomalies.add(
                            "pcapng.empty_records",
                            input,
                            empty_from,
                            f"{empty} empty packets from frame {empty_from} on; stopped reading",
                        )
                        return
                    empty += 1
                    number += 1
                    pos = stop
                    continue
                if empty:
                    _empty_run(ctx, input, empty_from, empty)
                    empty = 0
                data_end = pos + 28 + caplen
                if data_end > stop - 4:
                    ctx.anomalies.add(
                        "pcapng.bad_packet_length",
                        input,
                        number + 1,
                        f"captured length {caplen} exceeds its {blen}-byte block",
                    )
                    pos = stop
                    continue
                if iface >= len(interfaces):
                    ctx.anomalies.add(
                        "pcapng.unknown_interface", input, number + 1, f"interface {iface}"
                    )
                    pos = stop
                    continue
                linktype, _snaplen, units, offset = interfaces[iface]
                last_ts = ((ts_high << 32) | ts_low) / units + offset
                number += 1
                options = pos + 28 + ((caplen + 3) & ~3)
                if options < stop - 4:
                    frame = Frame(
                        number, last_ts, linktype, buf[pos + 28 : data_end], origlen, input, iface
                    )
                    _packet_options(frame, buf, options, stop - 4, endian, ctx)
                else:
                    skip = filters[iface]
                    if skip is not None and skip(buf, pos + 28, data_end, last_ts, number):
                        pos = stop
                        continue
                    frame = Frame(
                        number, last_ts, linktype, buf[pos + 28 : data_end], origlen, input, iface
                    )
                pos = stop
                yield frame
                continue

            if btype == SHB:
                interfaces = []
                filters = []
            elif btype == IDB:
                interfaces.append(_interface(buf, pos, stop, endian, ctx, input, number))
                linktype = interfaces[-1][0]
                filters.append(filter_for(linktype) if filter_for is not None else None)
            elif btype in (SPB, PB):
                frame_or_none = _other_packet(
                    btype, buf, pos, stop, endian, interfaces, ctx, input, number + 1, last_ts
                )
                if frame_or_none is not None:
                    number += 1
                    last_ts = frame_or_none.ts
                    pos = stop
                    yield frame_or_none
                    continue
            elif btype == NRB:
                _name_resolution(buf, pos + 8, stop - 4, endian, ctx, input, number)
            elif btype == DSB:
                dsbs += 1
                keylog_bytes += _secrets(
                    buf, pos, stop, endian, ctx, input, number, keylog_bytes, dsbs
                )
            elif btype in (CUSTOM, CUSTOM_NOCOPY):
                _custom(buf, pos, stop, endian, ctx, input, number)
            pos = stop
        if eof:
            if empty:
                _empty_run(ctx, input, empty_from, empty)
            if pos < end:
                ctx.anomalies.add(
                    "pcapng.bad_block_length",
                    input,
                    number or None,
                    _cut_short_detail(buf, pos, end, header),
                )
            return
        chunk = stream.read(want)
        eof = not chunk
        buf = buf[pos:] + chunk
        pos = 0


def _empty_run(ctx: Context, input: int, first: int, count: int) -> None:
    """One anomaly for a run of packets with no captured byte (tshark shows each as a
    malformed frame; the frame numbers advance the same way here)."""
    last = first + count - 1
    where = f"frame {first}" if count == 1 else f"frames {first}-{last}"
    ctx.anomalies.add("pcapng.empty_records", input, first, f"{count} empty packet(s), {where}")


def _cut_short_detail(buf: bytes, pos: int, end: int, header: Unpack) -> str:
    if end - pos >= 8:
        btype, blen = header(buf, pos)
        return f"block type 0x{btype:08x} claims {blen} bytes, file ends after {end - pos}"
    return f"file ends {end - pos} bytes into a block header"


def _options(buf: bytes, start: int, end: int, endian: str) -> list[tuple[int, bytes]]:
    """The (code, value) options between ``start`` and ``end``; ValueError when damaged."""
    found: list[tuple[int, bytes]] = []
    fmt = endian + "HH"
    while start + 4 <= end:
        code, length = struct.unpack_from(fmt, buf, start)
        if code == OPT_ENDOFOPT:
            break
        value_end = start + 4 + length
        if value_end > end:
            raise ValueError(f"option {code} of {length} bytes overruns its block")
        found.append((code, buf[start + 4 : value_end]))
        start += 4 + ((length + 3) & ~3)
    return found


def _packet_options(
    frame: Frame, buf: bytes, start: int, end: int, endian: str, ctx: Context
) -> None:
    try:
        options = _options(buf, start, end, endian)
    except ValueError as e:
        ctx.anomalies.add("pcapng.bad_option", frame.input, frame.number, str(e))
        return
    for code, value in options:
        if code != OPT_COMMENT:
            continue
        comment = value.decode("utf-8", "replace")
        if frame.comment is None:
            frame.comment = comment
        if frame.uid is None:
            frame.uid = pcapdroid.uid_from_comment(comment)


def _interface(
    buf: bytes, pos: int, stop: int, endian: str, ctx: Context, input: int, number: int
) -> Interface:
    """Decode an Interface Description Block into (linktype, snaplen, units, offset)."""
    if stop - pos < 20:
        ctx.anomalies.add("pcapng.bad_interface", input, number or None, "block too short")
        return (0, 0, _DEFAULT_UNITS, 0)
    linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, pos + 8)
    units = _DEFAULT_UNITS
    offset = 0
    try:
        options = _options(buf, pos + 16, stop - 4, endian)
    except ValueError as e:
        ctx.anomalies.add("pcapng.bad_option", input, number or None, str(e))
        options = []
    for code, value in options:
        if code == IF_TSRESOL and len(value) >= 1:
            exponent = value[0] & 0x7F
            if exponent > 63:
                ctx.anomalies.add(
                    "pcapng.bad_tsresol", input, number or None, f"if_tsresol {value[0]:#x}"
                )
                continue
            units = 2**exponent if value[0] & 0x80 else 10**exponent
        elif code == IF_TSOFFSET and len(value) >= 8:
            (offset,) = struct.unpack_from(endian + "q", value)
    return (linktype, snaplen, units, offset)


def _other_packet(
    btype: int,
    buf: bytes,
    pos: int,
    stop: int,
    endian: str,
    interfaces: list[Interface],
    ctx: Context,
    input: int,
    number: int,
    last_ts: float,
) -> Frame | None:
    """A Simple Packet Block or an obsolete Packet Block as a Frame (None if unusable)."""
    if btype == SPB:
        iface = 0
        data_start = pos + 12
        min_block = 16
    else:
        iface = struct.unpack_from(endian + "H", buf, pos + 8)[0]
        data_start = pos + 28
        min_block = 32
    if stop - pos < min_block:
        ctx.anomalies.add("pcapng.bad_packet_length", input, number, f"{stop - pos}-byte block")
        return None
    if iface >= len(interfaces):
        ctx.anomalies.add("pcapng.unknown_interface", input, number, f"interface {iface}")
        return None
    linktype, snaplen, units, offset = interfaces[iface]
    if btype == SPB:
        (origlen,) = struct.unpack_from(endian + "I", buf, pos + 8)
        caplen = min(origlen, snaplen or origlen, stop - 4 - data_start)
        return Frame(
            number, last_ts, linktype, buf[data_start : data_start + caplen], origlen, input
        )
    ts_high, ts_low, caplen, origlen = struct.unpack_from(endian + "IIII", buf, pos + 12)
    data_end = data_start + caplen
    if data_end > stop - 4:
        ctx.anomalies.add(
            "pcapng.bad_packet_length",
            input,
            number,
            f"captured length {caplen} exceeds its {stop - pos}-byte block",
        )
        return None
    ts = ((ts_high << 32) | ts_low) / units + offset
    frame = Frame(number, ts, linktype, buf[data_start:data_end], origlen, input, iface)
    options = data_start + ((caplen + 3) & ~3)
    if options < stop - 4:
        _packet_options(frame, buf, options, stop - 4, endian, ctx)
    return frame


def _name_resolution(
    buf: bytes, start: int, end: int, endian: str, ctx: Context, input: int, number: int
) -> None:
    """Feed a Name Resolution Block's IPv4/IPv6 records to passive DNS."""
    fmt = endian + "HH"
    while start + 4 <= end:
        rtype, length = struct.unpack_from(fmt, buf, start)
        if rtype == 0:
            return
        value_end = start + 4 + length
        if value_end > end:
            ctx.anomalies.add(
                "pcapng.bad_name_record", input, number or None, f"record of {length} bytes"
            )
            return
        value = buf[start + 4 : value_end]
        start += 4 + ((length + 3) & ~3)
        if rtype == 1 and length > 4:
            ip = socket.inet_ntop(socket.AF_INET, value[:4])
            names = value[4:]
        elif rtype == 2 and length > 16:
            ip = socket.inet_ntop(socket.AF_INET6, value[:16])
            names = value[16:]
        else:
            continue
        for raw in names.split(b"\0")[:_MAX_NAMES_PER_RECORD]:
            if raw:
                ctx.dns.add(ip, raw.decode("utf-8", "replace"), 0.0)


def _secrets(
    buf: bytes,
    pos: int,
    stop: int,
    endian: str,
    ctx: Context,
    input: int,
    number: int,
    kept: int,
    ordinal: int,
) -> int:
    """Keep a TLS key log from a Decryption Secrets Block (the ``ordinal``-th of the
    input); returns the bytes held in ``ctx.keylogs``."""
    if stop - pos < 20:
        ctx.anomalies.add("pcapng.bad_secrets", input, number or None, "block too short")
        return 0
    secrets_type: int
    length: int
    secrets_type, length = struct.unpack_from(endian + "II", buf, pos + 8)
    if pos + 16 + length > stop - 4:
        ctx.anomalies.add(
            "pcapng.bad_secrets", input, number or None, f"{length} bytes do not fit the block"
        )
        return 0
    if secrets_type != TLS_KEY_LOG or length == 0:
        return 0
    if ctx.add_secrets(buf[pos + 16 : pos + 16 + length], input, number or None, ordinal):
        return 0  # into the run's key log (or already there): nothing held here
    if kept + length > MAX_KEYLOG_BYTES:
        ctx.anomalies.add("pcapng.keylog_too_large", input, number or None, f"{length} bytes")
        return 0
    ctx.keylogs.append(buf[pos + 16 : pos + 16 + length])
    return length


def _custom(
    buf: bytes, pos: int, stop: int, endian: str, ctx: Context, input: int, number: int
) -> None:
    """Read PCAPdroid's uid -> app custom blocks; other vendors' blocks are skipped."""
    if stop - pos < 16:
        return
    (pen,) = struct.unpack_from(endian + "I", buf, pos + 8)
    if pen != pcapdroid.PCAPDROID_PEN:
        return
    try:
        mapping = pcapdroid.parse_uid_map(buf[pos + 12 : stop - 4], endian)
    except ValueError as e:
        ctx.anomalies.add("pcapdroid.bad_uid_map", input, number or None, str(e))
        return
    if mapping is None:
        return
    uid, package, app = mapping
    if uid != -1:
        ctx.add_uid(uid, (package,) if package else (), app or None)


def secrets_in(stream: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """Every TLS key log of the Decryption Secrets Blocks of a pcapng stream, with the
    number of packets before it: the first pass that lets every DSB decrypt every
    connection wherever it sits in the file (Wireshark needs each one before the packets
    it covers; not every writer puts them there).

    Only block headers are read, and the blocks in between are skipped (sought past when
    the stream can seek). Damage ends the pass quietly: the main pass counts it."""
    buf = stream.read(CHUNK_SIZE)
    pos = 0
    endian = "<"
    frames = 0
    seekable = stream.seekable()
    while True:
        if len(buf) - pos < 12:
            more = stream.read(CHUNK_SIZE)
            if not more:
                return
            buf = buf[pos:] + more
            pos = 0
            continue
        if buf[pos : pos + 4] == _SHB_BYTES:
            order = _BYTE_ORDERS.get(buf[pos + 8 : pos + 12])
            if order is None:
                return
            endian = order
        btype, blen = struct.unpack_from(endian + "II", buf, pos)
        if blen < 12 or blen & 3 or blen > MAX_BLOCK:
            return
        if btype == DSB:
            while len(buf) - pos < blen:
                more = stream.read(max(CHUNK_SIZE, blen - (len(buf) - pos)))
                if not more:
                    return
                buf = buf[pos:] + more
                pos = 0
            if blen >= 20:
                kind, length = struct.unpack_from(endian + "II", buf, pos + 8)
                if kind == TLS_KEY_LOG and length > 0 and 16 + length <= blen - 4:
                    yield buf[pos + 16 : pos + 16 + length], frames
        elif btype in (EPB, SPB, PB):
            frames += 1
        if pos + blen <= len(buf):
            pos += blen
            continue
        rest = pos + blen - len(buf)
        buf = b""
        pos = 0
        if seekable:
            stream.seek(rest, 1)
        else:
            while rest > 0:
                skipped = len(stream.read(min(rest, CHUNK_SIZE)))
                if not skipped:
                    return
                rest -= skipped
