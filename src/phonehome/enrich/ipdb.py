"""IP address -> AS number, AS organisation and registration country, offline.

The table ships as ``data/ipdb.bin.gz``, built by :func:`phonehome.databuild.rebuild_ipdb`
from the ``@ip-location-db`` npm packages. Upstream has two CSV sets with different range
boundaries (one for ASN + organisation, one for country); the build merges them into one
flat, non-overlapping interval map per address family, so a lookup is one binary search
over a sorted ``array`` of range starts plus an index into a small record table.

Layout (all integers little-endian, the whole file gzip'd):

- ``MAGIC``, then a 4-byte header length and a JSON header (counts, the byte length of
  the organisation names, country codes, the source packages with version, date and
  licence);
- records: ``uint32`` ASN (0 = unknown) and ``uint16`` index into the country codes
  (0xFFFF = unknown); record 0 means "no data" and covers the gaps and every private,
  documentation or otherwise special-purpose block;
- organisations: sorted ``uint32`` ASNs and their names, NUL-separated UTF-8;
- IPv4: range starts as ``uint32`` byte planes (below), then one ``uint32`` record index
  per range;
- IPv6, last, so that it is inflated only on the first IPv6 lookup: the high 64 bits of
  each start as ``uint64`` byte planes, the low 64 bits as ``uint64``, then the record
  indexes. Starts are compared as (high, low) pairs, which avoids building a list of
  128-bit Python integers at load time.

The sorted start arrays are stored as byte planes: every value's first byte, then every
value's second byte, and so on. Neighbouring starts share their high bytes, so those
planes are long runs and the gzip'd file is only 3 % larger than with the deltas the
first version stored (3.36 vs 3.26 MB), while putting the planes back together is a few
strided slice copies in C where undoing deltas was an ``itertools.accumulate`` over a
million Python integers: decoding the table went from ~135 ms to ~30 ms (measured side
by side on the shared 2-core VM), a tenth of a small scan. Where an address is
registered is not proof of where data is processed; callers word it that way (see
:mod:`phonehome.enrich.jurisdiction`).
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import struct
import sys
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any

FILE = "ipdb.bin.gz"
MAGIC = b"PHIPDB\x02\n"
NO_COUNTRY = 0xFFFF
MAX_FILE = 64 * 1024 * 1024
"""Refuse to decompress more than this: the bundled file is about a quarter of it."""
_MAX_IP_TEXT = 64
INDEX_AFTER = 256
"""IPv4 lookups after which :class:`IpTable` builds its /16 index (see there)."""
_LOW64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class IpInfo:
    asn: int | None
    """None where the address is in a registered country block but no AS announces it."""
    as_org: str | None
    country: str | None
    """ISO 3166 alpha-2 of the registration, upper case."""


@dataclass(frozen=True, slots=True)
class Source:
    """One upstream package the table was built from."""

    name: str
    version: str
    date: str
    licence: str


@dataclass(frozen=True, slots=True)
class Tables:
    """The decoded table: what :func:`encode` writes and :func:`decode` returns."""

    v4_starts: array[int]
    v4_records: array[int]
    v6_high: array[int]
    v6_low: array[int]
    v6_records: array[int]
    record_asn: array[int]
    record_country: array[int]
    countries: list[str]
    org_asns: array[int]
    org_names: list[str]
    sources: list[Source]


def _le(a: array[int]) -> bytes:
    if sys.byteorder == "big":
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _planes(a: array[int]) -> bytes:
    """Little-endian values as byte planes (see the module docstring)."""
    data, width = _le(a), a.itemsize
    return b"".join(data[i::width] for i in range(width))


def _unplanes(planes: memoryview, width: int) -> bytes:
    count = len(planes) // width
    out = bytearray(len(planes))
    for i in range(width):
        out[i::width] = planes[i * count : (i + 1) * count]
    return bytes(out)


def encode(t: Tables) -> bytes:
    """Serialise ``t`` (uncompressed; the caller gzips). Starts must be sorted ascending."""
    header = {
        "v4": len(t.v4_starts),
        "v6": len(t.v6_high),
        "records": len(t.record_asn),
        "orgs": len(t.org_asns),
        "countries": t.countries,
        "sources": [
            {"name": s.name, "version": s.version, "date": s.date, "licence": s.licence}
            for s in t.sources
        ],
    }
    names = "\0".join(t.org_names).encode("utf-8")
    header["names"] = len(names)
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    parts = [
        MAGIC,
        struct.pack("<I", len(head)),
        head,
        _le(t.record_asn),
        _le(t.record_country),
        _le(t.org_asns),
        names,
        _planes(t.v4_starts),
        _le(t.v4_records),
        _planes(t.v6_high),
        _le(t.v6_low),
        _le(t.v6_records),
    ]
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError("truncated IP table")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def ints(self, typecode: str, count: int) -> array[int]:
        a = array(typecode)
        a.frombytes(self.take(count * a.itemsize))
        if sys.byteorder == "big":
            a.byteswap()
        return a

    def planes(self, typecode: str, count: int) -> array[int]:
        a = array(typecode)
        a.frombytes(_unplanes(self.take(count * a.itemsize), a.itemsize))
        if sys.byteorder == "big":
            a.byteswap()
        return a


def _header(data: bytes) -> tuple[dict[str, Any], int]:
    """The header and the offset after it."""
    size = _header_size(data)
    start = len(MAGIC) + 4
    return _header_json(bytes(data[start : start + size])), start + size


def _header_size(data: bytes) -> int:
    """The header's length, from the file's first ``len(MAGIC) + 4`` bytes."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise ValueError("not a phonehome IP table")
    (size,) = struct.unpack_from("<I", data, len(MAGIC))
    return int(size)


