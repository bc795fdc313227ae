"""Zip reading the way Android does: central directory first, every read bounded."""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from phonehome.static import zipsafe
from phonehome.static.zipsafe import SafeZip, open_zip, unsafe_name
from tests.builders_apk import zip_bytes


def _open(tmp_path: Path, data: bytes) -> SafeZip:
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    opened = open_zip(path)
    assert isinstance(opened, SafeZip), opened
    return opened


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../etc/passwd", "path traversal"),
        ("lib/../../x.so", "path traversal"),
        ("..\\..\\evil.dll", "path traversal"),
        ("/abs/path", "absolute path"),
        ("C:/windows", "absolute path"),
        ("classes.dex", None),
        ("res/..foo/a.xml", None),
        ("assets/a..b", None),
    ],
)
def test_unsafe_names(name: str, reason: str | None) -> None:
    assert unsafe_name(name) == reason


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40, b"\x7fELF" + b"\0" * 100],
)
def test_not_a_zip_is_a_reason_not_an_exception(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.apk"
    path.write_bytes(data)
    opened = open_zip(path)
    assert isinstance(opened, str) and opened.startswith("not a zip archive")


def test_reads_stored_and_deflated(tmp_path: Path) -> None:
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with _open(tmp_path, zip_bytes([("a.txt", b"hello" * 100)], method)) as z:
            assert z.read("a.txt") == b"hello" * 100
            assert z.read("missing") is None


def test_traversal_entries_are_skipped_and_reported(tmp_path: Path) -> None:
    with _open(tmp_path, zip_bytes([("../evil", b"x"), ("ok", b"y")])) as z:
        assert z.names() == ["ok"]
        assert any("path traversal" in p for p in z.problems)


def test_duplicate_entries_first_wins(tmp_path: Path) -> None:
    with pytest.warns(UserWarning):  # zipfile warns on writing a duplicate name
        data = zip_bytes([("classes.dex", b"first"), ("classes.dex", b"second")])
    with _open(tmp_path, data) as z:
        assert z.read("classes.dex") == b"first"
        assert any("duplicate entry" in p for p in z.problems)


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    with _open(tmp_path, zip_bytes([("classes.dex", bytes(8 * 1024 * 1024))])) as z:
        assert z.read("classes.dex") is None
        assert any("zip bomb" in p for p in z.problems)


def test_size_limit(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, barely compressible
    with _open(tmp_path, zip_bytes([("a", data)])) as z:
        assert z.read("a", limit=1000) is None
        assert z.read("a") == data


def _patch_local_header(data: bytes, name: bytes, **changes: int) -> bytes:
    """Rewrite fields of the local header of ``name`` (central directory untouched)."""
    at = data.find(b"PK\x03\x04")
    while data[at + 30 : at + 30 + len(name)] != name:
        at = data.find(b"PK\x03\x04", at + 4)
    out = bytearray(data)
    fields = {"flags": (6, "<H"), "method": (8, "<H"), "csize": (18, "<I"), "usize": (22, "<I")}
    for key, value in changes.items():
        off, fmt = fields[key]
        struct.pack_into(fmt, out, at + off, value)
    out[at + 30 : at + 30 + len(name)] = name.upper()  # a name the directory does not have
    return bytes(out)


def test_local_header_lies_are_ignored_like_android(tmp_path: Path) -> None:
    """Local header with another name, an encryption flag, another method and zero sizes
    (a data-descriptor style header): the central directory is what counts."""
    data = zip_bytes([("classes.dex", b"dex\n035\0" * 50)])
    data = _patch_local_header(data, b"classes.dex", flags=0x9, method=99, csize=0, usize=0)
    with pytest.raises(zipfile.BadZipFile):  # the stock reader refuses this APK
        zipfile.ZipFile(io.BytesIO(data)).read("classes.dex")
    with _open(tmp_path, data) as z:
        assert z.read("classes.dex") == b"dex\n035\0" * 50


def test_unknown_method_in_central_directory_read_as_stored(tmp_path: Path) -> None:
    data = zip_bytes([("a", b"plain bytes")], zipfile.ZIP_STORED)
    cd = data.rfind(b"PK\x01\x02")
    data = data[: cd + 10] + struct.pack("<H", 77) + data[cd + 12 :]
    with _open(tmp_path, data) as z:
        assert z.read("a") == b"plain bytes"
        assert any("method 77" in p for p in z.problems)


def test_missing_local_header_is_a_problem(tmp_path: Path) -> None:
    data = bytearray(zip_bytes([("a", b"x" * 100)], zipfile.ZIP_STORED))
    data[0:4] = b"XXXX"
    with _open(tmp_path, bytes(data)) as z:
        assert z.read("a") is None
        assert any("no local header" in p for p in z.problems)


def test_truncated_entry_data(tmp_path: Path) -> None:
    data = zip_bytes([("a", bytes(range(256)) * 64)], zipfile.ZIP_STORED)
    cd = data.rfind(b"PK\x01\x02")
    # claim a larger compressed size than exists before the central directory ends
    data = data[: cd + 20] + struct.pack("<I", 10**6) + data[cd + 24 :]
    with _open(tmp_path, data) as z:
        assert z.read("a") is None
        assert z.problems


def _sparse(size: int, seed: int = 1) -> bytes:
    """Data that deflates about 80:1, under the zip-bomb ratio: noise between zero runs."""
    rng = random.Random(seed)
    block = b"".join(rng.randbytes(600) + bytes(52_000) for _ in range(size // 52_600 + 1))
    return block[:size]


@pytest.mark.parametrize(
    ("name", "limit", "readable"),
    [
        ("classes.dex", None, False),
        ("classes7.dex", None, False),
        ("classes.dex", 300_000, True),  # an explicit limit is the caller's call
        ("lib/arm64-v8a/libbig.so", None, True),
        ("assets/classes.dex", None, True),  # not code Android loads
        ("a/b.apk", None, True),
    ],
)
def test_dex_files_have_their_own_lower_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, limit: int | None, readable: bool
) -> None:
    monkeypatch.setattr(zipsafe, "MAX_DEX_BYTES", 100_000)
    data = _sparse(200_000)
    with _open(tmp_path, zip_bytes([(name, data)])) as z:
        got = z.read(name, limit)
        assert (got == data) is readable
        assert bool(z.problems) is not readable
        if not readable:
            assert z.problems == [f"{name}: 200000 bytes uncompressed, over the 100000-byte limit"]


def test_inflating_holds_the_output_once(tmp_path: Path) -> None:
    # bytes(bytearray) held a 250 MB classes.dex twice; BytesIO.getvalue() hands it over.
    size = 24 << 20
    data = _sparse(size)
    with _open(tmp_path, zip_bytes([("a.so", data)])) as z:
        tracemalloc.start()
        try:
            got = z.read("a.so")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert got == data
    assert peak < size * 1.3, f"peak {peak / size:.2f}x the entry"


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        (10**9, "entry data truncated"),  # past the end of the file
        (250_000, "compressed, over the limit"),  # a lie for 200 kB: refused before reading
        (1_000, "deflate stream cut short"),  # a partial entry is not the entry
    ],
)
def test_compressed_size_lies(tmp_path: Path, declared: int, problem: str) -> None:
    padding = random.Random(2).randbytes(300_000)  # so 250 kB past the entry is in the file
    data = zip_bytes([("a", _sparse(200_000)), ("pad", padding)])
    cd = data.find(b"PK\x01\x02")  # the first entry's central directory record
    data = data[: cd + 20] + struct.pack("<I", declared) + data[cd + 24 :]
    with _open(tmp_path, data) as z:
        assert z.read("a", limit=200_000) is None
        assert [p for p in z.problems if problem in p], z.problems
        assert z.read("pad") == padding


# --- the central directory, read as zipfile lists it ------------------------------------

_names = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
)


