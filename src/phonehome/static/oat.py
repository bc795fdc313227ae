"""Code of pre-compiled system apps: ``oat/<arch>/<name>.odex|.vdex`` beside the APK.

A system image often ships an APK with no ``classes.dex`` and its code compiled ahead of
time. Where the DEX still exists it is inside one of these files:

- Dalvik odex (``dey\\n036``, Android <= 4.4): one DEX at the offset the header gives.
- OAT ``.odex`` (ELF, Android 5-7): DEX files embedded whole in the oat data.
- ``.vdex`` 006/010 (Android 8/8.1): header, one checksum per DEX, then the DEX files
  (quickened: virtual calls become vtable indexes and are not resolvable).
- ``.vdex`` 019/021 (Android 9, 10-11): header (021 adds boot-classpath and class-loader
  context sizes), checksums, then - if the dex section version is not ``000`` - a dex
  section header and the DEX files, each after a 4-byte quickening-table offset. These
  are usually *compact* DEX (``cdex``), which this reader does not decode.
- ``.vdex`` 027 (Android 12+): a table of sections; kind 1 holds DEX files when the
  build put them there at all.

Whatever cannot be had is said so: "code not analysable (vdex version N)".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from phonehome.static.dex import HEADER_SIZE

MAX_OAT_BYTES = 512 * 1024 * 1024
MAX_DEX_FILES = 64
_DEX_ENDIAN = struct.pack("<I", 0x12345678)


@dataclass(slots=True)
class OatCode:
    dex_files: list[tuple[str, bytes]] = field(default_factory=list)
    """(name, DEX bytes) for each DEX recovered."""
    problems: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """The odex/vdex files looked at."""


def find_oat_files(apk: Path, oat_dir: Path | None = None) -> list[Path]:
    """``<oat_dir or apk's folder/oat>/<arch>/<apk stem>.{vdex,odex}``, vdex first."""
    base = oat_dir if oat_dir is not None else apk.parent / "oat"
    if not base.is_dir():
        return []
    found: list[Path] = []
    for arch in sorted(p for p in base.iterdir() if p.is_dir()):
        for ext in (".vdex", ".odex"):
            candidate = arch / (apk.stem + ext)
            if candidate.is_file():
                found.append(candidate)
    for ext in (".vdex", ".odex"):  # oat_dir may be the arch folder itself
        candidate = base / (apk.stem + ext)
        if candidate.is_file():
            found.append(candidate)
    return found


def load_oat_code(paths: list[Path]) -> OatCode:
    """DEX files from the first odex/vdex that has any; a problem for each that has none."""
    out = OatCode()
    for path in paths:
        out.files.append(str(path))
        try:
            if path.stat().st_size > MAX_OAT_BYTES:
                out.problems.append(f"{path.name}: over {MAX_OAT_BYTES} bytes, not read")
                continue
            data = path.read_bytes()
        except OSError as exc:
            out.problems.append(f"{path.name}: unreadable ({exc.strerror or exc})")
            continue
        dexes, problem = extract_dex(data)
        if problem:
            out.problems.append(f"{path.name}: {problem}")
        if dexes:
            out.dex_files = [(f"{path.name}!classes{i + 1}.dex", d) for i, d in enumerate(dexes)]
            return out
    return out


def extract_dex(data: bytes) -> tuple[list[bytes], str | None]:
    """The DEX files in an odex/vdex, and a problem when none could be had."""
    if data[:4] == b"vdex":
        return _vdex(data)
    if data[:4] == b"dey\n":
        return _dalvik_odex(data)
    if data[:4] == b"\x7fELF":
        dexes = _scan_for_dex(data, 0, MAX_DEX_FILES)
        if dexes:
            return dexes, None
        return [], "code not analysable (oat file without embedded DEX; look for the .vdex)"
    return [], "code not analysable (not an odex/vdex file)"


def _vdex(data: bytes) -> tuple[list[bytes], str | None]:
    version = data[4:8].rstrip(b"\0").decode("ascii", "replace")
    try:
        start, count = _vdex_dex_area(version, data)
    except struct.error:
        return [], f"code not analysable (vdex version {version}, truncated header)"
    if start is None:
        return [], f"code not analysable (vdex version {version})"
    dexes = _walk_dex(data, start, count)
    if dexes:
        return dexes, None
    if _find_magic(data, start, b"cdex") is not None:
        return [], f"code not analysable (vdex version {version}, compact dex)"
    return [], f"code not analysable (vdex version {version})"


def _vdex_dex_area(version: str, data: bytes) -> tuple[int | None, int]:
    """Where the DEX files start in a vdex of ``version``, and how many there are."""
    if version in ("006", "010"):
        (count,) = struct.unpack_from("<I", data, 8)
        return 24 + 4 * count, count
    if version in ("019", "021"):
        dex_section_version = data[8:12].rstrip(b"\0")
        (count,) = struct.unpack_from("<I", data, 12)
        header = 20 if version == "019" else 28
        if dex_section_version == b"000":
            return None, count
        return header + 4 * count + 12, count
    if version == "027":
        (sections,) = struct.unpack_from("<I", data, 8)
        for i in range(min(sections, 16)):
            kind, offset, size = struct.unpack_from("<III", data, 12 + 12 * i)
            if kind == 1:
                return (offset, MAX_DEX_FILES) if size else (None, 0)
        return None, 0
    return None, 0


def _walk_dex(data: bytes, start: int, count: int) -> list[bytes]:
    """Consecutive DEX files from ``start`` (4-aligned, a 4-byte prefix allowed)."""
    out: list[bytes] = []
    at = start
    while len(out) < min(count, MAX_DEX_FILES) and at + HEADER_SIZE <= len(data):
        if data[at : at + 4] != b"dex\n" and data[at + 4 : at + 8] == b"dex\n":
            at += 4
        size = _dex_size(data, at)
        if size is None:
            break
        out.append(data[at : at + size])
        at = (at + size + 3) & ~3
    return out


def _dex_size(data: bytes, at: int) -> int | None:
    """The file size of a plausible DEX header at ``at``, else None."""
    if data[at : at + 4] != b"dex\n" or at + HEADER_SIZE > len(data):
        return None
    size, header_size = struct.unpack_from("<II", data, at + 0x20)
    if header_size != HEADER_SIZE or data[at + 0x28 : at + 0x2C] != _DEX_ENDIAN:
        return None
    if size < HEADER_SIZE or at + size > len(data):
        return None
    return int(size)


def _find_magic(data: bytes, start: int, magic: bytes) -> int | None:
    at = data.find(magic, start)
    return None if at < 0 else at


def _scan_for_dex(data: bytes, start: int, limit: int) -> list[bytes]:
    out: list[bytes] = []
    at = data.find(b"dex\n", start)
    while at >= 0 and len(out) < limit:
        size = _dex_size(data, at)
        if size is not None:
            out.append(data[at : at + size])
            at = data.find(b"dex\n", at + size)
        else:
            at = data.find(b"dex\n", at + 4)
    return out


def _dalvik_odex(data: bytes) -> tuple[list[bytes], str | None]:
    if len(data) < 16:
        return [], "code not analysable (odex header truncated)"
    offset, length = struct.unpack_from("<II", data, 8)
    dex = data[offset : offset + length]
    if _dex_size(dex, 0) is None:
        return [], "code not analysable (odex without a readable DEX)"
    return [dex], None
