"""End to end: simulated captures through the CLI, checked against their ground truth."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main


@pytest.fixture(scope="module")
def nokia(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("nokia") / "nokia.pcap"
    simulate.run("nokia7plus", out, seed=3)
    yield out


@pytest.fixture(scope="module")
def encodings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("enc") / "enc.pcap"
    simulate.run("encodings", out, seed=5)
    yield out


def sidecar(capture: Path, suffix: str) -> Path:
    return capture.with_name(capture.stem + suffix)


def scan_json(capture: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = CliRunner().invoke(main, ["scan", str(capture), "--format", "json", *extra])
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


def test_nokia_scan_finds_every_zzhc_leak_in_cleartext(nokia: Path) -> None:
    truth = json.loads(sidecar(nokia, ".truth.json").read_text())
    code, doc = scan_json(nokia, "--device", str(sidecar(nokia, ".device.toml")))
    assert code == 1
    assert doc["schema"] == "phonehome.scan/1"
    got = {(f["identifier"], f["where"], f["host"]): f for f in doc["findings"]}
    for leak in truth["leaks"]:
        f = got.get((leak["identifier"], leak["where"], leak["host"]))
        assert f is not None, f"missed {leak['identifier']} at {leak['where']}"
        assert f["readability"] == "cleartext"
        assert f["protocol"] == "http" and f["port"] == 80
        assert f["count"] == len(leak["times"])
        assert f["encoding"] == leak["encoding"]
    # Nothing reported that the ground truth does not have.
    expected = {(x["identifier"], x["where"], x["host"]) for x in truth["leaks"]}
    assert set(got) <= expected


def test_text_summary_names_identifiers_destination_and_cleartext(nokia: Path) -> None:
    res = CliRunner().invoke(
        main, ["scan", str(nokia), "--device", str(sidecar(nokia, ".device.toml"))]
    )
    assert res.exit_code == 1
    head = "\n".join(res.stdout.splitlines()[:3])
    for word in ("IMEI", "IMSI", "ICCID", "MAC address", "cell ID", "zzhc.vnet.cn", "CLEAR TEXT"):
        assert word in head


def test_json_contract_fields(nokia: Path) -> None:
    _, doc = scan_json(nokia, "--device", str(sidecar(nokia, ".device.toml")))
    assert set(doc) >= {"schema", "tool", "inputs", "device", "findings", "anomalies"}
    (inp,) = doc["inputs"]
    assert inp["format"] == "pcap" and len(inp["sha256"]) == 64
    import hashlib

    assert inp["sha256"] == hashlib.sha256(nokia.read_bytes()).hexdigest()
    assert inp["packets"] > 1000 and inp["messages"] > 100
    f = doc["findings"][0]
    required = {
        "detector",
        "identifier",
        "profile_match",
        "confidence",
        "value_redacted",
        "value_id",
        "encoding",
        "where",
        "protocol",
        "readability",
        "host",
        "ips",
        "port",
        "app",
        "count",
        "first_seen",
        "last_seen",
        "times",
        "evidence",
    }
    assert required <= set(f)
    assert f["value_id"].startswith("h1:")
    ev = f["evidence"][0]
    assert ev["community_id"].startswith("1:") and ev["filter"].startswith("frame.number")
    assert "value" not in f and doc["revealed"] is False


def test_value_ids_are_stable_across_scans_and_keyed(nokia: Path, tmp_path: Path) -> None:
    profile = str(sidecar(nokia, ".device.toml"))
    _, a = scan_json(nokia, "--device", profile)
    _, b = scan_json(nokia, "--device", profile)
    ids_a = sorted(f["value_id"] for f in a["findings"])
    assert ids_a == sorted(f["value_id"] for f in b["findings"])
    # Another installation (another key) gives other ids for the same values.
    env = {"PHONEHOME_HOME": str(tmp_path / "other")}
    res = CliRunner(env=env).invoke(
        main, ["scan", str(nokia), "--device", profile, "--format", "json"]
    )
    other = json.loads(res.stdout)
    assert not set(ids_a) & {f["value_id"] for f in other["findings"]}


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl"])
def test_no_raw_profile_value_in_any_output(encodings: Path, fmt: str, tmp_path: Path) -> None:
    """Redaction by default: no profile value in any of its common forms appears."""
    import base64
    import hashlib
    import tomllib

    profile = tomllib.loads(sidecar(encodings, ".device.toml").read_text())
    values: list[str] = []
    for key, v in profile.items():
        if key in ("name", "home_country", "location"):
            continue
        values.extend(v if isinstance(v, list) else [v])
    forms = set()
    for v in values:
        forms |= {
            v,
            v.lower(),
            v.upper(),
            v.replace(":", ""),
            base64.b64encode(v.encode()).decode(),
        }
        forms |= {hashlib.sha256(v.encode()).hexdigest(), hashlib.md5(v.encode()).hexdigest()}
    out = tmp_path / f"report.{fmt}"
    res = CliRunner().invoke(
        main,
        [
            "scan",
            str(encodings),
            "--device",
            str(sidecar(encodings, ".device.toml")),
            "--format",
            fmt,
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 1, res.output
    text = out.read_text()
    assert text.strip()
    leaked = [f for f in forms if len(f) >= 6 and f.lower() in text.lower()]
    assert leaked == []
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_reveal_shows_values_and_says_so(nokia: Path) -> None:
    import tomllib

    profile = tomllib.loads(sidecar(nokia, ".device.toml").read_text())
    _, doc = scan_json(nokia, "--device", str(sidecar(nokia, ".device.toml")), "--reveal")
    assert doc["revealed"] is True
    assert profile["iccid"] in {f["value"] for f in doc["findings"]}


def test_scan_without_profile_still_finds_patterns(nokia: Path) -> None:
    code, doc = scan_json(nokia)
    assert code == 1
    ids = {f["identifier"] for f in doc["findings"] if f["host"] == "zzhc.vnet.cn"}
    assert {"imei", "iccid", "imsi"} <= ids
    assert all(not f["profile_match"] for f in doc["findings"])


def test_flows_lists_the_zzhc_posts(nokia: Path) -> None:
    truth = json.loads(sidecar(nokia, ".truth.json").read_text())
    posts = len(truth["leaks"][0]["times"])
    res = CliRunner().invoke(main, ["flows", str(nokia)])
    assert res.exit_code == 0
    lines = [ln for ln in res.stdout.splitlines() if "POST http://zzhc.vnet.cn/" in ln]
    assert len(lines) == posts
    assert "anomalies" in res.stdout.splitlines()[-1]


def test_flows_reads_standard_input(nokia: Path) -> None:
    data = nokia.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "phonehome", "flows", "--format", "jsonl", "-"],
        input=data,
        capture_output=True,
        check=True,
    )
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert sum(1 for r in rows if r.get("method") == "POST") >= 8
    assert b"packets" in proc.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"this is not a capture at all" * 10, "not a recognised capture"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", ""),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: bytes, reason: str) -> None:
    p = tmp_path / "bad.pcap"
    p.write_bytes(content)
    for cmd in ("scan", "flows"):
        res = CliRunner().invoke(main, [cmd, str(p)])
        assert res.exit_code == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("phonehome: error: ")
        assert str(p) in lines[0] and reason in lines[0]


def test_missing_file_and_unknown_scenario_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["scan", str(tmp_path / "nope.pcap")])
    assert res.exit_code == 2 and "no such file" in res.stderr
    res = CliRunner().invoke(main, ["simulate", "mars", "-o", str(tmp_path / "m.pcap")])
    assert res.exit_code == 2 and "unknown scenario" in res.stderr


def test_truncated_capture_is_counted_not_fatal(nokia: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    data = nokia.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 7])
    code, doc = scan_json(cut, "--device", str(sidecar(nokia, ".device.toml")))
    assert code == 1
    assert doc["anomalies"].get("pcap.truncated_record") == 1
    assert doc["findings"]


def test_demo_runs_and_points_to_next_steps(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "zzhc.vnet.cn" in res.stdout and "CLEAR TEXT" in res.stdout
    assert "phonehome scan" in res.stdout
    report = tmp_path / "nokia7plus.report.json"
    assert json.loads(report.read_text())["findings"]
    assert stat.S_IMODE(os.stat(report).st_mode) == 0o600


def test_nokia_destination_trigger_and_app_from_code(nokia: Path) -> None:
    """The issue-4 verdict end to end: owner, AS, country, region, per-day count, the
    unlock trigger, and (with the firmware's APKs) the app that sent it."""
    apks = Path(__file__).resolve().parent / "apks" / "firmware" / "new"
    code, doc = scan_json(
        nokia,
        "--device",
        str(sidecar(nokia, ".device.toml")),
        "--events",
        str(sidecar(nokia, ".events.csv")),
        "--apks",
        str(apks),
    )
    assert code == 1
    unlocks = sum(
        1
        for line in sidecar(nokia, ".events.csv").read_text().splitlines()
        if line.endswith(",unlock")
    )
    for f in doc["findings"]:
        dest = f["destination"]
        assert (dest["entity"], dest["asn"], dest["country"]) == ("China Telecom", 4134, "CN")
        assert dest["jurisdiction"]["region"] == "third country"
        assert dest["jurisdiction"]["out_of_home_region"] is True
        assert sum(f["timeline"]["per_day"].values()) == f["count"]
        trig = f["trigger"]
        assert trig["event"] == "unlock" and trig["matched"] == trig["of"] == unlocks
        assert trig["p_value"] < 1e-6 and trig["max_delay_s"] < 10
        assert f["severity"]["level"] == "high"
        assert f["app"]["source"] == "apk"
        assert f["app"]["packages"] == ["org.phonehome.test.autoreg"]
    assert any("ip-location-db" in d for d in doc["datasets"])


def test_baseline_lets_known_findings_pass(nokia: Path, tmp_path: Path) -> None:
    profile = str(sidecar(nokia, ".device.toml"))
    out = tmp_path / "scan.json"
    res = CliRunner().invoke(
        main, ["scan", str(nokia), "--device", profile, "--format", "json", "-o", str(out)]
    )
    assert res.exit_code == 1
    base = tmp_path / "baseline.json"
    res = CliRunner().invoke(main, ["baseline", str(out), "-o", str(base)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        main, ["scan", str(nokia), "--device", profile, "--baseline", str(base)]
    )
    assert res.exit_code == 0, res.output
    # Without the baseline the same scan fails the gate.
    res = CliRunner().invoke(main, ["scan", str(nokia), "--device", profile])
    assert res.exit_code == 1


def test_scans_are_stored_redacted_and_listed(nokia: Path, tmp_path: Path) -> None:
    import tomllib

    db = tmp_path / "store.db"
    profile = sidecar(nokia, ".device.toml")
    res = CliRunner().invoke(
        main, ["scan", str(nokia), "--device", str(profile), "--db", str(db), "--reveal"]
    )
    assert res.exit_code == 1
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    raw = db.read_bytes()
    values = tomllib.loads(profile.read_text())
    for key in ("imei", "imsi", "iccid"):
        v = values[key][0] if isinstance(values[key], list) else values[key]
        assert v.encode() not in raw
    res = CliRunner().invoke(main, ["history", "--db", str(db)])
    assert res.exit_code == 0 and "nokia.pcap" in res.stdout


def test_lone_fragment_at_end_of_capture_is_counted(tmp_path: Path) -> None:
    """A datagram whose other fragments were never captured is reported when the input
    ends, not silently dropped."""
    from tests.builders_net import ether, ipv4_fragments, pcap, tcp

    first, _ = ipv4_fragments(tcp(40000, 80, seq=1, payload=b"x" * 600), [512, 0])
    p = tmp_path / "frag.pcap"
    p.write_bytes(pcap([ether(first)], 1))
    res = CliRunner().invoke(main, ["flows", str(p)])
    assert res.exit_code == 0
    assert "ip.fragment_incomplete=1" in res.stdout.splitlines()[-1]


def _pcapdroid_pcapng(src: Path, dst: Path, zzhc_uid: int, other_uid: int) -> None:
    """Re-write a simulated capture as PCAPdroid's pcapng: a uid -> package map in custom
    blocks and a ``u-<uid>`` comment on every packet (port 80 to zzhc = the system app)."""
    from phonehome.context import Context
    from phonehome.ingest import open_capture
    from tests.builders_capture import epb, idb, pcapdroid_uid_map, shb

    blocks = [
        shb(),
        idb(1, tsresol=6),
        # uid 1000 is shared by several system packages
        pcapdroid_uid_map(zzhc_uid, "com.qualcomm.qti.autoregistration", "AutoRegistration"),
        pcapdroid_uid_map(zzhc_uid, "com.android.settings", "Settings"),
        pcapdroid_uid_map(other_uid, "com.google.android.gms", "Google Play services"),
    ]
    cap = open_capture(str(src))
    for f in cap.frames(Context()):
        data = bytes(f.data)
        # Ethernet + IPv4 + TCP dport/sport 80: the registration flows
        http = len(data) > 37 and 80 in (
            int.from_bytes(data[34:36], "big"),
            int.from_bytes(data[36:38], "big"),
        )
        uid = zzhc_uid if http else other_uid
        blocks.append(epb(0, round(f.ts * 1e6), data, comments=[f"u-{uid}"]))
    cap.close()
    dst.write_bytes(b"".join(blocks))


def test_pcapdroid_labels_name_the_app_of_each_finding(nokia: Path, tmp_path: Path) -> None:
    pcapng = tmp_path / "pcapdroid.pcapng"
    _pcapdroid_pcapng(nokia, pcapng, zzhc_uid=1000, other_uid=10123)
    code, doc = scan_json(pcapng, "--device", str(sidecar(nokia, ".device.toml")))
    assert code == 1
    assert doc["inputs"][0]["format"] == "pcapng"
    zzhc = [f for f in doc["findings"] if f["host"] == "zzhc.vnet.cn"]
    assert zzhc
    for f in zzhc:
        assert f["app"] == {
            "uid": 1000,
            "packages": ["com.qualcomm.qti.autoregistration", "com.android.settings"],
            "source": "pcapdroid",
            # uid 1000 is Android's fixed system uid (no label: the shared uid's one
            # display name may be another of its apps').
            "uid_name": "system (the system server and apps sharing android.uid.system)",
        }


def test_excerpt_shows_the_value_in_context_redacted(nokia: Path) -> None:
    import tomllib

    profile = tomllib.loads(sidecar(nokia, ".device.toml").read_text())
    _, doc = scan_json(nokia, "--device", str(sidecar(nokia, ".device.toml")))
    imei1 = next(f for f in doc["findings"] if f["where"] == "http.body:$.IMEI1")
    ex = imei1["excerpt"]
    assert ex["before"].endswith('"IMEI1":"') and ex["after"].startswith('","IMEI2":"')
    assert ex["match"] == imei1["value_redacted"]
    # Neighbouring values are masked too, never shown raw.
    text = json.dumps([f["excerpt"] for f in doc["findings"]])
    for key in ("imei", "imsi", "iccid", "mac"):
        for v in profile[key] if isinstance(profile[key], list) else [profile[key]]:
            assert v not in text and v.replace(":", "") not in text
    _, revealed = scan_json(nokia, "--device", str(sidecar(nokia, ".device.toml")), "--reveal")
    raw = next(f for f in revealed["findings"] if f["where"] == "http.body:$.IMEI1")
    assert raw["excerpt"]["match"] == raw["value"]
