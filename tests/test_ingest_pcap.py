"""Classic pcap reader: byte orders, resolutions, damage, streaming, real captures."""

from __future__ import annotations

import gzip
import io
import os
import threading
from pathlib import Path
from typing import BinaryIO

import pytest

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import open_capture, pcap
from phonehome.model import Frame
from tests import tshark
from tests.builders_capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    ethernet,
    ipv4_udp,
    pcap_file,
    pcap_header,
    pcap_record,
    shb,
    with_length,
)
from tests.conftest import SHARED

REAL = SHARED / "fixtures" / "real"


def read_all(data: bytes, ctx: Context | None = None) -> list[Frame]:
    return list(pcap.read(io.BytesIO(data), 3, ctx or Context(), "test.pcap"))


PACKETS = [ethernet(ipv4_udp(b"x" * n)) for n in (0, 1, 7, 100, 1400)]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize(("nanos", "frac", "expected"), [(False, 250_000, 0.25), (True, 5, 5e-9)])
def test_byte_orders_and_resolutions(endian: str, nanos: bool, frac: int, expected: float) -> None:
    data = pcap_file(
        [(1_700_000_000 + i, frac, p) for i, p in enumerate(PACKETS)], endian=endian, nanos=nanos
    )
    assert pcap.sniff(data[:4])
    frames = read_all(data)
    assert [f.number for f in frames] == [1, 2, 3, 4, 5]
    assert [f.data for f in frames] == PACKETS
    assert all(f.linktype == LINKTYPE_ETHERNET and f.input == 3 for f in frames)
    assert frames[2].ts == pytest.approx(1_700_000_002 + expected, abs=1e-6)
    assert frames[0].ts - 1_700_000_000 == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "head", [b"", b"\0\0\0\0", b"\x0a\x0d\x0d\x0a", b"GET / HTTP/1.1", b"\xd4\xc3\xb2"]
)
def test_sniff_misses(head: bytes) -> None:
    assert not pcap.sniff(head)


def test_fcs_bits_are_masked_off_the_link_type() -> None:
    data = pcap_file([(1, 0, PACKETS[1])], linktype=0x10000000 | 0x04000000 | LINKTYPE_ETHERNET)
    assert read_all(data)[0].linktype == LINKTYPE_ETHERNET


def test_snaplen_cut_frame_is_delivered_without_anomaly() -> None:
    ctx = Context()
    packet = PACKETS[4]
    data = pcap_header(snaplen=96) + pcap_record(1, 0, packet[:96], orig_len=len(packet))
    (frame,) = read_all(data, ctx)
    assert (frame.caplen, frame.wirelen) == (96, len(packet))
    assert ctx.anomalies.total() == 0


@pytest.mark.parametrize("cut", [1, 15, 16, 17, 40])
def test_truncated_final_record_counts_and_keeps_earlier_frames(cut: int) -> None:
    ctx = Context()
    data = pcap_file([(1, 0, p) for p in PACKETS[:3]])
    last = pcap_record(9, 0, PACKETS[4])
    frames = read_all(data + last[:cut], ctx)
    assert [f.data for f in frames] == PACKETS[:3]
    assert ctx.anomalies.counts == {"pcap.truncated_record": 1}
    assert ctx.anomalies.samples[0].frame == 4
    assert ctx.anomalies.samples[0].input == 3


def test_absurd_record_length_stops_with_anomaly() -> None:
    ctx = Context()
    bogus = b"\x01\0\0\0\0\0\0\0" + (10**8).to_bytes(4, "little") * 2
    data = pcap_file([(1, 0, PACKETS[1])]) + bogus + pcap_record(2, 0, PACKETS[2])
    frames = read_all(data, ctx)
    assert [f.number for f in frames] == [1]
    assert ctx.anomalies.counts == {"pcap.bad_record_length": 1}


@pytest.mark.parametrize(("snaplen", "accepted"), [(65535, False), (1 << 20, True)])
def test_record_limit_follows_a_large_snaplen(snaplen: int, accepted: bool) -> None:
    ctx = Context()
    big = b"\0" * (300 * 1024)
    frames = read_all(pcap_header(snaplen=snaplen) + pcap_record(1, 0, big), ctx)
    assert (len(frames) == 1) is accepted
    assert (ctx.anomalies.total() == 0) is accepted


def test_records_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcap, "CHUNK_SIZE", 7)
    records = [(i, i, PACKETS[i % len(PACKETS)]) for i in range(40)]
    frames = read_all(pcap_file(records))
    assert [f.data for f in frames] == [r[2] for r in records]
    assert [f.ts for f in frames] == [i + i / 1e6 for i in range(40)]


