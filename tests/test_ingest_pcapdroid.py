"""PCAPdroid app metadata: pcap trailers, pcapng uid-map custom blocks, u-<uid> comments."""

from __future__ import annotations

import io
import struct

import pytest

from phonehome.context import Context
from phonehome.ingest import pcap, pcapdroid, pcapng
from phonehome.model import Frame
from tests.builders_capture import (
    LINKTYPE_RAW,
    PCAPDROID_PEN,
    custom_block,
    epb,
    ethernet,
    idb,
    ipv4_udp,
    pcap_file,
    pcapdroid_trailer_frame,
    pcapdroid_uid_map,
    shb,
)


def pcap_frames(data: bytes, ctx: Context) -> list[Frame]:
    return list(pcap.read(io.BytesIO(data), 0, ctx, "t.pcap"))


def pcapng_frames(data: bytes, ctx: Context) -> list[Frame]:
    return list(pcapng.read(io.BytesIO(data), 0, ctx, "t.pcapng"))


# --- trailer ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload_len", [0, 1, 2, 3, 4, 100])
@pytest.mark.parametrize("crc", ["little", "big"])
def test_strip_trailer_recovers_the_frame(payload_len: int, crc: str) -> None:
    packet = ipv4_udp(b"p" * payload_len)
    frame = pcapdroid_trailer_frame(packet, 10057, "Firefox", crc=crc)
    assert len(frame) % 4 == 0
    result = pcapdroid.strip_trailer(frame)
    assert result is not None
    data, uid, name = result
    assert data == b"\0" * 12 + b"\x08\x00" + packet
    assert (uid, name) == (10057, "Firefox")


@pytest.mark.parametrize(
    ("uid", "name", "expected"),
    [(-1, "", (None, None)), (1000, "???", (1000, None)), (0, "root", (0, "root"))],
)
def test_strip_trailer_unknown_values(
    uid: int, name: str, expected: tuple[int | None, str | None]
) -> None:
    result = pcapdroid.strip_trailer(pcapdroid_trailer_frame(ipv4_udp(), uid, name))
    assert result is not None
    assert result[1:] == expected


def test_strip_trailer_cuts_long_names_to_19_bytes() -> None:
    frame = pcapdroid_trailer_frame(ipv4_udp(), 10001, "Google Play services")
    result = pcapdroid.strip_trailer(frame)
    assert result is not None
    assert result[2] == "Google Play service"


def _magic_by_chance() -> bytes:
    """An ordinary Ethernet frame whose last 32 bytes start with the trailer magic."""
    frame = ethernet(ipv4_udp(b"A" * 10 + b"\x01\x07\x20\x21" + b"B" * 28))
    assert frame[-32:-28] == pcapdroid.TRAILER_MAGIC
    return frame


@pytest.mark.parametrize(
    "frame",
    [
        pcapdroid_trailer_frame(ipv4_udp(), 10057, "Firefox", crc="bad"),
        pcapdroid_trailer_frame(ipv4_udp(), 10057, "Firefox", magic=0x01072022),
        _magic_by_chance(),
        ethernet(ipv4_udp()),
        b"\x01\x07\x20\x21" + b"\0" * 28,
        b"",
    ],
    ids=["bad-crc", "bad-magic", "magic-by-chance", "plain", "trailer-only", "empty"],
)
def test_strip_trailer_misses(frame: bytes) -> None:
    assert pcapdroid.strip_trailer(frame) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("com.example.app", True),
        ("org.mozilla.fenix", True),
        ("Firefox", False),
        ("Google Play service", False),
        ("com.google.android.", False),  # a cut name
        ("android.uid.system:1000", False),  # shared uid from getNameForUid
        ("com.very.long.name.x", False),  # fills the field, may be cut
        ("1com.example", False),
    ],
)
def test_looks_like_package(name: str, expected: bool) -> None:
    assert pcapdroid.looks_like_package(name) is expected


def test_pcap_reader_applies_trailers() -> None:
    ctx = Context()
    packet = ipv4_udp(b"hello")
    plain = ethernet(packet)
    records = [
        (1, 0, pcapdroid_trailer_frame(packet, 10100, "com.example.app")),
        (2, 0, pcapdroid_trailer_frame(packet, 10200, "Maps")),
        (3, 0, plain),
        (4, 0, pcapdroid_trailer_frame(packet, 10300, "Bad", crc="bad")),
        (5, 0, pcapdroid_trailer_frame(packet, 10100, "com.example.app")),
    ]
    frames = pcap_frames(pcap_file(records), ctx)
    assert [f.uid for f in frames] == [10100, 10200, None, None, 10100]
    expected = b"\0" * 12 + b"\x08\x00" + packet
    assert frames[0].data == expected
    assert (frames[0].caplen, frames[0].wirelen) == (len(expected), len(expected))
    assert frames[2].data == plain
    assert frames[3].data == records[3][2]  # wrong CRC: left untouched
    assert ctx.uid_map == {10100: ("com.example.app",), 10200: ()}
    assert ctx.uid_names == {10100: "com.example.app", 10200: "Maps"}


