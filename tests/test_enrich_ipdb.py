"""IP -> ASN / organisation / country on the bundled table, and the build that makes it."""

from __future__ import annotations

import gzip
import io
import ipaddress
import json
import random
import re
import tarfile
import time
from bisect import bisect_right
from pathlib import Path

import pytest

from phonehome import databuild
from phonehome.enrich import ipdb
from phonehome.enrich.ipdb import IpInfo


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("8.8.8.8", IpInfo(15169, "Google LLC", "US")),
        ("1.1.1.1", IpInfo(13335, "Cloudflare, Inc.", "AU")),  # APNIC's research block
        # The simulator's zzhc.vnet.cn answer and China Telecom's backbone around it.
        ("202.96.128.86", IpInfo(4134, "Chinanet", "CN")),
        ("202.102.192.1", IpInfo(4134, "Chinanet", "CN")),
        ("202.102.128.1", IpInfo(4837, "CHINA UNICOM China169 Backbone", "CN")),
        ("9.9.9.9", IpInfo(19281, "Quad9", "US")),
        ("17.253.144.10", IpInfo(714, "Apple Inc.", "US")),
        ("2001:4860:4860::8888", IpInfo(15169, "Google LLC", "US")),
        ("2606:4700:4700::1111", IpInfo(13335, "Cloudflare, Inc.", "US")),
        ("2a00:1450:4001:80b::200e", IpInfo(15169, "Google LLC", "IE")),
        # Spellings of the same address.
        (" 8.8.8.8 ", IpInfo(15169, "Google LLC", "US")),
        ("[2001:4860:4860::8888]", IpInfo(15169, "Google LLC", "US")),
        ("::ffff:8.8.8.8", IpInfo(15169, "Google LLC", "US")),
        ("2001:4860:4860:0:0:0:0:8888", IpInfo(15169, "Google LLC", "US")),
    ],
)
def test_lookup_hit(ip: str, expected: IpInfo) -> None:
    assert ipdb.lookup(ip) == expected


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "172.16.5.4",  # upstream lists 172.16.0.0/12 as AU; the build cuts it out
        "192.168.1.1",  # same
        "198.51.100.7",  # documentation
        "203.0.113.9",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "224.0.0.251",
        "255.255.255.255",
        "0.0.0.1",
        "::1",
        "fe80::1%wlan0",
        "fd00::1",
        "2001:db8::1",
        "ff02::fb",
        "::ffff:192.168.1.1",
        "",
        "nonsense",
        "8.8.8",
        "8.8.8.8.8",
        "1.2.3.256",
        "2001:4860::8888::1",
        "8" * 10_000,
    ],
)
def test_lookup_miss(ip: str) -> None:
    assert ipdb.lookup(ip) is None


def _table() -> ipdb.IpTable:
    """The bundled table with its IPv6 part read (tests below look at its arrays)."""
    table = ipdb.table()
    assert table is not None, "bundled ipdb.bin.gz missing or damaged"
    table._with_ipv6()
    return table


def test_the_ipv6_part_is_read_on_the_first_ipv6_lookup() -> None:
    full = ipdb.decode(ipdb._read_bundled())
    reference = ipdb.IpTable(full)
    lazy = ipdb._load_bundled()
    assert len(lazy.t.v6_high) == 0 and len(lazy.t.v4_starts) == len(full.v4_starts)
    google = lazy.lookup("8.8.8.8")
    assert google is not None and google.asn == 15169
    assert google == reference.lookup("8.8.8.8")
    assert len(lazy.t.v6_high) == 0  # IPv4 lookups leave it unread
    google6 = lazy.lookup("2001:4860:4860::8888")
    assert google6 is not None and google6.asn == 15169
    assert google6 == reference.lookup("2001:4860:4860::8888")
    assert lazy.t == full


