"""Rebuild the bundled reference data in ``src/phonehome/data`` from its upstream copies.

phonehome never downloads reference data at run time, so the tables ship with the package
and this module is how they are refreshed: install the newer Debian packages (or replace
the copies in ``../shared/data``), run ``python tools/build_data.py`` and commit the result.

Output is deterministic (sorted rows, gzip without a timestamp) so that a rebuild from
unchanged sources gives no diff. Each table keeps only the columns lookups need, which keeps
the data directory small enough to ship in a wheel.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import json
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from phonehome.enrich import ipdb

SERVICEPROVIDERS = Path("/usr/share/mobile-broadband-provider-info/serviceproviders.xml")
IEEE_DIR = Path("/usr/share/ieee-data")
ISO_3166 = Path("/usr/share/iso-codes/json/iso_3166-1.json")
"""Debian iso-codes' ISO 3166-1 list (from the ISO 3166 Maintenance Agency's data)."""
IEEE_FILES = ("oui.csv", "mam.csv", "oui36.csv", "iab.csv")
"""MA-L (24-bit), MA-M (28-bit), MA-S and the older IAB (36-bit) assignments."""
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TACDB = "osmocom-tacdb.csv"
EXODUS = "exodus-trackers.json"
MANIFEST = "datasets.json"
REBUILD = "python tools/build_data.py"


class SourceMissing(Exception):
    """A source file for the data build is not installed; the message says how to get it."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    file: str
    source: str
    date: str
    licence: str
    rows: int
    notes: str = ""


def rebuild(dest: Path, shared_data: Path | None = None) -> list[Path]:
    """Regenerate every bundled data file in ``dest``; return the paths written.

    ``shared_data`` is the folder holding the Osmocom TAC and Exodus copies (default:
    ``../shared/data`` beside the repository). Raises :class:`SourceMissing` naming the
    missing source before anything is written.
    """
    shared = shared_data or DEFAULT_SHARED_DATA
    sources = [SERVICEPROVIDERS, ISO_3166, *(IEEE_DIR / f for f in IEEE_FILES), shared / TACDB]
    sources.append(shared / EXODUS)
    for src in sources:
        if not src.is_file():
            raise SourceMissing(f"{src}: missing ({_how_to_get(src)})")
    dest.mkdir(parents=True, exist_ok=True)
    infos = [
        *_build_mccmnc(dest),
        _build_tacdb(shared / TACDB, dest),
        _build_oui(dest),
        _build_exodus(shared / EXODUS, dest),
        _build_countries(dest),
    ]
    return [*(dest / i.file for i in infos), *_write_manifest(dest, infos)]


