"""Android binary XML (AXML, ``AndroidManifest.xml`` inside an APK) to a small element tree.

The format is a sequence of resource chunks (``ResChunk_header``: type, header size, total
size): a string pool, a resource map (string index -> ``android.R.attr`` id), then
namespace/element start and end events. Android itself resolves attributes by the resource
id, not by the name string, and obfuscators exploit that by blanking or renaming the name
strings; so attribute names come from the resource id where it is a known ``android:``
attribute. Damage (truncated chunks, sizes that overrun the file, unknown chunk types,
string indexes out of range) becomes a problem in :attr:`AxmlDocument.problems` and the
parse keeps what it has; nothing here raises on bad bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

ANDROID_NS = "http://schemas.android.com/apk/res/android"

MAX_ELEMENTS = 50_000
MAX_DEPTH = 100
MAX_ATTRIBUTES = 256
MAX_TEXT = 4096
MAX_STRING_CHARS = 64 * 1024

_XML = 0x0003
_STRING_POOL = 0x0001
_RESOURCE_MAP = 0x0180
_START_NS = 0x0100
_END_NS = 0x0101
_START_ELEMENT = 0x0102
_END_ELEMENT = 0x0103
_CDATA = 0x0104
_UTF8_FLAG = 0x100
_NO_INDEX = 0xFFFFFFFF

# Res_value data types
TYPE_NULL = 0x00
TYPE_REFERENCE = 0x01
TYPE_ATTRIBUTE = 0x02
TYPE_STRING = 0x03
TYPE_FLOAT = 0x04
TYPE_INT_DEC = 0x10
TYPE_INT_HEX = 0x11
TYPE_BOOLEAN = 0x12

ANDROID_ATTRS: dict[int, str] = {
    0x01010003: "name",
    0x01010006: "permission",
    0x0101000B: "sharedUserId",
    0x0101000E: "enabled",
    0x0101000F: "debuggable",
    0x01010010: "exported",
    0x0101001C: "priority",
    0x0101020C: "minSdkVersion",
    0x0101021B: "versionCode",
    0x0101021C: "versionName",
    0x01010270: "targetSdkVersion",
    0x01010280: "allowBackup",
    0x010104EC: "usesCleartextTraffic",
    0x01010527: "networkSecurityConfig",
}
"""``android.R.attr`` ids of the attributes the manifest reader uses (public, stable)."""

AttrValue = str | int | bool | float | None


@dataclass(slots=True)
class XmlElement:
    tag: str
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    """Keyed by local name for ``android:`` and unqualified attributes, ``{uri}name``
    otherwise. References print as ``@0x7f0b0001``."""
    children: list[XmlElement] = field(default_factory=list)
    text: str = ""
    """Character data directly inside the element (CDATA chunks joined; bounded by
    ``MAX_TEXT``), e.g. the host name of a network security config's ``<domain>``."""

    def iter(self, tag: str | None = None) -> list[XmlElement]:
        """This element and all below it (document order), optionally only ``tag``."""
        out: list[XmlElement] = []
        stack = [self]
        while stack:
            node = stack.pop()
            if tag is None or node.tag == tag:
                out.append(node)
            stack.extend(reversed(node.children))
        return out

    def find_all(self, tag: str) -> list[XmlElement]:
        return [c for c in self.children if c.tag == tag]


@dataclass(slots=True)
class AxmlDocument:
    root: XmlElement | None
    problems: list[str] = field(default_factory=list)


