"""Fuzz: whatever bytes a capture holds, only InputError may escape the readers."""

from __future__ import annotations

import gzip
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import open_capture
from tests.builders_capture import (
    LINKTYPE_RAW,
    dsb,
    epb,
    ethernet,
    idb,
    ipv4_udp,
    nrb,
    packet_block,
    pcap_file,
    pcapdroid_trailer_frame,
    pcapdroid_uid_map,
    shb,
    spb,
)

PACKET = ipv4_udp(b"payload")
SEEDS = [
    pcap_file([(1, 2, ethernet(PACKET)), (3, 4, pcapdroid_trailer_frame(PACKET, 10001, "App"))]),
    pcap_file([(1, 2, PACKET)], LINKTYPE_RAW, endian=">", nanos=True),
    shb()
    + idb(tsresol=9)
    + pcapdroid_uid_map(10001, "com.a", "A")
    + epb(0, 5, ethernet(PACKET), comments=["u-10001"])
    + spb(ethernet(PACKET))
    + nrb([(bytes(4), ["a.example"])])
    + dsb(b"CLIENT_RANDOM a b\n")
    + packet_block(0, 6, ethernet(PACKET)),
    shb(">") + idb(endian=">") + epb(0, 1, PACKET, endian=">") + shb() + idb(tsresol=0xFF),
]


def consume(content: bytes) -> None:
    """Open ``content`` as a capture file and read it to the end."""
    fd, path = tempfile.mkstemp(suffix=".cap")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        try:
            capture = open_capture(path)
        except InputError:
            return
        try:
            ctx = Context()
            if capture.format.kind == "frames":
                for frame in capture.frames(ctx):
                    assert frame.caplen == len(frame.data)
            else:
                for _ in capture.messages(ctx):
                    pass
        except InputError:
            pass
        finally:
            capture.close()
    finally:
        os.unlink(path)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        choice = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(data)))
        if choice == 0 and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif choice == 1:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif choice == 2:
            del data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return bytes(data)


FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(mutated())
def test_mutated_captures_never_raise(content: bytes) -> None:
    consume(content)


@FUZZ
@given(mutated())
def test_mutated_gzipped_captures_never_raise(content: bytes) -> None:
    consume(gzip.compress(content))


@FUZZ
@given(mutated(), st.integers(2, 400))
def test_cut_gzip_streams_never_raise(content: bytes, cut: int) -> None:
    consume(gzip.compress(content)[:cut])


@FUZZ
@given(
    st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a", b""]),
    st.binary(max_size=300),
)
def test_random_bytes_behind_a_magic_never_raise(magic: bytes, tail: bytes) -> None:
    consume(magic + tail)