def _write_manifest(dest: Path, infos: list[DatasetInfo]) -> list[Path]:
    """Update ``datasets.json`` and ``SOURCES.md`` in ``dest`` with ``infos``.

    The Debian/shared tables and the IP tables are rebuilt by separate calls, so entries
    this call did not rebuild are kept as they are (in their order); rebuilt ones replace
    the entry of the same name or are appended.
    """
    manifest = dest / MANIFEST
    entries: list[dict[str, object]] = []
    if manifest.is_file():
        try:
            loaded = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = []
        if isinstance(loaded, list):
            entries = [e for e in loaded if isinstance(e, dict) and "name" in e]
    fresh = {i.name: asdict(i) for i in infos}
    merged = [fresh.pop(str(e["name"]), e) for e in entries]
    merged += [e for e in fresh.values()]
    manifest.write_text(json.dumps(merged, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    all_infos = [_info_from_entry(e) for e in merged]
    sources_md = dest / "SOURCES.md"
    sources_md.write_text(_sources_md(all_infos), encoding="utf-8")
    return [manifest, sources_md]


def _info_from_entry(e: dict[str, object]) -> DatasetInfo:
    rows = e.get("rows", 0)
    return DatasetInfo(
        str(e.get("name", "")),
        str(e.get("file", "")),
        str(e.get("source", "")),
        str(e.get("date", "")),
        str(e.get("licence", "")),
        rows if isinstance(rows, int) else 0,
        str(e.get("notes", "")),
    )


def _how_to_get(src: Path) -> str:
    if src == SERVICEPROVIDERS:
        return "apt-get install mobile-broadband-provider-info"
    if src == ISO_3166:
        return "apt-get install iso-codes"
    if src.parent == IEEE_DIR:
        return "apt-get install ieee-data"
    return "copy it into the shared data folder or pass shared_data"


def _debian_version(package: str) -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _write_csv(path: Path, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    if path.suffix == ".gz":
        # mtime=0 and no file name in the header: identical sources give identical bytes.
        with open(path, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
            gz.write(data)
    else:
        path.write_bytes(data)


def _provider_name(provider: ET.Element) -> str:
    # Providers may carry translated names (xml:lang); the untranslated one is canonical.
    names = provider.findall("name")
    for n in names:
        if not n.attrib and n.text:
            return n.text.strip()
    return (names[0].text or "").strip() if names else ""


def _build_mccmnc(dest: Path) -> list[DatasetInfo]:
    """``mccmnc.csv`` and ``mcc.csv`` from serviceproviders.xml.

    Virtual operators list their host network's MCC/MNC too, so one network id may have
    several providers. We keep the provider that lists the most network ids (host
    networks usually list several, resellers one), earliest in the file on a tie: a
    heuristic, right for most but not all ids.
    """
    root = ET.parse(SERVICEPROVIDERS).getroot()
    candidates: dict[tuple[str, str], list[tuple[int, int, str, str]]] = {}
    per_mcc: dict[str, Counter[str]] = {}
    order = 0
    for country in root.iter("country"):
        code = (country.get("code") or "").upper()
        for provider in country.iter("provider"):
            ids = sorted(
                {(n.get("mcc") or "", n.get("mnc") or "") for n in provider.iter("network-id")}
            )
            name = _provider_name(provider)
            for mcc, mnc in ids:
                if not (len(mcc) == 3 and mcc.isdigit() and mnc.isdigit() and len(mnc) in (2, 3)):
                    continue
                order += 1
                candidates.setdefault((mcc, mnc), []).append((-len(ids), order, code, name))
                per_mcc.setdefault(mcc, Counter())[code] += 1
    rows = []
    for (mcc, mnc), cands in sorted(candidates.items()):
        _, _, code, name = min(cands)
        rows.append((mcc, mnc, code, name))
    _write_csv(dest / "mccmnc.csv", ("mcc", "mnc", "country", "operator"), rows)
    # One country per MCC: the one most network ids belong to (a few MCCs are shared by
    # territories, e.g. 234 by GB, GG, JE and IM).
    mcc_rows = [(mcc, counts.most_common(1)[0][0]) for mcc, counts in sorted(per_mcc.items())]
    _write_csv(dest / "mcc.csv", ("mcc", "country"), mcc_rows)
    version = _debian_version("mobile-broadband-provider-info")
    source = f"Debian mobile-broadband-provider-info {version}, serviceproviders.xml"
    date = _version_date(version)
    return [
        DatasetInfo(
            "mccmnc",
            "mccmnc.csv",
            source,
            date,
            "public domain",
            len(rows),
            "MCC/MNC -> ISO country and operator. MNCs are strings of 2 or 3 digits. Where "
            "resellers share a network id the operator listing the most ids is kept.",
        ),
        DatasetInfo(
            "mcc",
            "mcc.csv",
            source,
            date,
            "public domain",
            len(mcc_rows),
            "MCC -> ISO country (the country most of its networks belong to). Only MCCs "
            "that appear in the source; it does not cover every ITU E.212 assignment.",
        ),
    ]


def _version_date(version: str) -> str:
    digits = version[:8]
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return "unknown"


def _build_tacdb(src: Path, dest: Path) -> DatasetInfo:
    """``tacdb.csv.gz`` (tac, brand, model) from the Osmocom TAC database.

    The source's first line is its licence notice and its TACs sometimes lost their
    leading zeros to a spreadsheet, so they are padded back to 8 digits.
    """
    with open(src, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)  # licence line
        next(reader, None)  # header: tac,name,name,...
        table: dict[str, tuple[str, str, str]] = {}
        for row in reader:
            if len(row) < 3:
                continue
            tac = row[0].strip()
            if not tac.isdigit() or len(tac) > 8:
                continue
            tac = tac.zfill(8)
            table.setdefault(tac, (tac, row[1].strip(), row[2].strip()))
    rows = sorted(table.values())
    _write_csv(dest / "tacdb.csv.gz", ("tac", "brand", "model"), rows)
    return DatasetInfo(
        "tacdb",
        "tacdb.csv.gz",
        "Osmocom TAC database (copy in rotaryhack/simtel_random_imei)",
        "2016",
        "CC-BY-SA 3.0, (c) Harald Welte 2016",
        len(rows),
        "IMEI Type Allocation Code -> brand, model. Incomplete by nature: an unknown "
        "TAC is no reason to reject an IMEI.",
    )


def _build_countries(dest: Path) -> DatasetInfo:
    """``countries.csv`` (alpha_2, name): the ISO 3166-1 country codes, to check a
    ``--home-country`` or a profile's ``home_country`` against (a typo like ``UK`` or
    ``XX`` would otherwise silently make every destination "outside the home region")."""
    entries = json.loads(ISO_3166.read_text(encoding="utf-8"))["3166-1"]
    rows = sorted(
        (str(e["alpha_2"]).upper(), str(e.get("common_name") or e["name"])) for e in entries
    )
    _write_csv(dest / "countries.csv", ("alpha_2", "name"), rows)
    version = _debian_version("iso-codes")
    return DatasetInfo(
        "countries",
        "countries.csv",
        f"Debian iso-codes {version}: iso_3166-1.json",
        datetime.fromtimestamp(ISO_3166.stat().st_mtime, UTC).date().isoformat(),
        "LGPL-2.1+ (Debian iso-codes)",
        len(rows),
        "ISO 3166-1 alpha-2 code -> country name, the officially assigned codes only "
        "(no reserved codes such as UK or EU).",
    )


def _build_oui(dest: Path) -> DatasetInfo:
    """``oui.csv.gz`` (prefix, vendor): MA-L, MA-M, MA-S and IAB prefixes in upper-case hex.

    Prefixes have 6, 7 or 9 hex digits; lookups try the longest first, because MA-M and
    MA-S blocks are carved out of MA-L blocks registered to the IEEE itself.
    """
    table: dict[str, str] = {}
    for name in IEEE_FILES:
        with open(IEEE_DIR / name, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader, None)
            for row in reader:
                if len(row) < 3:
                    continue
                prefix = row[1].strip().upper()
                if len(prefix) in (6, 7, 9) and all(c in "0123456789ABCDEF" for c in prefix):
                    table.setdefault(prefix, " ".join(row[2].split()))
    rows = sorted(table.items())
    _write_csv(dest / "oui.csv.gz", ("prefix", "vendor"), rows)
    version = _debian_version("ieee-data")
    return DatasetInfo(
        "oui",
        "oui.csv.gz",
        f"Debian ieee-data {version}: oui.csv, mam.csv, oui36.csv, iab.csv",
        _ieee_date(),
        "public domain",
        len(rows),
        "MAC prefix (24, 28 or 36 bits) -> vendor. IEEE Registration Authority listing, "
        "public domain per Debian's copyright file. Locally administered (randomised) "
        "addresses have no vendor.",
    )


def _ieee_date() -> str:
    try:
        stamp = int((IEEE_DIR / ".lastupdate").read_text().strip())
    except (OSError, ValueError):
        return "unknown"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")


def _build_exodus(src: Path, dest: Path) -> DatasetInfo:
    data = src.read_bytes()
    trackers = json.loads(data).get("trackers", {})
    (dest / EXODUS).write_bytes(data)
    return DatasetInfo(
        "exodus-trackers",
        EXODUS,
        "Exodus Privacy tracker list (copy in TrackerControl/tracker-control-android "
        "app/src/main/assets/trackers.json)",
        "unknown",
        "ODbL 1.0",
        len(trackers),
        "Tracker SDKs: name, website, code signatures, network signatures (domain regexes).",
    )


def _sources_md(infos: list[DatasetInfo]) -> str:
    lines = [
        "# Bundled reference data",
        "",
        "Generated by `phonehome.databuild`; do not edit by hand. Rebuild with "
        f"`{REBUILD}` after installing newer sources (Debian packages "
        "`mobile-broadband-provider-info`, `ieee-data` and `iso-codes`; the Osmocom TAC "
        "and Exodus copies in `../shared/data`). phonehome never downloads these at run time.",
        "",
    ]
    for i in infos:
        lines += [
            f"## {i.file}",
            "",
            f"- Source: {i.source}",
            f"- Date: {i.date}",
            f"- Licence: {i.licence}",
            f"- Rows: {i.rows}",
            f"- Rebuild: `{IP_REBUILD if i.file == ipdb.FILE else REBUILD}`",
        ]
        if i.notes:
            lines.append(f"- Notes: {i.notes}")
        lines.append("")
    for file, text in CURATED:
        lines += [f"## {file} (curated by hand)", "", text, ""]
    lines += [
        "## Public Suffix List (not a file here)",
        "",
        "- Source: the `publicsuffixlist` Python package, which bundles "
        "`public_suffix_list.dat`; `phonehome data` prints the installed package version "
        "and the list's VERSION line.",
        "- Licence: MPL 2.0",
        "- Update: upgrade the package (`pip install -U publicsuffixlist`); nothing is "
        "fetched at run time.",
        "",
    ]
    return "\n".join(lines)


# --- IP address -> ASN / organisation / country ------------------------------------------

IP_ASN_PACKAGE = "@ip-location-db/asn"
IP_COUNTRY_PACKAGE = "@ip-location-db/geo-whois-asn-country"
IP_PACKAGES = (IP_ASN_PACKAGE, IP_COUNTRY_PACKAGE)
IP_REBUILD = (
    "phonehome data update with the npm tarballs (`npm pack " + " ".join(IP_PACKAGES) + "`), "
    "i.e. databuild.rebuild_ipdb(dest, tarballs)"
)
_IP_MEMBERS = {
    IP_ASN_PACKAGE: ("package/asn-ipv4-num.csv", "package/asn-ipv6-num.csv"),
    IP_COUNTRY_PACKAGE: (
        "package/geo-whois-asn-country-ipv4-num.csv",
        "package/geo-whois-asn-country-ipv6-num.csv",
    ),
}
_IP_LICENCES = {
    IP_ASN_PACKAGE: "CC BY 4.0 (attribution: routeviews.org, nro.net, db-ip.com)",
    IP_COUNTRY_PACKAGE: "CC0-1.0 per the package; its RIR data is CC BY 4.0 by nro.net",
}
MAX_TARBALL_MEMBER = 256 * 1024 * 1024
"""The CSVs are about 25 MB each; anything far bigger is not the package we know."""
SPECIAL_V4 = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/3",
)
"""IANA special-purpose IPv4 blocks (RFC 6890 and successors). Upstream has a few rows
inside them (e.g. 192.168.0.0/16 as AU); a private address has no owner or country."""
SPECIAL_V6 = (
    "::/8",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:2::/48",
    "2001:10::/28",
    "2001:20::/28",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
)
"""IANA special-purpose IPv6 blocks: unspecified/loopback/IPv4-mapped (inside ::/8),
NAT64, discard, benchmarking, ORCHID, documentation, SRv6 SIDs, unique local, link-local,
site-local and multicast."""

CURATED = (
    (
        "entities.csv",
        "Host suffix -> company for carriers, OEMs and platform vendors that the tracker "
        "list does not cover. Every row names a source a reader can check: the company's own "
        "site or documentation naming the domain, or a named public document. Rows whose "
        "only source was a WHOIS registrant given from memory, with no record to check, "
        "were removed (13 rows, issue 16). Columns: suffix, entity, kind, country, source.",
    ),
    (
        "eu-adequacy.csv",
        "Countries with an EU adequacy decision under Art. 45 GDPR, with the decision's "
        "reference and date, and the scope of the partial ones (US: Data Privacy "
        "Framework-certified organisations only; Canada: commercial organisations under "
        "PIPEDA). Source: the European Commission's list of adequacy decisions.",
    ),
)


@dataclass
class _IpSource:
    package: str
    version: str
    v4: list[tuple[int, int, str]]
    v6: list[tuple[int, int, str]]
    orgs: dict[int, str]
    skipped: int


def fetch_ip_packages(workdir: Path) -> list[Path]:
    """Download the IP packages' tarballs into ``workdir`` with ``npm pack``.

    Only ``phonehome data update`` run by a user calls this; a scan never does. Raises
    :class:`SourceMissing` when npm is missing or fails.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            ["npm", "pack", *IP_PACKAGES],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SourceMissing(f"npm pack {' '.join(IP_PACKAGES)}: {e} (install npm)") from e
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        raise SourceMissing(f"npm pack {' '.join(IP_PACKAGES)}: {last}")
    names = [line.strip() for line in out.stdout.splitlines() if line.strip().endswith(".tgz")]
    return [workdir / n for n in names]


def rebuild_ipdb(dest: Path, tarballs: Sequence[Path]) -> list[Path]:
    """Build ``ipdb.bin.gz`` in ``dest`` from the two npm tarballs; return the paths written.

    Upstream ranges may nest (a more specific block inside a wider one); the narrower
    one wins, as in longest-prefix routing. Special-purpose blocks are cut out. Rows
    that do not parse are skipped and counted in the manifest notes.
    """
    found: dict[str, _IpSource] = {}
    for tgz in tarballs:
        src = _read_ip_tarball(tgz)
        found[src.package] = src
    for package in IP_PACKAGES:
        if package not in found:
            raise SourceMissing(f"{package}: no tarball given (run `npm pack {package}`)")
    asn, country = found[IP_ASN_PACKAGE], found[IP_COUNTRY_PACKAGE]
    records: dict[tuple[int, str], int] = {(0, ""): 0}
    v4 = _merge_maps(
        _paint(asn.v4, _cidrs(SPECIAL_V4)), _paint(country.v4, _cidrs(SPECIAL_V4)), records
    )
    v6 = _merge_maps(
        _paint(asn.v6, _cidrs(SPECIAL_V6)), _paint(country.v6, _cidrs(SPECIAL_V6)), records
    )
    countries = sorted({cc for _, cc in records if cc})
    cc_index = {cc: i for i, cc in enumerate(countries)}
    used_asns = sorted({a for a, _ in records if a})
    tables = ipdb.Tables(
        v4_starts=array("I", (s for s, _ in v4)),
        v4_records=array("I", (r for _, r in v4)),
        v6_high=array("Q", (s >> 64 for s, _ in v6)),
        v6_low=array("Q", (s & ((1 << 64) - 1) for s, _ in v6)),
        v6_records=array("I", (r for _, r in v6)),
        record_asn=array("I", (a for a, _ in records)),
        record_country=array("H", (cc_index[c] if c else ipdb.NO_COUNTRY for _, c in records)),
        countries=countries,
        org_asns=array("I", used_asns),
        org_names=[asn.orgs.get(a, "") for a in used_asns],
        sources=[
            ipdb.Source(s.package, s.version, _npm_version_date(s.version), _IP_LICENCES[p])
            for p, s in ((p, found[p]) for p in IP_PACKAGES)
        ],
    )
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / ipdb.FILE
    with open(out, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
        gz.write(ipdb.encode(tables))
    segments = f"{len(v4)} IPv4 and {len(v6)} IPv6 merged ranges in {ipdb.FILE}"
    infos = [
        DatasetInfo(
            "ip-asn",
            ipdb.FILE,
            f"npm {asn.package} {asn.version} (RouteViews, RIR delegations via NRO, "
            "DB-IP IP to ASN Lite)",
            _npm_version_date(asn.version),
            _IP_LICENCES[IP_ASN_PACKAGE],
            len(asn.v4) + len(asn.v6),
            f"IP range -> AS number and organisation; {segments}. Rows skipped as "
            f"malformed: {asn.skipped}. IP Geolocation by DB-IP (https://db-ip.com).",
        ),
        DatasetInfo(
            "ip-country",
            ipdb.FILE,
            f"npm {country.package} {country.version} (GeoFeed, RIR whois via NRO, "
            "RIR ASN delegations)",
            _npm_version_date(country.version),
            _IP_LICENCES[IP_COUNTRY_PACKAGE],
            len(country.v4) + len(country.v6),
            "IP range -> country where the range is registered (not where a server "
            f"stands or data is processed). Rows skipped as malformed: {country.skipped}.",
        ),
    ]
    return [out, *_write_manifest(dest, infos)]


def _npm_version_date(version: str) -> str:
    """``2.3.2026061719`` -> ``2026-06-17``: the packages put the build time in the patch."""
    patch = version.rsplit(".", 1)[-1]
    if len(patch) >= 8 and patch.isdigit():
        return f"{patch[:4]}-{patch[4:6]}-{patch[6:8]}"
    return "unknown"


def _read_ip_tarball(tgz: Path) -> _IpSource:
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            return _read_ip_members(tar, tgz)
    except (OSError, EOFError, tarfile.TarError, UnicodeDecodeError, ValueError) as e:
        raise SourceMissing(f"{tgz}: not a readable npm tarball ({e})") from e


def _read_ip_members(tar: tarfile.TarFile, tgz: Path) -> _IpSource:
    meta = json.loads(_tar_member(tar, tgz, "package/package.json"))
    package, version = str(meta.get("name", "")), str(meta.get("version", ""))
    if package not in _IP_MEMBERS:
        expected = ", ".join(IP_PACKAGES)
        raise SourceMissing(f"{tgz}: {package or 'unknown package'}, expected one of {expected}")
    src = _IpSource(package, version, [], [], {}, 0)
    members = _IP_MEMBERS[package]
    for member, bits, rows in zip(members, (32, 128), (src.v4, src.v6), strict=True):
        text = _tar_member(tar, tgz, member).decode("utf-8")
        for row in csv.reader(io.StringIO(text)):
            parsed = _ip_row(row, bits, package == IP_ASN_PACKAGE)
            if parsed is None:
                src.skipped += 1
                continue
            start, end, value, org = parsed
            rows.append((start, end, value))
            if org:
                src.orgs.setdefault(int(value), org)
    return src


def _tar_member(tar: tarfile.TarFile, tgz: Path, name: str) -> bytes:
    try:
        info = tar.getmember(name)
    except KeyError as e:
        raise SourceMissing(f"{tgz}: has no {name}") from e
    f = tar.extractfile(info) if info.size <= MAX_TARBALL_MEMBER else None
    if f is None:
        raise SourceMissing(f"{tgz}: {name} is not a regular file of a sensible size")
    with f:
        return f.read(MAX_TARBALL_MEMBER)


def _ip_row(row: list[str], bits: int, with_asn: bool) -> tuple[int, int, str, str] | None:
    if len(row) < 3 or (with_asn and len(row) < 4):
        return None
    try:
        start, end = int(row[0]), int(row[1])
    except ValueError:
        return None
    if not 0 <= start <= end < 1 << bits:
        return None
    value = row[2].strip()
    if with_asn:
        if not value.isdigit() or not 0 < int(value) < 1 << 32:
            return None
        return start, end, str(int(value)), " ".join(row[3].split())
    if len(value) != 2 or not value.isalpha() or not value.isupper():
        return None
    return start, end, value, ""


def _cidrs(blocks: Sequence[str]) -> list[tuple[int, int]]:
    nets = [ipaddress.ip_network(b) for b in blocks]
    return [(int(n.network_address), int(n.broadcast_address)) for n in nets]


def _paint(
    rows: list[tuple[int, int, str]], masks: list[tuple[int, int]]
) -> tuple[list[int], list[str | None]]:
    """Flatten possibly nested ranges into sorted boundaries and the value after each.

    Wider ranges are painted first so narrower ones overwrite them; ``masks`` are cut
    out last. The cost is the number of elementary segments each range covers, which
    stays small because upstream ranges rarely nest more than one level.
    """
    points = sorted(
        {s for s, _, _ in rows}
        | {e + 1 for _, e, _ in rows}
        | {s for s, _ in masks}
        | {e + 1 for _, e in masks}
    )
    values: list[str | None] = [None] * len(points)
    order = sorted(range(len(rows)), key=lambda k: rows[k][0] - rows[k][1])
    for k in order:
        s, e, v = rows[k]
        i, j = bisect_left(points, s), bisect_left(points, e + 1)
        values[i:j] = [v] * (j - i)
    for s, e in masks:
        i, j = bisect_left(points, s), bisect_left(points, e + 1)
        values[i:j] = [None] * (j - i)
    return points, values


def _merge_maps(
    asn: tuple[list[int], list[str | None]],
    country: tuple[list[int], list[str | None]],
    records: dict[tuple[int, str], int],
) -> list[tuple[int, int]]:
    """One interval map from the ASN and country maps: (start, record index) pairs.

    Every boundary of either map becomes a boundary; neighbours with the same record are
    joined. ``records`` collects the distinct (asn, country) pairs, in first-seen order.
    """
    a_points, a_values = asn
    c_points, c_values = country
    out: list[tuple[int, int]] = []
    ia = ic = -1
    for p in sorted(set(a_points) | set(c_points)):
        while ia + 1 < len(a_points) and a_points[ia + 1] <= p:
            ia += 1
        while ic + 1 < len(c_points) and c_points[ic + 1] <= p:
            ic += 1
        a = a_values[ia] if ia >= 0 else None
        c = c_values[ic] if ic >= 0 else None
        key = (int(a) if a else 0, c or "")
        rec = records.setdefault(key, len(records))
        if not out or out[-1][1] != rec:
            out.append((p, rec))
    return out
