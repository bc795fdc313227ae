"""What a new user ran into (issue 16): the CLI's errors, silent outputs and wording,
through the real command line on a simulated capture."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import main


def device(capture: Path) -> Path:
    return capture.with_name(capture.stem + ".device.toml")


def test_reveal_in_text_shows_the_raw_values(nokia_capture: Path) -> None:
    profile = tomllib.loads(device(nokia_capture).read_text())
    args = ["scan", "--no-store", str(nokia_capture), "--device", str(device(nokia_capture))]
    shown = CliRunner().invoke(main, [*args, "--reveal"])
    assert shown.exit_code == 1, shown.output
    assert "RAW VALUES SHOWN" in shown.stdout
    assert profile["imei"][0] in shown.stdout and profile["iccid"] in shown.stdout
    hidden = CliRunner().invoke(main, args)
    assert profile["imei"][0] not in hidden.stdout and "RAW VALUES" not in hidden.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--no-store", "CAPTURE", "-o", "MISSING/out.json"],
        ["show", "1", "-o", "MISSING/out.txt"],
        ["apk", "APK", "-o", "MISSING/out.txt"],
        ["firmware-diff", "TMP", "TMP", "-o", "MISSING/out.txt"],
        ["baseline", "1", "-o", "MISSING/baseline.json"],
        ["export", "1", "--pcap", "MISSING/out.pcapng"],
        ["simulate", "nokia7plus", "-o", "MISSING/sim.pcap"],
        ["scan", "--no-store", "CAPTURE", "-o", "FILE/out.json"],
    ],
    ids=["scan", "show", "apk", "firmware-diff", "baseline", "export", "simulate", "not-a-dir"],
)
def test_output_in_a_missing_folder_is_one_error_line(
    nokia_capture: Path, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "a.apk").write_bytes(b"PK\x05\x06" + bytes(18))
    (tmp_path / "file").write_text("")
    values = {
        "CAPTURE": str(nokia_capture),
        "APK": str(tmp_path / "a.apk"),
        "TMP": str(tmp_path),
    }
    argv = [values.get(a, a) for a in args]
    argv = [
        a.replace("MISSING", str(tmp_path / "no" / "such")).replace("FILE", str(tmp_path / "file"))
        for a in argv
    ]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phonehome: error: "), res.stderr
    assert "does not exist" in lines[0] or "is not a folder" in lines[0]
    assert not (tmp_path / "no").exists()


def test_an_output_the_system_refuses_is_one_error_line(
    nokia_capture: Path, tmp_path: Path
) -> None:
    # The folder exists, so only the write can fail: a name longer than any file system
    # takes (ENAMETOOLONG, for root too).
    out = tmp_path / ("x" * 300 + ".json")
    res = CliRunner().invoke(main, ["scan", "--no-store", str(nokia_capture), "-o", str(out)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phonehome: error: "), res.stderr
    assert "cannot write" in lines[0]


def test_scan_to_a_file_says_what_it_wrote_and_stored(nokia_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    args = ["scan", str(nokia_capture), "--device", str(device(nokia_capture)), "-o", str(out)]
    res = CliRunner().invoke(main, [*args, "--format", "json"])
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.splitlines() == [
        f"phonehome: wrote {out} (json); stored as scan 1 (another format without scanning "
        "again: phonehome show 1 --format FORMAT)"
    ]
    # The hint works: the stored scan in another format, and that says what it wrote too.
    html = tmp_path / "out.html"
    shown = CliRunner().invoke(main, ["show", "1", "--format", "html", "-o", str(html)])
    assert shown.exit_code == 0, shown.output
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert shown.stderr == f"phonehome: wrote {html} (html)\n"
    # --no-store to a file: what it wrote, no scan.
    res = CliRunner().invoke(main, [*args, "--no-store"])
    assert res.stderr == f"phonehome: wrote {out} (text)\n"
    # Stored, report on standard output: the scan number on stderr, the report untouched.
    res = CliRunner().invoke(main, args[:-2])
    assert "stored as scan 2" in res.stderr and "stored as scan" not in res.stdout


@pytest.mark.parametrize("pcapng", [False, True], ids=["pcap", "pcapng"])
def test_a_capture_cut_short_says_the_results_may_be_incomplete(
    tmp_path: Path, pcapng: bool
) -> None:
    from phonehome import simulate

    whole = tmp_path / ("enc.pcapng" if pcapng else "enc.pcap")
    simulate.run("encodings", whole, seed=5, pcapng=pcapng)
    cut = tmp_path / ("cut" + whole.suffix)
    cut.write_bytes(whole.read_bytes()[:-50])  # the last record loses its end
    res = CliRunner().invoke(main, ["scan", "--no-store", str(cut)])
    assert res.exit_code in (0, 1), res.output
    sentence = f"Results may be incomplete: in {cut}, "
    assert sentence in res.stdout
    assert "whatever followed was not read" in res.stdout
    warning = [ln for ln in res.stderr.splitlines() if ln.startswith("phonehome: warning: ")]
    assert len(warning) == 1 and sentence in warning[0]
    for fmt, marker in (("html", 'class="incomplete"'), ("markdown", "> **Results may be")):
        out = CliRunner().invoke(main, ["scan", "--no-store", str(cut), "--format", fmt])
        assert marker in out.stdout and cut.name in out.stdout
    # The whole capture: no such sentence anywhere.
    res = CliRunner().invoke(main, ["scan", "--no-store", str(whole)])
    assert "incomplete" not in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("code", "hint"),
    [("XX", "two letters such as"), ("UK", "United Kingdom is GB"), ("EU", "name one country")],
)
def test_home_country_must_be_an_assigned_iso_code(
    nokia_capture: Path, tmp_path: Path, code: str, hint: str
) -> None:
    args = ["scan", "--no-store", str(nokia_capture), "--home-country", code]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phonehome: error: --home-country: ")
    assert f"'{code}' is not an ISO 3166-1 alpha-2 country code" in lines[0] and hint in lines[0]
    # The same code in a profile is refused with the profile's name.
    profile = tmp_path / "p.toml"
    profile.write_text(f'home_country = "{code}"\nimei = "352071025700910"\n')
    res = CliRunner().invoke(
        main, ["scan", "--no-store", str(nokia_capture), "--device", str(profile)]
    )
    assert res.exit_code == 2 and res.stderr.startswith(f"phonehome: error: {profile}: ")


def test_home_country_any_case_is_taken(nokia_capture: Path) -> None:
    res = CliRunner().invoke(
        main, ["scan", "--no-store", str(nokia_capture), "--home-country", "gb", "--format", "json"]
    )
    assert res.exit_code == 1, res.output
    juris = [f["destination"]["jurisdiction"] for f in json.loads(res.stdout)["findings"]]
    assert any(j.get("out_of_home_region") for j in juris if j.get("region"))


def test_counts_read_as_words(nokia_capture: Path) -> None:
    args = ["scan", "--no-store", str(nokia_capture), "--device", str(device(nokia_capture))]
    text = CliRunner().invoke(main, args).stdout
    for bad in ("(s)", " 1 anomalies", " 1 findings", " 1 inputs", "(adequacy ("):
        assert bad not in text, bad
    assert "kinds of personal identifier left the device, to " in text
    assert " 0 anomalies, sha256" in text
    flows = CliRunner().invoke(main, ["flows", str(nokia_capture)]).stdout.splitlines()[-1]
    assert flows.startswith("1 input, ") and "(s)" not in flows


def test_region_words_say_a_partial_adequacy_plainly() -> None:
    from phonehome.enrich.jurisdiction import region, region_words

    assert region_words(str(region("US"))) == (
        "partial EU adequacy decision: " + str(region("US")).split("partial: ")[1][:-1]
    )
    assert region_words(str(region("JP"))) == "EU adequacy decision"
    assert region_words(str(region("CN"))) == "third country"


def test_a_bad_scan_id_says_where_ids_come_from() -> None:
    res = CliRunner().invoke(main, ["show", "abc"])
    assert res.exit_code == 2
    assert "9223372036854775807" not in res.stderr
    assert "'abc' is not a scan id (a number from the ID column of 'phonehome history')" in (
        res.stderr
    )


def test_the_codes_of_the_text_report_are_explained_once(nokia_capture: Path) -> None:
    args = ["scan", "--no-store", str(nokia_capture), "--device", str(device(nokia_capture))]
    lines = CliRunner().invoke(main, args).stdout.splitlines()
    legend = [ln for ln in lines if ln.startswith("(identifier, value as redacted")]
    assert len(legend) == 1
    assert "'profile' = a value from your --device profile" in legend[0]
    assert "'pattern 0.95' = recognised by its format alone" in legend[0]
    assert lines.index(legend[0]) == lines.index("Findings") + 1
    assert any("PH-KNOWN (profile)" in ln for ln in lines)


def test_apk_text_says_what_risk_means(tmp_path: Path) -> None:
    apk = Path(__file__).parent / "apks" / "built" / "AutoReg.apk"
    out = CliRunner().invoke(main, ["apk", "--no-store", str(apk)]).stdout
    assert "risk 18" in out
    assert out.splitlines()[-1].startswith("risk: points for the identifiers an app reads")
    assert out.count("risk: points") == 1


def test_history_marks_identical_rescans(nokia_capture: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    args = ["scan", str(nokia_capture), "--device", str(device(nokia_capture)), "--db", db]
    for extra in ([], ["--format", "json"], ["--home-country", "CN"], ["--format", "html"]):
        assert CliRunner().invoke(main, [*args, *extra]).exit_code == 1
    text = CliRunner().invoke(main, ["history", "--db", db]).stdout
    rows = {ln.split()[0]: ln for ln in text.splitlines()[1:5]}
    assert "(same as scan 1)" in rows["2"] and "(same as scan 1)" in rows["4"]
    assert "same as" not in rows["1"]
    assert "same as" not in rows["3"]  # another home country: another result
    assert "2 scans repeat an earlier one" in text
    assert "phonehome show ID --format FORMAT" in text
    listed = json.loads(
        CliRunner().invoke(main, ["history", "--db", db, "--format", "json"]).stdout
    )
    assert {s["id"]: s["same_as"] for s in listed["scans"]} == {1: None, 2: 1, 3: None, 4: 1}


README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_scan_heading_lists_every_format() -> None:
    from phonehome.cli.options import REPORT_FORMATS

    heading = next(
        ln for ln in README.read_text().splitlines() if ln.startswith("### `phonehome scan")
    )
    assert f"--format {'|'.join(REPORT_FORMATS)}]" in heading


def test_readme_names_the_files_simulate_writes(tmp_path: Path) -> None:
    (tmp_path / "sim").mkdir()
    out = tmp_path / "sim" / "bench.pcap"
    res = CliRunner().invoke(main, ["simulate", "nokia7plus", "-o", str(out)])
    assert res.exit_code == 0, res.output
    written = sorted(Path(p).name for p in res.stdout.split())
    assert written == sorted(p.name for p in (tmp_path / "sim").iterdir())
    readme = " ".join(README.read_text().split())
    assert "bench.pcap" in written and len(written) == 4
    for name in written:
        if name != "bench.pcap":
            assert f"`sim/{name}`" in readme, name
    assert "FILE.truth.json" not in readme and "FILE.device.toml" not in readme
