"""PCAPdroid's UDP exporter framing, datagram by datagram (hand-built bytes).

The framer must turn datagrams back into a stream the pcap/pcapng readers read: with the
header datagram, without it (inferred from the records), with garbage in between (counted
and dropped, never passed to the reader), across a change of format (a new segment).
Each stream it produces is read back with phonehome's own readers.
"""

from __future__ import annotations

import io
import struct

import pytest

from phonehome.context import Context
from phonehome.ingest import pcap, pcapng
from phonehome.live.framing import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    REINFER_AFTER,
    DatagramFramer,
    Output,
    infer,
    pcapng_preamble,
)
from tests.builders_capture import (
    epb,
    idb,
    ipv4_udp,
    pcapdroid_trailer_frame,
    pcapdroid_uid_map,
    shb,
)

PACKET = ipv4_udp(b"\x12\x34" + b"\0" * 10, dport=53)


def record(frame: bytes, endian: str = "<", sec: int = 1_700_000_000, frac: int = 5) -> bytes:
    return struct.pack(endian + "IIII", sec, frac, len(frame), len(frame)) + frame


def pcap_global(linktype: int, endian: str = "<") -> bytes:
    return struct.pack(endian + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)


class Collect:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    def __call__(self, kind: str, detail: str) -> None:
        self.kinds.append(kind)


def stream_of(outputs: list[Output]) -> list[bytes]:
    """Segments: each header starts one, data continues it."""
    segments: list[bytes] = []
    for out in outputs:
        if out.header:
            segments.append(out.header + out.data)
        elif out.data:
            segments[-1] += out.data
    return segments


def read_frames(segment: bytes) -> list[tuple[int, bytes, int | None]]:
    ctx = Context()
    reader = pcapng.read if segment[:4] == b"\x0a\x0d\x0d\x0a" else pcap.read
    frames = list(reader(io.BytesIO(segment), 0, ctx, "udp"))
    assert not ctx.anomalies.counts
    return [(f.linktype, f.data, f.uid) for f in frames]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcap_with_header_datagram(endian: str) -> None:
    report = Collect()
    framer = DatagramFramer(report)
    outs = [framer.feed(pcap_global(LINKTYPE_RAW, endian))]
    outs += [framer.feed(record(PACKET, endian)) for _ in range(3)]
    (segment,) = stream_of(outs)
    assert read_frames(segment) == [(LINKTYPE_RAW, PACKET, None)] * 3
    assert report.kinds == [] and framer.records == 3


def test_raw_records_without_header_are_inferred_raw_ip() -> None:
    framer = DatagramFramer(Collect())
    outs = [framer.feed(record(PACKET)) for _ in range(2)]
    assert framer.framing is not None and framer.framing.inferred
    assert framer.framing.linktype == LINKTYPE_RAW
    (segment,) = stream_of(outs)
    assert read_frames(segment) == [(LINKTYPE_RAW, PACKET, None)] * 2


def test_trailer_records_without_header_are_inferred_ethernet_with_the_app() -> None:
    frame = pcapdroid_trailer_frame(PACKET, 10123, "com.example.app")
    framer = DatagramFramer(Collect())
    (segment,) = stream_of([framer.feed(record(frame)), framer.feed(record(frame))])
    frames = read_frames(segment)
    assert [(lt, uid) for lt, _, uid in frames] == [(LINKTYPE_ETHERNET, 10123)] * 2
    assert frames[0][1][14:] == PACKET  # the trailer and padding are gone


def test_nanosecond_records_are_inferred_from_their_fraction() -> None:
    framing = infer(record(PACKET, frac=999_999_999))
    assert framing is not None and framing.units == 1_000_000_000


def test_garbage_datagrams_are_counted_and_never_reach_the_reader() -> None:
    report = Collect()
    framer = DatagramFramer(report)
    outs = [framer.feed(b"hello")]  # before any framing: nothing to infer from
    outs.append(framer.feed(pcap_global(LINKTYPE_RAW)))
    outs.append(framer.feed(record(PACKET)))
    outs.append(framer.feed(b"\xff" * 40))  # not a record of this stream
    bad_length = record(PACKET)[:-3]  # incl_len says 3 bytes more than the datagram has
    outs.append(framer.feed(bad_length))
    outs.append(framer.feed(record(PACKET)))
    assert report.kinds == ["live.udp.bad_datagram"] * 3
    (segment,) = stream_of(outs)
    assert read_frames(segment) == [(LINKTYPE_RAW, PACKET, None)] * 2


def test_a_repeated_header_keeps_the_segment_and_a_different_one_starts_another() -> None:
    framer = DatagramFramer(Collect())
    outs = [framer.feed(pcap_global(LINKTYPE_RAW)), framer.feed(record(PACKET))]
    outs.append(framer.feed(pcap_global(LINKTYPE_RAW)))
    assert outs[-1] == Output()  # the same header again: nothing new
    frame = pcapdroid_trailer_frame(PACKET, 1000, "AutoRegistration")
    outs += [framer.feed(pcap_global(LINKTYPE_ETHERNET)), framer.feed(record(frame))]
    first, second = stream_of(outs)
    assert read_frames(first) == [(LINKTYPE_RAW, PACKET, None)]
    assert [(lt, uid) for lt, _, uid in read_frames(second)] == [(LINKTYPE_ETHERNET, 1000)]


def test_a_wrong_guess_is_inferred_again_after_rejected_datagrams() -> None:
    report = Collect()
    framer = DatagramFramer(report)
    framer.feed(record(PACKET))  # inferred raw IP
    frame = pcapdroid_trailer_frame(PACKET, 7, "x")
    outs = [framer.feed(record(frame)) for _ in range(REINFER_AFTER + 1)]
    assert report.kinds == ["live.udp.bad_datagram"] * (REINFER_AFTER - 1)
    assert framer.framing is not None and framer.framing.linktype == LINKTYPE_ETHERNET
    segments = stream_of(outs)
    assert [uid for _, _, uid in read_frames(segments[-1])] == [7, 7]


def test_pcapng_with_its_preamble_reads_uid_map_and_comments() -> None:
    framer = DatagramFramer(Collect())
    preamble = shb() + idb(LINKTYPE_RAW)
    outs = [framer.feed(preamble), framer.feed(pcapdroid_uid_map(10123, "com.example.app", "App"))]
    outs += [framer.feed(epb(0, 1, PACKET, comments=["u-10123"])) for _ in range(2)]
    (segment,) = stream_of(outs)
    assert read_frames(segment) == [(LINKTYPE_RAW, PACKET, 10123)] * 2
    assert framer.records == 2


def test_pcapng_blocks_without_preamble_get_one_with_every_interface() -> None:
    """A late receiver of a root-mode capture sees EPBs of interface 2 whose IDBs it
    missed: raw-IP interfaces are declared for them (PCAPdroid's are all raw IP)."""
    framer = DatagramFramer(Collect())
    outs = [framer.feed(epb(2, 1, PACKET)), framer.feed(epb(0, 2, PACKET))]
    assert outs[0].header == pcapng_preamble("<")
    (segment,) = stream_of(outs)
    assert read_frames(segment) == [(LINKTYPE_RAW, PACKET, None)] * 2
