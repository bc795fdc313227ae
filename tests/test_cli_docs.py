"""The CLI's documented surface agrees with the code behind it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome import __version__, databuild, native
from phonehome.cli import COMMANDS, REPORT_FORMATS, main
from phonehome.detect.matcher import Matcher
from phonehome.report import FORMATS
from tests.needs import need_file


def test_report_format_choices_are_the_registry() -> None:
    assert sorted(REPORT_FORMATS) == sorted(FORMATS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    res = CliRunner().invoke(main, [name, "--help"])
    assert res.exit_code == 0, res.output
    usage = res.output.splitlines()[0]
    assert usage.startswith("Usage: ") and f" {name}" in usage, usage
    listed = CliRunner().invoke(main, ["--help"]).output.split("Commands:")[1]
    assert any(line.split()[:1] == [name] for line in listed.splitlines()), name


def test_version() -> None:
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0
    first, core, matcher, writer = res.output.splitlines()
    assert first == f"phonehome, version {__version__}"
    assert core == f"packet core: {native.status().describe()}"
    assert matcher == f"matcher: {Matcher([('x', 0)]).backend}"
    try:
        import orjson
    except ImportError:
        assert writer == "JSON writer: stdlib json"
    else:
        assert writer == f"JSON writer: orjson {orjson.__version__}"


def test_version_names_the_fallbacks_when_the_fast_packages_are_missing() -> None:
    """Where hyperscan or orjson has no wheel, --version says what runs instead."""
    code = (
        "import sys; sys.modules['hyperscan'] = None; sys.modules['orjson'] = None\n"
        "from phonehome.cli import main\n"
        "main(['--version'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[2:] == ["matcher: ahocorasick", "JSON writer: stdlib json"]


def test_data_lists_every_bundled_dataset_with_date_and_licence() -> None:
    res = CliRunner().invoke(main, ["data"])
    assert res.exit_code == 0
    for name in ("mccmnc", "tacdb", "oui", "exodus-trackers", "public-suffix-list", "ip-asn"):
        assert name in res.stdout
    assert "CC-BY-SA 3.0" in res.stdout and "public domain" in res.stdout


def test_data_is_a_table_with_a_header_and_the_curated_sets() -> None:
    from phonehome.refdata import datasets

    lines = CliRunner().invoke(main, ["data"]).stdout.splitlines()
    assert lines[0].split() == ["NAME", "ROWS", "DATE", "LICENCE"]
    rows = [ln for ln in lines[1:] if not ln.startswith("    source: ")]
    sources = [ln for ln in lines[1:] if ln.startswith("    source: ")]
    assert len(rows) == len(sources) == len(datasets())
    # Aligned: every row's count ends in the header's ROWS column, its date starts under DATE.
    rows_end = lines[0].index("ROWS") + len("ROWS")
    date_at = lines[0].index("DATE")
    for ln in rows:
        assert ln[rows_end - 1].isdigit() and ln[rows_end] == " ", ln
        assert ln[date_at] != " " and ln[date_at - 1] == " ", ln
    names = {ln.split()[0]: ln for ln in rows}
    assert {"entities", "eu-adequacy", "countries"} <= set(names)
    # The row counts are the files' own.
    data = Path(databuild.__file__).parent / "data"
    for name in ("entities", "eu-adequacy"):
        n = len((data / f"{name}.csv").read_text().splitlines()) - 1
        assert names[name].split()[1] == str(n)


def test_data_update_rebuilds_the_bundle_byte_for_byte(tmp_path: Path, shared_data: Path) -> None:
    need_file(databuild.SERVICEPROVIDERS, "apt-get install mobile-broadband-provider-info")
    need_file(databuild.ISO_3166, "apt-get install iso-codes")
    dest = tmp_path / "data"
    res = CliRunner().invoke(
        main, ["data", "update", "--dest", str(dest), "--shared-data", str(shared_data)]
    )
    assert res.exit_code == 0, res.output
    bundled = Path(databuild.__file__).parent / "data"
    for name in ("mccmnc.csv", "mcc.csv", "tacdb.csv.gz", "exodus-trackers.json", "countries.csv"):
        assert (dest / name).read_bytes() == (bundled / name).read_bytes(), name


def test_data_update_without_sources_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(
        main, ["data", "update", "--dest", str(empty / "out"), "--shared-data", str(empty)]
    )
    assert res.exit_code == 2
    assert res.stderr.startswith("phonehome: error: ") and len(res.stderr.splitlines()) == 1
