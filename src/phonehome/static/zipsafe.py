"""Reading APKs and other zips the way Android does, without trusting them.

Android's installer reads the *central directory* and only takes the data offset from the
local header; apps (and malware aimed at analysers) exploit that with local headers that
disagree with the directory, bogus "encrypted" flags, data descriptors, unknown compression
methods read as stored, and duplicate names. Python's :mod:`zipfile` refuses several of
these, so we use it only to list the central directory and read entry data ourselves.

Every read is bounded: entry count, uncompressed size, and compression ratio (zip bombs).
Names that would escape a directory (``..``, absolute paths) are reported and never
read: nothing here writes to disk, but callers that later do must not see them.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MAX_ENTRIES = 200_000
MAX_ENTRY_BYTES = 256 * 1024 * 1024
"""Largest uncompressed entry we inflate (the biggest real classes.dex are ~10-20 MB)."""
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

    def read(self, name: str, limit: int = MAX_ENTRY_BYTES) -> bytes | None:
        """The entry's bytes, or None (with a problem recorded) if it cannot be read safely."""
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
        listing = zipfile.ZipFile(fh).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error) as exc:
        fh.close()
        return f"not a zip archive ({exc})"
    except OSError:
        fh.close()
        raise
    problems: list[str] = []
    entries: dict[str, Entry] = {}
    if len(listing) > MAX_ENTRIES:
        problems.append(f"{len(listing)} entries, only the first {MAX_ENTRIES} read")
        listing = listing[:MAX_ENTRIES]
    duplicates = 0
    for info in listing:
        why = unsafe_name(info.filename)
        if why:
            problems.append(f"entry {info.filename[:200]!r} skipped: {why}")
            continue
        if info.filename in entries:
            duplicates += 1
            if duplicates <= 10:
                problems.append(f"duplicate entry {info.filename[:200]!r}: first one used")
            continue
        entries[info.filename] = Entry(
            info.filename, info.header_offset, info.compress_type, info.compress_size,
            info.file_size,
        )  # fmt: skip
    if duplicates > 10:
        problems.append(f"{duplicates} duplicate entries in all")
    return SafeZip(path, entries, problems, fh)


def _read_entry(fh: BinaryIO, entry: Entry, limit: int) -> bytes:
    if entry.size > limit:
        raise ValueError(f"{entry.size} bytes uncompressed, over the {limit}-byte limit")
    fh.seek(entry.offset)
    local = fh.read(_LOCAL_LEN)
    if len(local) < _LOCAL_LEN or local[:4] != _LOCAL_SIG:
        raise ValueError("no local header at the central directory's offset")
    name_len, extra_len = struct.unpack_from("<HH", local, 26)
    fh.seek(entry.offset + _LOCAL_LEN + name_len + extra_len)
    raw = fh.read(entry.compressed_size)
    if len(raw) < entry.compressed_size:
        raise ValueError("entry data truncated")
    if entry.method == zipfile.ZIP_DEFLATED:
        return _inflate(raw, limit)
    # Stored, or a method no APK uses: read as stored (what the caller parses will say
    # whether that was right); the caller is told through ``SafeZip.read``.
    return raw[: entry.size] if entry.size else raw[:limit]


def _inflate(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(-15)
    out = bytearray()
    pos = 0
    while not inflater.eof:
        if inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
        elif pos < len(raw):
            data = raw[pos : pos + _CHUNK]
            pos += len(data)
        else:
            break
        out += inflater.decompress(data, _STEP)
        _check_growth(len(out), pos - len(inflater.unconsumed_tail), limit)
    return bytes(out)


def _check_growth(produced: int, consumed: int, limit: int) -> None:
    if produced > limit:
        raise ValueError(f"inflates past the {limit}-byte limit (zip bomb?)")
    if produced > RATIO_FLOOR and produced > MAX_RATIO * max(consumed, 1):
        raise ValueError(f"compression ratio over {MAX_RATIO}:1 (zip bomb?)")
