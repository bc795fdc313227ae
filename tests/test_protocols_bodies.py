"""Content-Encoding removal: each coding, stacks, lying headers, bombs."""

from __future__ import annotations

import gzip
import random
import tracemalloc
import zlib

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.protocols.bodies import decode_body, split_codings

TEXT = b'{"imei":"350672920106648","model":"Moto G (7)"}' * 3


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoded", "codings", "removed"),
    [
        (gzip.compress(TEXT), ["gzip"], ("gzip",)),
        (gzip.compress(TEXT), ["x-gzip"], ("x-gzip",)),
        (gzip.compress(TEXT), ["GZIP "], ("gzip",)),
        (zlib.compress(TEXT), ["deflate"], ("deflate",)),
        (_raw_deflate(TEXT), ["deflate"], ("deflate",)),
        (brotli.compress(TEXT), ["br"], ("br",)),
        (TEXT, ["identity"], ()),
        (TEXT, [], ()),
        # "deflate, gzip": deflate applied first, so gzip is removed first
        (gzip.compress(zlib.compress(TEXT)), ["deflate, gzip"], ("gzip", "deflate")),
        (brotli.compress(gzip.compress(TEXT)), ["gzip", "br"], ("br", "gzip")),
        (gzip.compress(TEXT), ["identity", "gzip"], ("gzip",)),
        # two gzip members are one body
        (gzip.compress(TEXT[:20]) + gzip.compress(TEXT[20:]), ["gzip"], ("gzip",)),
    ],
)
def test_decodes(encoded: bytes, codings: list[str], removed: tuple[str, ...]) -> None:
    body, got, truncated = decode_body(encoded, codings)
    assert body == TEXT
    assert got == removed
    assert truncated is False


@pytest.mark.parametrize(
    ("data", "codings"),
    [
        # the android dropper: "Content-Encoding: gzip" on a plain JSON body
        (b'{"sdk_version":11026,"device_id":"350672920106648"}', ["gzip"]),
        (b'{"a":1}', ["deflate"]),
        (b'{"a":1}', ["br"]),
        (b"\x1f\x8b" + b"garbage after the gzip magic", ["gzip"]),
        (TEXT, ["zstd"]),  # not supported: kept, not claimed
        (TEXT, ["compress"]),
        (zlib.compress(TEXT)[:-8], ["deflate"]),  # unfinished stream, input said complete
    ],
)
def test_mislabelled_body_is_kept(data: bytes, codings: list[str]) -> None:
    body, removed, truncated = decode_body(data, codings)
    assert body == data
    assert removed == ()
    assert truncated is False


def test_outer_layer_kept_when_inner_fails() -> None:
    # gzip over something that claims deflate but is not: gzip is removed, deflate not.
    data = gzip.compress(b"not deflate at all")
    body, removed, _ = decode_body(data, ["deflate", "gzip"])
    assert body == b"not deflate at all"
    assert removed == ("gzip",)


def test_partial_stream_accepted_only_when_input_is_known_cut() -> None:
    plain = b"".join(b"%d:%d," % (i, i * i) for i in range(2000))
    cut = gzip.compress(plain)[:200]
    assert decode_body(cut, ["gzip"])[1] == ()
    body, removed, truncated = decode_body(cut, ["gzip"], partial=True)
    assert removed == ("gzip",)
    assert truncated is True
    assert body and plain.startswith(body)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_bomb_is_bounded_by_size(coding: str) -> None:
    plain = b"\0" * (64 << 20)
    packed = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
    }[coding](plain)
    body, removed, truncated = decode_body(packed, [coding], max_size=1 << 20, max_ratio=10**9)
    assert removed == (coding,)
    assert truncated is True
    assert len(body) == 1 << 20


def test_bomb_is_bounded_by_ratio() -> None:
    packed = gzip.compress(b"A" * (1 << 20))
    body, _, truncated = decode_body(packed, ["gzip"], max_ratio=10)
    assert truncated is True
    assert len(body) == len(packed) * 10