def test_a_damaged_ipv6_part_leaves_ipv4_lookups_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = gzip.decompress((Path(ipdb.__file__).parent.parent / "data" / ipdb.FILE).read_bytes())
    cut = gzip.compress(data[: len(data) - 1000])
    package = tmp_path / "phonehome"
    (package / "data").mkdir(parents=True)
    (package / "data" / ipdb.FILE).write_bytes(cut)
    monkeypatch.setattr(ipdb.resources, "files", lambda _name: package)
    lazy = ipdb._load_bundled()
    google = lazy.lookup("8.8.8.8")
    assert google is not None and google.asn == 15169
    assert lazy.lookup("2001:4860:4860::8888") is None


def test_v4_index_is_built_after_enough_lookups_and_agrees() -> None:
    """A scan looks up a few dozen addresses: no /16 index for those (it costs a quarter
    of the load); a bulk caller gets it after INDEX_AFTER lookups, with the same answers."""
    fresh = ipdb.IpTable(_table().t)
    rng = random.Random(15)
    probes = [rng.randrange(1 << 32) for _ in range(ipdb.INDEX_AFTER + 200)]
    before = [fresh.lookup_v4(a) for a in probes[: ipdb.INDEX_AFTER - 1]]
    assert fresh._v4_index is None
    after = [fresh.lookup_v4(a) for a in probes]
    assert fresh._v4_index is not None
    assert after[: ipdb.INDEX_AFTER - 1] == before
    t = fresh.t
    for addr, got in zip(probes, after, strict=True):
        i = bisect_right(t.v4_starts, addr) - 1
        assert got == (fresh._info(t.v4_records[i]) if i >= 0 else None)


def test_fast_v4_index_and_v6_pairs_agree_with_plain_bisect() -> None:
    """The /16 index and the (high, low) IPv6 comparison against a plain search."""
    table = _table()
    t = table.t
    v6_starts = [(h << 64) | lo for h, lo in zip(t.v6_high, t.v6_low, strict=True)]
    assert v6_starts == sorted(v6_starts) and len(set(v6_starts)) == len(v6_starts)
    rng = random.Random(4134)
    boundaries = [t.v4_starts[rng.randrange(len(t.v4_starts))] for _ in range(500)]
    v4 = [rng.randrange(1 << 32) for _ in range(3000)] + boundaries + [b - 1 for b in boundaries]
    for addr in v4:
        if addr < 0:
            continue
        i = bisect_right(t.v4_starts, addr) - 1
        assert table.lookup_v4(addr) == (table._info(t.v4_records[i]) if i >= 0 else None)
    picks = [v6_starts[rng.randrange(len(v6_starts))] for _ in range(500)]
    v6 = [(0x2000 << 112) | rng.randrange(1 << 125) for _ in range(3000)]
    for addr in v6 + picks + [p - 1 for p in picks] + [p + 1 for p in picks]:
        i = bisect_right(v6_starts, addr) - 1
        assert table.lookup_v6(addr) == (table._info(t.v6_records[i]) if i >= 0 else None)


def test_bundled_sources_name_version_date_licence() -> None:
    names = {s.name: s for s in ipdb.sources()}
    assert set(names) == set(databuild.IP_PACKAGES)
    for s in names.values():
        assert s.version and s.licence
        assert s.date == databuild._npm_version_date(s.version)
        assert re.fullmatch(r"20\d\d-[01]\d-[0-3]\d", s.date), s


def test_lookups_per_second() -> None:
    start = time.perf_counter()
    table = ipdb.IpTable(ipdb.decode(ipdb._read_bundled()))
    load = time.perf_counter() - start
    rng = random.Random(1)
    v4 = [str(ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24))) for _ in range(100_000)]
    v6 = [
        str(ipaddress.IPv6Address((0x2000 << 112) | rng.randrange(1 << 125))) for _ in range(50_000)
    ]
    rates = {}
    for name, ips in (("ipv4", v4), ("ipv6", v6)):
        start = time.perf_counter()
        for ip in ips:
            table.lookup(ip)
        rates[name] = len(ips) / (time.perf_counter() - start)
    hot = v4[:500] * 200
    ipdb.lookup.cache_clear()
    start = time.perf_counter()
    for ip in hot:
        ipdb.lookup(ip)
    rates["cached"] = len(hot) / (time.perf_counter() - start)
    print(
        f"ipdb load {load:.3f}s; lookups/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in rates.items())
    )
    assert load < 5
    assert min(rates.values()) > 20_000  # lenient: shared CI runners vary a lot


