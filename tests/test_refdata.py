"""Reference lookups on the bundled tables, and the data build that produces them."""

from __future__ import annotations

import csv
import gzip
import io
import json
from importlib import resources
from pathlib import Path

import pytest

from phonehome import databuild, refdata
from phonehome.refdata import Operator, TacInfo
from tests.needs import need_file

DATA = resources.files("phonehome").joinpath("data")


@pytest.mark.parametrize(
    ("imsi", "mcc", "mnc", "country", "name"),
    [
        ("242011234567890", "242", "01", "NO", "Telenor"),
        ("460110123456789", "460", "11", "CN", "China Telecom"),
        ("46000", "460", "00", "CN", "China Mobile"),
        ("310410123456789", "310", "410", "US", "AT&T"),  # 3-digit MNC wins over 2-digit
        (" 262011234567890 ", "262", "01", "DE", "T-Mobile(Telekom)"),
    ],
)
def test_mcc_mnc_hit(imsi: str, mcc: str, mnc: str, country: str, name: str) -> None:
    assert refdata.mcc_mnc(imsi) == Operator(mcc, mnc, country, name)


@pytest.mark.parametrize("imsi", ["", "2420", "99999123456789", "24201abc", "001010123456789"])
def test_mcc_mnc_miss(imsi: str) -> None:
    assert refdata.mcc_mnc(imsi) is None


@pytest.mark.parametrize(
    ("mcc", "ok", "country"),
    [
        ("242", True, "NO"),
        ("460", True, "CN"),
        ("234", True, "GB"),
        ("250", True, "RU"),
        ("999", False, None),
        ("24", False, None),
        ("0242", False, None),
        ("abc", False, None),
    ],
)
def test_valid_mcc_and_country(mcc: str, ok: bool, country: str | None) -> None:
    assert refdata.valid_mcc(mcc) is ok
    assert refdata.mcc_country(mcc) == country


def test_mnc_kept_as_string_with_leading_zero() -> None:
    rows = list(csv.reader(io.StringIO(DATA.joinpath("mccmnc.csv").read_text("utf-8"))))
    assert rows[0] == ["mcc", "mnc", "country", "operator"]
    mncs = {r[1] for r in rows[1:]}
    assert "01" in mncs  # a number type would have made it 1
    assert all(len(r[1]) in (2, 3) and r[1].isdigit() for r in rows[1:])


@pytest.mark.parametrize(
    ("imei", "expected"),
    [
        ("356759041234567", TacInfo("35675904", "Oppo", "N1")),
        ("35675904", TacInfo("35675904", "Oppo", "N1")),
        # Spreadsheet-damaged 7-digit TAC in the source, padded back to 8 digits.
        ("011245001234567", TacInfo("01124500", "Apple", "iPhone A1203")),
    ],
)
def test_tac_hit(imei: str, expected: TacInfo) -> None:
    assert refdata.tac(imei) == expected


@pytest.mark.parametrize("imei", ["", "3567590", "00000000123456", "3567x904123456"])
def test_tac_miss(imei: str) -> None:
    assert refdata.tac(imei) is None


@pytest.mark.parametrize(
    ("mac", "vendor"),
    [
        ("f0:d1:a9:12:34:56", "Apple, Inc."),
        ("F0-D1-A9-12-34-56", "Apple, Inc."),
        ("f0d1a9123456", "Apple, Inc."),
        ("f0d1.a912.3456", "Apple, Inc."),
        (bytes.fromhex("8c7712abcdef"), "Samsung Electronics Co.,Ltd"),
        ("00:1a:11", "Google, Inc."),
        # MA-S block inside the IEEE's own MA-L 70:B3:D5: the longest prefix wins.
        ("70:b3:d5:f2:f0:01", "TELEPLATFORMS"),
        ("70:b3:d5:00:00:01", "IEEE Registration Authority"),
    ],
)
def test_oui_vendor_hit(mac: str | bytes, vendor: str) -> None:
    assert refdata.oui_vendor(mac) == vendor


@pytest.mark.parametrize(
    "mac",
    [
        "da:a1:19:12:34:56",  # locally administered: a randomised Wi-Fi MAC
        "f0:d1",
        "zz:d1:a9:12:34:56",
        b"\xf0\xd1",
        "",
    ],
)
def test_oui_vendor_miss(mac: str | bytes) -> None:
    assert refdata.oui_vendor(mac) is None


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("zzhc.vnet.cn", "vnet.cn"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("Example.COM.", "example.com"),
        ("api.example.com:8443", "example.com"),
        ("x.appspot.com", "x.appspot.com"),  # private section: the customer's own name
    ],
)
def test_registrable_domain_hit(host: str, domain: str) -> None:
    assert refdata.registrable_domain(host) == domain


