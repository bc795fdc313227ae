"""Offline reference lookups: MCC/MNC operators, IMEI TACs, MAC OUIs, registrable domains.

The tables ship in ``phonehome/data`` (provenance in ``data/SOURCES.md``, rebuilt by
:mod:`phonehome.databuild`) so a scan never touches the network. Each table is parsed on
first use and cached for the process, so importing this module costs nothing and the
lookups after the first are dictionary hits.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

_HEX = frozenset("0123456789ABCDEF")
_OUI_LENGTHS = (9, 7, 6)
"""Hex digits of MA-S/IAB, MA-M and MA-L prefixes, longest (most specific) first."""


@dataclass(frozen=True, slots=True)
class Operator:
    mcc: str
    mnc: str
    """2 or 3 digits, kept as a string: ``01`` and ``001`` are different networks."""
    country: str
    """ISO 3166 alpha-2, upper case."""
    name: str


@dataclass(frozen=True, slots=True)
class TacInfo:
    tac: str
    brand: str
    model: str


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    file: str
    source: str
    date: str
    licence: str
    rows: int


def _read_text(name: str) -> str:
    raw = resources.files("phonehome").joinpath("data", name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def _rows(name: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(_read_text(name)))
    next(reader, None)
    return [row for row in reader if row]


@cache
def _mccmnc() -> dict[str, Operator]:
    return {
        mcc + mnc: Operator(mcc, mnc, country, name)
        for mcc, mnc, country, name in _rows("mccmnc.csv")
    }


@cache
def _mcc() -> dict[str, str]:
    return {mcc: country for mcc, country in _rows("mcc.csv")}


@cache
def _tac() -> dict[str, TacInfo]:
    return {tac: TacInfo(tac, brand, model) for tac, brand, model in _rows("tacdb.csv.gz")}


@cache
def _oui() -> dict[str, str]:
    return {prefix: vendor for prefix, vendor in _rows("oui.csv.gz")}


def mcc_mnc(imsi_or_prefix: str) -> Operator | None:
    """The operator an IMSI (or an MCC+MNC prefix) belongs to, if the table knows it.

    MNC length is not encoded in the IMSI, so a 3-digit MNC is tried before a 2-digit
    one: the longer match is the more specific network.
    """
    s = imsi_or_prefix.strip()
    if len(s) < 5 or not s.isdigit():
        return None
    table = _mccmnc()
    if len(s) >= 6:
        op = table.get(s[:6])
        if op is not None:
            return op
    return table.get(s[:5])


def valid_mcc(mcc: str) -> bool:
    """True for a mobile country code in use in the bundled table.

    The table comes from mobile-broadband-provider-info and covers about 150 countries,
    not every ITU E.212 assignment; callers treat False as "unknown", not "impossible".
    """
    return mcc in _mcc()


@cache
def _countries() -> dict[str, str]:
    return {code: name for code, name in _rows("countries.csv")}


_NOT_ISO: dict[str, str] = {"UK": "GB", "EL": "GR", "EU": ""}
"""Codes people type that ISO 3166-1 reserves but does not assign (the EU's own short
forms for the United Kingdom and Greece, and the EU itself), with the code meant."""


def country_name(code: str) -> str | None:
    """The name of an ISO 3166-1 alpha-2 country code (any case), None if not assigned."""
    return _countries().get(code.strip().upper())


def check_country(code: str) -> str:
    """``code`` upper-cased if ISO 3166-1 assigns it; a :class:`UsageError` saying what
    is wrong (and, for a common look-alike, which code was meant) if not."""
    from phonehome.errors import UsageError

    upper = code.strip().upper()
    if country_name(upper) is not None:
        return upper
    meant = _NOT_ISO.get(upper)
    if meant:
        hint = f" ({country_name(meant)} is {meant})"
    elif upper == "EU":
        hint = " (name one country of the EU/EEA, e.g. DE: the whole EU/EEA is then home)"
    else:
        hint = " (two letters such as NO, DE, US; see ISO 3166-1)"
    raise UsageError(f"{code!r} is not an ISO 3166-1 alpha-2 country code{hint}")


def mcc_country(mcc: str) -> str | None:
    """ISO 3166 alpha-2 country of a mobile country code."""
    return _mcc().get(mcc)


def tac(imei: str) -> TacInfo | None:
    """Brand and model from an IMEI's Type Allocation Code (its first 8 digits)."""
    s = imei.strip()
    if len(s) < 8 or not s[:8].isdigit():
        return None
    return _tac().get(s[:8])


def oui_vendor(mac: str | bytes) -> str | None:
    """Vendor registered for a MAC address or prefix.

    Accepts raw bytes (at least 3) or text in any usual spelling (``aa:bb:cc:..``,
    ``AA-BB-CC``, ``aabb.cc..``, bare hex). Locally administered addresses (Android and
    iOS randomise Wi-Fi MACs this way) have no vendor by definition.
    """
    if isinstance(mac, bytes | bytearray):
        digits = mac.hex().upper()
    else:
        digits = "".join(c for c in mac.upper() if c not in ":-. ")
        if not _HEX.issuperset(digits):
            return None
    if len(digits) < 6 or int(digits[:2], 16) & 0x02:
        return None
    table = _oui()
    for n in _OUI_LENGTHS:
        if len(digits) >= n:
            vendor = table.get(digits[:n])
            if vendor is not None:
                return vendor
    return None