class NoSeek(io.RawIOBase):
    """A stream that refuses to seek or tell and returns short reads, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("seek")

    def tell(self) -> int:
        raise io.UnsupportedOperation("tell")

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), 5000, len(self._data) - self._pos)
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def test_reads_from_a_non_seekable_stream() -> None:
    data = pcap_file([(i, 0, PACKETS[i % 5]) for i in range(200)])
    stream: BinaryIO = NoSeek(data)  # type: ignore[assignment]
    frames = list(pcap.read(stream, 0, Context(), "-"))
    assert len(frames) == 200


def test_reads_from_a_pipe() -> None:
    data = pcap_file([(i, 0, PACKETS[i % 5]) for i in range(500)])
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb", buffering=0) as r:
        frames = list(pcap.read(r, 0, Context(), "-"))
    thread.join()
    assert [f.number for f in frames] == list(range(1, 501))


def test_gzip_compressed_pcap_via_open_capture(tmp_path: Path) -> None:
    data = pcap_file([(i, 0, PACKETS[i % 5]) for i in range(10)], endian=">", nanos=True)
    path = tmp_path / "c.pcap.gz"
    path.write_bytes(gzip.compress(data))
    capture = open_capture(str(path), 1)
    try:
        assert capture.format.name == "pcap"
        assert capture.compressed
        frames = list(capture.frames(Context()))
    finally:
        capture.close()
    assert [f.data for f in frames] == [PACKETS[i % 5] for i in range(10)]
    assert {f.input for f in frames} == {1}


UNREADABLE = {
    "pcap-empty": b"",
    "pcap-text": b"this is not a capture at all",
    "pcap-short-header": pcap_header()[:10],
    "pcap-short-header-be-ns": pcap_header(endian=">", nanos=True)[:23],
    "pcapng-magic-only": b"\x0a\x0d\x0d\x0a",
    "pcapng-no-byte-order": b"\x0a\x0d\x0d\x0a\x1c\0\0\0\x4d\x3c\x2b",
    "pcapng-truncated-shb": shb()[:20],
    "pcapng-bad-byte-order": shb()[:8] + b"\x11\x22\x33\x44" + shb()[12:],
    "pcapng-bad-shb-length": with_length(shb(), 12),
}


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_input_raises_input_error(tmp_path: Path, content: bytes) -> None:
    """Through the format sniffer, as the CLI opens files: pcap and pcapng alike."""
    path = tmp_path / "bad.cap"
    path.write_bytes(content)
    with pytest.raises(InputError):
        capture = open_capture(str(path))
        try:
            list(capture.frames(Context()))
        finally:
            capture.close()


@pytest.mark.parametrize("head", [b"", b"\xd4\xc3\xb2\xa1" + b"\0" * 10, b"garbage" * 4])
def test_read_raises_input_error_on_bad_header(head: bytes) -> None:
    with pytest.raises(InputError):
        read_all(head)


def test_raw_ip_link_type_is_passed_through() -> None:
    packet = ipv4_udp(b"raw")
    (frame,) = read_all(pcap_file([(5, 0, packet)], linktype=LINKTYPE_RAW))
    assert (frame.linktype, frame.data) == (LINKTYPE_RAW, packet)


def _tshark_epochs(path: Path) -> list[float]:
    return [float(t) for (t,) in tshark.fields(path, "frame.time_epoch")]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_timestamps_agree_with_tshark(tmp_path: Path, endian: str, nanos: bool) -> None:
    records = [(1_600_000_000 + 7 * i, 999_999 - i * 1000, PACKETS[i % 5]) for i in range(20)]
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_file(records, endian=endian, nanos=nanos))
    ours = [f.ts for f in read_all(path.read_bytes())]
    assert ours == pytest.approx(_tshark_epochs(path), abs=1e-6)


REAL_PCAPS = {"adtech_mathtag.pcap": 133, "android_dropper_checkin.pcap": 7}


@pytest.mark.parametrize(("name", "count"), sorted(REAL_PCAPS.items()))
def test_real_captures_frame_counts(name: str, count: int) -> None:
    path = REAL / name
    ctx = Context()
    with path.open("rb") as f:
        frames = list(pcap.read(f, 0, ctx, str(path)))
    assert len(frames) == count
    assert ctx.anomalies.total() == 0
    assert [f.ts for f in frames] == pytest.approx(_tshark_epochs(path), abs=1e-6)