def _header_json(raw: bytes) -> dict[str, Any]:
    header = json.loads(raw)
    if not isinstance(header, dict):
        raise ValueError("bad IP table header")
    return header


def _sources(header: dict[str, Any]) -> list[Source]:
    return [
        Source(str(s["name"]), str(s["version"]), str(s["date"]), str(s["licence"]))
        for s in header.get("sources", [])
    ]


def decode(data: bytes) -> Tables:
    """Parse :func:`encode`'s output; ``ValueError`` when it is not one."""
    try:
        return _decode(data)
    except (KeyError, TypeError, IndexError, struct.error) as e:
        raise ValueError(f"damaged IP table: {e!r}") from e


def _decode(data: bytes) -> Tables:
    header, offset = _header(data)
    r = _Reader(data)
    r.pos = offset
    t = _first_part(header, r)
    v6 = _ipv6_part(header, r)
    if r.pos != len(r.data):
        raise ValueError("IP table longer than its header says")
    return replace(t, v6_high=v6[0], v6_low=v6[1], v6_records=v6[2])


def _counts(header: dict[str, Any]) -> tuple[int, int, int, int, int]:
    n4, n6, nrec, norg, names = (int(header[k]) for k in ("v4", "v6", "records", "orgs", "names"))
    if min(n4, n6, nrec, norg, names) < 0:
        raise ValueError("bad IP table header")
    return n4, n6, nrec, norg, names


def _first_size(header: dict[str, Any]) -> int:
    """Bytes after the header up to the end of the IPv4 part."""
    n4, _, nrec, norg, names = _counts(header)
    return nrec * 6 + norg * 4 + names + n4 * 8


def _first_part(header: dict[str, Any], r: _Reader) -> Tables:
    """Records, organisations and IPv4 (the IPv6 arrays left empty)."""
    n4, _, nrec, norg, names_size = _counts(header)
    record_asn = r.ints("I", nrec)
    record_country = r.ints("H", nrec)
    org_asns = r.ints("I", norg)
    raw_names = bytes(r.take(names_size))
    names = raw_names.decode("utf-8").split("\0") if norg else []
    if len(names) != norg:
        raise ValueError("IP table organisation names do not match their count")
    v4_starts = r.planes("I", n4)
    v4_records = r.ints("I", n4)
    return Tables(
        v4_starts,
        v4_records,
        array("Q"),
        array("Q"),
        array("I"),
        record_asn,
        record_country,
        [str(c) for c in header["countries"]],
        org_asns,
        names,
        _sources(header),
    )


