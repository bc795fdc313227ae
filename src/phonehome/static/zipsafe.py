"""Reading APKs and other zips the way Android does, without trusting them.

Android's installer reads the *central directory* and only takes the data offset from the
local header; apps (and malware aimed at analysers) exploit that with local headers that
disagree with the directory, bogus "encrypted" flags, data descriptors, unknown compression
methods read as stored, and duplicate names. Python's :mod:`zipfile` refuses several of
these (an entry's "version needed to extract" above 6.3 makes it refuse the whole
archive, a field Android never reads), so the central directory is read here
(:func:`central_directory`, APPNOTE.TXT 4.3.12-4.3.16, ZIP64 included) and so is entry
data.

Every read is bounded: entry count, uncompressed size, and compression ratio (zip bombs).
Names that would escape a directory (``..``, absolute paths) are reported and never
read: nothing here writes to disk, but callers that later do must not see them.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MAX_ENTRIES = 200_000
MAX_ENTRY_BYTES = 256 * 1024 * 1024
"""Largest uncompressed entry we inflate: whole system APKs inside a firmware zip (Chrome,
GMS Core) are 100-200 MB."""
MAX_DEX_BYTES = 64 * 1024 * 1024
"""Largest ``classes*.dex`` we inflate. A DEX holds at most 65,536 method references, which
keeps real ones at 8-20 MB; the DEX parser and call graph need a few times the file in
memory, so a 250 MB one (a 3 MB APK can hold it) is refused as implausible."""
_DEX_NAME = re.compile(r"classes\d*\.dex")
MAX_RATIO = 200
"""Deflate tops out near 1032:1; real DEX/XML/.so compress 2-10:1."""
RATIO_FLOOR = 4 * 1024 * 1024
"""Below this uncompressed size a high ratio is harmless (zeros-padded resources)."""

_LOCAL_SIG = b"PK\x03\x04"
_LOCAL_LEN = 30
_CHUNK = 64 * 1024
_STEP = 1024 * 1024
"""Inflate at most this much per step, so the ratio check runs before memory grows."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    offset: int
    """Offset of the local header, from the central directory."""
    method: int
    compressed_size: int
    size: int