@pytest.mark.parametrize(
    "host", ["1.2.3.4", "10.0.0.1:80", "[2001:db8::1]:443", "2001:db8::1", "co.uk", "localhost", ""]
)
def test_registrable_domain_miss(host: str) -> None:
    assert refdata.registrable_domain(host) is None


def test_registrable_domain_icann_only() -> None:
    assert refdata.registrable_domain("x.appspot.com", icann_only=True) == "appspot.com"


def test_datasets_describe_every_bundled_file() -> None:
    sets = refdata.datasets()
    names = {d.name for d in sets}
    assert {"mccmnc", "mcc", "tacdb", "oui", "exodus-trackers", "public-suffix-list"} <= names
    for d in sets:
        # The curated tables are short by nature; the built ones are not.
        assert d.rows > (10 if d.file in {f for _, f, _ in refdata.CURATED_FILES} else 100), d
        assert d.licence and d.source and d.date
        if d.name != "public-suffix-list":
            assert DATA.joinpath(d.file).is_file()
            assert d.file in DATA.joinpath("SOURCES.md").read_text("utf-8")


def test_bundled_tables_row_counts_match_manifest() -> None:
    for d in refdata.datasets():
        if d.file.endswith(".csv.gz"):
            text = gzip.decompress(DATA.joinpath(d.file).read_bytes()).decode()
            assert text.count("\n") - 1 == d.rows
        elif d.file.endswith(".csv"):
            assert DATA.joinpath(d.file).read_text("utf-8").count("\n") - 1 == d.rows
        elif d.file.endswith(".json"):
            assert len(json.loads(DATA.joinpath(d.file).read_text("utf-8"))["trackers"]) == d.rows


def test_bundled_data_stays_small() -> None:
    # The offline IP -> AS/country table (ipdb.bin.gz, ~3.4 MB for ~970k ranges) is most
    # of it; the wheel should still stay a few MB.
    total = sum(p.stat().st_size for p in Path(str(DATA)).iterdir())
    assert total < 6 * 1024 * 1024


def _debian_sources() -> None:
    """The Debian packages the MCC/MNC and OUI tables are rebuilt from (.ci/run installs
    them)."""
    need_file(databuild.SERVICEPROVIDERS, "apt-get install mobile-broadband-provider-info")
    for f in databuild.IEEE_FILES:
        need_file(databuild.IEEE_DIR / f, "apt-get install ieee-data")
    need_file(databuild.ISO_3166, "apt-get install iso-codes")


def test_rebuild_is_deterministic_and_complete(tmp_path: Path, shared_data: Path) -> None:
    _debian_sources()
    a = databuild.rebuild(tmp_path / "a", shared_data)
    b = databuild.rebuild(tmp_path / "b", shared_data)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    names = {p.name for p in a}
    assert {"mccmnc.csv", "mcc.csv", "tacdb.csv.gz", "oui.csv.gz", "exodus-trackers.json"} <= names
    assert "countries.csv" in names
    assert {"datasets.json", "SOURCES.md"} <= names
    rows = list(csv.reader(io.StringIO((tmp_path / "a" / "mccmnc.csv").read_text("utf-8"))))
    assert ["242", "01", "NO", "Telenor"] in rows
    # The two tables made from the vendored copies alone are the bundled ones, byte for
    # byte (the Debian-made ones depend on the installed package versions).
    for name in ("tacdb.csv.gz", "exodus-trackers.json"):
        assert (tmp_path / "a" / name).read_bytes() == DATA.joinpath(name).read_bytes(), name


def test_rebuild_names_the_missing_source(tmp_path: Path) -> None:
    _debian_sources()
    with pytest.raises(databuild.SourceMissing, match=r"osmocom-tacdb\.csv: missing"):
        databuild.rebuild(tmp_path / "out", tmp_path / "no-such-dir")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("icann_only", [False, True])
def test_public_suffix_rules_are_the_packages_own(icann_only: bool) -> None:
    """refdata adds the punycode of the non-ASCII rules itself (the package's way runs the
    idna codec over all ~10,000): the resulting rule set must be the package's."""
    from publicsuffixlist import PublicSuffixList

    ours = refdata.public_suffixes(icann_only)
    theirs = PublicSuffixList(only_icann=icann_only)
    assert ours._publicsuffix == theirs._publicsuffix
    assert ours._maxlabel == theirs._maxlabel
    assert any(r.startswith("xn--") for r in ours._publicsuffix)
    assert ours.privatesuffix("a.b.xn--p1ai") == theirs.privatesuffix("a.b.xn--p1ai")