Ipv6Arrays = tuple["array[int]", "array[int]", "array[int]"]
"""Starts' high and low 64 bits, record indexes."""


def _ipv6_part(header: dict[str, Any], r: _Reader) -> Ipv6Arrays:
    n6 = _counts(header)[1]
    return r.planes("Q", n6), r.ints("Q", n6), r.ints("I", n6)


def _open_bundled() -> gzip.GzipFile:
    raw = resources.files("phonehome").joinpath("data", FILE).read_bytes()
    return gzip.GzipFile(fileobj=io.BytesIO(raw))


def _read_bundled() -> bytes:
    with _open_bundled() as gz:
        data = gz.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError(f"{FILE}: larger than {MAX_FILE} bytes once decompressed")
    return data


class IpTable:
    """The loaded table with the lookup over it.

    ``v6_loader``, when given, reads the IPv6 arrays (empty in ``t`` until then) on the
    first IPv6 lookup: they are the second half of the bundled file, and most captures'
    findings go to IPv4 addresses only."""

    def __init__(
        self,
        t: Tables,
        v6_loader: Callable[[], tuple[array[int], array[int], array[int]]] | None = None,
    ) -> None:
        self.t = t
        self._v6_loader = v6_loader
        # Where each /16 starts in the IPv4 array: a lookup then bisects a few entries
        # instead of all of them, which roughly halves its cost. Building it costs ~45 ms
        # (65,537 bisects), a quarter of the table's load time, while a scan looks up a
        # few dozen destinations (cached): so it is built only once a caller has made
        # INDEX_AFTER lookups, and until then a lookup bisects the whole array.
        self._v4_index: array[int] | None = None
        self._v4_lookups = 0
        self._v6_keys: list[int] | None = None
        # IpInfo objects are made on first use: most records are never looked up.
        self._infos: list[IpInfo | None] = [None] * len(t.record_asn)

    def _info(self, record: int) -> IpInfo | None:
        info = self._infos[record]
        if info is None and record:
            t = self.t
            asn, cc = t.record_asn[record], t.record_country[record]
            info = IpInfo(
                asn or None,
                self._org(asn) if asn else None,
                t.countries[cc] if cc != NO_COUNTRY else None,
            )
            self._infos[record] = info
        return info

    def _org(self, asn: int) -> str | None:
        i = bisect_left(self.t.org_asns, asn)
        if i < len(self.t.org_asns) and self.t.org_asns[i] == asn:
            return self.t.org_names[i] or None
        return None

    def lookup_v4(self, addr: int) -> IpInfo | None:
        index = self._v4_index
        starts = self.t.v4_starts
        if index is None:
            self._v4_lookups += 1
            if self._v4_lookups >= INDEX_AFTER:
                index = self._v4_index = array(
                    "I", (bisect_left(starts, p << 16) for p in range(65537))
                )
        if index is None:
            i = bisect_right(starts, addr) - 1
        else:
            p = addr >> 16
            i = bisect_right(starts, addr, index[p], index[p + 1]) - 1
        return self._info(self.t.v4_records[i]) if i >= 0 else None

    def _with_ipv6(self) -> Tables:
        loader = self._v6_loader
        if loader is not None:
            self._v6_loader = None
            try:
                high, low, records = loader()
            except (OSError, ValueError, EOFError, zlib.error, struct.error):
                # damaged after the IPv4 part: IPv6 addresses stay unknown
                high, low, records = array("Q"), array("Q"), array("I")
            self.t = replace(self.t, v6_high=high, v6_low=low, v6_records=records)
        return self.t

    def lookup_v6(self, addr: int) -> IpInfo | None:
        keys = self._v6_keys
        if keys is None:
            # One sorted list of 128-bit starts, made on the first IPv6 lookup (~30 ms,
            # ~18 MB): a single bisect over Python ints is twice as fast as bisecting
            # the high and low 64-bit arrays in turn (1.2 vs 0.6 M lookups/s).
            t = self._with_ipv6()
            pairs = zip(t.v6_high, t.v6_low, strict=True)
            keys = self._v6_keys = [(h << 64) | lo for h, lo in pairs]
        i = bisect_right(keys, addr) - 1
        return self._info(self.t.v6_records[i]) if i >= 0 else None

    def lookup_v6_pairs(self, addr: int) -> IpInfo | None:
        """The same lookup over the two 64-bit arrays (the reference the tests compare
        :meth:`lookup_v6` with)."""
        high, low = addr >> 64, addr & _LOW64
        t = self._with_ipv6()
        first = bisect_left(t.v6_high, high)
        last = bisect_right(t.v6_high, high, first)
        i = bisect_right(t.v6_low, low, first, last) - 1 if first < last else first - 1
        return self._info(t.v6_records[i]) if i >= 0 else None

    def lookup(self, ip: str) -> IpInfo | None:
        return _lookup_in(self, ip)


