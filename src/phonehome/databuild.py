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
import json
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

SERVICEPROVIDERS = Path("/usr/share/mobile-broadband-provider-info/serviceproviders.xml")
IEEE_DIR = Path("/usr/share/ieee-data")
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
    sources = [SERVICEPROVIDERS, *(IEEE_DIR / f for f in IEEE_FILES), shared / TACDB]
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
    ]
    manifest = dest / MANIFEST
    manifest.write_text(
        json.dumps([asdict(i) for i in infos], indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    sources_md = dest / "SOURCES.md"
    sources_md.write_text(_sources_md(infos), encoding="utf-8")
    return [*(dest / i.file for i in infos), manifest, sources_md]


def _how_to_get(src: Path) -> str:
    if src == SERVICEPROVIDERS:
        return "apt-get install mobile-broadband-provider-info"
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
        "`mobile-broadband-provider-info` and `ieee-data`; the Osmocom TAC and Exodus "
        "copies in `../shared/data`). phonehome never downloads these at run time.",
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
            f"- Rebuild: `{REBUILD}`",
        ]
        if i.notes:
            lines.append(f"- Notes: {i.notes}")
        lines.append("")
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
