"""HPACK header block decoding (RFC 7541) for the HTTP/2 parser.

Why not the ``hpack`` package (the maintained one, which ``h2`` uses): measured on the
blocks an OkHttp-like client sends (benchmarks/decrypt_speed.py's, one core here), it takes
76 µs for a block of table references and 211 µs for a first block of Huffman-coded
literals (a logging call per field, an object per field); HPACK was half of
``protocols/http2.py``'s time. This decoder takes 22 µs and 142 µs interpreted, and 3 µs
and 28 µs compiled with mypyc (it is written for that, like the rest of the packet path:
a 4-bit state machine over ``list[int]`` for Huffman strings). ``hpack`` remains a test
dependency: ``tests/test_protocols_hpack.py`` holds this decoder to its encoder on random
header lists, table sizes and indexing choices, and to RFC 7541 Appendix C.

Only the facts are taken from RFC 7541: the static table (Appendix A) and the Huffman
code lengths (Appendix B); the code is canonical (codes assigned in order of length, then
symbol), so the codes follow from the lengths.
"""

from __future__ import annotations

from typing import Final

HeaderField = tuple[bytes, bytes]

STATIC_TABLE: Final[tuple[HeaderField, ...]] = (
    (b":authority", b""), (b":method", b"GET"), (b":method", b"POST"), (b":path", b"/"),
    (b":path", b"/index.html"), (b":scheme", b"http"), (b":scheme", b"https"),
    (b":status", b"200"), (b":status", b"204"), (b":status", b"206"), (b":status", b"304"),
    (b":status", b"400"), (b":status", b"404"), (b":status", b"500"), (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"), (b"accept-language", b""),
    (b"accept-ranges", b""), (b"accept", b""), (b"access-control-allow-origin", b""),
    (b"age", b""), (b"allow", b""), (b"authorization", b""), (b"cache-control", b""),
    (b"content-disposition", b""), (b"content-encoding", b""), (b"content-language", b""),
    (b"content-length", b""), (b"content-location", b""), (b"content-range", b""),
    (b"content-type", b""), (b"cookie", b""), (b"date", b""), (b"etag", b""),
    (b"expect", b""), (b"expires", b""), (b"from", b""), (b"host", b""),
    (b"if-match", b""), (b"if-modified-since", b""), (b"if-none-match", b""),
    (b"if-range", b""), (b"if-unmodified-since", b""), (b"last-modified", b""),
    (b"link", b""), (b"location", b""), (b"max-forwards", b""),
    (b"proxy-authenticate", b""), (b"proxy-authorization", b""), (b"range", b""),
    (b"referer", b""), (b"refresh", b""), (b"retry-after", b""), (b"server", b""),
    (b"set-cookie", b""), (b"strict-transport-security", b""),
    (b"transfer-encoding", b""), (b"user-agent", b""), (b"vary", b""), (b"via", b""),
    (b"www-authenticate", b""),
)  # fmt: skip
"""RFC 7541 Appendix A; index 1 is element 0."""

HUFFMAN_LENGTHS: Final = bytes.fromhex(
    "0d171c1c1c1c1c1c1c181e1c1c1e1c1c1c1c1c1c1c1c1e1c1c1c1c1c1c1c1c1c060a0a0c0d06080b0a0a080b"
    "080606060505050606060606060607080f060c0a0d060707070707070707070707070707070707070707070708"
    "07080d130d0e060f05060506050606060507070606060506070605050607070707070f0b0e0d1c1416141416"
    "16161716171717171718171818161718171717171516171617171816151416161717151716161815161717151"
    "516151716171714161616171616171a1a1413161716191a1a1a1b1b1a181913151a1b1b1a1b1815151a1a1c1"
    "b1b1b14181415161515171616191918181a171a1b1a1a1b1b1b1b1b1c1b1b1b1b1b1a1e"
)
"""Code length in bits of symbols 0..256 (256 = EOS), RFC 7541 Appendix B."""

EOS: Final = 256
ENTRY_OVERHEAD: Final = 32
"""RFC 7541 4.1: an entry's size is its name and value lengths plus 32."""
MAX_INTEGER: Final = 1 << 32
"""Larger integers mean a corrupt block (no length, index or size comes near)."""

# 4-bit Huffman state machine entries: next state in the low 9 bits, then flags, then the
# symbol completed by this nibble (a code is at least 5 bits: at most one per nibble).
_EMIT: Final = 1 << 9
_FAIL: Final = 1 << 10
_ACCEPT: Final = 1 << 11
"""The state after this nibble may end a string: it lies on the all-ones path from the
root at most 7 bits deep (RFC 7541 5.2: padding is a prefix of EOS, under 8 bits)."""
_SYMBOL_SHIFT: Final = 12


class HpackError(ValueError):
    """The header block cannot be decoded; the decoder's table may now be out of step."""


def _huffman_fsm() -> list[int]:
    """The decoding state machine: states are the Huffman tree's internal nodes (0 = the
    root); for each state and nibble, the state reached and the symbol completed."""
    lengths = HUFFMAN_LENGTHS
    order = sorted(range(EOS + 1), key=lambda s: (lengths[s], s))
    # Build the tree: children[node] = [left, right]; a leaf is -(symbol + 1).
    children: list[list[int]] = [[0, 0]]
    code = 0
    previous = lengths[order[0]]
    for i, symbol in enumerate(order):
        size = lengths[symbol]
        if i:
            code = (code + 1) << (size - previous)
            previous = size
        node = 0
        for bit_index in range(size - 1, 0, -1):
            bit = (code >> bit_index) & 1
            if not children[node][bit]:
                children.append([0, 0])
                children[node][bit] = len(children) - 1
            node = children[node][bit]
        children[node][code & 1] = -(symbol + 1)
    # Nodes on the all-ones path at depth <= 7 (the root is depth 0).
    accepting = {0}
    node, depth = 0, 0
    while depth < 7:
        node = children[node][1]
        depth += 1
        if node <= 0:
            break
        accepting.add(node)
    table = [0] * (len(children) * 16)
    for state in range(len(children)):
        for nibble in range(16):
            node, emitted, failed = state, -1, False
            for shift in (3, 2, 1, 0):
                nxt = children[node][(nibble >> shift) & 1]
                if nxt < 0:
                    symbol = -nxt - 1
                    if symbol == EOS:
                        failed = True
                        break
                    emitted = symbol
                    node = 0
                else:
                    node = nxt
            entry = node
            if failed:
                entry |= _FAIL
            if emitted >= 0:
                entry |= _EMIT | (emitted << _SYMBOL_SHIFT)
            if node in accepting:
                entry |= _ACCEPT
            table[state * 16 + nibble] = entry
    return table


_FSM: Final = _huffman_fsm()


def huffman_decode(data: bytes) -> bytes:
    """A Huffman-coded string (RFC 7541 5.2); raises HpackError when it is not one."""
    table = _FSM
    out = bytearray()
    state = 0
    accept = True
    for byte in data:
        entry = table[(state << 4) | (byte >> 4)]
        if entry & _FAIL:
            raise HpackError("EOS inside a Huffman string")
        if entry & _EMIT:
            out.append(entry >> _SYMBOL_SHIFT)
        state = entry & 0x1FF
        entry = table[(state << 4) | (byte & 0x0F)]
        if entry & _FAIL:
            raise HpackError("EOS inside a Huffman string")
        if entry & _EMIT:
            out.append(entry >> _SYMBOL_SHIFT)
        state = entry & 0x1FF
        accept = bool(entry & _ACCEPT)
    if not accept:
        raise HpackError("Huffman string padded with more than 7 bits or not with ones")
    return bytes(out)


class HpackDecoder:
    """One direction's decoder and its dynamic table (RFC 7541 2.3.2, 4).

    ``max_allowed`` is what SETTINGS_HEADER_TABLE_SIZE allows (bounded by the caller);
    a dynamic table size update above it is an error. ``max_header_list`` bounds the
    decoded fields of one block (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE accounting).
    """

    __slots__ = ("_entries", "_size", "max_allowed", "max_header_list", "table_size")

    def __init__(self, max_allowed: int = 4096, max_header_list: int = 256 << 10) -> None:
        self._entries: list[HeaderField] = []
        """Newest last (index 62 is the last element)."""
        self._size = 0
        self.table_size = 4096
        """The size the encoder set (starts at the protocol default)."""
        self.max_allowed = max_allowed
        self.max_header_list = max_header_list

    @property
    def size(self) -> int:
        return self._size

    def decode(self, block: bytes) -> list[HeaderField]:
        fields: list[HeaderField] = []
        pos = 0
        n = len(block)
        listed = 0
        while pos < n:
            first = block[pos]
            if first & 0x80:  # indexed field
                index, pos = _integer(block, pos, 7)
                field = self._field(index)
            elif first & 0x40:  # literal with incremental indexing
                index, pos = _integer(block, pos, 6)
                name, value, pos = self._literal(block, pos, index)
                field = (name, value)
                self._add(field)
            elif first & 0x20:  # dynamic table size update
                if fields:
                    raise HpackError("table size update after a field")
                size, pos = _integer(block, pos, 5)
                if size > self.max_allowed:
                    raise HpackError(f"table size {size} over the allowed {self.max_allowed}")
                self.table_size = size
                self._evict(size)
                continue
            else:  # literal without indexing (0000) or never indexed (0001)
                index, pos = _integer(block, pos, 4)
                name, value, pos = self._literal(block, pos, index)
                field = (name, value)
            listed += len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
            if listed > self.max_header_list:
                raise HpackError(f"header list over {self.max_header_list} bytes")
            fields.append(field)
        return fields

    def _field(self, index: int) -> HeaderField:
        if index <= 0:
            raise HpackError("index 0")
        if index <= 61:
            return STATIC_TABLE[index - 1]
        at = len(self._entries) - (index - 61)
        if at < 0:
            raise HpackError(f"index {index} past the dynamic table")
        return self._entries[at]

    def _literal(self, block: bytes, pos: int, index: int) -> tuple[bytes, bytes, int]:
        if index:
            name = self._field(index)[0]
        else:
            name, pos = _string(block, pos)
        value, pos = _string(block, pos)
        return name, value, pos

    def _add(self, field: HeaderField) -> None:
        size = len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
        if size > self.table_size:
            self._entries.clear()  # RFC 7541 4.4: an entry too large empties the table
            self._size = 0
            return
        self._evict(self.table_size - size)
        self._entries.append(field)
        self._size += size

    def _evict(self, limit: int) -> None:
        entries = self._entries
        drop = 0
        size = self._size
        while size > limit and drop < len(entries):
            name, value = entries[drop]
            size -= len(name) + len(value) + ENTRY_OVERHEAD
            drop += 1
        if drop:
            del entries[:drop]
        self._size = size


def _integer(block: bytes, pos: int, prefix: int) -> tuple[int, int]:
    """RFC 7541 5.1."""
    mask = (1 << prefix) - 1
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    n = len(block)
    while True:
        if pos >= n:
            raise HpackError("integer cut short")
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if value > MAX_INTEGER:
            raise HpackError("integer too large")
        if not byte & 0x80:
            return value, pos
        shift += 7


def _string(block: bytes, pos: int) -> tuple[bytes, int]:
    """RFC 7541 5.2."""
    if pos >= len(block):
        raise HpackError("string cut short")
    huffman = block[pos] & 0x80
    length, pos = _integer(block, pos, 7)
    end = pos + length
    if end > len(block):
        raise HpackError("string runs past the block")
    raw = block[pos:end]
    return (huffman_decode(raw) if huffman else raw), end