def test_trailer_is_not_looked_for_on_other_link_types() -> None:
    ctx = Context()
    frame = pcapdroid_trailer_frame(ipv4_udp(), 10100, "com.example.app")
    (got,) = pcap_frames(pcap_file([(1, 0, frame)], linktype=LINKTYPE_RAW), ctx)
    assert (got.data, got.uid, ctx.uid_map) == (frame, None, {})


# --- pcapng ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "uid"),
    [("u-10123", 10123), ("u-0", 0), ("u--1", None), ("u-", None), ("u-12a", None), ("hi", None)],
)
def test_uid_from_comment(comment: str, uid: int | None) -> None:
    assert pcapdroid.uid_from_comment(comment) == uid


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_uid_map_and_comments(endian: str) -> None:
    ctx = Context()
    packet = ipv4_udp()
    data = (
        shb(endian)
        + idb(LINKTYPE_RAW, endian=endian)
        + pcapdroid_uid_map(10123, "com.example.app", "Example", endian=endian)
        + pcapdroid_uid_map(1000, "com.android.settings", "Settings", endian=endian)
        + pcapdroid_uid_map(1000, "com.android.shell", "Shell", copyable=False, endian=endian)
        + epb(0, 1, packet, comments=["u-10123"], endian=endian)
        + epb(0, 2, packet, comments=["u-1000"], endian=endian)
        + epb(0, 3, packet, endian=endian)
        + epb(0, 4, packet, comments=["hello", "u-1000"], endian=endian)
    )
    frames = pcapng_frames(data, ctx)
    assert [f.uid for f in frames] == [10123, 1000, None, 1000]
    assert [f.comment for f in frames] == ["u-10123", "u-1000", None, "hello"]
    assert ctx.uid_map == {
        10123: ("com.example.app",),
        1000: ("com.android.settings", "com.android.shell"),
    }
    assert ctx.uid_names[10123] == "Example"
    assert ctx.anomalies.total() == 0


@pytest.mark.parametrize(
    "block",
    [
        custom_block(12345, b"\x01\x00\x01\x00" + b"\0" * 12),  # another vendor
        custom_block(PCAPDROID_PEN, struct.pack("<HBB", 1, 7, 0) + b"\0" * 8),  # other type
        custom_block(PCAPDROID_PEN, struct.pack("<HBB", 2, 1, 0) + b"\0" * 8),  # newer version
    ],
    ids=["other-pen", "other-type", "newer-version"],
)
def test_pcapng_other_custom_blocks_are_skipped(block: bytes) -> None:
    ctx = Context()
    frames = pcapng_frames(shb() + block + idb() + epb(0, 1, ethernet(ipv4_udp())), ctx)
    assert len(frames) == 1
    assert (ctx.uid_map, ctx.anomalies.total()) == ({}, 0)


def test_pcapng_damaged_uid_map_is_counted() -> None:
    ctx = Context()
    payload = struct.pack("<HBBiBB", 1, 1, 0, 10001, 200, 5) + b"short"
    frames = pcapng_frames(
        shb() + custom_block(PCAPDROID_PEN, payload) + idb() + epb(0, 1, b"\0" * 20), ctx
    )
    assert len(frames) == 1
    assert ctx.anomalies.counts == {"pcapdroid.bad_uid_map": 1}
    assert ctx.uid_map == {}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (struct.pack("<HBBiBB", 1, 1, 0, 7, 3, 2) + b"abcXY", (7, "abc", "XY")),
        (struct.pack("<HBBiBB", 1, 1, 0, -1, 0, 0), (-1, "", "")),
        (struct.pack("<HBB", 1, 2, 0), None),
    ],
)
def test_parse_uid_map(payload: bytes, expected: tuple[int, str, str] | None) -> None:
    assert pcapdroid.parse_uid_map(payload, "<") == expected


@pytest.mark.parametrize("payload", [b"", b"\x01\x00\x01", struct.pack("<HBB", 1, 1, 0) + b"\0"])
def test_parse_uid_map_rejects_damage(payload: bytes) -> None:
    with pytest.raises(ValueError):
        pcapdroid.parse_uid_map(payload, "<")