@pytest.mark.filterwarnings("ignore:Duplicate name")  # (zipfile writes them, and warns)
@settings(max_examples=120, deadline=None)
@given(
    files=st.lists(st.tuples(_names, st.binary(max_size=300), st.booleans()), max_size=6),
    comment=st.binary(max_size=40),
    prefix=st.binary(max_size=30),
    zip64=st.booleans(),
)
def test_the_central_directory_lists_what_zipfile_lists(
    files: list[tuple[str, bytes, bool]], comment: bytes, prefix: bytes, zip64: bool
) -> None:
    """Archives written by zipfile (UTF-8 and cp437 names, stored and deflated, ZIP64
    records, a comment, bytes in front as in a self-extractor), listed both ways."""
    buf = io.BytesIO()
    buf.write(prefix)
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, deflate in files:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=zip64) as member:
                member.write(data)
        zf.comment = comment
    try:
        listing = zipfile.ZipFile(io.BytesIO(buf.getvalue())).infolist()
    except zipfile.BadZipFile:
        # zipfile's own quirk: it takes the prefix's bytes for a ZIP64 locator when the
        # archive is shorter than one (a prefix of "PK\x06\x07")
        assume(False)
    expected = [
        (i.filename, i.header_offset, i.compress_type, i.compress_size, i.file_size)
        for i in listing
    ]
    listed = zipsafe.central_directory(io.BytesIO(buf.getvalue()))
    assert not isinstance(listed, str), listed
    assert [(e.name, e.offset, e.method, e.compressed_size, e.size) for e in listed] == expected


def _version_needed(data: bytes, version: int) -> bytes:
    """``data`` with every central directory entry's "version needed to extract" set to
    ``version`` (major * 10 + minor), found from the end record like a reader would."""
    out = bytearray(data)
    at = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack_from("<LL", data, at + 12)
    pos = offset
    while pos < offset + size:
        assert out[pos : pos + 4] == b"PK\x01\x02"
        struct.pack_into("<H", out, pos + 6, version)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + name_len + extra_len + comment_len
    return bytes(out)


def test_a_version_needed_android_ignores_does_not_hide_the_archive(tmp_path: Path) -> None:
    """zipfile refuses a whole archive when one entry claims version 25.5 (found by
    fuzzing); Android never reads the field and installs the app."""
    data = _version_needed(zip_bytes([("classes.dex", b"dex\n035\0"), ("a.txt", b"x" * 500)]), 255)
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(io.BytesIO(data))
    z = _open(tmp_path, data)
    assert z.names() == ["classes.dex", "a.txt"] and z.problems == []
    assert z.read("a.txt") == b"x" * 500


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda d: d[:-22], "no end of central directory record"),
        (lambda d: d.replace(b"PK\x01\x02", b"PK\x01\x03", 1), "bad central directory header"),
        (lambda d: b"", "too short"),
    ],
)
def test_a_damaged_central_directory_is_a_reason(tmp_path: Path, damage, why: str) -> None:
    path = tmp_path / "d.zip"
    path.write_bytes(damage(zip_bytes([("a", b"1"), ("b", b"2")])))
    opened = open_zip(path)
    assert isinstance(opened, str) and why in opened