class _Strings:
    """The string pool, decoded lazily: big pools (resources.arsc-sized) cost only what
    is looked up."""

    def __init__(self, data: bytes, start: int, problems: list[str]) -> None:
        self._data = data
        self._cache: dict[int, str] = {}
        self.count = 0
        self._offsets: tuple[int, ...] = ()
        self._base = 0
        self._utf8 = False
        self._end = start
        self._problems = problems
        self._parse(start)

    def _parse(self, start: int) -> None:
        data = self._data
        if start + 28 > len(data):
            self._problems.append("string pool header truncated")
            return
        _, header_size, size, count, _styles, flags, strings_start, _ = struct.unpack_from(
            "<HHIIIIII", data, start
        )
        end = min(start + size, len(data))
        if start + size > len(data):
            self._problems.append("string pool overruns the file")
        max_count = max(0, (end - start - header_size) // 4)
        if count > max_count:
            self._problems.append(f"string pool claims {count} strings, room for {max_count}")
            count = max_count
        self.count = count
        offsets_at = start + header_size
        self._offsets = struct.unpack_from(f"<{count}I", data, offsets_at)
        self._base = start + strings_start
        self._utf8 = bool(flags & _UTF8_FLAG)
        self._end = end

    def get(self, index: int) -> str | None:
        if index == _NO_INDEX or index >= self.count:
            return None
        hit = self._cache.get(index)
        if hit is None:
            hit = self._decode(self._base + self._offsets[index])
            self._cache[index] = hit
        return hit

    def _decode(self, at: int) -> str:
        data, end = self._data, self._end
        try:
            if self._utf8:
                _, at = _len8(data, at)
                n, at = _len8(data, at)
                n = min(n, MAX_STRING_CHARS, max(0, end - at))
                return data[at : at + n].decode("utf-8", "replace")
            n, at = _len16(data, at)
            n = min(n, MAX_STRING_CHARS, max(0, (end - at) // 2))
            return data[at : at + 2 * n].decode("utf-16-le", "replace")
        except (IndexError, struct.error):
            self._problems.append("string outside the pool")
            return ""


def _len8(data: bytes, at: int) -> tuple[int, int]:
    n = data[at]
    if n & 0x80:
        return ((n & 0x7F) << 8) | data[at + 1], at + 2
    return n, at + 1


def _len16(data: bytes, at: int) -> tuple[int, int]:
    (n,) = struct.unpack_from("<H", data, at)
    if n & 0x8000:
        (low,) = struct.unpack_from("<H", data, at + 2)
        return ((n & 0x7FFF) << 16) | low, at + 4
    return n, at + 2


def parse_axml(data: bytes) -> AxmlDocument:
    """Parse binary XML; what cannot be read is a problem, never an exception."""
    problems: list[str] = []
    try:
        root = _Parser(data, problems).run()
    except (struct.error, IndexError, ValueError) as exc:  # a bound we did not foresee
        problems.append(f"binary XML unreadable: {exc}")
        root = None
    return AxmlDocument(root, problems)


class _Parser:
    def __init__(self, data: bytes, problems: list[str]) -> None:
        self.data = data
        self.problems = problems
        self.strings: _Strings | None = None
        self.res_ids: tuple[int, ...] = ()
        self.root: XmlElement | None = None
        self.stack: list[XmlElement] = []
        self.elements = 0

    def run(self) -> XmlElement | None:
        data = self.data
        if len(data) < 8:
            self.problems.append("binary XML too short")
            return None
        kind, header_size, size = struct.unpack_from("<HHI", data, 0)
        if kind != _XML:
            self.problems.append(f"not binary XML (chunk type 0x{kind:04x})")
            if data.lstrip()[:1] == b"<":
                self.problems.append("file is plain-text XML")
            return None
        if size != len(data):
            self.problems.append(f"XML chunk size {size} but file has {len(data)} bytes")
        pos = header_size if 8 <= header_size <= 64 else 8
        while pos + 8 <= len(data):
            kind, header_size, size = struct.unpack_from("<HHI", data, pos)
            if size < 8 or header_size < 8 or header_size > size:
                self.problems.append(f"bad chunk at {pos} (size {size}, header {header_size})")
                break
            if pos + size > len(data):
                self.problems.append(f"chunk at {pos} overruns the file")
            if not self._chunk(kind, pos, header_size, size):
                break
            pos += size
        if self.stack:
            self.problems.append(f"{len(self.stack)} elements not closed")
        return self.root

    def _chunk(self, kind: int, pos: int, header_size: int, size: int) -> bool:
        if kind == _STRING_POOL:
            if self.strings is None:
                self.strings = _Strings(self.data, pos, self.problems)
        elif kind == _RESOURCE_MAP:
            n = min(size, len(self.data) - pos) - header_size
            self.res_ids = struct.unpack_from(f"<{max(n, 0) // 4}I", self.data, pos + header_size)
        elif kind == _START_ELEMENT:
            return self._start(pos, header_size)
        elif kind == _END_ELEMENT:
            if self.stack:
                self.stack.pop()
        elif kind == _CDATA:
            self._text(pos, header_size)
        elif kind not in (_START_NS, _END_NS):
            self.problems.append(f"unknown chunk type 0x{kind:04x} skipped")
        return True

    def _string(self, index: int) -> str | None:
        return self.strings.get(index) if self.strings else None

    def _text(self, pos: int, header_size: int) -> None:
        """ResXMLTree_cdataExt: the text's string index (then a typed value we skip)."""
        if not self.stack or pos + header_size + 4 > len(self.data):
            return
        (index,) = struct.unpack_from("<I", self.data, pos + header_size)
        element = self.stack[-1]
        if len(element.text) < MAX_TEXT:
            element.text = (element.text + (self._string(index) or ""))[:MAX_TEXT]

    def _start(self, pos: int, header_size: int) -> bool:
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            self.problems.append(f"over {MAX_ELEMENTS} elements: rest skipped")
            return False
        at = pos + header_size
        _ns, name, attr_start, attr_size, count = struct.unpack_from("<IIHHH", self.data, at)
        element = XmlElement(self._string(name) or "")
        if count > MAX_ATTRIBUTES:
            self.problems.append(f"element {element.tag!r} with {count} attributes: truncated")
            count = MAX_ATTRIBUTES
        step = attr_size if attr_size >= 20 else 20
        for i in range(count):
            a = at + attr_start + i * step
            if a + 20 > len(self.data):
                self.problems.append(f"attributes of {element.tag!r} truncated")
                break
            key, value = self._attribute(a)
            if key:
                element.attrs[key] = value
        if self.stack:
            if len(self.stack) >= MAX_DEPTH:
                self.problems.append(f"nesting deeper than {MAX_DEPTH}: rest skipped")
                return False
            self.stack[-1].children.append(element)
        elif self.root is None:
            self.root = element
        else:
            self.problems.append(f"second root element {element.tag!r} ignored")
            return True
        self.stack.append(element)
        return True

    def _attribute(self, at: int) -> tuple[str, AttrValue]:
        ns_i, name_i, raw_i, _size, _res0, dtype, data = struct.unpack_from(
            "<IIIHBBI", self.data, at
        )
        ns = self._string(ns_i)
        name = ANDROID_ATTRS.get(self.res_ids[name_i]) if name_i < len(self.res_ids) else None
        if name is not None:
            ns = ANDROID_NS
        else:
            name = self._string(name_i) or ""
        key = name if ns in (None, "", ANDROID_NS) else f"{{{ns}}}{name}"
        return key, self._value(dtype, data, raw_i)

    def _value(self, dtype: int, data: int, raw_i: int) -> AttrValue:
        if dtype == TYPE_STRING:
            return self._string(data) or self._string(raw_i) or ""
        if dtype == TYPE_BOOLEAN:
            return data != 0
        if dtype in (TYPE_INT_DEC, TYPE_INT_HEX) or 0x1C <= dtype <= 0x1F:
            return data - (1 << 32) if dtype == TYPE_INT_DEC and data >= 1 << 31 else data
        if dtype == TYPE_REFERENCE:
            return f"@0x{data:08x}"
        if dtype == TYPE_ATTRIBUTE:
            return f"?0x{data:08x}"
        if dtype == TYPE_FLOAT:
            return float(struct.unpack("<f", struct.pack("<I", data))[0])
        if dtype == TYPE_NULL:
            return self._string(raw_i)
        return data
