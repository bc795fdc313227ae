"""Write the two binary test blobs the APK sources cannot express as text.

- ``src/oatonly/lib/arm64-v8a/libsimreport.so``: a minimal ELF64 AArch64 shared-object
  header followed by read-only strings, one of them a cleartext endpoint, so the analysis
  of an app without classes.dex still finds "native-library endpoints".
- ``firmware/<tree>/system/priv-app/OatOnly/oat/arm64/OatOnly.vdex``: a vdex header
  (Android 12+ layout, version 027) whose dex section is empty — the code of the app is not
  recoverable from it, which is the case the analysis must report as "code not analysable
  (vdex version 027)" instead of skipping the app.

Run by build.sh; the outputs are committed so CI needs neither this script nor Java.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

NATIVE_STRINGS = [
    b"simreport",
    b"http://sim.oatonly.example.net/report",
    b"POST %s HTTP/1.1",
]

VDEX_VERSION = b"027\x00"
# Section kinds of the version-027 layout: checksums, dex files, verifier deps, type lookup.
VDEX_SECTIONS = 4


def elf_shared_object(strings: list[bytes]) -> bytes:
    data = b"\x00" + b"\x00".join(strings) + b"\x00"
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, SysV
    header += struct.pack(
        "<HHIQQQIHHHHHH",
        3,  # e_type: ET_DYN
        183,  # e_machine: EM_AARCH64
        1,  # e_version
        0,  # e_entry
        0,  # e_phoff: no program headers
        0,  # e_shoff: no section headers
        0,  # e_flags
        64,  # e_ehsize
        56,  # e_phentsize
        0,  # e_phnum
        64,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    assert len(header) == 64
    return header + data


def vdex_without_dex() -> bytes:
    header = b"vdex" + VDEX_VERSION + struct.pack("<I", VDEX_SECTIONS)
    table_end = len(header) + VDEX_SECTIONS * 12
    checksums = struct.pack("<I", 0)  # no dex file: zero checksums follow
    sections = [
        (0, table_end, 0),  # kChecksumSection
        (1, table_end, 0),  # kDexFileSection: empty, the code is not in this file
        (2, table_end, len(checksums)),  # kVerifierDepsSection
        (3, table_end + len(checksums), 0),  # kTypeLookupTableSection
    ]
    table = b"".join(struct.pack("<III", *s) for s in sections)
    return header + table + checksums


def main(args: list[str]) -> None:
    lib = HERE / "src/oatonly/lib/arm64-v8a/libsimreport.so"
    lib.parent.mkdir(parents=True, exist_ok=True)
    lib.write_bytes(elf_shared_object(NATIVE_STRINGS))
    for target in args:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(vdex_without_dex())


if __name__ == "__main__":
    main(sys.argv[1:])