def _lookup_in(table: IpTable, ip: str) -> IpInfo | None:
    if ":" not in ip:  # the common case first: a plain dotted quad
        try:
            return table.lookup_v4(int.from_bytes(_pton(_AF_INET, ip), "big"))
        except OSError:
            pass
    else:  # then a plain IPv6 address, before any normalising
        try:
            addr = int.from_bytes(_pton(_AF_INET6, ip), "big")
        except OSError:
            pass
        else:
            if addr >> 32 != 0xFFFF:
                return table.lookup_v6(addr)
    if len(ip) > _MAX_IP_TEXT:
        return None
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # zone index of a link-local address
    try:
        addr = int.from_bytes(_pton(_AF_INET6, text), "big")
    except OSError:
        try:
            return table.lookup_v4(int.from_bytes(_pton(_AF_INET, text), "big"))
        except OSError:
            return None
    if addr >> 32 == 0xFFFF:  # IPv4-mapped ::ffff:a.b.c.d
        return table.lookup_v4(addr & 0xFFFFFFFF)
    return table.lookup_v6(addr)


_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6


@cache
def table() -> IpTable | None:
    """The bundled table, loaded on first use; None when it is missing or damaged.

    A damaged or absent table must not stop a scan, so enrichment degrades to "unknown"
    and :func:`sources` reports nothing.
    """
    try:
        return _load_bundled()
    except (OSError, ValueError, EOFError, zlib.error, KeyError, TypeError, struct.error):
        return None


def _load_bundled() -> IpTable:
    """The bundled table up to the end of its IPv4 part; the rest is inflated and read on
    the first IPv6 lookup (half of the ~15 MB, and of the ~0.1 s load, not spent by a
    scan whose destinations are all IPv4)."""
    gz = _open_bundled()

    def read(n: int) -> bytes:
        data = gz.read(n)
        if len(data) != n:
            raise ValueError("truncated IP table")
        return data

    start = read(len(MAGIC) + 4)
    size = _header_size(start)
    if size > MAX_FILE:
        raise ValueError("bad IP table header")
    header = _header_json(read(size))
    first, rest = _first_size(header), _counts(header)[1] * 20
    if len(start) + size + first + rest > MAX_FILE:
        raise ValueError(f"{FILE}: larger than {MAX_FILE} bytes once decompressed")
    t = _first_part(header, _Reader(read(first)))

    def load_v6() -> Ipv6Arrays:
        v6 = _ipv6_part(header, _Reader(read(rest)))
        if gz.read(1):
            raise ValueError("IP table longer than its header says")
        return v6

    return IpTable(t, load_v6)


@lru_cache(maxsize=65536)
def lookup(ip: str) -> IpInfo | None:
    """AS number, AS organisation and registration country of an IPv4 or IPv6 address.

    Accepts the usual text forms (brackets, a zone index, IPv4-mapped IPv6). Private,
    loopback, link-local, documentation and other special-purpose addresses, and addresses
    no registry data covers, give None. Results are cached: a capture talks to few hosts.
    """
    t = table()
    return _lookup_in(t, ip) if t is not None else None


def sources() -> list[Source]:
    """The packages the bundled table was built from (empty when it is unavailable)."""
    t = table()
    return list(t.t.sources) if t is not None else []
