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
        listing = zipfile.ZipFile(fh).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error) as exc:
        fh.close()
        return f"not a zip archive ({exc})"
    except NotImplementedError as exc:
        # zipfile refuses a whole listing when one entry claims a "version needed to
        # extract" above 6.3 (found by fuzzing); Android ignores that field, so such an
        # archive may still install: say so rather than call it "not a zip".
        fh.close()
        return f"zip archive the reader does not support ({exc})"
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
