"""The HPACK decoder against RFC 7541 (Appendix A static table, Appendix B Huffman code,
Appendix C examples), against the ``hpack`` package's encoder on random header lists,
table sizes and indexing choices, and on damage."""

from __future__ import annotations

import pytest
from hpack import Decoder, Encoder, NeverIndexedHeaderTuple
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.table import HeaderTable
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.protocols.hpack_decoder import (
    HUFFMAN_LENGTHS,
    STATIC_TABLE,
    HpackDecoder,
    HpackError,
    huffman_decode,
)

HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def test_static_table_and_huffman_lengths_are_rfc7541s() -> None:
    assert STATIC_TABLE == HeaderTable.STATIC_TABLE
    assert list(HUFFMAN_LENGTHS) == REQUEST_CODES_LENGTH


def test_every_symbol_and_every_pair_decodes() -> None:
    for a in range(256):
        assert huffman_decode(HUFFMAN.encode(bytes((a,)))) == bytes((a,))
    every = bytes(range(256)) * 3
    assert huffman_decode(HUFFMAN.encode(every)) == every
    assert huffman_decode(b"") == b""


RFC_C3 = ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
          "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"]  # fmt: skip
RFC_C4 = ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
          "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]  # fmt: skip
RFC_FIELDS = [
    [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
     (b":authority", b"www.example.com")],
    [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
     (b":authority", b"www.example.com"), (b"cache-control", b"no-cache")],
    [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/index.html"),
     (b":authority", b"www.example.com"), (b"custom-key", b"custom-value")],
]  # fmt: skip


@pytest.mark.parametrize("blocks", [RFC_C3, RFC_C4], ids=["C.3", "C.4"])
def test_rfc7541_appendix_c_requests(blocks: list[str]) -> None:
    decoder = HpackDecoder()
    for block, fields, size in zip(blocks, RFC_FIELDS, (57, 110, 164), strict=True):
        assert decoder.decode(bytes.fromhex(block)) == fields
        assert decoder.size == size


headers = st.lists(
    st.tuples(
        st.sampled_from([b":path", b"user-agent", b"x-ad-id", b"cookie", b"x-\xc3\xa9t\xc3\xa9"])
        | st.binary(min_size=1, max_size=12),
        st.binary(max_size=80),
        st.booleans(),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(headers, min_size=1, max_size=6), st.booleans(),
       st.lists(st.sampled_from([0, 64, 256, 4096, 8192]), min_size=6, max_size=6))  # fmt: skip
def test_agrees_with_the_hpack_encoder(
    blocks: list[list[tuple[bytes, bytes, bool]]], huffman: bool, sizes: list[int]
) -> None:
    encoder = Encoder()
    ours = HpackDecoder(max_allowed=8192)
    theirs = Decoder()
    theirs.max_allowed_table_size = 8192
    for fields, size in zip(blocks, sizes, strict=False):
        encoder.header_table_size = size  # emits a table size update in the next block
        tuples = [NeverIndexedHeaderTuple(n, v) if never else (n, v) for n, v, never in fields]
        block = encoder.encode(tuples, huffman=huffman)
        assert ours.decode(block) == [(n, v) for n, v, _ in fields]
        theirs.decode(block, raw=True)
        entries = theirs.header_table.dynamic_entries
        assert ours.size == sum(len(n) + len(v) + 32 for n, v in entries)


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ("80", "index 0"),
        ("be", "index 62 past the dynamic table"),
        ("3fe11f", "table size 4096 over the allowed 100"),
        ("8220", "table size update after a field"),
        ("ff", "integer cut short"),
        ("ffffffffffff7f", "integer too large"),
        ("4005616263", "string runs past the block"),
        ("40", "string cut short"),
        ("408100" + "00", "padded with more than 7 bits or not with ones"),
        ("4084ffffffff" + "00", "EOS inside a Huffman string"),
    ],
)
def test_damage_is_an_hpack_error(block: str, error: str) -> None:
    decoder = HpackDecoder(max_allowed=100)
    with pytest.raises(HpackError, match=error):
        decoder.decode(bytes.fromhex(block))


def test_header_list_bound() -> None:
    block = Encoder().encode([(b"x-big", b"v" * 2000)] * 3, huffman=False)
    with pytest.raises(HpackError, match="header list over 4000 bytes"):
        HpackDecoder(max_header_list=4000).decode(block)


def literal(value: bytes) -> bytes:
    """A raw string: 7-bit prefix length (RFC 7541 5.1), no Huffman."""
    n = len(value)
    if n < 127:
        return bytes((n,)) + value
    out, n = bytearray((127,)), n - 127
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out) + bytes((n,)) + value


def test_an_entry_larger_than_the_table_empties_it() -> None:
    decoder = HpackDecoder()
    decoder.decode(Encoder().encode([(b"a", b"b")]))
    assert decoder.size == 34
    # A literal with incremental indexing larger than the 4096-byte table (RFC 7541 4.4).
    block = b"\x40" + literal(b"x-big") + literal(b"v" * 5000)
    assert decoder.decode(block) == [(b"x-big", b"v" * 5000)]
    assert decoder.size == 0