def test_exact_fit_is_not_truncated() -> None:
    packed = gzip.compress(TEXT)
    body, _, truncated = decode_body(packed, ["gzip"], max_size=len(TEXT))
    assert body == TEXT
    assert truncated is False


def test_split_codings() -> None:
    assert split_codings(["gzip, br", " Deflate ", ""]) == ["gzip", "br", "deflate"]


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300),
    st.lists(st.sampled_from(["gzip", "deflate", "br", "identity", "x-gzip", "zstd"]), max_size=3),
)
def test_fuzz_never_raises_and_stays_bounded(data: bytes, codings: list[str]) -> None:
    body, removed, _ = decode_body(data, codings, max_size=4096, max_ratio=50)
    assert len(body) <= max(4096, len(data))
    assert len(removed) <= len(codings)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["gzip", "deflate", "br"]))
def test_fuzz_round_trip(plain: bytes, coding: str) -> None:
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[coding](plain)
    body, removed, truncated = decode_body(packed, [coding], max_ratio=10**6)
    if plain:
        assert (body, removed, truncated) == (plain, (coding,), False)


class _CountingDecompressor:
    """brotli.Decompressor with its process() calls counted (the cost of feeding)."""

    calls = 0

    def __init__(self) -> None:
        self._d = _REAL_DECOMPRESSOR()

    def process(self, data: bytes, **kwargs: int) -> bytes:
        _CountingDecompressor.calls += 1
        out: bytes = self._d.process(data, **kwargs)
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self._d, name)


_REAL_DECOMPRESSOR = brotli.Decompressor


def test_brotli_is_not_fed_byte_by_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    # 7 MB of incompressible br took 3.4 s when every input byte was its own call.
    plain = random.Random(3).randbytes(1 << 20)
    packed = brotli.compress(plain, quality=1)
    monkeypatch.setattr(brotli, "Decompressor", _CountingDecompressor)
    _CountingDecompressor.calls = 0
    assert decode_body(packed, ["br"], max_size=2 << 20) == (plain, ("br",), False)
    assert 0 < _CountingDecompressor.calls <= len(packed) // 8


@pytest.mark.parametrize(
    ("tail", "removed"),
    [(b"", True), (b"x", True), (b"\r\n", True), (b"junk" * 50_000, True)],
)
def test_brotli_ignores_bytes_after_the_stream(tail: bytes, removed: bool) -> None:
    # The end of the stream falls inside a piece fed at once; what follows is not brotli.
    body, done, truncated = decode_body(brotli.compress(TEXT * 40) + tail, ["br"])
    assert (done == ("br",)) is removed and body == TEXT * 40 and not truncated


@pytest.mark.parametrize(
    ("damage", "partial", "result"),
    [
        ("mislabelled", False, "kept"),  # Content-Encoding: br on plain JSON
        ("cut", False, "kept"),
        ("cut", True, "prefix"),
    ],
)
def test_damaged_brotli(damage: str, partial: bool, result: str) -> None:
    plain = random.Random(4).randbytes(200_000)
    packed = brotli.compress(plain, quality=1)
    packed = TEXT if damage == "mislabelled" else packed[: len(packed) // 2]
    body, removed, truncated = decode_body(packed, ["br"], partial=partial)
    if result == "kept":
        assert (body, removed) == (packed, ())
    else:
        assert removed == ("br",) and truncated and body and plain.startswith(body)


def test_brotli_bomb_memory_stays_near_the_limit() -> None:
    packed = brotli.compress(bytes(256 << 20), quality=5)
    tracemalloc.start()
    try:
        body, _, truncated = decode_body(packed, ["br"], max_size=1 << 20, max_ratio=10**9)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert truncated and len(body) == 1 << 20
    assert peak < 48 << 20, f"peak {peak >> 20} MiB"