# --- the build, on hand-made npm tarballs ------------------------------------------------


def _tarball(path: Path, name: str, members: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        files = {"package/package.json": json.dumps({"name": name, "version": "2.3.2026010203"})}
        for member, text in {**files, **members}.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _v4(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


def _v6(a: str) -> int:
    return int(ipaddress.IPv6Address(a))


def _npm_pair(tmp_path: Path) -> list[Path]:
    asn_v4 = "\n".join(
        [
            f'{_v4("5.0.0.0")},{_v4("5.0.255.255")},64500,"Wide, Inc."',
            f"{_v4('5.0.16.0')},{_v4('5.0.16.255')},64501,Nested Ltd",  # inside the /16
            f"{_v4('192.168.0.0')},{_v4('192.168.255.255')},64502,Private Leak",
            "garbage,row",
            f"{_v4('6.0.0.9')},{_v4('6.0.0.1')},64503,End before start",
        ]
    )
    asn_v6 = f"{_v6('2001:67c::')},{_v6('2001:67c:ffff:ffff:ffff:ffff:ffff:ffff')},64510,Six"
    cc_v4 = "\n".join(
        [
            f"{_v4('5.0.0.0')},{_v4('5.0.127.255')},DE",
            f"{_v4('5.0.128.0')},{_v4('5.0.255.255')},NO",
            f"{_v4('7.0.0.0')},{_v4('7.0.0.255')},CN",  # a country without an AS
            f"{_v4('8.0.0.0')},{_v4('8.0.0.255')},xx",  # not an ISO code: skipped
        ]
    )
    # Unaligned IPv6 boundary inside a /64: the low 64 bits matter.
    cc_v6 = "\n".join(
        [
            f"{_v6('2001:67c::')},{_v6('2001:67c::7fff')},SE",
            f"{_v6('2001:67c::8000')},{_v6('2001:67c:ffff:ffff:ffff:ffff:ffff:ffff')},FI",
        ]
    )
    asn = _tarball(
        tmp_path / "asn.tgz",
        databuild.IP_ASN_PACKAGE,
        {"package/asn-ipv4-num.csv": asn_v4, "package/asn-ipv6-num.csv": asn_v6},
    )
    country = _tarball(
        tmp_path / "cc.tgz",
        databuild.IP_COUNTRY_PACKAGE,
        {
            "package/geo-whois-asn-country-ipv4-num.csv": cc_v4,
            "package/geo-whois-asn-country-ipv6-num.csv": cc_v6,
        },
    )
    return [asn, country]


def _built(dest: Path) -> ipdb.IpTable:
    return ipdb.IpTable(ipdb.decode(gzip.decompress((dest / ipdb.FILE).read_bytes())))


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("5.0.0.1", IpInfo(64500, "Wide, Inc.", "DE")),
        ("5.0.16.7", IpInfo(64501, "Nested Ltd", "DE")),  # the narrower range wins
        ("5.0.17.0", IpInfo(64500, "Wide, Inc.", "DE")),  # and the wide one resumes after it
        ("5.0.200.1", IpInfo(64500, "Wide, Inc.", "NO")),  # country boundary splits the AS
        ("7.0.0.5", IpInfo(None, None, "CN")),
        ("192.168.1.1", None),  # special-purpose block cut out
        ("4.255.255.255", None),
        ("5.1.0.0", None),
        ("8.0.0.1", None),
        ("2001:67c::1", IpInfo(64510, "Six", "SE")),
        ("2001:67c::8000", IpInfo(64510, "Six", "FI")),
        ("2001:67c:1::", IpInfo(64510, "Six", "FI")),
        ("2001:67b:ffff::", None),
        ("2001:67d::", None),
    ],
)
def test_build_from_npm_tarballs(tmp_path: Path, ip: str, expected: IpInfo | None) -> None:
    dest = tmp_path / "data"
    databuild.rebuild_ipdb(dest, _npm_pair(tmp_path))
    assert _built(dest).lookup(ip) == expected