@dataclass(slots=True)
class SafeZip:
    """A zip opened through its central directory. Use :func:`open_zip`."""

    path: Path
    entries: dict[str, Entry]
    problems: list[str] = field(default_factory=list)
    _fh: BinaryIO | None = None

    def names(self) -> list[str]:
        return list(self.entries)

    def read(self, name: str, limit: int | None = None) -> bytes | None:
        """The entry's bytes, or None (with a problem recorded) if it cannot be read safely.

        Without ``limit``, a top-level DEX is bounded by MAX_DEX_BYTES, anything else by
        MAX_ENTRY_BYTES; no limit can exceed MAX_ENTRY_BYTES.
        """
        if limit is None:
            limit = MAX_DEX_BYTES if _DEX_NAME.fullmatch(name) else MAX_ENTRY_BYTES
        entry = self.entries.get(name)
        if entry is None or self._fh is None:
            return None
        if entry.method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self.problems.append(f"{name}: compression method {entry.method} read as stored")
        try:
            return _read_entry(self._fh, entry, min(limit, MAX_ENTRY_BYTES))
        except (OSError, ValueError, zlib.error, struct.error) as exc:
            self.problems.append(f"{name}: {exc}")
            return None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unsafe_name(name: str) -> str | None:
    """Why ``name`` must not be used as a path, or None if it is a plain relative path."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "absolute path"
    if any(part == ".." for part in norm.split("/")):
        return "path traversal"
    if "\x00" in norm:
        return "NUL in name"
    return None


def open_zip(path: Path) -> SafeZip | str:
    """Open ``path`` as a zip, or return why it is not one (the caller reports it).

    Raises OSError only when the file itself cannot be opened.
    """
    fh = path.open("rb")
    try:
        listing = central_directory(fh)
    except OSError:
        fh.close()
        raise
    if isinstance(listing, str):
        fh.close()
        return f"not a zip archive ({listing})"
    problems: list[str] = []
    entries: dict[str, Entry] = {}
    if len(listing) > MAX_ENTRIES:
        problems.append(f"{len(listing)} entries, only the first {MAX_ENTRIES} read")
        listing = listing[:MAX_ENTRIES]
    duplicates = 0
    for info in listing:
        why = unsafe_name(info.name)
        if why:
            problems.append(f"entry {info.name[:200]!r} skipped: {why}")
            continue
        if info.name in entries:
            duplicates += 1
            if duplicates <= 10:
                problems.append(f"duplicate entry {info.name[:200]!r}: first one used")
            continue
        entries[info.name] = info
    if duplicates > 10:
        problems.append(f"{duplicates} duplicate entries in all")
    return SafeZip(path, entries, problems, fh)


_EOCD = struct.Struct("<4s4H2LH")
"""End of central directory: signature, disk numbers and entry counts, directory size
and offset, comment length (APPNOTE 4.3.16)."""
_EOCD_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")
_LOCATOR_SIG = b"PK\x06\x07"
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_EOCD64_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s6H3L5H2L")
"""A central directory header: signature, versions made by and needed, flags, method,
time, date, CRC, sizes, name/extra/comment lengths, disk, attributes, local header
offset (APPNOTE 4.3.12)."""
_CENTRAL_SIG = b"PK\x01\x02"
_UTF8_NAME = 0x800
_ZIP64_EXTRA = 0x0001
_MAX_COMMENT = 0xFFFF


def central_directory(fh: BinaryIO) -> list[Entry] | str:
    """Every entry the central directory lists, in its order, or why there is none.

    What :mod:`zipfile` lists, located the same way (the last end-of-directory record in
    the last 64 KiB, a ZIP64 record just before it, offsets shifted by any bytes put in
    front of the archive) but without its refusals that Android does not share: the
    "version needed to extract" is not read, a name that is not the UTF-8 its flag
    claims is decoded with replacement characters, and a name is kept whole (zipfile
    cuts it at a NUL; :func:`unsafe_name` then skips it).
    """
    size = fh.seek(0, io.SEEK_END)
    if size < _EOCD.size:
        return "file too short for an end of central directory record"
    fh.seek(size - _EOCD.size)
    tail = fh.read(_EOCD.size)
    if tail[:4] == _EOCD_SIG and tail[-2:] == b"\0\0":
        at = size - _EOCD.size
    else:
        start = max(0, size - _MAX_COMMENT - _EOCD.size)
        fh.seek(start)
        tail = fh.read()
        found = tail.rfind(_EOCD_SIG)
        if found < 0 or len(tail) - found < _EOCD.size:
            return "no end of central directory record"
        at = start + found
        tail = tail[found : found + _EOCD.size]
    _, _, _, _, _, cd_size, cd_offset, _ = _EOCD.unpack(tail)
    record = at  # where the directory's end records start
    if at >= _LOCATOR.size + _EOCD64.size:
        fh.seek(at - _LOCATOR.size)
        if fh.read(4) == _LOCATOR_SIG:
            fh.seek(at - _LOCATOR.size - _EOCD64.size)
            raw = fh.read(_EOCD64.size)
            if raw[:4] != _EOCD64_SIG:
                return "ZIP64 end of central directory record missing"
            cd_size, cd_offset = _EOCD64.unpack(raw)[8:10]
            record = at - _LOCATOR.size - _EOCD64.size
    shift = record - cd_size - cd_offset  # bytes before the archive (self-extractors)
    if shift < 0:
        return "central directory beyond its end record"
    fh.seek(cd_offset + shift)
    data = fh.read(cd_size)
    if len(data) < cd_size:
        return "central directory truncated"
    return _entries(data, shift)


def _entries(data: bytes, shift: int) -> list[Entry] | str:
    out: list[Entry] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < _CENTRAL.size:
            return f"central directory truncated at entry {len(out) + 1}"
        fields = _CENTRAL.unpack_from(data, pos)
        if fields[0] != _CENTRAL_SIG:
            return f"bad central directory header at entry {len(out) + 1}"
        flags, method = fields[3], fields[4]
        csize, usize = fields[8], fields[9]
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        offset = fields[16]
        pos += _CENTRAL.size
        end = pos + name_len + extra_len + comment_len
        if end > len(data):
            return f"central directory truncated at entry {len(out) + 1}"
        raw_name = data[pos : pos + name_len]
        name = (
            raw_name.decode("utf-8", "replace") if flags & _UTF8_NAME else raw_name.decode("cp437")
        )
        extra = data[pos + name_len : pos + name_len + extra_len]
        usize, csize, offset = _zip64(extra, usize, csize, offset)
        out.append(Entry(name, offset + shift, method, csize, usize))
        pos = end
    return out


def _zip64(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Sizes and offset from the ZIP64 extra field, for those the header marks as there
    (0xFFFFFFFF), in the field's order (APPNOTE 4.5.3); a damaged field changes none."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + length]
        at += 4 + length
        if tag != _ZIP64_EXTRA:
            continue
        values = [usize, csize, offset]
        i = 0
        for k in range(3):
            if values[k] == 0xFFFFFFFF:
                if i + 8 > len(body):
                    break
                values[k] = int.from_bytes(body[i : i + 8], "little")
                i += 8
        return values[0], values[1], values[2]
    return usize, csize, offset


def _read_entry(fh: BinaryIO, entry: Entry, limit: int) -> bytes:
    if entry.size > limit:
        raise ValueError(f"{entry.size} bytes uncompressed, over the {limit}-byte limit")
    fh.seek(entry.offset)
    local = fh.read(_LOCAL_LEN)
    if len(local) < _LOCAL_LEN or local[:4] != _LOCAL_SIG:
        raise ValueError("no local header at the central directory's offset")
    name_len, extra_len = struct.unpack_from("<HH", local, 26)
    start = entry.offset + _LOCAL_LEN + name_len + extra_len
    if start + entry.compressed_size > fh.seek(0, io.SEEK_END):
        raise ValueError("entry data truncated")
    fh.seek(start)
    if entry.method == zipfile.ZIP_DEFLATED:
        # Deflate never makes data much larger, so a bigger compressed size is a lie.
        if entry.compressed_size > _deflated_bound(limit):
            raise ValueError(f"{entry.compressed_size} bytes compressed, over the limit")
        return _inflate(fh, entry.compressed_size, limit)
    # Stored, or a method no APK uses: read as stored (what the caller parses will say
    # whether that was right); the caller is told through ``SafeZip.read``.
    want = min(entry.compressed_size, entry.size or limit)
    raw = fh.read(want)
    if len(raw) < want:
        raise ValueError("entry data truncated")
    return raw


def _deflated_bound(size: int) -> int:
    """The most a deflate stream of ``size`` bytes of data can take (stored blocks: 5 bytes
    per 64 KiB), with room for the odd encoder."""
    return size + (size >> 10) + 1024


def _inflate(fh: BinaryIO, compressed_size: int, limit: int) -> bytes:
    """Inflate ``compressed_size`` bytes read from ``fh`` in chunks, checking the size and
    ratio after every step.

    The output goes to a BytesIO: ``getvalue()`` hands over its buffer without copying,
    where ``bytes(bytearray)`` would briefly hold the data twice (542 MB of RSS for a
    250 MB classes.dex).
    """
    inflater = zlib.decompressobj(-15)
    out = io.BytesIO()
    produced = consumed = 0
    while not inflater.eof:
        if inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
        elif consumed < compressed_size:
            data = fh.read(min(_CHUNK, compressed_size - consumed))
            if not data:
                raise ValueError("entry data truncated")
            consumed += len(data)
        else:
            raise ValueError("deflate stream cut short by the entry's compressed size")
        produced += out.write(inflater.decompress(data, _STEP))
        _check_growth(produced, consumed - len(inflater.unconsumed_tail), limit)
    return out.getvalue()


def _check_growth(produced: int, consumed: int, limit: int) -> None:
    if produced > limit:
        raise ValueError(f"inflates past the {limit}-byte limit (zip bomb?)")
    if produced > RATIO_FLOOR and produced > MAX_RATIO * max(consumed, 1):
        raise ValueError(f"compression ratio over {MAX_RATIO}:1 (zip bomb?)")