def public_suffixes(icann_only: bool = False) -> PublicSuffixList:
    """The bundled Public Suffix List, parsed once per process and shared: parsing it
    (with its IDN rules punycode-encoded) takes ~0.13 s, and the email detector, the
    User-Agent reader and the destination enrichment each made their own."""
    return _public_suffixes(bool(icann_only))


@cache
def _public_suffixes(icann_only: bool) -> PublicSuffixList:
    from publicsuffixlist import PSLFILE, PublicSuffixList

    # The package adds the punycode form of every rule by running the idna codec over
    # all ~10,000 of them, which was most of the parse (and of a small scan's start-up);
    # an ASCII rule is its own punycode, so only the few hundred non-ASCII rules need it.
    # Those are added to the source here, beside their rule, and the package's own
    # encoding is turned off: the same rule set (tests/test_refdata.py compares them).
    with open(PSLFILE, "rb") as source:
        return PublicSuffixList(
            with_punycode_rules(source), accept_encoded_idn=False, only_icann=icann_only
        )


def with_punycode_rules(lines: Iterable[bytes]) -> Iterator[bytes]:
    """PSL source lines, each non-ASCII rule followed by its punycode (``!`` kept)."""
    for line in lines:
        yield line
        if line.isascii():
            continue
        rule = line.decode("utf-8", "surrogateescape").lower().split(" ")[0].rstrip()
        if not rule or rule.startswith("//"):
            continue
        bang = "!" if rule.startswith("!") else ""
        yield (bang + rule.lstrip("!").encode("idna").decode("ascii")).encode("ascii")


def registrable_domain(host: str, *, icann_only: bool = False) -> str | None:
    """The eTLD+1 of ``host`` (``a.b.example.co.uk`` -> ``example.co.uk``).

    Uses the Public Suffix List bundled by the ``publicsuffixlist`` package, including its
    private section unless ``icann_only`` (so ``x.appspot.com`` stays ``x.appspot.com``).
    IP literals, bare public suffixes and single labels have none. A port is ignored.
    """
    h = host.strip().rstrip(".").lower()
    if not h or h.startswith("[") or h.count(":") > 1:
        return None  # IPv6 literal
    h = h.split(":", 1)[0]
    labels = h.split(".")
    if all(label.isdigit() for label in labels):
        return None  # IPv4 literal (or a bare number)
    result = public_suffixes(icann_only).privatesuffix(h)
    return result if isinstance(result, str) else None


def datasets() -> list[Dataset]:
    """The bundled data files with provenance (for ``phonehome data``), plus the PSL."""
    entries = json.loads(_read_text("datasets.json"))
    out = [
        Dataset(e["name"], e["file"], e["source"], e["date"], e["licence"], int(e["rows"]))
        for e in entries
    ]
    out += _curated_datasets()
    out.append(_psl_dataset())
    return out


CURATED_FILES = (
    ("entities", "entities.csv", "curated by hand; each row names its source (SOURCES.md)"),
    (
        "eu-adequacy",
        "eu-adequacy.csv",
        "European Commission's list of adequacy decisions; each row names its decision",
    ),
)
"""The tables written by hand rather than built from a package (data/SOURCES.md)."""


def _curated_datasets() -> list[Dataset]:
    out = []
    for name, file, source in CURATED_FILES:
        rows = list(csv.reader(io.StringIO(_read_text(file))))[1:]
        # The newest date in the table (a decision's adoption) is as far as it is known
        # to be current; the entity map has no dates of its own.
        dates = sorted(c for r in rows for c in r if len(c) == 10 and c[4] == "-" == c[7])
        date = dates[-1] if dates else "-"
        out.append(Dataset(name, file, source, date, "Apache-2.0 (phonehome)", len(rows)))
    return out


def _psl_dataset() -> Dataset:
    # The package's own __version__ (the same string as its metadata): importlib.metadata
    # and the email package it loads were ~25 ms of every scan's start-up, for this line
    # of the report's datasets.
    import publicsuffixlist

    version = str(getattr(publicsuffixlist, "__version__", "") or "unknown")
    date = "unknown"
    rules = 0
    try:
        text = (
            resources.files("publicsuffixlist")
            .joinpath("public_suffix_list.dat")
            .read_text(encoding="utf-8")
        )
    except (OSError, ModuleNotFoundError):
        text = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("// VERSION:"):
            date = line.split(":", 1)[1].strip()
        elif line and not line.startswith("//"):
            rules += 1
    return Dataset(
        "public-suffix-list",
        "(publicsuffixlist package)",
        f"publicsuffixlist {version} (bundled public_suffix_list.dat)",
        date,
        "MPL 2.0",
        rules,
    )
