"""Runs of empty and all-zero records (issue 18): one anomaly per run, frame numbers as
tshark counts them, bulk skipping of zeros, and a stop after too many empty records."""

from __future__ import annotations

import io
import struct
from pathlib import Path

from phonehome.context import Context
from phonehome.ingest import pcap, pcapng
from phonehome.model import Frame
from tests import tshark
from tests.builders_capture import epb, ethernet, idb, ipv4_udp, pcap_header, pcap_record, shb

PACKET = ethernet(ipv4_udp(b"payload"))
TS = 1_700_000_000


def read_pcap(data: bytes, ctx: Context) -> list[Frame]:
    return list(pcap.read(io.BytesIO(data), 0, ctx, "t.pcap"))


def read_pcapng(data: bytes, ctx: Context) -> list[Frame]:
    return list(pcapng.read(io.BytesIO(data), 0, ctx, "t.pcapng"))


def anomalies(ctx: Context) -> list[tuple[str, int | None, str]]:
    return [(s.kind, s.frame, s.detail) for s in ctx.anomalies.samples]


def zero_run_pcap(zero_records: int, tail: bytes = b"") -> bytes:
    return (
        pcap_header()
        + pcap_record(TS, 0, PACKET)
        + b"\0" * (16 * zero_records)
        + tail
        + pcap_record(TS + 1, 0, PACKET)
    )


def test_a_run_of_zero_records_is_one_anomaly_and_numbering_goes_on() -> None:
    ctx = Context()
    frames = read_pcap(zero_run_pcap(65_536), ctx)
    assert [f.number for f in frames] == [1, 65_538]
    assert ctx.anomalies.counts == {"pcap.empty_records": 1}
    assert anomalies(ctx) == [("pcap.empty_records", 2, "65536 empty record(s), frames 2-65537")]


def test_a_zero_run_across_many_read_chunks_is_skipped_in_bulk() -> None:
    # 4 MiB of zeros: 16 reads of the reader's chunk size, still one run
    ctx = Context()
    n = (4 << 20) // 16
    frames = read_pcap(zero_run_pcap(n), ctx)
    assert [f.number for f in frames] == [1, n + 2]
    assert ctx.anomalies.counts == {"pcap.empty_records": 1}


def test_one_empty_record_with_a_timestamp_is_a_run_of_one() -> None:
    ctx = Context()
    data = pcap_header() + struct.pack("<IIII", TS, 0, 0, 60) + pcap_record(TS, 0, PACKET)
    frames = read_pcap(data, ctx)
    assert [f.number for f in frames] == [2]
    assert anomalies(ctx) == [("pcap.empty_records", 1, "1 empty record(s), frame 1")]


def test_zeros_up_to_the_end_of_file() -> None:
    ctx = Context()
    data = pcap_header() + pcap_record(TS, 0, PACKET) + b"\0" * (16 * 1000 + 5)
    assert [f.number for f in read_pcap(data, ctx)] == [1]
    assert ctx.anomalies.counts == {"pcap.empty_records": 1, "pcap.truncated_record": 1}


def test_too_many_empty_records_with_headers_stop_the_reader() -> None:
    ctx = Context()
    empty = struct.pack("<IIII", TS, 0, 0, 60)
    data = pcap_header() + empty * (pcap.MAX_EMPTY_RUN + 1) + pcap_record(TS, 0, PACKET)
    assert read_pcap(data, ctx) == []
    [(kind, frame, detail)] = anomalies(ctx)
    assert (kind, frame) == ("pcap.empty_records", 1)
    assert detail.endswith("stopped reading")


def test_frame_numbers_after_a_zero_run_agree_with_tshark(tmp_path: Path) -> None:
    path = tmp_path / "z.pcap"
    path.write_bytes(zero_run_pcap(5000))
    numbers = [int(row[0]) for row in tshark.fields(path, "frame.number", display_filter="udp")]
    assert [f.number for f in read_pcap(path.read_bytes(), Context())] == numbers == [1, 5002]


def test_pcapng_empty_packets_are_one_anomaly() -> None:
    ctx = Context()
    block = epb(0, TS * 1_000_000, PACKET)
    data = shb() + idb() + block + epb(0, TS * 1_000_000, b"") * 1000 + block
    frames = read_pcapng(data, ctx)
    assert [f.number for f in frames] == [1, 1002]
    assert anomalies(ctx) == [
        ("pcapng.empty_records", 2, "1000 empty packet(s), frames 2-1001"),
    ]


def test_pcapng_zero_bytes_stop_the_reader_as_in_tshark() -> None:
    ctx = Context()
    block = epb(0, TS * 1_000_000, PACKET)
    frames = read_pcapng(shb() + idb() + block + b"\0" * 4096 + block, ctx)
    assert [f.number for f in frames] == [1]
    assert ctx.anomalies.counts == {"pcapng.bad_block_length": 1}