def test_build_is_deterministic_and_keeps_other_manifest_entries(tmp_path: Path) -> None:
    tarballs = _npm_pair(tmp_path)
    outputs = []
    for name in ("a", "b"):
        dest = tmp_path / name
        dest.mkdir()
        (dest / databuild.MANIFEST).write_text(
            json.dumps(
                [
                    {
                        "name": "oui",
                        "file": "oui.csv.gz",
                        "source": "s",
                        "date": "d",
                        "licence": "l",
                        "rows": 5,
                        "notes": "",
                    }
                ]
            )
        )
        databuild.rebuild_ipdb(dest, tarballs)
        outputs.append(dest)
    a, b = outputs
    assert (a / ipdb.FILE).read_bytes() == (b / ipdb.FILE).read_bytes()
    manifest = json.loads((a / databuild.MANIFEST).read_text())
    assert [e["name"] for e in manifest] == ["oui", "ip-asn", "ip-country"]
    by_name = {e["name"]: e for e in manifest}
    assert by_name["ip-asn"]["date"] == "2026-01-02"
    assert by_name["ip-asn"]["rows"] == 4  # two malformed rows skipped
    assert "skipped as malformed: 2" in by_name["ip-asn"]["notes"]
    assert "ipdb.bin.gz" in (a / "SOURCES.md").read_text()
    sources = {s.name: s for s in _built(a).t.sources}
    assert sources[databuild.IP_COUNTRY_PACKAGE].date == "2026-01-02"


def test_build_names_the_missing_package(tmp_path: Path) -> None:
    asn, _ = _npm_pair(tmp_path)
    with pytest.raises(databuild.SourceMissing, match="geo-whois-asn-country"):
        databuild.rebuild_ipdb(tmp_path / "out", [asn])
    bogus = tmp_path / "bogus.tgz"
    bogus.write_bytes(b"not a tarball")
    with pytest.raises(databuild.SourceMissing, match=r"bogus\.tgz"):
        databuild.rebuild_ipdb(tmp_path / "out", [bogus])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"XXXXXXXX",
        ipdb.MAGIC,
        ipdb.MAGIC + b"\x02\x00",
        ipdb.MAGIC + b"\x02\x00\x00\x00{}",  # header without counts
        ipdb.MAGIC + b"\x02\x00\x00\x00[]",
        ipdb.MAGIC + b"\xff\xff\x00\x00{",
        ipdb.MAGIC + b"\x02\x00\x00\x00\xff\xfe",
    ],
)
def test_decode_rejects_damage(damage: bytes) -> None:
    with pytest.raises(ValueError):
        ipdb.decode(damage)


def test_decode_rejects_truncation() -> None:
    raw = ipdb._read_bundled()
    with pytest.raises(ValueError):
        ipdb.decode(raw[: len(raw) // 2])


def test_v6_lookup_agrees_with_the_two_array_reference() -> None:
    import random

    from phonehome.enrich.ipdb import table

    t = table()
    assert t is not None, "the bundled IP table (data/ipdb.bin.gz) did not load"
    rng = random.Random(7)
    starts = [(h << 64) | lo for h, lo in zip(t.t.v6_high, t.t.v6_low, strict=True)]
    probes = [rng.getrandbits(128) for _ in range(2000)]
    probes += [s + d for s in rng.sample(starts, 2000) for d in (-1, 0, 1)]
    for addr in probes:
        addr %= 1 << 128
        assert t.lookup_v6(addr) == t.lookup_v6_pairs(addr), hex(addr)
