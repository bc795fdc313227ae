"""Bounded inflation of ``.gz`` inputs (issue 18): ratio and total, anomaly and stop;
gzip inside gzip refused with one line."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from phonehome import ingest
from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import open_capture
from tests.builders_capture import ethernet, ipv4_udp, pcap_header, pcap_record

PACKET = ethernet(ipv4_udp(b"payload"))


def gzip_stream(*pieces: tuple[bytes, int]) -> bytes:
    """Each ``(data, times)`` compressed in turn, without building the inflated whole."""
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [z.compress(data) for data, times in pieces for _ in range(times)]
    return b"".join([*out, z.flush()])


def frames_and_anomalies(path: Path) -> tuple[list[int], dict[str, int], str | None]:
    cap = open_capture(str(path))
    ctx = Context()
    numbers = [f.number for f in cap.frames(ctx)]
    if cap.damage:
        ctx.anomalies.add(cap.damage_kind, cap.index, None, cap.damage)
    detail = cap.damage
    cap.close()
    return numbers, dict(ctx.anomalies.counts), detail


def test_a_gzip_bomb_stops_at_the_allowance_with_one_anomaly(tmp_path: Path) -> None:
    # a record, then 320 MiB of zero bytes behind it: ~320 KB compressed, 1000x
    path = tmp_path / "bomb.pcap.gz"
    zeros = bytes(1 << 20)
    path.write_bytes(gzip_stream((pcap_header() + pcap_record(1, 0, PACKET), 1), (zeros, 320)))
    numbers, counts, detail = frames_and_anomalies(path)
    assert numbers == [1]
    assert counts["gzip.limit"] == 1
    assert detail is not None and "decompress the file yourself" in detail
    assert "pcap.empty_records" in counts


def test_an_ordinary_gz_reads_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "ok.pcap.gz"
    path.write_bytes(
        gzip.compress(pcap_header() + b"".join(pcap_record(i, 0, PACKET) for i in range(1000)))
    )
    numbers, counts, _ = frames_and_anomalies(path)
    assert numbers == list(range(1, 1001))
    assert counts == {}


def test_compressible_input_under_the_allowance_is_not_cut(tmp_path: Path) -> None:
    # 32 MiB of identical records compress ~400x: still read whole (under 64 MiB)
    path = tmp_path / "repetitive.pcap.gz"
    record = pcap_record(1, 0, PACKET)
    n = (32 << 20) // len(record)
    path.write_bytes(gzip_stream((pcap_header(), 1), (record, n)))
    assert ingest.INFLATE_ALLOWANCE >= 32 << 20
    numbers, counts, _ = frames_and_anomalies(path)
    assert len(numbers) == n and counts == {}


def test_gzip_inside_gzip_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "twice.pcap.gz.gz"
    path.write_bytes(gzip.compress(gzip.compress(pcap_header() + pcap_record(1, 0, PACKET))))
    with pytest.raises(InputError, match="gzip inside gzip") as e:
        open_capture(str(path))
    assert "\n" not in str(e.value)
