"""One direction of TCP reassembly: order, retransmission, overlap, holes, caps."""

from __future__ import annotations

import pytest

from phonehome.model.anomaly import Anomalies
from phonehome.net.tcp import Event, Stream


def text(events: list[Event]) -> bytes:
    """Delivered bytes with gaps as '?' runs."""
    out = b""
    for item, _, _ in events:
        out += b"?" * item if isinstance(item, int) else item
    return out


def feed(st: Stream, segs: list[tuple[int, bytes]]) -> bytes:
    out = b""
    for i, (seq, data) in enumerate(segs):
        out += text(st.add(seq, data, float(i), i + 1))
    return out


def new(isn: int = 1000, cap: int = 1 << 20) -> tuple[Stream, Anomalies]:
    an = Anomalies()
    st = Stream(cap, an)
    st.start(isn)
    return st, an


def test_in_order_segments_are_delivered_at_once_without_copy() -> None:
    st, _ = new()
    data = b"hello "
    [(item, time, frame)] = st.add(1000, data, 5.0, 7)
    assert item is data and (time, frame) == (5.0, 7)
    assert feed(st, [(1006, b"world")]) == b"world"
    assert st.nxt == 11


@pytest.mark.parametrize(
    "order",
    [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2], [2, 0, 3, 1], [0, 2, 3, 1]],
)
def test_out_of_order_segments_wait_for_the_hole(order: list[int]) -> None:
    segs = [(1000, b"aaaa"), (1004, b"bbbb"), (1008, b"cccc"), (1012, b"dd")]
    st, an = new()
    assert feed(st, [segs[i] for i in order]) == b"aaaabbbbccccdd"
    assert st.buffered == 0 and not st.heap and not an.counts


def test_first_delivered_segment_carries_its_own_frame() -> None:
    st, _ = new()
    st.add(1004, b"late", 1.0, 10)
    events = st.add(1000, b"1st.", 2.0, 11)
    assert [(e[0], e[2]) for e in events] == [(b"1st.", 11), (b"late", 10)]


def test_retransmission_is_dropped() -> None:
    st, an = new()
    assert feed(st, [(1000, b"abcd"), (1000, b"abcd"), (1002, b"cdef")]) == b"abcdef"
    assert st.retransmitted == 1 and not an.counts


@pytest.mark.parametrize(
    ("segs", "expect", "mismatch"),
    [
        ([(1000, b"abcd"), (1000, b"abXd")], b"abcd", 1),  # full retransmission differs
        ([(1000, b"abcd"), (1002, b"XXef")], b"abcdef", 1),  # partial overlap differs
        ([(1000, b"abcd"), (1002, b"cdef")], b"abcdef", 0),  # partial overlap agrees
        ([(1004, b"efgh"), (1006, b"XXij"), (1000, b"abcd")], b"abcdefghij", 1),  # buffered
        ([(1004, b"efgh"), (1004, b"XXXX"), (1000, b"abcd")], b"abcdefgh", 1),  # same start
        ([(1004, b"efgh"), (1004, b"efghij"), (1000, b"abcd")], b"abcdefghij", 0),
    ],
)
def test_overlap_first_data_wins(
    segs: list[tuple[int, bytes]], expect: bytes, mismatch: int
) -> None:
    st, an = new()
    assert feed(st, segs) == expect
    assert an.counts["tcp.overlap_mismatch"] == mismatch


def test_sequence_wraparound() -> None:
    st, _ = new(isn=0xFFFFFFFE)
    assert feed(st, [(0, b"cd"), (0xFFFFFFFE, b"ab"), (2, b"ef")]) == b"abcdef"


def test_ack_beyond_a_hole_gives_it_up() -> None:
    st, _ = new()
    assert feed(st, [(1000, b"abcd"), (1008, b"ijkl")]) == b"abcd"
    assert st.acked(1006, 3.0, 3) == []  # the hole is 1004..1008: not acked past it yet
    events = st.acked(1012, 3.0, 3)
    assert text(events) == b"????ijkl"
    assert events[0][2] == 2  # the gap is located at the segment after it
    assert feed(st, [(1012, b"m")]) == b"m"


def test_buffer_cap_gives_up_holes() -> None:
    st, _ = new(cap=10)
    assert feed(st, [(1004, b"efgh"), (1012, b"mnop")]) == b""
    assert text(st.add(1020, b"uvw", 3.0, 3)) == b"????efgh????mnop????uvw"
    assert st.buffered == 0


def test_finish_reports_holes_and_missing_tail_before_fin() -> None:
    st, _ = new()
    feed(st, [(1000, b"ab"), (1004, b"ef")])
    st.set_fin(1010)
    assert not st.complete
    assert text(st.finish(9.0, 9)) == b"??ef????"
    assert st.complete


def test_fin_completes_the_stream() -> None:
    st, _ = new()
    feed(st, [(1000, b"abc")])
    st.set_fin(1003)
    assert st.complete and st.finish(1.0, 1) == []


def test_discard_frees_the_buffer() -> None:
    st, _ = new()
    feed(st, [(1010, b"x" * 100)])
    st.discard()
    assert st.buffered == 0 and not st.heap
