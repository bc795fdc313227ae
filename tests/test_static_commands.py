"""The ``apk`` and ``firmware-diff`` commands through click, as the CLI will run them:
text a person reads, json, files written 0600, per-file errors, exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import Group
from phonehome.cli.static import apk, firmware_diff

APKS = Path(__file__).resolve().parent / "apks"
BUILT = APKS / "built"
OLD, NEW = APKS / "firmware" / "old", APKS / "firmware" / "new"
AUTOREG = "org.phonehome.test.autoreg"

cli = Group(commands={"apk": apk, "firmware-diff": firmware_diff})


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_firmware_diff_text_leads_with_the_verdict() -> None:
    code, out, _ = run("firmware-diff", str(OLD), str(NEW), "--jobs", "1", "--no-cache")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("firmware-diff: 1 added, 1 removed, 1 changed, 1 unchanged")
    assert lines[1].startswith("!")
    assert lines[1].endswith(
        f"added in NEW: {AUTOREG} — system app; reads IMEI, ICCID, IMSI, cell location; "
        "runs on USER_PRESENT; posts IMEI, ICCID, IMSI, cell location to http://zzhc.vnet.cn"
    )
    assert lines[2].strip().startswith("why: system app +3")
    assert any("changed in NEW: org.phonehome.test.weather — signer changed" in x for x in lines)
    assert len(lines) <= 12  # readable in ten seconds


def test_firmware_diff_json_to_a_private_file(tmp_path: Path) -> None:
    out = tmp_path / "diff.json"
    code, stdout, _ = run(
        "firmware-diff", str(OLD), str(NEW), "--format", "json", "-o", str(out), "-j", "2"
    )
    assert code == 1 and stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["schema"] == "phonehome.firmware-diff/2"
    assert [e["status"] for e in doc["changes"]] == ["added", "changed", "removed"]
    assert doc["changes"][0]["new"]["package"] == AUTOREG


def test_firmware_diff_without_risky_change_exits_0() -> None:
    code, out, _ = run("firmware-diff", str(NEW), str(NEW), "-j", "1")
    assert code == 0
    assert out.splitlines()[0].startswith(
        "firmware-diff: 0 added, 0 removed, 0 changed, 3 unchanged"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["firmware-diff", "/nonexistent/old", str(NEW)], "no such file"),
        (["firmware-diff", str(OLD), str(NEW), "--jobs", "0"], "--jobs"),
        (["firmware-diff", str(OLD)], "Missing argument"),
        (["apk"], "Missing argument"),
    ],
)
def test_usage_and_input_errors_exit_2(args: list[str], message: str) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert message in err


def test_firmware_diff_reports_bad_apks_and_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "new" / "system" / "app" / "Bad"
    bad.mkdir(parents=True)
    (bad / "Bad.apk").write_bytes(b"PK\x03\x04 truncated")
    code, out, err = run("firmware-diff", str(OLD), str(tmp_path / "new"), "-j", "1")
    assert code == 0  # nothing risky was added: NEW only lost apps
    assert "phonehome: error: NEW: system/app/Bad/Bad.apk: not an APK" in err
    assert "removed in NEW: org.phonehome.test.imeilog" in out


@pytest.mark.parametrize(
    ("apks", "exit_code"),
    [
        (["AutoReg.apk"], 1),
        (["Weather.apk", "ImeiLog.apk"], 0),  # the IMEI is read but never sent
        (["OatOnly.apk"], 0),
        (["Weather.apk", "AutoReg.apk"], 1),
    ],
)
def test_apk_exit_codes(apks: list[str], exit_code: int) -> None:
    code, out, _ = run("apk", *(str(BUILT / a) for a in apks))
    assert code == exit_code
    assert out.count("    signer: CN=phonehome TEST ONLY") == len(apks)


def test_apk_text_puts_the_risky_app_first_with_its_code_path() -> None:
    _, out, _ = run("apk", str(BUILT / "Weather.apk"), str(BUILT / "AutoReg.apk"))
    lines = out.splitlines()
    assert lines[0].startswith(f"! {AUTOREG} 8.0 (8)")
    assert "posts IMEI, ICCID, IMSI, cell location to http://zzhc.vnet.cn" in lines[1]
    flow = [x.strip() for x in lines if x.strip().startswith("flow: USER_PRESENT receiver ->")]
    assert len(flow) == 4
    assert all(x.endswith("(HttpURLConnection.getOutputStream) [json+base64]") for x in flow)


def test_apk_text_of_the_weather_app_shape_says_no_flow() -> None:
    """Reads the IMEI, logs it, fetches a forecast: a local flow and a reachability note,
    never "posts the IMEI"."""
    code, out, _ = run("apk", str(BUILT / "BootWeather.apk"))
    assert code == 0
    assert "posts" not in out and "identifier flows" not in out
    assert "names https://api.weather.example.org" in out
    assert "    flow (local): BOOT_COMPLETED receiver -> " in out
    assert "    reachable, no flow found: BOOT_COMPLETED receiver -> " in out


def test_apk_batch_goes_on_past_bad_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.apk"
    junk.write_bytes(b"\x00" * 100)
    code, out, err = run(
        "apk", str(junk), str(tmp_path / "missing.apk"), str(BUILT / "ImeiLog.apk")
    )
    assert code == 0
    assert f"phonehome: error: {junk}: not an APK: not a zip archive" in err
    assert f"phonehome: error: {tmp_path / 'missing.apk'}: " in err
    assert all(
        line.startswith(("phonehome: error: ", "phonehome: recorded ")) for line in err.splitlines()
    )
    assert "org.phonehome.test.imeilog" in out
    code, _, _ = run("apk", str(junk))
    assert code == 2  # nothing could be read at all


def test_apk_json(tmp_path: Path) -> None:
    out = tmp_path / "apks.json"
    code, _, _ = run("apk", str(BUILT / "AutoReg.apk"), "--format", "json", "-o", str(out))
    assert code == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["schema"] == "phonehome.apks/2"
    (report,) = doc["apks"]
    assert report["package"] == AUTOREG
    assert report["risk"]["risky"] is True
    assert report["signing"]["schemes"] == ["v1", "v2", "v3"]
    assert set(report["reads_identifiers"]) == {"imei", "iccid", "imsi", "cell_id"}


@pytest.mark.parametrize(
    "args",
    [
        ["apk", "/nonexistent.apk", "--no-store"],
        ["firmware-diff", "/nonexistent/old", "/nonexistent/new", "--no-store"],
    ],
)
def test_fatal_errors_are_one_phonehome_error_line(args: list[str]) -> None:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "phonehome", *args], capture_output=True, text=True, check=False
    )
    assert res.returncode == 2
    assert res.stderr.startswith("phonehome: error: ")
    assert res.stderr.count("\n") == 1
