"""A lean DEX reader: just enough of the format to follow an app's code.

It keeps the file's bytes and reads the id tables in place, decoding a string or a type
name only when asked (a 10 MB classes.dex has ~100k strings; materialising them all as
objects is what makes general-purpose analysers cost 100x the file in memory). Bytecode is
walked instruction by instruction with a width table, and only the references the
analysis needs come out (:class:`Op`): invoke targets, const-string, new-instance,
const-class, field reads. Payload pseudo-instructions (switch tables, array data) are
skipped by their own length; invoke-polymorphic/custom and the quickened opcodes of
vdex-extracted code are stepped over without a resolvable target.

Everything is bounded by the file: an offset or count that points outside it makes the
table or method unreadable (a problem recorded on :attr:`DexFile.problems`), never an
exception out of this module except :class:`DexError` from the constructor.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

HEADER_SIZE = 0x70
_ENDIAN_TAG = 0x12345678
NO_INDEX = 0xFFFFFFFF
MAX_PROBLEMS = 50
_LITTLE = sys.byteorder == "little"


class DexError(ValueError):
    """The bytes are not a DEX file we can read at all."""


class Op(IntEnum):
    """Kinds of reference an instruction makes (the index is into the matching table)."""

    INVOKE = 1
    STRING = 2
    NEW_INSTANCE = 3
    CONST_CLASS = 4
    SGET = 5
    IGET = 6


def _widths() -> bytes:
    """Code units per opcode (Dalvik formats), ART quickened opcodes included."""
    w = bytearray([1]) * 256
    for ops, n in (
        ((0x02, 0x05, 0x08, 0x13, 0x15, 0x16, 0x19, 0x1A, 0x1C, 0x1F, 0x20, 0x22, 0x23), 2),
        ((0x29, *range(0x2D, 0x3E), *range(0x44, 0x6E), *range(0x90, 0xB0)), 2),
        ((*range(0xD0, 0xE9), *range(0xEB, 0xF3), 0xFE, 0xFF), 2),
        ((0x03, 0x06, 0x09, 0x14, 0x17, 0x1B, 0x24, 0x25, 0x26, 0x2A, 0x2B, 0x2C), 3),
        ((*range(0x6E, 0x73), *range(0x74, 0x79), 0xE9, 0xEA, 0xFC, 0xFD), 3),
        ((0xFA, 0xFB), 4),
        ((0x18,), 5),
    ):
        for op in ops:
            w[op] = n
    return bytes(w)


WIDTHS = _widths()
_INVOKES = frozenset((*range(0x6E, 0x73), *range(0x74, 0x79)))
_SGETS = frozenset(range(0x60, 0x67))
_IGETS = frozenset(range(0x52, 0x59))


@dataclass(frozen=True, slots=True)
class ClassDef:
    name: str
    """Descriptor, e.g. ``Lcom/example/Foo;``."""
    superclass: str | None
    interfaces: tuple[str, ...]
    access: int
    methods: tuple[tuple[int, int, int], ...]
    """(method_idx, access_flags, code_off) of direct then virtual methods."""


class DexFile:
    """One DEX file. ``name`` is where it came from (``classes2.dex``, a vdex, ...)."""

    def __init__(self, data: bytes, name: str = "classes.dex") -> None:
        self.name = name
        self.problems: list[str] = []
        if len(data) < HEADER_SIZE or data[:4] != b"dex\n":
            raise DexError("not a DEX file (bad magic)")
        self.version = data[4:7].decode("ascii", "replace")
        (file_size, _header_size, endian) = struct.unpack_from("<III", data, 0x20)
        if endian != _ENDIAN_TAG:
            raise DexError(f"unsupported endian tag 0x{endian:08x}")
        if file_size < HEADER_SIZE:
            # A file_size smaller than the header is a lie: cutting to it would leave no
            # header to read. Keep the bytes and say so.
            self._problem(f"header says {file_size} bytes, less than a DEX header")
        elif file_size < len(data):
            data = data[:file_size]
        elif file_size > len(data):
            self._problem(f"header says {file_size} bytes, file has {len(data)}")
        self.data = data
        sizes = struct.unpack_from("<12I", data, 0x38)
        self._strings = self._table(sizes[0], sizes[1], 4, "string_ids")
        self._types = self._table(sizes[2], sizes[3], 4, "type_ids")
        self._protos = self._table(sizes[4], sizes[5], 12, "proto_ids")
        self._fields = self._table(sizes[6], sizes[7], 8, "field_ids")
        self._methods = self._table(sizes[8], sizes[9], 8, "method_ids")
        self._class_defs = self._table(sizes[10], sizes[11], 32, "class_defs")
        self._type_cache: dict[int, str] = {}

    def _problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{self.name}: {text}")

    def _table(self, count: int, offset: int, item: int, what: str) -> tuple[int, int]:
        if count == 0:
            return (0, 0)
        if offset + count * item > len(self.data) or offset < HEADER_SIZE:
            fit = max(0, (len(self.data) - offset) // item) if offset >= HEADER_SIZE else 0
            self._problem(f"{what} table out of bounds: {fit} of {count} entries read")
            count = fit
        return (count, offset)

    @property
    def string_count(self) -> int:
        return self._strings[0]

    @property
    def method_count(self) -> int:
        return self._methods[0]

    @property
    def field_count(self) -> int:
        return self._fields[0]

    @property
    def class_count(self) -> int:
        return self._class_defs[0]

    def string(self, index: int) -> str:
        """String ``index`` (MUTF-8; characters outside the BMP come out replaced)."""
        count, base = self._strings
        if index >= count:
            return ""
        (at,) = struct.unpack_from("<I", self.data, base + 4 * index)
        if at >= len(self.data):
            return ""
        return self.raw_string(index).decode("utf-8", "replace")

    def raw_string(self, index: int) -> bytes:
        """String ``index`` as stored, for fast byte-level filtering before decoding."""
        count, base = self._strings
        if index >= count:
            return b""
        (at,) = struct.unpack_from("<I", self.data, base + 4 * index)
        if at + 5 >= len(self.data):
            return b""
        n, at = _uleb(self.data, at)
        end = self.data.find(b"\0", at, at + 3 * n + 1)
        return self.data[at : end if end >= 0 else min(at + 3 * n, len(self.data))]

    def type_name(self, index: int) -> str:
        hit = self._type_cache.get(index)
        if hit is None:
            count, base = self._types
            if index >= count:
                return ""
            (s,) = struct.unpack_from("<I", self.data, base + 4 * index)
            hit = self.string(s)
            self._type_cache[index] = hit
        return hit

    def method_ref(self, index: int) -> tuple[str, str]:
        """(class descriptor, method name) of method_ids[index]."""
        count, base = self._methods
        if index >= count:
            return ("", "")
        cls, _proto, name = struct.unpack_from("<HHI", self.data, base + 8 * index)
        return self.type_name(cls), self.string(name)

    def method_return(self, index: int) -> str:
        """Return type descriptor of method_ids[index] (``V``, ``Ljava/lang/String;``)."""
        count, base = self._methods
        pcount, pbase = self._protos
        if index >= count:
            return ""
        (proto,) = struct.unpack_from("<H", self.data, base + 8 * index + 2)
        if proto >= pcount:
            return ""
        (ret,) = struct.unpack_from("<I", self.data, pbase + 12 * proto + 4)
        return self.type_name(ret)

    def field_ref(self, index: int) -> tuple[str, str]:
        """(class descriptor, field name) of field_ids[index]."""
        count, base = self._fields
        if index >= count:
            return ("", "")
        cls, _type, name = struct.unpack_from("<HHI", self.data, base + 8 * index)
        return self.type_name(cls), self.string(name)

    def classes(self) -> Iterator[ClassDef]:
        """Class definitions, one at a time (nothing is kept once the caller moves on)."""
        count, base = self._class_defs
        for i in range(count):
            cls, access, sup, ifaces_off, _src, _ann, data_off, _static = struct.unpack_from(
                "<8I", self.data, base + 32 * i
            )
            try:
                methods = self._class_methods(data_off) if data_off else ()
            except (IndexError, struct.error, ValueError):
                self._problem(f"class_data of {self.type_name(cls)} unreadable")
                methods = ()
            yield ClassDef(
                self.type_name(cls),
                None if sup == NO_INDEX else self.type_name(sup),
                self._type_list(ifaces_off),
                access,
                methods,
            )

    def _type_list(self, offset: int) -> tuple[str, ...]:
        if not offset or offset + 4 > len(self.data):
            return ()
        (n,) = struct.unpack_from("<I", self.data, offset)
        n = min(n, max(0, (len(self.data) - offset - 4) // 2), 1024)
        idx = struct.unpack_from(f"<{n}H", self.data, offset + 4)
        return tuple(self.type_name(t) for t in idx)

    def _class_methods(self, offset: int) -> tuple[tuple[int, int, int], ...]:
        data = self.data
        sf, at = _uleb(data, offset)
        inf, at = _uleb(data, at)
        direct, at = _uleb(data, at)
        virtual, at = _uleb(data, at)
        if sf + inf + direct + virtual > len(data):
            raise ValueError("class_data counts exceed the file")
        for _ in range(sf + inf):
            _, at = _uleb(data, at)
            _, at = _uleb(data, at)
        out: list[tuple[int, int, int]] = []
        for n in (direct, virtual):
            idx = 0
            for _ in range(n):
                diff, at = _uleb(data, at)
                access, at = _uleb(data, at)
                code, at = _uleb(data, at)
                idx += diff
                out.append((idx, access, code))
        return tuple(out)

    def code(self, code_off: int) -> Iterator[tuple[Op, int]]:
        """The references made by the code item at ``code_off``, in bytecode order."""
        data = self.data
        if not code_off or code_off + 16 > len(data):
            return
        (n,) = struct.unpack_from("<I", data, code_off + 12)
        start = code_off + 16
        if start + 2 * n > len(data):
            self._problem(f"code item at {code_off} overruns the file")
            n = (len(data) - start) // 2
        units = self._units(start, n)
        widths = WIDTHS
        i = 0
        while i < n:
            unit = units[i]
            op = unit & 0xFF
            if op == 0x00 and unit and i + 1 < n:
                i += self._payload_width(units, i, n)
                continue
            if i + 1 < n:
                if op in _INVOKES:
                    yield Op.INVOKE, units[i + 1]
                elif op == 0x1A:
                    yield Op.STRING, units[i + 1]
                elif op == 0x1B and i + 2 < n:
                    yield Op.STRING, units[i + 1] | (units[i + 2] << 16)
                elif op == 0x22:
                    yield Op.NEW_INSTANCE, units[i + 1]
                elif op == 0x1C:
                    yield Op.CONST_CLASS, units[i + 1]
                elif op in _SGETS:
                    yield Op.SGET, units[i + 1]
                elif op in _IGETS:
                    yield Op.IGET, units[i + 1]
            i += widths[op]

    @staticmethod
    def _payload_width(units: memoryview | array[int], i: int, n: int) -> int:
        ident, size = units[i], units[i + 1]
        if ident == 0x0100:
            return size * 2 + 4
        if ident == 0x0200:
            return size * 4 + 2
        if ident == 0x0300 and i + 3 < n:
            count = units[i + 2] | (units[i + 3] << 16)
            return (count * size + 1) // 2 + 4
        return 1

    def _units(self, start: int, n: int) -> memoryview | array[int]:
        if _LITTLE:
            return memoryview(self.data)[start : start + 2 * n].cast("H")
        units = array("H", self.data[start : start + 2 * n])
        units.byteswap()
        return units


def _uleb(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80 or shift >= 28:
            return result, at
        shift += 7


def looks_like_dex(data: bytes) -> bool:
    return len(data) >= HEADER_SIZE and data[:4] == b"dex\n"
