"""pcapng reader: sections, interfaces, timestamps, packet kinds, side blocks, damage."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import pcapng
from phonehome.model import Frame
from tests import tshark
from tests.builders_capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    block,
    dsb,
    epb,
    ethernet,
    idb,
    ipv4_udp,
    nrb,
    packet_block,
    shb,
    spb,
    with_length,
)
from tests.conftest import SHARED

REAL = SHARED / "fixtures" / "real"

RAW = ipv4_udp(b"raw packet")
ETH = ethernet(ipv4_udp(b"ethernet frame"))
T0 = 1_700_000_000


def read_all(data: bytes, ctx: Context | None = None) -> list[Frame]:
    return list(pcapng.read(io.BytesIO(data), 2, ctx or Context(), "t.pcapng"))


def two_interfaces(endian: str) -> bytes:
    """Interface 0: raw IP, nanoseconds. Interface 1: Ethernet, 2^-10 s, offset 1000 s."""
    return (
        shb(endian)
        + idb(LINKTYPE_RAW, tsresol=9, endian=endian)
        + idb(LINKTYPE_ETHERNET, 128, tsresol=0x80 | 10, tsoffset=1000, endian=endian)
    )


@pytest.mark.parametrize("endian", ["<", ">"])
def test_interfaces_resolutions_and_packet_kinds(endian: str) -> None:
    data = (
        two_interfaces(endian)
        + epb(0, T0 * 10**9 + 250_000_000, RAW, comments=["first"], endian=endian)
        + epb(1, (T0 + 5) * 1024 + 512, ETH, endian=endian)
        + spb(RAW, endian=endian)
        + packet_block(1, 3 * 1024, ETH, comments=["old block"], endian=endian)
        + epb(0, T0 * 10**9, RAW[:20], orig_len=len(RAW), endian=endian)
    )
    assert pcapng.sniff(data[:64])
    ctx = Context()
    frames = read_all(data, ctx)
    assert ctx.anomalies.total() == 0
    assert [f.number for f in frames] == [1, 2, 3, 4, 5]
    assert [f.iface for f in frames] == [0, 1, 0, 1, 0]
    assert [f.linktype for f in frames] == [101, 1, 101, 1, 101]
    assert [f.data for f in frames] == [RAW, ETH, RAW, ETH, RAW[:20]]
    assert [f.comment for f in frames] == ["first", None, None, "old block", None]
    assert frames[0].ts == pytest.approx(T0 + 0.25, abs=1e-6)
    assert frames[1].ts == pytest.approx(T0 + 5.5 + 1000, abs=1e-6)
    assert frames[2].ts == frames[1].ts  # SPB: no timestamp of its own
    assert frames[3].ts == pytest.approx(1003.0)
    assert (frames[4].caplen, frames[4].wirelen) == (20, len(RAW))
    assert all(f.input == 2 for f in frames)


def test_simple_packet_block_honours_interface_snaplen() -> None:
    data = shb() + idb(LINKTYPE_ETHERNET, 20) + spb(ETH[:20], orig_len=len(ETH))
    (frame,) = read_all(data)
    assert (frame.data, frame.wirelen) == (ETH[:20], len(ETH))


def test_default_resolution_is_microseconds() -> None:
    (frame,) = read_all(shb() + idb() + epb(0, T0 * 10**6 + 1, ETH))
    assert frame.ts == pytest.approx(T0 + 1e-6, abs=1e-7)


def test_two_sections_reset_byte_order_and_interfaces() -> None:
    ctx = Context()
    data = (
        two_interfaces("<")
        + epb(1, 1024, ETH)
        + shb(">")
        + idb(LINKTYPE_ETHERNET, endian=">")
        + epb(0, 7 * 10**6, ETH, endian=">")
        + epb(1, 8 * 10**6, ETH, endian=">")  # interface 1 belonged to the first section
        + epb(0, 9 * 10**6, ETH, endian=">")
    )
    frames = read_all(data, ctx)
    assert [(f.number, f.iface, f.ts) for f in frames] == [
        (1, 1, 1001.0),
        (2, 0, 7.0),
        (3, 0, 9.0),
    ]
    assert ctx.anomalies.counts == {"pcapng.unknown_interface": 1}


def test_decryption_secrets_are_kept_not_other_secret_types() -> None:
    ctx = Context()
    keylog = b"CLIENT_RANDOM 00112233 44556677\n"
    data = shb() + dsb(keylog) + dsb(b"wireguard", secrets_type=0x57474B4C) + idb()
    data += epb(0, 1, ETH)
    assert len(read_all(data, ctx)) == 1
    assert ctx.keylogs == [keylog]


def test_name_resolution_feeds_passive_dns() -> None:
    ctx = Context()
    v6 = bytes.fromhex("20010db8000000000000000000000001")
    data = shb() + nrb([(bytes([93, 184, 216, 34]), ["example.com", "www.example.com"])])
    data += nrb([(v6, ["v6.example"])]) + idb() + epb(0, 1, ETH)
    read_all(data, ctx)
    assert set(ctx.dns.lookup("93.184.216.34")) == {"example.com", "www.example.com"}
    assert ctx.dns.lookup("2001:db8::1") == ["v6.example"]


def test_unknown_blocks_are_skipped() -> None:
    ctx = Context()
    data = shb() + block(0x12345678, b"whatever") + idb() + block(5, b"\0" * 16) + epb(0, 1, ETH)
    assert [f.data for f in read_all(data, ctx)] == [ETH]
    assert ctx.anomalies.total() == 0


@pytest.mark.parametrize(
    "bad",
    [
        with_length(epb(0, 3, ETH), 8),
        with_length(epb(0, 3, ETH), 30),
        with_length(epb(0, 3, ETH), 1 << 30),
        with_length(epb(0, 3, ETH), 4096),  # more than what remains
        with_length(shb(), 16),
    ],
    ids=["too-small", "not-multiple-of-4", "huge", "past-end", "short-section-header"],
)
def test_bad_block_length_stops_with_anomaly(bad: bytes) -> None:
    ctx = Context()
    good = shb() + idb() + epb(0, 1, ETH) + epb(0, 2, ETH)
    frames = read_all(good + bad + epb(0, 4, ETH), ctx)
    assert [f.number for f in frames] == [1, 2]
    assert ctx.anomalies.counts == {"pcapng.bad_block_length": 1}


def test_file_cut_inside_a_block_header() -> None:
    ctx = Context()
    frames = read_all(shb() + idb() + epb(0, 1, ETH) + epb(0, 2, ETH)[:6], ctx)
    assert len(frames) == 1
    assert ctx.anomalies.counts == {"pcapng.bad_block_length": 1}


def test_captured_length_past_its_block_skips_only_that_packet() -> None:
    ctx = Context()
    data = shb() + idb() + epb(0, 1, ETH) + epb(0, 2, ETH, caplen=4000) + epb(0, 3, ETH)
    frames = read_all(data, ctx)
    assert [f.ts for f in frames] == [1e-6, 3e-6]
    assert [f.number for f in frames] == [1, 2]
    assert ctx.anomalies.counts == {"pcapng.bad_packet_length": 1}


def test_mismatched_trailing_length_is_counted_and_reading_goes_on() -> None:
    ctx = Context()
    bad = bytearray(epb(0, 1, ETH))
    bad[-4:] = struct.pack("<I", 4)
    frames = read_all(shb() + idb() + bytes(bad) + epb(0, 2, ETH), ctx)
    assert len(frames) == 2
    assert ctx.anomalies.counts == {"pcapng.bad_block_trailer": 1}


def test_damaged_option_keeps_the_packet() -> None:
    ctx = Context()
    good = epb(0, 1, ETH, comments=["abcd"])
    body_end = len(good) - 4
    # option header says 200 bytes where 4 remain
    damaged = good[: body_end - 12] + struct.pack("<HH", 1, 200) + good[body_end - 8 :]
    frames = read_all(shb() + idb() + damaged, ctx)
    assert len(frames) == 1 and frames[0].comment is None
    assert ctx.anomalies.counts == {"pcapng.bad_option": 1}


def test_records_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcapng, "CHUNK_SIZE", 5)
    data = shb() + idb() + b"".join(epb(0, i, ETH, comments=[f"c{i}"]) for i in range(30))
    frames = read_all(data)
    assert [f.comment for f in frames] == [f"c{i}" for i in range(30)]


# An unreadable section header through open_capture: test_ingest_pcap.py, with the pcap cases.


def test_read_rejects_a_stream_without_section_header() -> None:
    with pytest.raises(InputError):
        read_all(idb() + epb(0, 1, ETH))


@pytest.mark.parametrize("endian", ["<", ">"])
def test_timestamps_and_comments_agree_with_tshark(tmp_path: Path, endian: str) -> None:
    data = (
        two_interfaces(endian)
        + b"".join(
            epb(
                i % 2,
                (T0 + i) * (10**9 if i % 2 == 0 else 1024) + i * 7,
                RAW if i % 2 == 0 else ETH,
                comments=[f"n{i}"],
                endian=endian,
            )
            for i in range(12)
        )
        + shb(endian)
        + idb(endian=endian)
        + epb(0, T0 * 10**6 + 42, ETH, endian=endian)
    )
    path = tmp_path / "x.pcapng"
    path.write_bytes(data)
    ours = read_all(data)
    theirs = tshark.fields(path, "frame.time_epoch", "frame.comment")
    assert len(ours) == len(theirs) == 13
    assert [f.ts for f in ours] == pytest.approx([float(t[0]) for t in theirs], abs=1e-6)
    assert [f.comment or "" for f in ours] == [t[1] for t in theirs]


def test_real_capture_frame_count() -> None:
    path = REAL / "fp_trap_mining.pcapng"
    ctx = Context()
    with path.open("rb") as f:
        frames = list(pcapng.read(f, 0, ctx, str(path)))
    assert len(frames) == 673
    assert ctx.anomalies.total() == 0
    theirs = tshark.fields(path, "frame.time_epoch")
    assert [f.ts for f in frames] == pytest.approx([float(t[0]) for t in theirs], abs=1e-6)
